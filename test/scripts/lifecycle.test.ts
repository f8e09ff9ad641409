import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { LeaseLostError, ResultTooLargeError, UnknownNodeError, UnknownTaskError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { toTaskEvents } from '../../client/events.js'
import { dumpNamespace, targets } from '../support/context.js'
import { drainNode, openBench } from './harness.js'

describe.each(targets)('task lifecycle on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('runs a task: assigned, started with its payload, completed with its result and timestamps', async () => {
      const bench = await openBench(target)
      const payload = Buffer.from([0, 255, 10, 13, 0x80, 0x7f])
      await bench.enqueue({ id: 'bin', payload })
      await bench.register('n1')
      expect((await bench.task('bin')).state).toBe('assigned')
      const [[id, token, attempt, received, queue]] = (await bench.start('n1')) as [s.StartReply[number]]
      expect([id, attempt, queue]).toEqual(['bin', 1, 'default'])
      expect(received.equals(payload)).toBe(true)
      expect((await bench.task('bin')).state).toBe('running')
      await bench.complete('n1', [{ id, token, result: 'r\u0000esult' }])
      const task = await bench.task('bin')
      expect(task.state).toBe('completed')
      expect(task.result?.toString()).toBe('r\u0000esult')
      expect(task.node).toBe('n1')
      expect(task.startedAt).toBeGreaterThanOrEqual(task.enqueuedAt)
      expect(task.finishedAt).toBeGreaterThanOrEqual(task.startedAt as number)
      const stats = await bench.stats()
      expect(stats.completed).toBe(1)
      expect(stats.nodes[0]?.completed).toBe(1)
    })

    it('enqueuing an existing id changes nothing and says so', async () => {
      const bench = await openBench(target)
      expect(await bench.enqueue({ id: 'a', payload: 'first' })).toEqual(['created'])
      const before = await dumpNamespace(bench.client, bench.ns)
      expect(await bench.enqueue({ id: 'a', payload: 'second', priority: 9 })).toEqual(['exists'])
      const after = await dumpNamespace(bench.client, bench.ns)
      expect(after.get(bench.ns.key('task'))).toEqual(before.get(bench.ns.key('task')))
      expect((await bench.task('a')).payload.toString()).toBe('first')
    })

    it('refuses a late completion after the lease was lost, and changes nothing', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 100 })
      await bench.enqueue({ id: 'slow', leaseMs: 100 })
      await bench.register('stalled')
      const [[, token]] = (await bench.start('stalled')) as [s.StartReply[number]]
      await sleep(150)
      await bench.register('healthy')
      await bench.maintain()
      const retaken = await bench.task('slow')
      expect([retaken.state, retaken.node, retaken.lostAttempts, retaken.attempts]).toEqual(['assigned', 'healthy', 1, 0])
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(bench.complete('stalled', [{ id: 'slow', token }])).rejects.toBeInstanceOf(LeaseLostError)
      await expect(bench.fail('stalled', 'slow', token)).rejects.toBeInstanceOf(LeaseLostError)
      await expect(s.heartbeat(bench.runner, bench.ns, { nodeId: 'stalled' })).rejects.toBeInstanceOf(UnknownNodeError)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      const [[, newToken]] = (await bench.start('healthy')) as [s.StartReply[number]]
      expect(newToken).toBe(token + 1)
      await bench.complete('healthy', [{ id: 'slow', token: newToken }])
      expect((await bench.task('slow')).state).toBe('completed')
    })

    it('heartbeats keep leases alive and report running and canceled tasks', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a', leaseMs: 300 }, { id: 'b', leaseMs: 300 })
      await bench.register('n1')
      const started = await bench.start('n1')
      for (let i = 0; i < 4; i++) {
        await sleep(120)
        await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      }
      await bench.maintain()
      expect((await bench.task('a')).state).toBe('running')
      expect(await s.cancel(bench.runner, bench.ns, { id: 'b' })).toBe('cancel-requested')
      const beat = await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      expect(beat.running.sort()).toEqual(['a', 'b'])
      expect(beat.tokens).toEqual(started.map(([, token]) => token))
      expect(beat.cancel).toEqual(['b'])
      const token = started.find(([id]) => id === 'b')?.[1] as number
      expect(await bench.fail('n1', 'b', token, 'aborted')).toEqual(['canceled', 0])
      expect((await bench.task('b')).state).toBe('canceled')
    })

    it('retries with exponential backoff, then dies when attempts are used up', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'flaky', maxAttempts: 3, backoff: 'exponential', backoffMs: 40, backoffCapMs: 60 })
      await bench.register('n1')
      const waits: number[] = []
      for (let attempt = 1; attempt <= 3; attempt++) {
        let started = await bench.start('n1')
        while (started.length === 0) {
          await sleep(10)
          await bench.maintain()
          started = await bench.start('n1')
        }
        const [[, token, seenAttempt]] = started as [s.StartReply[number]]
        expect(seenAttempt).toBe(attempt)
        const [outcome, retryAt] = await bench.fail('n1', 'flaky', token, `failure ${attempt}`)
        if (attempt < 3) {
          expect(outcome).toBe('retrying')
          const task = await bench.task('flaky')
          expect(task.state).toBe('retrying')
          waits.push(retryAt - (task.enqueuedAt as number))
        } else {
          expect(outcome).toBe('dead')
        }
      }
      const task = await bench.task('flaky')
      expect([task.state, task.attempts, task.error]).toEqual(['dead', 3, 'failure 3'])
      expect(task.reason).toMatch(/attempts exhausted/)
    })

    it('a non-retryable failure dies at once', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'bad', maxAttempts: 5 })
      await bench.register('n1')
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      expect((await bench.fail('n1', 'bad', token, 'invalid input', false))[0]).toBe('dead')
      expect((await bench.task('bad')).reason).toBe('not retryable: invalid input')
    })

    it('cancels tasks that have not started, in every state, at once', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'ready' }, { id: 'delayed', delayMs: 60_000 }, { id: 'waiting', dependsOn: ['delayed'] })
      for (const id of ['waiting', 'ready', 'delayed']) {
        expect(await s.cancel(bench.runner, bench.ns, { id })).toBe('canceled')
        expect((await bench.task(id)).state).toBe('canceled')
      }
      await bench.enqueue({ id: 'assigned' })
      await bench.register('n1')
      expect(await s.cancel(bench.runner, bench.ns, { id: 'assigned' })).toBe('canceled')
      expect(await s.cancel(bench.runner, bench.ns, { id: 'assigned' })).toBe('finished')
      const stats = await bench.stats()
      expect([stats.canceled, stats.ready, stats.delayed, stats.assigned, stats.nodes[0]?.inflight]).toEqual([4, 0, 0, 0, 0])
      await expect(s.cancel(bench.runner, bench.ns, { id: 'nope' })).rejects.toBeInstanceOf(UnknownTaskError)
    })

    it('delayed tasks become ready at their time, on the server clock', async () => {
      const bench = await openBench(target)
      await bench.register('n1')
      await bench.enqueue({ id: 'later', delayMs: 150 })
      expect((await bench.task('later')).state).toBe('delayed')
      const beat = await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      expect(beat.nextDueAt).toBe((await bench.task('later')).runAt)
      await bench.maintain()
      expect((await bench.task('later')).state).toBe('delayed')
      await sleep(200)
      await bench.maintain()
      expect((await bench.task('later')).state).toBe('assigned')
    })

    it('a running task whose cancel was requested ends canceled when its node hands it back, and its dependent dies in the same call', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'parent' }, { id: 'child', dependsOn: ['parent'] })
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      expect(await s.cancel(bench.runner, bench.ns, { id: 'parent' })).toBe('cancel-requested')
      expect(await s.release(bench.runner, bench.ns, { nodeId: 'n1', id: 'parent', token })).toBe('released')
      expect((await bench.task('parent')).state).toBe('canceled')
      expect((await bench.task('child')).state).toBe('dead')
      expect((await bench.stats()).nodes[0]?.inflight).toBe(0)
    })

    it('a node that joins an idle namespace and goes silent is dropped', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 200 })
      await bench.register('n1')
      await s.deregisterNode(bench.runner, bench.ns, { nodeId: 'n1' })
      await bench.maintain()
      await bench.register('n2')
      const deadline = Date.now() + 5000
      let nodes = (await bench.stats()).nodes.length
      while (nodes > 0 && Date.now() < deadline) {
        await bench.enqueue({ id: `poke-${Date.now()}` })
        nodes = (await bench.stats()).nodes.length
      }
      expect(nodes).toBe(0)
    })

    it('writes an event for every transition, one stream entry per call, capped in entries', async () => {
      const bench = await openBench(target, { eventsMaxLen: 1000 })
      await bench.register('n1')
      await bench.enqueue({ id: 'e' })
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      await bench.complete('n1', [{ id: 'e', token }])
      const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
      const perEntry = entries.map(([id, pairs]) => toTaskEvents({ id, pairs }).map((event) => event.type))
      expect(perEntry).toEqual([['node-joined'], ['enqueued', 'assigned'], ['started'], ['completed']])
      const capped = await openBench(target, { eventsMaxLen: 10 })
      for (let i = 0; i < 300; i++) await capped.enqueue({ id: `x${i}` })
      expect(await capped.client.xlen(capped.ns.key('events'))).toBeLessThan(200)
    })

    it('splits the events of a large call over entries of at most 500 events', async () => {
      const bench = await openBench(target, { eventsMaxLen: 1000 })
      // A node that leaves hands back every task it holds in one call: 600 of them here.
      await bench.register('big', 1, 600)
      await bench.enqueueMany(...Array.from({ length: 600 }, (_, i) => ({ id: `big${i}` })))
      const before = await bench.client.xlen(bench.ns.key('events'))
      expect(await s.deregisterNode(bench.runner, bench.ns, { nodeId: 'big' })).toBe(600)
      const entries = ((await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]).slice(before)
      const sizes = entries.map(([id, pairs]) => toTaskEvents({ id, pairs }).length)
      expect(sizes).toEqual([500, 101])
      const events = entries.flatMap(([id, pairs]) => toTaskEvents({ id, pairs }))
      expect(events.filter((event) => event.type === 'released').map((event) => event.task).sort()).toEqual(
        Array.from({ length: 600 }, (_, i) => `big${i}`).sort(),
      )
      expect(events.at(-1)?.type).toBe('node-left')
    })

    it('sweeps finished tasks beyond the kept count, oldest first, and keeps counts right', async () => {
      const bench = await openBench(target, { keepCompletedCount: 3, keepCompletedMs: 0 })
      await bench.register('n1', 1, 1)
      const ids = Array.from({ length: 6 }, (_, i) => ({ id: `k${i}` }))
      await bench.enqueue(...ids)
      for (let i = 0; i < 6; i++) {
        const started = await bench.start('n1')
        await bench.complete('n1', started.map(([id, token]) => ({ id, token })))
        await sleep(2)
      }
      await bench.maintain()
      expect((await bench.stats()).completed).toBe(3)
      expect(await s.getTask(bench.runner, bench.ns, { id: 'k0' })).toBeNull()
      expect((await bench.task('k5')).state).toBe('completed')
    })

    it('refuses a result over the cap and writes nothing', async () => {
      const bench = await openBench(target, { resultCap: 4 })
      await bench.enqueue({ id: 'r' })
      await bench.register('n1')
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(bench.complete('n1', [{ id: 'r', token, result: '12345' }])).rejects.toBeInstanceOf(ResultTooLargeError)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      await bench.complete('n1', [{ id: 'r', token, result: '1234' }])
      expect((await bench.task('r')).result?.toString()).toBe('1234')
    })

    it('sweeps finished tasks older than the kept time', async () => {
      const bench = await openBench(target, { keepCompletedMs: 100, keepCompletedCount: 0 })
      await bench.register('n1')
      await bench.enqueue({ id: 'old' })
      await drainNode(bench, 'n1')
      await bench.maintain()
      expect((await bench.task('old')).state).toBe('completed')
      await sleep(150)
      await bench.maintain()
      expect(await s.getTask(bench.runner, bench.ns, { id: 'old' })).toBeNull()
      expect((await bench.stats()).completed).toBe(0)
    })

    it('a node that stops sending heartbeats is dropped and its tasks run elsewhere, the loss counted apart', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 150 })
      await bench.register('doomed', 1, 10)
      await bench.enqueue({ id: 'x', maxAttempts: 1 }, { id: 'y', maxAttempts: 1 })
      await bench.start('doomed')
      await sleep(200)
      await bench.register('survivor', 1, 10)
      const stats = await bench.stats()
      expect(stats.nodes.map(({ id }) => id)).toEqual(['survivor'])
      const started = await bench.start('survivor')
      expect(started.map(([id]) => id).sort()).toEqual(['x', 'y'])
      expect(started.every(([, , attempt]) => attempt === 1)).toBe(true)
      const x = await bench.task('x')
      expect([x.lostAttempts, x.maxAttempts]).toEqual([1, 1])
    })
  })
})
