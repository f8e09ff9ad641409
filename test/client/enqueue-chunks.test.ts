/**
 * Splitting an enqueue batch into calls: within the script's limits, parents never after their
 * children, the caller's order kept where it already puts parents first, and everything that
 * would make the split unsafe refused before a chunk exists. Pure; no Redis.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunkEnqueueRows, ENQUEUE_CALL_LIMITS, type EnqueueChunkRow } from '../../client/enqueue-chunks.js'
import {
  BadArgumentError,
  DependencyCycleError,
  DuplicateTaskError,
  SelfDependencyError,
} from '../../loader/generated/errors.js'
import { enqueueScript } from '../../loader/generated/scripts.js'

const row = (id: string, ...dependsOn: string[]): EnqueueChunkRow => ({ id, dependsOn })
const ids = (chunks: EnqueueChunkRow[][]): string[][] => chunks.map((chunk) => chunk.map((r) => r.id))

/** Every row once; each chunk within the limits; each in-batch parent in its child's chunk or an earlier one. */
function checkChunks(rows: readonly EnqueueChunkRow[], chunks: EnqueueChunkRow[][], limits = ENQUEUE_CALL_LIMITS): void {
  expect(chunks.flat().map((r) => r.id).sort()).toEqual(rows.map((r) => r.id).sort())
  const chunkOf = new Map<string, number>()
  const placeInOrder = new Map<string, number>()
  chunks.flat().forEach((r, i) => placeInOrder.set(r.id, i))
  chunks.forEach((chunk, c) => {
    expect(chunk.length).toBeGreaterThan(0)
    expect(chunk.length).toBeLessThanOrEqual(limits.tasks)
    expect(chunk.reduce((sum, r) => sum + (r.dependsOn ?? []).length, 0)).toBeLessThanOrEqual(limits.dependencies)
    for (const r of chunk) chunkOf.set(r.id, c)
  })
  for (const r of rows) {
    for (const parent of r.dependsOn ?? []) {
      if (!chunkOf.has(parent)) continue
      expect(chunkOf.get(parent)).toBeLessThanOrEqual(chunkOf.get(r.id) as number)
      expect(placeInOrder.get(parent)).toBeLessThan(placeInOrder.get(r.id) as number)
    }
  }
}

describe('chunkEnqueueRows', () => {
  it("takes its limits from the enqueue script's header", () => {
    const dependsOn = enqueueScript.group?.fields.find((field) => field.name === 'dependsOn')?.type
    expect(ENQUEUE_CALL_LIMITS).toEqual({
      tasks: enqueueScript.group?.max,
      dependencies: dependsOn?.kind === 'idlist' ? dependsOn.total : undefined,
    })
    expect(ENQUEUE_CALL_LIMITS).toEqual({ tasks: 200, dependencies: 1000 })
  })

  it('returns no chunk for no rows, and one chunk for a batch within the limits, in its order', () => {
    expect(chunkEnqueueRows([])).toEqual([])
    const rows = [row('a'), row('b', 'a'), row('c', 'elsewhere')]
    expect(ids(chunkEnqueueRows(rows))).toEqual([['a', 'b', 'c']])
  })

  it('splits at the task limit and at the dependency limit, keeping the order', () => {
    const rows = Array.from({ length: 7 }, (_, i) => row(`t${i}`))
    expect(ids(chunkEnqueueRows(rows, { tasks: 3, dependencies: 10 }))).toEqual([['t0', 't1', 't2'], ['t3', 't4', 't5'], ['t6']])
    const heavy = [row('a', 'x', 'y'), row('b', 'x', 'y'), row('c', 'x'), row('d', 'x', 'y', 'z'), row('e', 'x')]
    expect(ids(chunkEnqueueRows(heavy, { tasks: 10, dependencies: 4 }))).toEqual([['a', 'b'], ['c', 'd'], ['e']])
  })

  it('moves parents listed after their children ahead of them, into the same chunk or an earlier one', () => {
    const rows = [row('child', 'mid', 'outside'), row('mid', 'root'), row('other'), row('root')]
    const chunks = chunkEnqueueRows(rows, { tasks: 2, dependencies: 10 })
    expect(ids(chunks)).toEqual([['other', 'root'], ['mid', 'child']])
    checkChunks(rows, chunks, { tasks: 2, dependencies: 10 })
  })

  it('puts a task that names as many dependencies as a call may carry in a chunk of its own', () => {
    const wide = row('join', ...Array.from({ length: 1000 }, (_, i) => `p${i}`))
    const rows = [row('before', 'outside'), wide, row('after', 'join')]
    expect(ids(chunkEnqueueRows(rows))).toEqual([['before'], ['join'], ['after']])
  })

  it('refuses, before any chunk exists, a cycle, naming it', () => {
    const rows = [row('ok'), row('a', 'c'), row('b', 'a'), row('c', 'b'), row('downstream', 'c')]
    const attempt = () => chunkEnqueueRows(rows)
    expect(attempt).toThrow(DependencyCycleError)
    expect(attempt).toThrow('TM_DEPENDENCY_CYCLE tasks depend on each other in a cycle: a <- c <- b <- a')
  })

  it('refuses a duplicate id, a task depending on itself and one naming more dependencies than a call carries', () => {
    expect(() => chunkEnqueueRows([row('a'), row('b'), row('a')])).toThrow(DuplicateTaskError)
    expect(() => chunkEnqueueRows([row('a'), row('b'), row('a')])).toThrow('tasks[3].id: "a" is also tasks[1].id')
    expect(() => chunkEnqueueRows([row('a'), row('me', 'a', 'me')])).toThrow(SelfDependencyError)
    const tooWide = row('join', ...Array.from({ length: 1001 }, (_, i) => `p${i}`))
    expect(() => chunkEnqueueRows([tooWide])).toThrow(BadArgumentError)
    expect(() => chunkEnqueueRows([tooWide])).toThrow('tasks[1].dependsOn: 1001 ids, and one call carries at most 1000')
  })

  it('orders any acyclic batch, in any order, parents first and within the limits', () => {
    const limits = { tasks: 7, dependencies: 12 }
    const graph = fc
      .array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: 1, maxLength: 60 })
      .chain((parentPicks) =>
        fc.tuple(fc.constant(parentPicks), fc.shuffledSubarray([...parentPicks.keys()], { minLength: parentPicks.length })),
      )
    fc.assert(
      fc.property(graph, ([parentPicks, shuffled]) => {
        // Task i may depend only on tasks before it, so the graph has no cycle; then shuffled.
        const rows = parentPicks.map((picks, i) =>
          row(`t${i}`, ...new Set(i === 0 ? ['outside'] : picks.map((pick) => `t${pick % i}`))),
        )
        checkChunks(rows, chunkEnqueueRows(rows, limits), limits)
        // Already parents first: the order is kept exactly.
        expect(chunkEnqueueRows(rows, limits).flat()).toEqual(rows)
        const mixed = shuffled.map((i) => rows[i] as EnqueueChunkRow)
        checkChunks(mixed, chunkEnqueueRows(mixed, limits), limits)
      }),
    )
  })
})
