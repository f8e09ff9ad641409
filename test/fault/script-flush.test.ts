/**
 * Repeated SCRIPT FLUSH during a run: three bursts of 20 flushes, 2–5 ms apart, while a producer
 * enqueues a graph of 2,000 tasks and three worker processes run it. Every call that meets
 * NOSCRIPT is reloaded and re-sent by the runner, so no error of any kind may reach user code:
 * not the producer's enqueue promises, not the Workers' onError.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
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

const TASKS = 2000
const BURSTS = 3
const FLUSHES_PER_BURST = 20

describe.skipIf(faultSkipReason() !== undefined)('SCRIPT FLUSH storms during a run', () => {
  let server: SpawnedRedis | undefined
  let fleet: Fleet | undefined
  let scheduler: Scheduler | undefined
  afterAll(async () => {
    await fleet?.killAll()
    await scheduler?.close()
    await closeClients()
    await server?.stop()
  })

  it(`lets no error reach user code through ${BURSTS * FLUSHES_PER_BURST} flushes`, async () => {
    const began = Date.now()
    server = await startServer()
    const namespace = randomNamespace('flush').name
    scheduler = await Scheduler.open({
      connection: server.url,
      namespace,
      config: { nodeTimeoutMs: 5000, eventsMaxLen: 100_000, keepCompletedCount: 0 },
    })
    fleet = new Fleet({ url: server.url, namespace, capacity: 6, heartbeatIntervalMs: 100, minMs: 2, maxMs: 10 })
    await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => fleet!.spawn(id)))

    const tasks = graph('f', TASKS, 0xf1a5)
    const log = producerLog()
    const producing = (async () => {
      for (const batch of batches(tasks, 50)) {
        await enqueueUntilAcknowledged(scheduler!, batch, log)
        await sleep(20)
      }
    })()

    const flusher = openClient(server.url)
    const scriptLoads = async (): Promise<number> =>
      Number(/^cmdstat_script\|load:calls=(\d+)/m.exec(await flusher.info('commandstats'))?.[1] ?? 0)
    const loadsBefore = await scriptLoads()
    const gap = random(0xf1)
    let flushes = 0
    for (let k = 1; k <= BURSTS; k++) {
      const target = Math.floor((TASKS * k) / (BURSTS + 1))
      await waitFor(`${target} completions`, async () => (await scheduler!.stats()).completed >= target, 60_000, 10)
      for (let i = 0; i < FLUSHES_PER_BURST; i++) {
        await flusher.script('FLUSH')
        flushes++
        await sleep(2 + gap() * 3)
      }
    }
    await producing

    const figures = await verify({
      scheduler,
      client: openClient(server.url),
      tasks,
      acknowledged: log.acknowledged,
      fleet,
      producerErrors: log.errors,
      deadlineMs: 60_000,
    })
    await fleet.stopAll()
    // The flushes hit calls in flight: the clients met NOSCRIPT and loaded scripts again.
    const reloads = (await scriptLoads()) - loadsBefore
    report({
      scenario: 'script-flush',
      order: 4,
      fault: `SCRIPT FLUSH in ${BURSTS} bursts of ${FLUSHES_PER_BURST}, 2–5 ms apart`,
      setup: `graph of ${TASKS} tasks enqueued in batches of 50 during the run, 3 worker processes of capacity 6, handlers 2–10 ms; ${reloads} scripts reloaded after NOSCRIPT`,
      kills: 0,
      restarts: 0,
      flushes,
      seconds: Math.round((Date.now() - began) / 1000),
      ...figures,
    })
    expect(invariants(figures)).toEqual(ZERO_VIOLATIONS)
    expect(figures.tasks).toBe(TASKS)
    expect(figures.userErrors).toEqual({})
    expect(flushes).toBe(BURSTS * FLUSHES_PER_BURST)
    expect(reloads).toBeGreaterThan(BURSTS * 10)
  }, 120_000)
})
