/**
 * A batch of tasks larger than one enqueue call may carry, split into calls.
 *
 * The enqueue script refuses a call of more than 200 tasks or 1,000 dependency ids in all (its
 * header, `scripts-lua/enqueue.lua`), so that no enqueue holds Redis for more than a few
 * milliseconds, whatever the batch. A larger batch goes out as several calls, in the order this
 * module gives them:
 *
 * - **Each chunk is atomic; the batch is not.** A chunk is one script call: it is written whole
 *   or, refused, not at all. An error in a later chunk (an unknown dependency, a payload over
 *   the cap, Redis gone) leaves the earlier chunks enqueued. Sending the whole batch again is
 *   safe: ids that got in answer `exists` and change nothing.
 * - **Parents first.** A task's parents in the batch are in its own chunk or an earlier one, so
 *   every call finds the dependencies it names, either in the namespace or in the same call.
 *   Where the batch already lists parents first, its order is kept: enqueue order is run order
 *   within one priority.
 * - **Refused before anything is sent:** what would make the split impossible or change what
 *   the batch means. A cycle (one call refuses it, but spread over calls its first task would
 *   name a task not yet enqueued), an id listed twice (a later chunk would answer `exists`
 *   instead of refusing it), a task that depends on itself, a task naming more dependencies
 *   than a call may carry. Each is thrown as the error class the script uses for it
 *   (`DependencyCycleError`, `DuplicateTaskError`, `SelfDependencyError`, `BadArgumentError`),
 *   so a caller handles a batch of one chunk and one of many alike.
 *
 * Cost: O(n log n) in the batch's tasks plus its dependency ids; nothing is read from Redis.
 */
import type { ScriptErrorContext } from '../loader/errors.js'
import {
  BadArgumentError,
  DependencyCycleError,
  DuplicateTaskError,
  SelfDependencyError,
} from '../loader/generated/errors.js'
import { enqueueScript } from '../loader/generated/scripts.js'
import { CALL_LIMITS } from './call-limits.js'

/** What one enqueue call may carry. */
export interface EnqueueCallLimits {
  /** Tasks in one call. */
  readonly tasks: number
  /** Dependency ids in one call, counted over all its tasks. */
  readonly dependencies: number
}

/** The enqueue script's own limits (client/call-limits.ts). */
export const ENQUEUE_CALL_LIMITS: EnqueueCallLimits = {
  tasks: CALL_LIMITS.enqueueTasks,
  dependencies: CALL_LIMITS.enqueueDependencies,
}

/** The least of an enqueue row that splitting needs (a row of the generated `enqueue` wrapper is one). */
export interface EnqueueChunkRow {
  readonly id: string
  readonly dependsOn?: readonly string[]
}

const NONE: readonly string[] = []

const context: ScriptErrorContext = { script: enqueueScript.name, version: enqueueScript.version, sha: enqueueScript.sha }

/**
 * Splits `rows` into chunks of at most `limits` each, parents in the same chunk as their
 * children or an earlier one; see the module note. Throws, sending nothing, on a cycle, a
 * duplicate id, a task depending on itself or one with more dependencies than a chunk holds.
 */
export function chunkEnqueueRows<Row extends EnqueueChunkRow>(
  rows: readonly Row[],
  limits: EnqueueCallLimits = ENQUEUE_CALL_LIMITS,
): Row[][] {
  const position = new Map<string, number>()
  rows.forEach((row, i) => {
    const first = position.get(row.id)
    if (first !== undefined) {
      throw new DuplicateTaskError(`tasks[${i + 1}].id: "${row.id}" is also tasks[${first + 1}].id`, context)
    }
    position.set(row.id, i)
  })

  // The batch's own edges; a dependency outside the batch must exist already and orders nothing.
  const children: number[][] = rows.map(() => [])
  const waitingOn = rows.map((row, i) => {
    const dependsOn = row.dependsOn ?? NONE
    if (dependsOn.length > limits.dependencies) {
      throw new BadArgumentError(
        `tasks[${i + 1}].dependsOn: ${dependsOn.length} ids, and one call carries at most ${limits.dependencies}`,
        context,
      )
    }
    let parents = 0
    for (const dependency of dependsOn) {
      const parent = position.get(dependency)
      if (parent === undefined) continue
      if (parent === i) throw new SelfDependencyError(`tasks[${i + 1}] ("${row.id}") depends on itself`, context)
      children[parent]?.push(i)
      parents++
    }
    return parents
  })

  // Kahn's algorithm, always taking the earliest ready row, so a batch already in parents-first
  // order keeps its order exactly.
  const ready = new MinHeap()
  waitingOn.forEach((count, i) => {
    if (count === 0) ready.push(i)
  })
  const order: number[] = []
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(i)
    for (const child of children[i] ?? []) {
      const left = (waitingOn[child] ?? 0) - 1
      waitingOn[child] = left
      if (left === 0) ready.push(child)
    }
  }
  if (order.length < rows.length) {
    throw new DependencyCycleError(`tasks depend on each other in a cycle: ${describeCycle(rows, waitingOn, position)}`, context)
  }

  const chunks: Row[][] = []
  let chunk: Row[] = []
  let dependencies = 0
  for (const i of order) {
    const row = rows[i] as Row
    const named = (row.dependsOn ?? NONE).length
    if (chunk.length > 0 && (chunk.length === limits.tasks || dependencies + named > limits.dependencies)) {
      chunks.push(chunk)
      chunk = []
      dependencies = 0
    }
    chunk.push(row)
    dependencies += named
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

/**
 * One cycle among the rows Kahn's algorithm could not order (each still waits on a parent),
 * as "a <- b <- a": from any of them, parent links among the unordered rows must repeat.
 */
function describeCycle(rows: readonly EnqueueChunkRow[], waitingOn: readonly number[], position: ReadonlyMap<string, number>): string {
  const unordered = (i: number | undefined): i is number => i !== undefined && (waitingOn[i] ?? 0) > 0
  let current = waitingOn.findIndex((count) => count > 0)
  const seenAt = new Map<number, number>()
  const path: number[] = []
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length)
    path.push(current)
    const parent = (rows[current]?.dependsOn ?? NONE).map((id) => position.get(id)).find(unordered)
    if (parent === undefined) break
    current = parent
  }
  const cycle = [...path.slice(seenAt.get(current) ?? 0), current]
  return cycle.map((i) => rows[i]?.id).join(' <- ')
}

/** The smallest row index first. */
class MinHeap {
  private readonly items: number[] = []

  push(value: number): void {
    const items = this.items
    items.push(value)
    let i = items.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if ((items[up] as number) <= value) break
      items[i] = items[up] as number
      i = up
    }
    items[i] = value
  }

  pop(): number | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= items.length) break
      if (child + 1 < items.length && (items[child + 1] as number) < (items[child] as number)) child++
      if ((items[child] as number) >= last) break
      items[i] = items[child] as number
      i = child
    }
    items[i] = last
    return top
  }
}
