/**
 * A Worker started before any Scheduler: it creates the namespace with the defaults (as
 * Scheduler.open without a config does), several workers may do so at once, and a Scheduler
 * opened later with a config sets it.
 */
import { afterEach, expect, it } from 'vitest'
import { Scheduler, Worker } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { partitions } from '../../loader/generated/scripts.js'
import { openClient, randomNamespace, redisInfo } from '../support/context.js'

const url = redisInfo.url
const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

async function worker(namespace: string, nodeId: string): Promise<Worker> {
  const w = await Worker.start({
    connection: url,
    namespace,
    nodeId,
    heartbeatIntervalMs: 100,
    handler: async (task) => `done ${task.id} on ${nodeId}`,
  })
  open.push({ close: () => w.stop({ timeoutMs: 1000 }) })
  return w
}

it('workers started before any Scheduler create the namespace with the defaults, and run what is enqueued later', async () => {
  const namespace = randomNamespace('first')
  await Promise.all([worker(namespace.name, 'a'), worker(namespace.name, 'b'), worker(namespace.name, 'c')])
  expect(await partitions(createRunner(openClient(url)), namespace)).toMatchObject({ count: 1, strategy: 'weighted', nodeTimeoutMs: 15000 })

  const scheduler = await Scheduler.open({ connection: url, namespace: namespace.name, config: { strategy: 'round-robin' } })
  open.push(scheduler)
  expect((await scheduler.stats()).strategy).toBe('round-robin')
  await scheduler.enqueueBatch([{ id: 'x' }, { id: 'y' }, { id: 'z' }])
  const results = await Promise.all(['x', 'y', 'z'].map(async (id) => (await scheduler.waitForResult(id, { timeoutMs: 5000 })).toString()))
  expect(results.map((result) => result.split(' on ')[0])).toEqual(['done x', 'done y', 'done z'])
  expect(new Set(results.map((result) => result.split(' on ')[1]))).toEqual(new Set(['a', 'b', 'c']))
})

it('a worker leaves an existing configuration as it is', async () => {
  const namespace = randomNamespace('first')
  const scheduler = await Scheduler.open({ connection: url, namespace: namespace.name, config: { strategy: 'least-loaded', eventsMaxLen: 0 } })
  open.push(scheduler)
  await worker(namespace.name, 'late')
  expect(await partitions(createRunner(openClient(url)), namespace)).toMatchObject({ strategy: 'least-loaded', eventsMaxLen: 0 })
})
