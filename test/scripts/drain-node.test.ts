/**
 * drain-node: the first step of a graceful shutdown. The node is given no new task and none it
 * hands back; its assigned tasks not yet started go back to ready at once; the tasks it runs
 * stay its own (heartbeat, complete and release work as before) until it deregisters.
 */
import { describe, expect, it } from 'vitest'
import { UnknownNodeError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { assignmentOrder, openBench } from './harness.js'

describe.each(targets)('drain-node on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('hands back assigned tasks, keeps running ones, and gives the node nothing more', async () => {
      const bench = await openBench(target)
      await bench.register('leaving', 1, 4)
      await bench.enqueue({ id: 'running' }, { id: 'waiting' })
      const [[, token] = []] = await bench.start('leaving', 1)
      expect((await bench.task('waiting')).state).toBe('assigned')

      expect(await s.drainNode(bench.runner, bench.ns, { nodeId: 'leaving' })).toBe(1)
      expect([(await bench.task('running')).state, (await bench.task('waiting')).state]).toEqual(['running', 'ready'])
      expect((await bench.stats()).nodes.map(({ id, capacity, inflight }) => [id, capacity, inflight])).toEqual([
        ['leaving', 0, 1],
      ])

      // New work waits for another node; the running task's lease is still renewed.
      await bench.enqueue({ id: 'newcomer' })
      const beat = await s.heartbeat(bench.runner, bench.ns, { nodeId: 'leaving' })
      expect([beat.running, beat.assigned]).toEqual([['running'], 0])
      // A task it hands back does not come straight back to it.
      await s.release(bench.runner, bench.ns, { nodeId: 'leaving', id: 'running', token: token as number })
      expect((await bench.task('running')).state).toBe('ready')
      expect(await assignmentOrder(bench)).toEqual(['leaving', 'leaving'])

      await bench.register('staying', 1, 10)
      expect(new Set(await assignmentOrder(bench))).toEqual(new Set(['leaving', 'staying']))
      for (const id of ['running', 'waiting', 'newcomer']) expect((await bench.task(id)).node).toBe('staying')
      expect(await s.deregisterNode(bench.runner, bench.ns, { nodeId: 'leaving' })).toBe(0)
    })

    it('a drained node completes what it runs, and its slots stay closed', async () => {
      const bench = await openBench(target)
      await bench.register('leaving', 1, 2)
      await bench.enqueue({ id: 'a' }, { id: 'b' })
      const started = await bench.start('leaving')
      await s.drainNode(bench.runner, bench.ns, { nodeId: 'leaving' })
      await bench.enqueue({ id: 'c' })
      await bench.complete('leaving', started.map(([id, token]) => ({ id, token })), 10)
      expect([(await bench.task('a')).state, (await bench.task('b')).state, (await bench.task('c')).state]).toEqual([
        'completed',
        'completed',
        'ready',
      ])
      expect((await bench.stats()).nodes.map(({ id, capacity, inflight }) => [id, capacity, inflight])).toEqual([
        ['leaving', 0, 0],
      ])
    })

    it('refuses a node that is not registered and writes nothing', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a' })
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(s.drainNode(bench.runner, bench.ns, { nodeId: 'ghost' })).rejects.toBeInstanceOf(UnknownNodeError)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })
  })
})
