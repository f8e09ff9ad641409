/**
 * Redis out of memory under `maxmemory-policy noeviction`, with two worker processes in the
 * middle of a run. First every write is refused (maxmemory far below use): an enqueue fails with
 * RedisOutOfMemoryError and leaves every key of the namespace byte-identical, and so do the
 * Workers' completions and heartbeats, which they keep retrying. Then memory is tight rather
 * than gone: batches go in until Redis is past maxmemory, and the first one refused left none of
 * its tasks behind. Once memory frees, the refused batches are sent again and the work that was
 * running when memory ran out completes, each task once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { RedisOutOfMemoryError, Scheduler, type TaskInput } from '../../client/index.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import { closeClients, dumpNamespace, openClient, randomNamespace } from '../support/context.js'
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

const FIRST = 300
const TIGHT_BATCHES = 20
const TIGHT_BATCH_SIZE = 25

describe.skipIf(faultSkipReason() !== undefined)('Redis out of memory under noeviction', () => {
  let server: SpawnedRedis | undefined
  let fleet: Fleet | undefined
  let scheduler: Scheduler | undefined
  afterAll(async () => {
    await fleet?.killAll()
    await scheduler?.close()
    await closeClients()
    await server?.stop()
  })

  it('refuses calls up front with RedisOutOfMemoryError, writes nothing, and finishes the work once memory frees', async () => {
    const began = Date.now()
    server = await startServer(['--maxmemory-policy', 'noeviction'])
    const admin = openClient(server.url)
    const namespace = randomNamespace('oom')
    scheduler = await Scheduler.open({
      connection: server.url,
      namespace: namespace.name,
      config: { nodeTimeoutMs: 20_000, eventsMaxLen: 100_000, keepCompletedCount: 0 },
    })
    fleet = new Fleet({ url: server.url, namespace: namespace.name, capacity: 8, heartbeatIntervalMs: 100, minMs: 20, maxMs: 60 })
    await Promise.all(['node-a', 'node-b'].map((id) => fleet!.spawn(id)))

    const tasks: TaskInput[] = graph('m', FIRST, 0x00f)
    const log = producerLog()
    for (const batch of batches(tasks, 100)) await enqueueUntilAcknowledged(scheduler, batch, log)
    await waitFor('handlers to be running', () => fleet!.inFlight('node-a') + fleet!.inFlight('node-b') > 0, 20_000, 5)

    // 1. No room at all: every write script is refused before it starts.
    await admin.config('SET', 'maxmemory', '1')
    const frozen = await dumpNamespace(admin, namespace)
    const refusedBatch = Array.from({ length: 100 }, (_, i): TaskInput => ({ id: `refused-${i}` }))
    const refusal = await scheduler.enqueueBatch(refusedBatch).catch((error: unknown) => error)
    expect(refusal).toBeInstanceOf(RedisOutOfMemoryError)
    expect(refusal).toMatchObject({ command: 'EVALSHA', script: { script: 'enqueue' } })
    // The handlers that were running finish meanwhile; their completions are refused as well.
    const refusedBefore = fleet.errors.length
    await waitFor('a Worker call to be refused', () => fleet!.errors.length > refusedBefore + 4, 20_000)
    expect(await dumpNamespace(admin, namespace)).toEqual(frozen)
    expect(await Promise.all(refusedBatch.map((task) => scheduler!.getTask(task.id as string)))).toEqual(
      refusedBatch.map(() => null),
    )

    // 2. Tight memory: batches go in until Redis is past maxmemory; a refused one leaves nothing.
    const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1])
    await admin.config('SET', 'maxmemory', String(used + 512 * 1024))
    const payload = 'x'.repeat(4096)
    const tight = Array.from({ length: TIGHT_BATCHES * TIGHT_BATCH_SIZE }, (_, i): TaskInput => ({ id: `tight-${i}`, payload }))
    const refusedTight: TaskInput[][] = []
    for (const batch of batches(tight, TIGHT_BATCH_SIZE)) {
      if (refusedTight.length > 0) {
        refusedTight.push(batch)
        continue
      }
      try {
        await scheduler.enqueueBatch(batch)
        for (const task of batch) log.acknowledged.add(task.id as string)
      } catch (error) {
        expect(error).toBeInstanceOf(RedisOutOfMemoryError)
        log.errors.push(error as Error)
        refusedTight.push(batch)
        const left = await Promise.all(batch.map((task) => scheduler!.getTask(task.id as string)))
        expect(left.filter((task) => task !== null)).toEqual([])
      }
    }
    expect(refusedTight.length).toBeGreaterThan(0)
    expect(refusedTight.length).toBeLessThan(TIGHT_BATCHES)

    // 3. Memory frees: the producer sends its refused batches again, and everything completes.
    await admin.config('SET', 'maxmemory', '0')
    for (const batch of [refusedBatch, ...refusedTight]) await enqueueUntilAcknowledged(scheduler, batch, log)
    tasks.push(...refusedBatch, ...tight)

    const figures = await verify({
      scheduler,
      client: admin,
      tasks,
      acknowledged: log.acknowledged,
      fleet,
      producerErrors: [...log.errors, refusal as Error],
      deadlineMs: 60_000,
    })
    await fleet.stopAll()
    report({
      scenario: 'out-of-memory',
      order: 5,
      fault: 'maxmemory reached under noeviction: no room at all, then tight, then freed',
      setup: `graph of ${FIRST} tasks running on 2 worker processes of capacity 8 (handlers 20–60 ms) when memory runs out; a batch of 100 refused with no room; batches of ${TIGHT_BATCH_SIZE} × 4 KB until refused with 512 KB of room (${refusedTight.length} of ${TIGHT_BATCHES} refused); refused batches sent again once memory freed`,
      kills: 0,
      restarts: 0,
      flushes: 0,
      seconds: Math.round((Date.now() - began) / 1000),
      ...figures,
    })
    expect(invariants(figures)).toEqual(ZERO_VIOLATIONS)
    expect(figures.tasks).toBe(FIRST + refusedBatch.length + tight.length)
    // Every refusal, in the producer and in the Workers, came as the typed error.
    expect(Object.keys(figures.userErrors)).toEqual(['RedisOutOfMemoryError'])
  }, 120_000)
})
