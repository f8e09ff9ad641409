/**
 * The replicated test cluster itself (test/support/cluster.ts): three primaries with a replica
 * each, replicas in sync before a test starts, and a manual failover that leaves the replica
 * serving its old primary's slots and the old primary following it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { clusterUnavailableReason, startCluster, type TestCluster } from '../support/cluster.js'

describe.skipIf(clusterUnavailableReason() !== undefined)('a test cluster of 3 primaries and 3 replicas', () => {
  let cluster: TestCluster
  const clients: Redis[] = []
  const client = (node: { host: string; port: number }): Redis => {
    const c = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1 })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    cluster = await startCluster({ replicasPerPrimary: 1 })
  })
  afterAll(async () => {
    clients.forEach((c) => c.disconnect())
    await cluster?.stop()
  })

  it('has a replica behind every primary, holding what the primary acknowledged', async () => {
    expect(cluster.nodes).toHaveLength(6)
    const slots = [0, 8000, 16383]
    const shards = await Promise.all(slots.map((slot) => cluster.shardOf(slot)))
    expect(new Set(shards.map((s) => s.primary.port)).size).toBe(3)
    for (const shard of shards) expect(shard.replicas).toHaveLength(1)

    const slot = await cluster.keySlot('{replicated}')
    const { primary, replicas } = await cluster.shardOf(slot)
    await client(primary).set('{replicated}:k', 'v')
    await cluster.waitForReplicasInSync()
    const replica = client(replicas[0]!)
    await replica.readonly()
    expect(await replica.get('{replicated}:k')).toBe('v')
  })

  it('fails a shard over: the replica serves the slot, the old primary follows it', async () => {
    const slot = await cluster.keySlot('{failover}')
    const before = await cluster.shardOf(slot)
    const replica = before.replicas[0]!
    await cluster.failover(replica)
    const after = await cluster.shardOf(slot)
    expect(after.primary).toEqual(replica)
    expect(after.replicas).toEqual([before.primary])
    expect((await client(replica).role())[0]).toBe('master')
    await cluster.waitForReplicasInSync()
  })
})
