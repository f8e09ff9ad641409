import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { drainNode, openBench, type Bench } from './harness.js'

async function failForGood(bench: Bench, nodeId: string, id: string): Promise<void> {
  const started = await bench.start(nodeId)
  const entry = started.find(([startedId]) => startedId === id)
  if (!entry) throw new Error(`${id} was not started on ${nodeId}`)
  await bench.fail(nodeId, id, entry[1], 'broken', false)
}

/** A random DAG: each task depends on up to three earlier ones. */
function randomGraph(size: number, seed: number) {
  let state = seed
  const random = () => {
    state = (state * 48271) % 2147483647
    return state / 2147483647
  }
  const tasks = Array.from({ length: size }, (_, i) => {
    const deps = new Set<string>()
    const count = i === 0 ? 0 : Math.floor(random() * 4)
    for (let k = 0; k < count; k++) deps.add(`g${Math.floor(random() * i)}`)
    return { id: `g${i}`, dependsOn: [...deps], priority: Math.floor(random() * 5) }
  })
  // Any order: the result must not depend on the order tasks arrive in.
  return tasks.sort(() => random() - 0.5)
}

describe.each(targets)('dependencies on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a task runs only after all its dependencies completed, in random graphs', async () => {
      for (const seed of [7, 1234, 99991]) {
        const bench = await openBench(target, { eventsMaxLen: 0 })
        const graph = randomGraph(300, seed)
        expect(new Set(await bench.enqueueMany(...graph))).toEqual(new Set(['created']))
        await bench.register('n1', 1, 7)
        await bench.register('n2', 2, 5)
        const completed = new Set<string>()
        const deps = new Map(graph.map((t) => [t.id, t.dependsOn]))
        let violations = 0
        for (let round = 0; completed.size < graph.length && round < 1000; round++) {
          for (const node of ['n1', 'n2']) {
            const started = await bench.start(node)
            for (const [id] of started) {
              for (const dep of deps.get(id) ?? []) if (!completed.has(dep)) violations++
            }
            if (started.length > 0) {
              await bench.complete(node, started.map(([id, token]) => ({ id, token })))
              for (const [id] of started) completed.add(id)
            }
          }
        }
        expect(violations).toBe(0)
        expect(completed.size).toBe(graph.length)
      }
    })

    it('a graph arriving in several batches, parents first or already completed, gives the same result', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 100)
      await bench.enqueue({ id: 'root' })
      await drainNode(bench, 'n1')
      await bench.enqueue({ id: 'mid', dependsOn: ['root'] }, { id: 'leaf', dependsOn: ['mid', 'root'] })
      expect((await bench.task('mid')).state).toBe('assigned')
      expect((await bench.task('leaf')).unmetDependencies).toBe(1)
      await drainNode(bench, 'n1')
      expect((await bench.task('leaf')).state).toBe('completed')
    })

    it('a dependency that dies fails its dependents transitively, unless they choose to run anyway', async () => {
      const bench = await openBench(target)
      await bench.enqueue(
        { id: 'root' },
        { id: 'child', dependsOn: ['root'] },
        { id: 'grandchild', dependsOn: ['child'] },
        { id: 'tolerant', dependsOn: ['root'], onDependencyFailure: 'run' },
        { id: 'after-tolerant', dependsOn: ['tolerant'] },
      )
      await bench.register('n1', 1, 1)
      await failForGood(bench, 'n1', 'root')
      for (const id of ['child', 'grandchild']) {
        const task = await bench.task(id)
        expect([task.state, task.reason]).toEqual(['dead', 'dependency failed'])
      }
      await drainNode(bench, 'n1')
      expect((await bench.task('tolerant')).state).toBe('completed')
      expect((await bench.task('after-tolerant')).state).toBe('completed')
      // A new task depending on a dead one is born dead rather than waiting forever.
      await bench.enqueue({ id: 'late', dependsOn: ['root'] })
      expect((await bench.task('late')).state).toBe('dead')
    })

    it('canceling a task settles its dependents by the same rule', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'p', delayMs: 60_000 }, { id: 'c', dependsOn: ['p'] }, { id: 'r', dependsOn: ['p'], onDependencyFailure: 'run' })
      await s.cancel(bench.runner, bench.ns, { id: 'p' })
      expect((await bench.task('c')).state).toBe('dead')
      expect((await bench.task('r')).state).toBe('ready')
    })

    it('a dependent reads its dependencies results', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a' }, { id: 'b' }, { id: 'sum', dependsOn: ['a', 'b'] })
      await bench.register('n1', 1, 10)
      const started = await bench.start('n1')
      await bench.complete('n1', started.map(([id, token]) => ({ id, token, result: `result of ${id}` })))
      const rows = await s.dependencyResults(bench.runner, bench.ns, { id: 'sum' })
      expect(rows.map(([id, state, result]) => [id, state, result?.toString()])).toEqual([
        ['a', 'completed', 'result of a'],
        ['b', 'completed', 'result of b'],
      ])
    })

    it('fan-in: one task waiting on 1,000 runs once, after the last', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      const parents = Array.from({ length: 1000 }, (_, i) => ({ id: `p${i}` }))
      await bench.enqueueMany(...parents, { id: 'join', dependsOn: parents.map((p) => p.id) })
      await bench.register('n1', 1, 50)
      const order: string[] = []
      await drainNode(bench, 'n1', (id) => order.push(id))
      expect(order).toHaveLength(1001)
      expect(order.at(-1)).toBe('join')
    })
  })
})
