/**
 * What `stats` and `metrics` report beyond the state counts: nodes as named objects with a stale
 * marker judged on the Redis server clock, the paused queues from meta, the completion and
 * failure totals, and the per-queue counts of named queues (with `default` derived, so a
 * namespace of `default` alone stores nothing more).
 */
import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { openBench, serverNow, type Bench } from './harness.js'

/** Sets a node's last heartbeat to `ago` ms before the server's clock, as a silent node's would be. */
async function lastSeen(bench: Bench, nodeId: string, ago: number): Promise<void> {
  await bench.client.zadd(bench.ns.key('seen'), (await serverNow(bench)) - ago, nodeId)
}

/**
 * Moves a task's enqueue time `ms` into the past, as if it had been enqueued then: its stored
 * record (field 13, lib/record) is rewritten in place; its run-at time stays "same as enqueue".
 */
async function backdate(bench: Bench, id: string, ms: number): Promise<void> {
  const lua =
    "local r = cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1])) r[13] = r[13] - tonumber(ARGV[2]) " +
    "redis.call('HSET', KEYS[1], ARGV[1], cmsgpack.pack(r))"
  await bench.client.eval(lua, 1, bench.ns.key('task'), id, ms)
}

const metricsOf = (bench: Bench): Promise<s.MetricsReply> => s.metrics(bench.runner, bench.ns)

/** The meta fields of per-queue counts. */
async function queueFields(bench: Bench): Promise<Record<string, string>> {
  const meta = await bench.client.hgetall(bench.ns.key('meta'))
  return Object.fromEntries(Object.entries(meta).filter(([field]) => field.startsWith('qcount:')))
}

/** The `queues` rows of a metrics reply as { queue: { state: count } }, zero counts left out. */
function byQueue(reply: s.MetricsReply): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  for (const [queue, state, count] of reply.queues) {
    if (count !== 0) (out[queue] ??= {})[state] = count
  }
  return out
}

