/**
 * Issue 8, item 8: retention must not sweep a finished task while a dependent that may read it
 * (dependency-results) has not finished.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

async function runAll(bench: Bench, node: string, results: Record<string, string> = {}): Promise<string[]> {
  const started = await bench.start(node)
  await bench.complete(
    node,
    started.map(([id, token]) => ({ id, token, result: results[id] ?? '' })),
  )
  return started.map(([id]) => id)
}

async function rows(bench: Bench, id: string): Promise<[string, string, string | undefined][]> {
  const reply = await s.dependencyResults(bench.runner, bench.ns, { id })
  return reply.map(([dep, state, result]) => [dep, state, result?.toString()])
}

describe.each(targets)('retention and dependents on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('keepCompletedCount 1: a parent is kept until its dependent finished, then swept', async () => {
      const bench = await openBench(target, { keepCompletedCount: 1, keepCompletedMs: 0 })
      await bench.register('n', 1, 10)
      await bench.enqueue({ id: 'p' }, { id: 'x1' }, { id: 'x2' }, { id: 'child', dependsOn: ['p'] })
      const [[pid, ptoken]] = (await s.start(bench.runner, bench.ns, { nodeId: 'n', max: 1 })) as [s.StartReply[number]]
      expect(pid).toBe('p')
      await bench.complete('n', [{ id: 'p', token: ptoken, result: 'from p' }])
      await sleep(5)
      // Two more completions: the count cap (1) makes retention sweep the oldest, p.
      const others = (await bench.start('n')).filter(([id]) => id !== 'child')
      for (const [id, token] of others) await bench.complete('n', [{ id, token }])
      await bench.maintain()
      expect(await rows(bench, 'child')).toEqual([['p', 'completed', 'from p']])
      expect((await bench.task('child')).state).toBe('running')
      const child = await bench.task('child')
      await bench.complete('n', [{ id: 'child', token: child.token as number }])
      await bench.maintain()
      expect(await s.getTask(bench.runner, bench.ns, { id: 'p' })).toBeNull()
      expect((await bench.stats()).completed).toBe(1)
    })

    it('a parent with several dependents is kept until the last of them finished', async () => {
      const bench = await openBench(target, { keepCompletedCount: 1, keepCompletedMs: 0 })
      await bench.register('n', 1, 10)
      await bench.enqueue(
        { id: 'p' },
        { id: 'c1', dependsOn: ['p'] },
        { id: 'c2', dependsOn: ['p'] },
        { id: 'c3', dependsOn: ['p'], delayMs: 60_000 },
      )
      await runAll(bench, 'n', { p: 'pp' })
      // Sweeps take the oldest first (ties by id): p must finish in an earlier millisecond.
      await sleep(5)
      expect((await runAll(bench, 'n')).sort()).toEqual(['c1', 'c2'])
      await bench.maintain()
      // c3 has not run yet: p is still there for it.
      expect(await rows(bench, 'c3')).toEqual([['p', 'completed', 'pp']])
      await s.cancel(bench.runner, bench.ns, { id: 'c3' })
      await bench.maintain()
      expect(await s.getTask(bench.runner, bench.ns, { id: 'p' })).toBeNull()
    })

    it('keepDeadCount 1: a dead parent stays readable for a dependent that runs anyway', async () => {
      const bench = await openBench(target, { keepDeadCount: 1, keepDeadMs: 0 })
      await bench.register('n', 1, 10)
      await bench.enqueue(
        { id: 'p', maxAttempts: 1 },
        { id: 'later', dependsOn: ['p'], onDependencyFailure: 'run', delayMs: 60_000 },
      )
      const [[, token]] = (await bench.start('n')) as [s.StartReply[number]]
      await bench.fail('n', 'p', token, 'broken', false)
      for (let i = 0; i < 3; i++) {
        await bench.enqueue({ id: `doomed${i}` })
        await s.cancel(bench.runner, bench.ns, { id: `doomed${i}` })
      }
      await bench.maintain()
      expect(await rows(bench, 'later')).toEqual([['p', 'dead', undefined]])
    })

    it('a chain of 50 with keepCompletedCount 1 reads every parent result and leaves one task', async () => {
      const bench = await openBench(target, { keepCompletedCount: 1, keepCompletedMs: 0, eventsMaxLen: 0 })
      await bench.register('n', 1, 10)
      await bench.enqueue(...Array.from({ length: 50 }, (_, i) => ({ id: `s${i}`, dependsOn: i === 0 ? [] : [`s${i - 1}`] })))
      for (let i = 0; i < 50; i++) {
        if (i > 0) expect(await rows(bench, `s${i}`)).toEqual([[`s${i - 1}`, 'completed', `r${i - 1}`]])
        expect(await runAll(bench, 'n', { [`s${i}`]: `r${i}` })).toEqual([`s${i}`])
      }
      await bench.maintain()
      expect((await bench.stats()).completed).toBe(1)
      expect(await bench.client.zcard(bench.ns.key('edges'))).toBe(0)
    })

    it('fan-out and fan-in past the propagation budget: held in slices, released in slices, nothing left behind', async () => {
      const bench = await openBench(target, { keepCompletedCount: 1, keepCompletedMs: 0, keepDeadCount: 1, keepDeadMs: 0, eventsMaxLen: 0 })
      await bench.register('n', 1, 10)
      const children = Array.from({ length: 2500 }, (_, i) => ({ id: `c${i}`, dependsOn: ['root'], delayMs: 60_000 }))
      await bench.enqueueMany({ id: 'root' }, ...children)
      const parents = Array.from({ length: 1000 }, (_, i) => ({ id: `p${i}`, delayMs: 60_000 }))
      await bench.enqueueMany(...parents, { id: 'join', dependsOn: parents.map((p) => p.id) })
      await runAll(bench, 'n', { root: 'r' })
      for (let i = 0; i < 20 && (await bench.maintain()).more; i++);
      expect(await rows(bench, 'c2499')).toEqual([['root', 'completed', 'r']])
      // The fan-in task goes first: its 1,000 edges are released over several calls.
      await s.cancel(bench.runner, bench.ns, { id: 'join' })
      expect(await bench.client.lrange(bench.ns.key('propagation'), 0, -1)).toEqual(['r join 250'])
      for (const { id } of [...children, ...parents]) await s.cancel(bench.runner, bench.ns, { id })
      for (let i = 0; i < 40 && (await bench.maintain()).more; i++);
      expect(await bench.client.zcard(bench.ns.key('edges'))).toBe(0)
      expect(await bench.client.llen(bench.ns.key('propagation'))).toBe(0)
      // Retained once its last dependent let go: the one completed task the count cap keeps.
      expect(await bench.client.zscore(bench.ns.key('done'), 'root')).not.toBeNull()
      const stats = await bench.stats()
      expect([stats.completed, stats.canceled]).toEqual([1, 1])
    })
  })
})
