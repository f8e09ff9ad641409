/**
 * pause-queue and resume-queue: a paused queue's ready tasks are passed over by dispatch (and
 * stay ready), other queues go on, running tasks finish, and resume dispatches at once. The
 * paused queues are read from the meta field `pausedQueues` itself.
 */
import { Cluster } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { BadArgumentError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { toTaskEvents } from '../../client/events.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

const pause = (bench: Bench, queue: string) => s.pauseQueue(bench.runner, bench.ns, { queue })
const resume = (bench: Bench, queue: string) => s.resumeQueue(bench.runner, bench.ns, { queue })
const meta = (bench: Bench, field: string) => bench.client.hget(bench.ns.key('meta'), field)

describe.each(targets)('queue pause on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a paused queue is not dispatched to a free node that serves it; another queue is', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 10)
      expect(await pause(bench, 'slow')).toEqual({ changed: 1, pausedQueues: 'slow' })
      expect(await meta(bench, 'pausedQueues')).toBe('slow')
      await bench.enqueue({ id: 's1', queue: 'slow' }, { id: 'f1', queue: 'fast' }, { id: 'd1' })
      expect((await bench.task('s1')).state).toBe('ready')
      expect((await bench.task('f1')).state).toBe('assigned')
      expect((await bench.task('d1')).state).toBe('assigned')
      // The node's own calls dispatch too: still nothing of the paused queue.
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      await bench.maintain()
      expect((await bench.task('s1')).state).toBe('ready')
      expect(await bench.client.zrange(bench.ns.key('ready'), '0', '-1')).toEqual(['s1'])
    })

    it('a running task of a paused queue completes, and the queue stays paused', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 10)
      await bench.enqueue({ id: 's1', queue: 'slow' })
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      await pause(bench, 'slow')
      await bench.enqueue({ id: 's2', queue: 'slow' })
      await bench.complete('n1', [{ id: 's1', token, result: 'ok' }], 10)
      expect((await bench.task('s1')).state).toBe('completed')
      // The slot that came free did not take the paused queue's next task.
      expect((await bench.task('s2')).state).toBe('ready')
      expect(await meta(bench, 'pausedQueues')).toBe('slow')
    })

    it('resume dispatches the queue at once, without maintain, and wakes the node', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 10)
      await pause(bench, 'slow')
      await bench.enqueue({ id: 's1', queue: 'slow' }, { id: 's2', queue: 'slow' })
      expect((await bench.task('s1')).state).toBe('ready')
      const subscriber = bench.client instanceof Cluster ? bench.client.duplicate([], { shardedSubscribers: true }) : bench.client.duplicate()
      const woken: string[] = []
      try {
        subscriber.on('smessage', (_channel: string, message: string) => woken.push(message))
        await subscriber.ssubscribe(bench.ns.wakeChannel('n1'))
        expect(await resume(bench, 'slow')).toEqual({ changed: 1, pausedQueues: '', dispatched: 2 })
        expect(await meta(bench, 'pausedQueues')).toBeNull()
        expect((await bench.task('s1')).state).toBe('assigned')
        expect((await bench.task('s2')).state).toBe('assigned')
        const deadline = Date.now() + 5000
        while (!woken.includes('work') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        expect(woken).toContain('work')
      } finally {
        subscriber.disconnect()
      }
      expect((await bench.start('n1')).map(([id]) => id).sort()).toEqual(['s1', 's2'])
    })

    it('tasks of another queue behind a paused backlog larger than the skip limit are dispatched', async () => {
      const bench = await openBench(target)
      expect(await pause(bench, 'slow')).toEqual({ changed: 1, pausedQueues: 'slow' })
      expect(await meta(bench, 'queueFilters')).toBe('1')
      // No node yet: everything waits in `ready`, the paused backlog first (higher priority).
      const backlog = Array.from({ length: 150 }, (_, i) => ({ id: `s${i}`, queue: 'slow', priority: 10 }))
      await bench.enqueueMany(...backlog, { id: 'f1', queue: 'fast' })
      await bench.register('n1', 1, 10, ['fast', 'slow'])
      expect((await bench.task('f1')).state).toBe('assigned')
      expect((await bench.task('s0')).state).toBe('ready')
      // Resumed, the backlog goes to the node's free slots at once.
      expect((await resume(bench, 'slow')).dispatched).toBe(9)
    })

    it('resume reaches the queue behind more than the skip limit of another paused queue, for a node of every queue', async () => {
      const bench = await openBench(target)
      await pause(bench, 'other')
      await pause(bench, 'slow')
      const backlog = Array.from({ length: 150 }, (_, i) => ({ id: `o${i}`, queue: 'other', priority: 10 }))
      await bench.enqueueMany(...backlog, { id: 's1', queue: 'slow' }, { id: 's2', queue: 'slow' })
      await bench.register('n1', 1, 10)
      expect((await bench.task('s1')).state).toBe('ready')
      expect(await resume(bench, 'slow')).toEqual({ changed: 1, pausedQueues: 'other', dispatched: 2 })
      expect((await bench.task('s2')).state).toBe('assigned')
      expect((await bench.task('o0')).state).toBe('ready')
    })

    it('answers idempotently and keeps the field sorted; the last resume removes it', async () => {
      const bench = await openBench(target)
      expect(await resume(bench, 'b')).toEqual({ changed: 0, pausedQueues: '', dispatched: 0 })
      expect(await pause(bench, 'b')).toEqual({ changed: 1, pausedQueues: 'b' })
      expect(await pause(bench, 'a')).toEqual({ changed: 1, pausedQueues: 'a,b' })
      const before = await dumpNamespace(bench.client, bench.ns)
      expect(await pause(bench, 'b')).toEqual({ changed: 0, pausedQueues: 'a,b' })
      expect(await resume(bench, 'c')).toEqual({ changed: 0, pausedQueues: 'a,b', dispatched: 0 })
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      expect(await meta(bench, 'pausedQueues')).toBe('a,b')
      expect(await resume(bench, 'a')).toMatchObject({ changed: 1, pausedQueues: 'b' })
      expect(await meta(bench, 'pausedQueues')).toBe('b')
      expect(await resume(bench, 'b')).toMatchObject({ changed: 1, pausedQueues: '' })
      expect(await bench.client.hexists(bench.ns.key('meta'), 'pausedQueues')).toBe(0)
    })

    it('writes paused and resumed events naming the queue', async () => {
      const bench = await openBench(target)
      await pause(bench, 'slow')
      await pause(bench, 'slow')
      await resume(bench, 'slow')
      const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
      const events = entries.flatMap(([id, pairs]) => toTaskEvents({ id, pairs }))
      expect(events.map((e) => [e.type, e.task, e.detail])).toEqual([
        ['paused', '', 'slow'],
        ['resumed', '', 'slow'],
      ])
    })

    it('refuses a bad queue name with TM_BAD_ARGUMENT and writes nothing', async () => {
      const bench = await openBench(target)
      await pause(bench, 'slow')
      const before = await dumpNamespace(bench.client, bench.ns)
      for (const queue of ['', 'a,b', 'has space', 'x'.repeat(129)]) {
        await expect(pause(bench, queue)).rejects.toBeInstanceOf(BadArgumentError)
        await expect(resume(bench, queue)).rejects.toBeInstanceOf(BadArgumentError)
      }
      await expect(pause(bench, 'a,b')).rejects.toThrow(/queue/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })
  })
})