describe.each(targets)('stats and metrics on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('stats lists nodes as objects, sorted by id, and marks stale the one whose heartbeat is older than the node timeout', async () => {
      const bench = await openBench(target, { nodeTimeoutMs: 10_000 })
      await bench.register('b-live', 2, 5, ['emails'])
      await bench.register('a-quiet', 1, 3)
      await lastSeen(bench, 'a-quiet', 10_001)
      await lastSeen(bench, 'b-live', 9_000)
      const stats = await bench.stats()
      expect(stats.nodes.map(({ lastSeenAt, ...node }) => node)).toEqual([
        { id: 'a-quiet', weight: 1, capacity: 3, inflight: 0, completed: 0, failed: 0, queues: '', stale: 1 },
        { id: 'b-live', weight: 2, capacity: 5, inflight: 0, completed: 0, failed: 0, queues: 'emails', stale: 0 },
      ])
      expect(stats.nodes[0]!.lastSeenAt).toBeLessThan(stats.now - 10_000)
      expect((await metricsOf(bench)).nodes).toEqual([
        { id: 'a-quiet', inflight: 0, capacity: 3, stale: 1 },
        { id: 'b-live', inflight: 0, capacity: 5, stale: 0 },
      ])
      // The node stats call stale is the one housekeeping drops.
      expect((await bench.maintain()).nodesLost).toBe(1)
      expect((await bench.stats()).nodes.map(({ id }) => id)).toEqual(['b-live'])
      // A heartbeat makes a node live again.
      await lastSeen(bench, 'b-live', 20_000)
      expect((await bench.stats()).nodes[0]?.stale).toBe(1)
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'b-live' })
      expect((await bench.stats()).nodes[0]?.stale).toBe(0)
    })

    it('stats and metrics read the paused queues from meta as a list', async () => {
      const bench = await openBench(target)
      expect((await bench.stats()).pausedQueues).toEqual([])
      await bench.client.hset(bench.ns.key('meta'), 'pausedQueues', '')
      expect((await bench.stats()).pausedQueues).toEqual([])
      await bench.client.hset(bench.ns.key('meta'), 'pausedQueues', 'emails,reports')
      expect((await bench.stats()).pausedQueues).toEqual(['emails', 'reports'])
      expect((await metricsOf(bench)).pausedQueues).toEqual(['emails', 'reports'])
    })

    it('completedTotal counts completions and failedTotal each failed attempt; they never go down', async () => {
      const bench = await openBench(target, { keepCompletedCount: 0, keepCompletedMs: 0 })
      await bench.register('n', 1, 10)
      await bench.enqueue(
        { id: 'ok' },
        { id: 'flaky', maxAttempts: 3, backoffMs: 0 },
        { id: 'doomed', maxAttempts: 1 },
        { id: 'child', dependsOn: ['doomed'] },
        { id: 'later', delayMs: 60_000 },
      )
      const started = await bench.start('n')
      const token = (id: string): number => started.find(([task]) => task === id)![1]
      await bench.complete('n', [{ id: 'ok', token: token('ok') }])
      expect(await bench.fail('n', 'flaky', token('flaky'))).toEqual(['retrying', expect.any(Number)])
      expect((await bench.fail('n', 'doomed', token('doomed')))[0]).toBe('dead')
      // The dependent dies of its parent's failure and the delayed task is canceled: neither is a failed attempt.
      await s.cancel(bench.runner, bench.ns, { id: 'later' })
      let stats = await bench.stats()
      expect([stats.dead, stats.canceled, stats.completedTotal, stats.failedTotal]).toEqual([2, 1, 1, 2])
      // The retry runs and completes; one call completing two tasks adds both.
      await bench.maintain()
      const again = await bench.start('n')
      await bench.enqueue({ id: 'more' })
      const more = await bench.start('n')
      await bench.complete('n', [...again, ...more].map(([id, t]) => ({ id, token: t })))
      stats = await bench.stats()
      expect([stats.completed, stats.completedTotal, stats.failedTotal]).toEqual([3, 3, 2])
      // Removing finished tasks takes them out of the counts, not out of the totals.
      await s.removeTask(bench.runner, bench.ns, { id: 'ok' })
      stats = await bench.stats()
      expect([stats.completed, stats.completedTotal]).toEqual([2, 3])
      const metrics = await metricsOf(bench)
      expect([metrics.completedTotal, metrics.failedTotal]).toEqual([3, 2])
    })

    it('counts named queues per state as tasks move, and derives default from the namespace counts', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'd1' }, { id: 'd2', delayMs: 60_000 })
      expect(await queueFields(bench)).toEqual({})
      await bench.register('mail', 1, 1, ['emails'])
      await bench.enqueue(
        { id: 'e1', queue: 'emails' },
        { id: 'e2', queue: 'emails' },
        { id: 'e3', queue: 'emails', delayMs: 60_000 },
        { id: 'r1', queue: 'reports' },
        { id: 'r2', queue: 'reports', dependsOn: ['e1'] },
      )
      expect(byQueue(await metricsOf(bench))).toEqual({
        default: { ready: 1, delayed: 1 },
        emails: { assigned: 1, ready: 1, delayed: 1 },
        reports: { ready: 1, waiting: 1 },
      })
      const [id, token] = (await bench.start('mail'))[0]!
      expect(id).toBe('e1')
      expect(byQueue(await metricsOf(bench)).emails).toEqual({ running: 1, ready: 1, delayed: 1 })
      // Completing e1 makes r2 ready and gives e2 to the node; finished tasks leave the queue counts.
      await bench.complete('mail', [{ id, token }])
      const [, token2] = (await bench.start('mail'))[0]!
      await bench.fail('mail', 'e2', token2, 'boom', true)
      expect(byQueue(await metricsOf(bench))).toEqual({
        default: { ready: 1, delayed: 1 },
        emails: { retrying: 1, delayed: 1 },
        reports: { ready: 2 },
      })
      // A field that comes back to 0 is deleted.
      expect(Object.keys(await queueFields(bench)).sort()).toEqual([
        'qcount:emails:delayed',
        'qcount:emails:retrying',
        'qcount:reports:ready',
      ])
      await s.cancel(bench.runner, bench.ns, { id: 'r1' })
      await s.cancel(bench.runner, bench.ns, { id: 'r2' })
      expect(Object.keys(await queueFields(bench)).sort()).toEqual(['qcount:emails:delayed', 'qcount:emails:retrying'])
      // Every queue's counts add up to the namespace's.
      const metrics = await metricsOf(bench)
      for (const state of ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying'] as const) {
        const sum = metrics.queues.filter(([, st]) => st === state).reduce((total, [, , count]) => total + count, 0)
        expect([state, sum]).toEqual([state, metrics[state]])
      }
    })

    it('a namespace of default tasks stores no per-queue count, and its default row is the namespace counts', async () => {
      const bench = await openBench(target)
      await bench.register('n', 1, 1)
      await bench.enqueue({ id: 'a' }, { id: 'b' }, { id: 'c', delayMs: 60_000 }, { id: 'd', dependsOn: ['a'] })
      const [id, token] = (await bench.start('n'))[0]!
      await bench.complete('n', [{ id, token }])
      expect(await queueFields(bench)).toEqual({})
      const metrics = await metricsOf(bench)
      const stats = await bench.stats()
      expect(metrics.queues).toEqual(
        (['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying'] as const).map((state) => ['default', state, stats[state]]),
      )
      expect(byQueue(metrics)).toEqual({ default: { assigned: 1, ready: 1, delayed: 1 } })
    })

    it('oldestReadyAgeMs is the age of the head of ready on the server clock, 0 when nothing is ready', async () => {
      const bench = await openBench(target)
      expect((await metricsOf(bench)).oldestReadyAgeMs).toBe(0)
      // An hour-old task at low priority, a minute-old one at high priority: the head is the latter.
      await bench.enqueue({ id: 'old', priority: -5 }, { id: 'young', priority: 5 })
      await backdate(bench, 'old', 3_600_000)
      await backdate(bench, 'young', 60_000)
      const metrics = await metricsOf(bench)
      expect(metrics.oldestReadyAgeMs).toBeGreaterThanOrEqual(60_000)
      expect(metrics.oldestReadyAgeMs).toBeLessThan(70_000)
      await s.cancel(bench.runner, bench.ns, { id: 'young' })
      expect((await metricsOf(bench)).oldestReadyAgeMs).toBeGreaterThanOrEqual(3_600_000)
      // A delayed task counts from its run-at time, not from its enqueue.
      await s.cancel(bench.runner, bench.ns, { id: 'old' })
      const now = await serverNow(bench)
      await bench.enqueue({ id: 'was-delayed', runAt: now + 100 })
      await backdate(bench, 'was-delayed', 3_600_000)
      expect((await bench.task('was-delayed')).state).toBe('delayed')
      const deadline = Date.now() + 2000
      while ((await bench.task('was-delayed')).state !== 'ready' && Date.now() < deadline) await bench.maintain()
      expect((await bench.task('was-delayed')).state).toBe('ready')
      expect((await metricsOf(bench)).oldestReadyAgeMs).toBeLessThan(10_000)
    })
  })
})
