/**
 * Issue 8, item 12: what one call may carry is bounded in the script headers, so that a caller
 * (a redis-cli user included) cannot make one call hold Redis for long through a big batch or a
 * big round of housekeeping. A call over a limit is refused with TM_BAD_ARGUMENT naming the
 * argument, before anything is written. The time each bounded call takes is measured by
 * test/fault/bounded-calls.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench } from './harness.js'

const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`)

describe.each(targets)('per-call limits on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('enqueue: at most 200 tasks and 1,000 dependency ids in all; over that, refused and nothing written', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'existing' })
      await bench.register('n', 1, 10)
      const before = await dumpNamespace(bench.client, bench.ns)
      const refusals = [
        [bench.enqueue(...ids('t', 201).map((id) => ({ id }))), /^TM_BAD_ARGUMENT tasks: expected 1 to 200 groups of 15 values/],
        [bench.enqueue({ id: 'wide', dependsOn: ids('p', 1001) }), /^TM_BAD_ARGUMENT tasks\[1\]\.dependsOn: expected at most 1000 comma-separated ids/],
        [
          bench.enqueue(...['a', 'b', 'c'].map((id) => ({ id, dependsOn: ids(`${id}-parent-`, 400) }))),
          /^TM_BAD_ARGUMENT tasks\[\*\]\.dependsOn: expected at most 1000 ids in all, got 1200/,
        ],
      ] as const
      for (const [call, message] of refusals) {
        await expect(call).rejects.toBeInstanceOf(BadArgumentError)
        await expect(call).rejects.toThrow(message)
      }
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      // At the limits, accepted.
      expect(await bench.enqueue(...ids('t', 200).map((id) => ({ id })))).toHaveLength(200)
      const parents = ids('p', 1000)
      await bench.enqueueMany(...parents.map((id) => ({ id })))
      expect(await bench.enqueue({ id: 'join', dependsOn: parents })).toEqual(['created'])
    })

    it('maintain, heartbeat, start and complete: a round, a start or a batch of results over its limit is refused and nothing written', async () => {
      const bench = await openBench(target)
      await bench.register('n', 1, 10)
      await bench.enqueue({ id: 'a' })
      const [[, token]] = (await bench.start('n')) as [s.StartReply[number]]
      const before = await dumpNamespace(bench.client, bench.ns)
      const { runner, ns } = bench
      const refusals = [
        [s.maintain(runner, ns, { limit: 251 }), 'TM_BAD_ARGUMENT limit: expected an integer from 1 to 250, got "251"'],
        [s.heartbeat(runner, ns, { nodeId: 'n', maintenanceLimit: 251 }), 'TM_BAD_ARGUMENT maintenanceLimit: expected an integer from 0 to 250, got "251"'],
        [s.start(runner, ns, { nodeId: 'n', max: 201 }), 'TM_BAD_ARGUMENT max: expected an integer from 1 to 200, got "201"'],
        [s.complete(runner, ns, { nodeId: 'n', claim: 101, results: [{ id: 'a', token, result: '' }] }), 'TM_BAD_ARGUMENT claim: expected an integer from 0 to 100, got "101"'],
        [
          s.complete(runner, ns, { nodeId: 'n', results: ids('r', 101).map((id) => ({ id, token: 1, result: '' })) }),
          'TM_BAD_ARGUMENT results: expected 1 to 100 groups of 3 values (id, token, result), got 303 values',
        ],
      ] as const
      for (const [call, message] of refusals) {
        await expect(call).rejects.toBeInstanceOf(BadArgumentError)
        await expect(call).rejects.toThrow(message)
      }
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('a silent node holding 600 tasks is recovered over rounds of at most 250 items and dropped with the last', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 60_000, eventsMaxLen: 0 })
      await bench.register('big', 1, 600)
      await bench.enqueueMany(...ids('t', 600).map((id) => ({ id, leaseMs: 600_000 })))
      expect((await bench.start('big', 200)).length).toBe(200)
      // Silent past the timeout on the server's clock, with no wait (a slow machine cannot make
      // the node silent early, as a short timeout would).
      await bench.client.zadd(bench.ns.key('seen'), (await bench.stats()).now - 60_001, 'big')
      const rounds: { nodesLost: number; more: number; ready: number }[] = []
      for (let more = 1; more === 1 && rounds.length < 10; ) {
        const round = await bench.maintain()
        rounds.push({ nodesLost: round.nodesLost, more: round.more, ready: (await bench.stats()).ready })
        more = round.more
      }
      // 600 tasks and the node itself: three rounds, the node dropped in the last.
      expect(rounds).toEqual([
        { nodesLost: 0, more: 1, ready: 250 },
        { nodesLost: 0, more: 1, ready: 500 },
        { nodesLost: 1, more: 0, ready: 600 },
      ])
      const stats = await bench.stats()
      expect([stats.nodes.length, stats.assigned, stats.running]).toEqual([0, 0, 0])
      const lost = await Promise.all(ids('t', 600).map(async (id) => (await bench.task(id)).lostAttempts))
      expect(lost.filter((count) => count === 1)).toHaveLength(200)
    })

    it('dispatch assigns at most 200 tasks a call, and housekeeping rounds assign the rest', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await bench.enqueueMany(...ids('t', 500).map((id) => ({ id })))
      await bench.register('wide', 1, 1000)
      const after = async (call: Promise<{ more: number }>) => ({ more: (await call).more, assigned: (await bench.stats()).assigned })
      expect((await bench.stats()).assigned).toBe(200)
      // What a worker does: its heartbeat dispatches too, and says more is due; maintain goes on.
      expect(await after(s.heartbeat(bench.runner, bench.ns, { nodeId: 'wide', maintenanceLimit: 0 }))).toEqual({ more: 1, assigned: 400 })
      expect(await after(bench.maintain())).toEqual({ more: 0, assigned: 500 })
    })
  })
})
