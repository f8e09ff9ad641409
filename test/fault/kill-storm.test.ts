/**
 * A storm of SIGKILLs on worker processes while they run a graph of 3,000 tasks: four worker
 * processes, one killed (never the last two standing) each time another ninth of the graph has
 * completed, always one with handlers in flight. Every other replacement comes back under the
 * killed node's id, as a restarted pod with a stable name would; the others under a new id, so
 * the dead node is found silent after nodeTimeoutMs and its tasks recovered.
 */
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

const TASKS = 3000
const KILLS = 8
const WORKERS = 4
const SEED = Number(process.env.TASKMILL_FAULT_SEED ?? 0x5eed)

describe.skipIf(faultSkipReason() !== undefined)('SIGKILL storm on worker processes', () => {
  let server: SpawnedRedis | undefined
  let fleet: Fleet | undefined
  let scheduler: Scheduler | undefined
  afterAll(async () => {
    await fleet?.killAll()
    await scheduler?.close()
    await closeClients()
    await server?.stop()
  })

  it(`runs a graph of ${TASKS} tasks to the end through ${KILLS} kills: nothing lost, stuck or completed twice`, async () => {
    const began = Date.now()
    server = await startServer()
    const namespace = randomNamespace('kill').name
    scheduler = await Scheduler.open({
      connection: server.url,
      namespace,
      config: { nodeTimeoutMs: 1000, eventsMaxLen: 100_000, keepCompletedCount: 0 },
    })
    fleet = new Fleet({ url: server.url, namespace, capacity: 8, heartbeatIntervalMs: 100, minMs: 2, maxMs: 15 })
    await Promise.all(Array.from({ length: WORKERS }, (_, i) => fleet!.spawn(`node-${i}`)))

    const tasks = graph('k', TASKS, SEED)
    const log = producerLog()
    const producing = (async () => {
      for (const batch of batches(tasks, 200)) await enqueueUntilAcknowledged(scheduler!, batch, log)
    })()

    const pick = random(SEED + 1)
    const replacements: Promise<void>[] = []
    let kills = 0
    let fresh = WORKERS
    for (let k = 1; k <= KILLS; k++) {
      const target = Math.floor((TASKS * k) / (KILLS + 1))
      // A run that stops making progress goes straight to the check, which counts what is stuck.
      const progressed = await waitFor(`${target} completions`, async () => (await scheduler!.stats()).completed >= target, 20_000, 20)
        .then(() => true, () => false)
      if (!progressed) break
      await waitFor('two live workers', () => fleet!.live().length >= 2, 30_000)
      const live = fleet.live()
      const busy = live.filter((id) => fleet!.inFlight(id) > 0)
      const candidates = busy.length > 0 ? busy : live
      const victim = candidates[Math.floor(pick() * candidates.length)]!
      await fleet.kill(victim)
      kills++
      replacements.push(fleet.spawn(k % 2 === 0 ? victim : `node-${fresh++}`))
    }
    await producing
    await Promise.all(replacements)

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
    report({
      scenario: 'kill-storm',
      order: 1,
      fault: `SIGKILL of a busy worker process, ${KILLS} times`,
      setup: `graph of ${TASKS} tasks (up to 3 parents each), ${WORKERS} worker processes of capacity 8, handlers 2–15 ms, nodeTimeoutMs 1000, heartbeat 100 ms; every other replacement reuses the killed node id`,
      kills,
      restarts: 0,
      flushes: 0,
      seconds: Math.round((Date.now() - began) / 1000),
      ...figures,
    })
    expect(invariants(figures)).toEqual(ZERO_VIOLATIONS)
    expect(figures.tasks).toBe(TASKS)
    // The kills hit running work: attempts were lost and handlers ran again elsewhere.
    expect(figures.lostAttempts).toBeGreaterThan(0)
    expect(figures.duplicateHandlerRuns).toBeGreaterThan(0)
  }, 150_000)
})
