/**
 * A partitioned namespace on 3 primaries with 3 replicas: its partitions land on every primary
 * (CLUSTER KEYSLOT of each partition's keys against the slot map), and a graph whose edges cross
 * partitions runs in dependency order, each task once.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scheduler, Worker, type TaskHandler } from '../../client/index.js'
import { partitionOf } from '../../loader/routing.js'
import { clusterUnavailableReason, startCluster, type TestCluster } from '../support/cluster.js'

describe.skipIf(clusterUnavailableReason() !== undefined)('partitions on 3 primaries with 3 replicas', () => {
  let cluster: TestCluster
  let connection: string
  const closing: (() => Promise<void>)[] = []

  beforeAll(async () => {
    cluster = await startCluster({ replicasPerPrimary: 1 })
    connection = `redis-cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
  })
  afterAll(async () => {
    for (const close of closing.reverse()) await close().catch(() => undefined)
    await cluster?.stop()
  })

  it('puts six partitions two on each primary, none on a replica', async () => {
    const scheduler = await Scheduler.open({ connection, namespace: `spread-${randomBytes(4).toString('hex')}`, partitions: 6 })
    closing.push(() => scheduler.close())
    const primaries = new Map<number, number>()
    for (const partition of scheduler.partitions.all) {
      const slot = await cluster.keySlot(partition.key('meta'))
      expect(await cluster.keySlot(partition.key('events'))).toBe(slot)
      const { primary } = await cluster.shardOf(slot)
      primaries.set(primary.port, (primaries.get(primary.port) ?? 0) + 1)
    }
    expect([...primaries.values()]).toEqual([2, 2, 2])
  })

  it('runs a graph whose edges cross partitions with 0 order violations', async () => {
    const scheduler = await Scheduler.open({ connection, namespace: `graph-${randomBytes(4).toString('hex')}`, partitions: 3 })
    closing.push(() => scheduler.close())
    const started = new Map<string, number>()
    const ended = new Map<string, number>()
    const runs = new Map<string, number>()
    let clock = 0
    const handler: TaskHandler = async (task) => {
      started.set(task.id, ++clock)
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1)
      ended.set(task.id, ++clock)
    }
    const worker = await Worker.start({ connection, namespace: scheduler.namespace, handler, capacity: 12, heartbeatIntervalMs: 100 })
    closing.push(() => worker.stop({ timeoutMs: 2000 }))
    // Each task depends on the two tasks before it, and is enqueued alone under its own id.
    const ids = Array.from({ length: 90 }, (_, i) => `n-${i}`)
    const parents = new Map(ids.map((id, i) => [id, ids.slice(Math.max(0, i - 2), i)]))
    for (const id of ids) await scheduler.enqueue({ id, dependsOn: parents.get(id) })
    const crossing = ids.flatMap((id) => parents.get(id)!.filter((p) => partitionOf(p, 3) !== partitionOf(id, 3)))
    expect(crossing.length).toBeGreaterThan(60)
    const deadline = Date.now() + 60_000
    while ((await scheduler.stats()).completed < ids.length) {
      if (Date.now() > deadline) throw new Error(`${(await scheduler.stats()).completed} of ${ids.length} completed`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const violations = ids.flatMap((id) => parents.get(id)!.filter((p) => ended.get(p)! > started.get(id)!))
    expect(violations).toEqual([])
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
    expect(runs.size).toBe(ids.length)
  }, 90_000)
})
