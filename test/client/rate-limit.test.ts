/**
 * Rate limits with real Workers, on one Redis and on a cluster: 1,000 ready tasks of a queue
 * limited to 50 starts per second, run by three nodes, start at no more than 50 in any one-second
 * window of the server clock and at 50/s within 10 %; the heartbeats are too rare to
 * drive it, so the timer node's wake-up at the window's opening does. And a handler's
 * RateLimitedError puts the task back for its delay without using its attempt.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RateLimitedError, Scheduler, Worker, type TaskHandler } from '../../client/index.js'
import { connectionTargets, until } from '../support/connections.js'
import type { Cluster, Redis } from 'ioredis'
import { clusterClient, randomNamespace, standaloneClient } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

let url = ''
let raw: () => Redis | Cluster = () => standaloneClient()

async function scheduler(partitions = 1): Promise<Scheduler> {
  const s = await Scheduler.open({
    connection: url,
    partitions,
    namespace: randomNamespace('rl').name,
    config: { nodeTimeoutMs: 120_000, keepCompletedCount: 10_000, keepCompletedMs: 0 },
  })
  open.push(s)
  return s
}

async function worker(s: Scheduler, handler: TaskHandler, heartbeatIntervalMs: number): Promise<Worker> {
  const w = await Worker.start({ connection: url, namespace: s.namespace, handler, heartbeatIntervalMs, capacity: 40 })
  open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
  return w
}

/** The most times of a sorted list that fall in any window of `windowMs` (ms timestamps, both ends in). */
function mostInAnyWindow(times: number[], windowMs: number): number {
  let most = 0
  let first = 0
  for (let last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

describe.each(connectionTargets)('rate limits with Workers on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
    raw = target.name === 'cluster' ? clusterClient : standaloneClient
  })

  it('1,000 tasks limited to 50/s on three nodes: at most 50 started in any second, 50/s within 10 %', { timeout: 60_000 }, async () => {
    const s = await scheduler()
    expect(await s.setRateLimit('api', { max: 50, intervalMs: 1000 })).toEqual({ changed: true, dispatched: 0 })
    const ids = Array.from({ length: 1000 }, (_, i) => `t${i}`)
    for (let i = 0; i < ids.length; i += 500) await s.enqueueBatch(ids.slice(i, i + 500).map((id) => ({ id, queue: 'api' })))
    for (let i = 0; i < 3; i++) await worker(s, async () => 'ok', 30_000)
    await until('all 1,000 tasks to complete', () => s.stats(), (stats) => stats.completed === 1000, 40_000)
    const tasks = await Promise.all(ids.map((id) => s.getTask(id)))
    // Both on the server clock: when dispatch gave each task to a node, and when its attempt
    // began (the node's start call, or the same call for a node that took it as it completed another).
    const assigned = tasks.map((t) => t!.assignedAt!).sort((a, b) => a - b)
    const started = tasks.map((t) => t!.startedAt!).sort((a, b) => a - b)
    expect(mostInAnyWindow(assigned, 1000)).toBe(50)
    expect(mostInAnyWindow(started, 1000)).toBe(50)
    expect(new Set(tasks.map((t) => t!.node)).size).toBe(3)
    // The last 50 start at the last opening: 950 starts over the span from the first to then.
    const rate = (950 * 1000) / (started[999]! - started[0]!)
    expect(rate).toBeGreaterThanOrEqual(45)
    expect(rate).toBeLessThanOrEqual(55)
  })

  it('setRateLimit shares the limit out between partitions and refuses one too small to share', async () => {
    const s = await scheduler(3)
    expect(await s.setRateLimit('api', { max: 10, intervalMs: 1000 })).toEqual({ changed: true, dispatched: 0 })
    const limits = s.partitions.all.map((partition) => raw().hget(partition.key('meta'), 'rateLimits'))
    expect(await Promise.all(limits)).toEqual(['api=4/1000', 'api=3/1000', 'api=3/1000'])
    await expect(s.setRateLimit('api', { max: 2, intervalMs: 1000 })).rejects.toBeInstanceOf(RangeError)
    expect(await s.removeRateLimit('api')).toEqual({ changed: true, dispatched: 0 })
    expect(await s.removeRateLimit('api')).toEqual({ changed: false, dispatched: 0 })
  })

  it('a handler that throws RateLimitedError runs again after the delay, on the same attempt', async () => {
    const s = await scheduler()
    const runs: { attempt: number; at: number }[] = []
    await worker(
      s,
      async (task) => {
        runs.push({ attempt: task.attempt, at: Date.now() })
        if (runs.length === 1) throw new RateLimitedError(400)
        return 'done'
      },
      100,
    )
    await s.enqueue({ id: 'call', maxAttempts: 1 })
    expect((await s.waitForResult('call', { timeoutMs: 10_000 })).toString()).toBe('done')
    expect(runs.map((r) => r.attempt)).toEqual([1, 1])
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(350)
    expect((await s.getTask('call'))?.attempts).toBe(1)
  })
})
