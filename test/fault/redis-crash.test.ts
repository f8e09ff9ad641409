/**
 * redis-server SIGKILLed and started again on its append-only file (`appendonly yes`,
 * `appendfsync always`), three times, while two producers enqueue a graph of 3,000 tasks in
 * batches and three worker processes run it. Producers retry a batch Redis did not answer, as
 * docs/reliability.md advises (same ids, so a batch that got in answers `exists`). Every batch
 * Redis acknowledged must be there after each restart, every task must complete once, and the
 * Workers and Schedulers must carry on over the restarts on their own connections: no process
 * is restarted and no client is reopened.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { Scheduler, type TaskInput } from '../../client/index.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import { closeClients, openClient, randomNamespace } from '../support/context.js'
import {
  batches,
  enqueueUntilAcknowledged,
  faultSkipReason,
  Fleet,
  graph,
  invariants,
  producerLog,
  random,
  report,
  startServer,
  verify,
  waitFor,
  ZERO_VIOLATIONS,
} from './support/harness.js'

const TASKS_PER_PRODUCER = 1500
const CRASHES = 3

describe.skipIf(faultSkipReason() !== undefined)('redis-server SIGKILLed and restarted on its AOF', () => {
  let server: SpawnedRedis | undefined
  let fleet: Fleet | undefined
  const schedulers: Scheduler[] = []
  afterAll(async () => {
    await fleet?.killAll()
    await Promise.all(schedulers.map((s) => s.close()))
    await closeClients()
    await server?.stop()
  })

  it(`loses no acknowledged enqueue and strands no task through ${CRASHES} crashes`, async () => {
    const began = Date.now()
    server = await startServer(['--appendonly', 'yes', '--appendfsync', 'always'])
    const admin = openClient(server.url)
    expect(await admin.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always'])
    const namespace = randomNamespace('crash').name
    const config = { nodeTimeoutMs: 10_000, eventsMaxLen: 100_000, keepCompletedCount: 0 }
    for (let i = 0; i < 2; i++) schedulers.push(await Scheduler.open({ connection: server.url, namespace, config }))
    fleet = new Fleet({ url: server.url, namespace, capacity: 6, heartbeatIntervalMs: 100, minMs: 2, maxMs: 20 })
    await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => fleet!.spawn(id)))

    const log = producerLog()
    const tasks: TaskInput[] = []
    const producers = schedulers.map(async (scheduler, i) => {
      const own = graph(`c${i}`, TASKS_PER_PRODUCER, 0xc0ffee + i)
      tasks.push(...own)
      for (const batch of batches(own, 50)) {
        await enqueueUntilAcknowledged(scheduler, batch, log)
        // Paced, so that the producers are still at work when Redis goes down.
        await sleep(40)
      }
    })

    const downtime = random(0xdead)
    let restarts = 0
    for (let k = 1; k <= CRASHES; k++) {
      const target = Math.floor((2 * TASKS_PER_PRODUCER * k) / (CRASHES + 1))
      await waitFor(`${target} acknowledged enqueues`, () => log.acknowledged.size >= target, 60_000, 5)
      process.kill(server.pid as number, 'SIGKILL')
      // Down for a while, with every client failing its calls and reconnecting meanwhile.
      await sleep(200 + downtime() * 600)
      await server.restart()
      restarts++
    }
    await Promise.all(producers)

    const scheduler = schedulers[0]!
    const figures = await verify({
      scheduler,
      client: openClient(server.url),
      tasks,
      acknowledged: log.acknowledged,
      fleet,
      producerErrors: log.errors,
      deadlineMs: 60_000,
    })
    // The Workers came back on their own: every node is still registered and reporting in.
    const nodes = (await scheduler.stats()).nodes.map(({ id }) => id)
    await fleet.stopAll()
    report({
      scenario: 'redis-crash',
      order: 3,
      fault: `redis-server SIGKILLed and restarted on its AOF (appendfsync always), ${CRASHES} times, 0.2–0.8 s down`,
      setup: `2 producers enqueueing graphs of ${TASKS_PER_PRODUCER} tasks in batches of 50 and retrying on RedisUnavailableError, 3 worker processes of capacity 6, handlers 2–20 ms, nodeTimeoutMs 10000`,
      kills: 0,
      restarts,
      flushes: 0,
      seconds: Math.round((Date.now() - began) / 1000),
      ...figures,
    })
    expect(invariants(figures)).toEqual(ZERO_VIOLATIONS)
    expect(figures.tasks).toBe(2 * TASKS_PER_PRODUCER)
    expect(nodes.sort()).toEqual(['node-a', 'node-b', 'node-c'])
    // The crashes hit the clients: calls failed, and only with RedisUnavailableError.
    expect(figures.userErrors.RedisUnavailableError).toBeGreaterThan(0)
    expect(Object.keys(figures.userErrors)).toEqual(['RedisUnavailableError'])
  }, 150_000)
})
