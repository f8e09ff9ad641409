/**
 * Issue 8, item 1: a node that stopped reporting must not keep getting tasks until the node
 * timeout drops it, and a task that was assigned but never started has not been run, so losing
 * it (lease expiry, node dropped) must not count as a lost attempt.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { openBench } from './harness.js'

describe.each(targets)('silent nodes on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a node that never heartbeats stops getting tasks, and their lease expiries count no lost attempt', async () => {
      // A third of the node timeout (2 s) is the grace; the node is dropped only after 6 s.
      const bench = await openBench(target, { nodeTimeoutMs: 6000 })
      await bench.register('silent', 1, 10)
      const ids = ['t0', 't1', 't2', 't3', 't4']
      await bench.enqueue(...ids.map((id) => ({ id, leaseMs: 200 })))
      expect((await bench.task('t0')).node).toBe('silent')
      // About 17 lease periods with housekeeping running all the time.
      const until = Date.now() + 3500
      while (Date.now() < until) {
        await bench.maintain()
        await sleep(25)
      }
      for (const id of ids) {
        const task = await bench.task(id)
        expect([id, task.state, task.lostAttempts, task.attempts]).toEqual([id, 'ready', 0, 0])
      }
      expect((await bench.stats()).dead).toBe(0)
      await bench.register('live', 1, 10)
      for (const id of ids) expect((await bench.task(id)).node).toBe('live')
      const started = await bench.start('live')
      expect(started.map(([id]) => id).sort()).toEqual(ids)
      await bench.complete('live', started.map(([id, token]) => ({ id, token })))
      expect((await bench.stats()).completed).toBe(5)
    })

    it('a silent node is passed over by dispatch and rejoins with its next heartbeat', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 3000, strategy: 'round-robin' })
      await bench.register('quiet', 1, 10)
      await bench.register('busy', 1, 10)
      await sleep(1100)
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'busy' })
      await bench.enqueue({ id: 'a' }, { id: 'b' }, { id: 'c' })
      expect([(await bench.task('a')).node, (await bench.task('b')).node, (await bench.task('c')).node]).toEqual([
        'busy',
        'busy',
        'busy',
      ])
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'quiet' })
      await bench.enqueue({ id: 'd' }, { id: 'e' })
      expect(new Set([(await bench.task('d')).node, (await bench.task('e')).node])).toEqual(new Set(['quiet', 'busy']))
      // With no live node at all, tasks wait in ready.
      await sleep(1100)
      await bench.enqueue({ id: 'f' })
      expect((await bench.task('f')).state).toBe('ready')
    })

    it('a node whose last heartbeat is older than the node timeout gets no task from enqueue or the heartbeat of another node, with no maintain call', async () => {
      // Two things keep it so: the housekeeping every dispatching call runs when due drops the
      // node, and dispatch itself passes over a node silent for a third of the timeout (gone_silent).
      const bench = await openBench(target, { nodeTimeoutMs: 600 })
      await bench.register('old', 1, 10)
      await bench.register('other', 1, 10, ['elsewhere'])
      await sleep(700)
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'other' })
      await bench.enqueue({ id: 'a' })
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'other' })
      expect((await bench.task('a')).state).toBe('ready')
      expect(await bench.start('old').catch(() => [])).toEqual([])
      await bench.register('live', 1, 10)
      expect((await bench.task('a')).node).toBe('live')
    })

    it('an assigned task of a dropped node goes back without a lost attempt; a running one counts one', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 300 })
      await bench.register('gone', 1, 10)
      await bench.enqueue({ id: 'runs', leaseMs: 60_000 }, { id: 'waits', leaseMs: 60_000 })
      expect((await s.start(bench.runner, bench.ns, { nodeId: 'gone', max: 1 })).map(([id]) => id)).toEqual(['runs'])
      expect((await bench.task('waits')).state).toBe('assigned')
      await sleep(400)
      expect((await bench.maintain()).nodesLost).toBe(1)
      const never = await bench.task('waits')
      const ran = await bench.task('runs')
      expect([never.state, never.lostAttempts, never.attempts]).toEqual(['ready', 0, 0])
      expect([ran.state, ran.lostAttempts, ran.attempts]).toEqual(['ready', 1, 0])
    })
  })
})
