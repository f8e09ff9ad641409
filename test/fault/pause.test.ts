/**
 * A worker process frozen with SIGSTOP past its leases and its node timeout, then thawed with
 * SIGCONT, three times over a graph of 600 tasks. While it is frozen its leases expire, its
 * tasks are taken back and run elsewhere, and the node is dropped; once thawed, its handlers
 * finish and try to complete tasks it no longer holds. Fencing must refuse every such stale
 * completion (one completion record per task, each stored result made by the assignment that
 * holds the task), and the thawed Worker must find its way back into the rotation by itself.
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
  report,
  startServer,
  verify,
  waitFor,
  ZERO_VIOLATIONS,
} from './support/harness.js'

const TASKS = 600
const PAUSES = 3
const LEASE_MS = 500
const NODE_TIMEOUT_MS = 1000

describe.skipIf(faultSkipReason() !== undefined)('SIGSTOP past the lease, then SIGCONT', () => {
  let server: SpawnedRedis | undefined
  let fleet: Fleet | undefined
  let scheduler: Scheduler | undefined
  afterAll(async () => {
    await fleet?.killAll()
    await scheduler?.close()
    await closeClients()
    await server?.stop()
  })

  it(`refuses every stale completion of a thawed worker, ${PAUSES} times, and the worker rejoins by itself`, async () => {
    const began = Date.now()
    server = await startServer()
    const namespace = randomNamespace('pause').name
    scheduler = await Scheduler.open({
      connection: server.url,
      namespace,
      config: { nodeTimeoutMs: NODE_TIMEOUT_MS, eventsMaxLen: 100_000, keepCompletedCount: 0 },
    })
    fleet = new Fleet({ url: server.url, namespace, capacity: 4, heartbeatIntervalMs: 100, minMs: 40, maxMs: 120 })
    const nodes = ['node-a', 'node-b', 'node-c']
    await Promise.all(nodes.map((id) => fleet!.spawn(id)))

    const tasks = graph('p', TASKS, 0xfa115).map((task) => ({ ...task, leaseMs: LEASE_MS }))
    const log = producerLog()
    for (const batch of batches(tasks, 200)) await enqueueUntilAcknowledged(scheduler, batch, log)

    const nodeIds = async (): Promise<string[]> => (await scheduler!.stats()).nodes.map(({ id }) => id)
    let pauses = 0
    for (let p = 0; p < PAUSES; p++) {
      const victim = nodes[p % nodes.length]!
      await waitFor(`${victim} to be running handlers`, () => fleet!.inFlight(victim) > 0, 20_000, 5)
      fleet.signal(victim, 'SIGSTOP')
      pauses++
      // Frozen until the others have dropped it: by then every lease it held has expired too.
      await waitFor(`${victim} to be dropped`, async () => !(await nodeIds()).includes(victim), 20_000)
      fleet.signal(victim, 'SIGCONT')
      await waitFor(`${victim} to rejoin by itself`, async () => (await nodeIds()).includes(victim), 20_000)
    }

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
      scenario: 'pause',
      order: 2,
      fault: `SIGSTOP of a busy worker process until its node is dropped, then SIGCONT, ${PAUSES} times`,
      setup: `graph of ${TASKS} tasks, 3 worker processes of capacity 4, handlers 40–120 ms, leaseMs ${LEASE_MS}, nodeTimeoutMs ${NODE_TIMEOUT_MS}, heartbeat 100 ms`,
      kills: pauses,
      restarts: 0,
      flushes: 0,
      seconds: Math.round((Date.now() - began) / 1000),
      ...figures,
    })
    expect(invariants(figures)).toEqual(ZERO_VIOLATIONS)
    expect(figures.tasks).toBe(TASKS)
    // The frozen nodes' tasks were taken from them and ran again elsewhere.
    expect(figures.lostAttempts).toBeGreaterThan(0)
    expect(figures.duplicateHandlerRuns).toBeGreaterThan(0)
  }, 120_000)
})
