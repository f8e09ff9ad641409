/**
 * What a call costs must not grow with the namespace: these tests read the commands the
 * scripts run (MONITOR shows them with the source "lua") and check that a call touches the
 * nodes and sets it needs, whatever the number of nodes.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets, WireTap, type SeenCommand } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

async function scriptCommands(bench: Bench, servers: { host: string; port: number }[], call: () => Promise<unknown>): Promise<SeenCommand[]> {
  const tap = await WireTap.open(servers)
  try {
    await call()
    await tap.sync()
  } finally {
    tap.stop()
  }
  const prefix = bench.ns.prefix
  return tap.seen.filter((c) => c.source === 'lua' && c.args.some((arg) => arg.startsWith(prefix)))
}

function count(commands: SeenCommand[], name: string, key?: string): number {
  return commands.filter((c) => c.args[0] === name && (key === undefined || c.args[1] === key)).length
}

async function registerMany(bench: Bench, n: number, capacity = 4): Promise<void> {
  for (let i = 0; i < n; i++) await bench.register(`n${String(i).padStart(3, '0')}`, 1, capacity)
}

describe.each(targets)('constant cost on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('with 200 nodes and nothing due, a heartbeat reads one node record and no housekeeping set', async () => {
      const bench = await openBench(target)
      await registerMany(bench, 200)
      await bench.maintain()
      const seen = await scriptCommands(bench, target.servers(), () =>
        s.heartbeat(bench.runner, bench.ns, { nodeId: 'n123' }),
      )
      expect(count(seen, 'hgetall')).toBe(0)
      expect(count(seen, 'hget', bench.ns.key('nodes'))).toBe(1)
      expect(count(seen, 'zrangebyscore')).toBe(0)
      expect(count(seen, 'hset', bench.ns.key('nodes'))).toBe(0)
    })

    it('with 200 nodes, an enqueue of one task reads and writes one node record', async () => {
      const bench = await openBench(target)
      await registerMany(bench, 200)
      await bench.maintain()
      const seen = await scriptCommands(bench, target.servers(), () => bench.enqueue({ id: 'one' }))
      expect(count(seen, 'hgetall')).toBe(0)
      expect(count(seen, 'hget', bench.ns.key('nodes'))).toBe(1)
      expect(count(seen, 'hset', bench.ns.key('nodes'))).toBe(1)
      expect((await bench.task('one')).state).toBe('assigned')
    })

    it('a dispatch publishes one wake-up, on the channel of the node that got the task', async () => {
      const bench = await openBench(target)
      await registerMany(bench, 3)
      const seen = await scriptCommands(bench, target.servers(), () => bench.enqueue({ id: 'job' }))
      const node = (await bench.task('job')).node
      const wakes = seen.filter((c) => c.args[0] === 'spublish')
      expect(wakes.map((c) => c.args.slice(1))).toEqual([[`${bench.ns.prefix}wake:${node}`, 'work']])
    })

    it('only the timer node is told the next due time, and an earlier delayed task wakes it alone', async () => {
      const bench = await openBench(target)
      await bench.register('n1')
      await bench.register('n2')
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      // Due before anything else (the node timeout is 15 s): the next due time is its run time.
      await bench.enqueue({ id: 'later', delayMs: 5_000 })
      const runAt = (await bench.task('later')).runAt
      expect((await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n2' })).nextDueAt).toBe(0)
      expect((await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })).nextDueAt).toBe(runAt)
      const seen = await scriptCommands(bench, target.servers(), () => bench.enqueue({ id: 'sooner', delayMs: 3_000 }))
      expect(seen.filter((c) => c.args[0] === 'spublish').map((c) => c.args.slice(1))).toEqual([
        [`${bench.ns.prefix}wake:n1`, 'due'],
      ])
    })

    it('a timer node that stops reporting is replaced by the next node that reports in', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 6000 })
      await bench.register('n1')
      await bench.register('n2')
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })
      await bench.enqueue({ id: 'later', delayMs: 60_000 })
      expect((await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n2' })).nextDueAt).toBe(0)
      // The timer passes on once its holder is silent for a third of the node timeout (2 s).
      const deadline = Date.now() + 10_000
      let due = 0
      while (due === 0 && Date.now() < deadline) {
        due = (await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n2' })).nextDueAt
      }
      expect(due).toBeGreaterThan(0)
      expect((await s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })).nextDueAt).toBe(0)
    })

    it('maintain sweeps 2,000 finished tasks in rounds of at most its limit, each saying whether more is left', async () => {
      const bench = await openBench(target, { keepCompletedMs: 3_600_000, keepCompletedCount: 0, eventsMaxLen: 0 })
      await bench.register('n', 1, 2000)
      await bench.enqueueMany(...Array.from({ length: 2000 }, (_, k) => ({ id: `t${k}` })))
      for (let started = await bench.start('n'); started.length > 0; started = await bench.start('n')) {
        for (let i = 0; i < started.length; i += 100) {
          await bench.complete('n', started.slice(i, i + 100).map(([id, token]) => ({ id, token })))
        }
      }
      await s.init(bench.runner, bench.ns, { keepCompletedMs: 1, keepCompletedCount: 0, eventsMaxLen: 0 })
      await sleep(5)
      const rounds: { swept: number; more: number }[] = []
      for (let more = 1; more === 1 && rounds.length < 20; ) {
        const round = await bench.maintain()
        rounds.push({ swept: round.swept, more: round.more })
        more = round.more
      }
      expect(rounds.map((round) => round.swept)).toEqual([250, 250, 250, 250, 250, 250, 250, 250, 0])
      expect(rounds.map((round) => round.more)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0])
      expect((await bench.stats()).completed).toBe(0)
    })
  })
})
