/**
 * The recipe docs/reliability.md gives for narrowing what a failover can lose: open the
 * Scheduler on a connection of your own and send WAIT on it after an enqueue. Replies on one
 * connection come in order, so the WAIT covers the enqueue, and once it answers 1 the replica
 * holds the task.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { Scheduler } from '../../client/index.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import { closeClients, openClient, randomNamespace } from '../support/context.js'
import { faultSkipReason, startServer, waitFor } from './support/harness.js'

describe.skipIf(faultSkipReason() !== undefined)('WAIT after an enqueue, on the Scheduler connection', () => {
  const servers: SpawnedRedis[] = []
  afterAll(async () => {
    await closeClients()
    await Promise.all(servers.map((server) => server.stop()))
  })

  it('returns once a replica has the task', async () => {
    const primary = await startServer(['--repl-diskless-sync-delay', '0'])
    servers.push(primary)
    const replicaServer = await startServer(['--replicaof', '127.0.0.1', String(primary.port)])
    servers.push(replicaServer)
    const replica = openClient(replicaServer.url)
    await waitFor('the replica to sync', async () => /master_link_status:up/.test(await replica.info('replication')), 20_000)

    const redis = new Redis(primary.url)
    const namespace = randomNamespace('wait').name
    const scheduler = await Scheduler.open({ connection: redis, namespace })
    try {
      await scheduler.enqueue({ id: 'invoice-42', payload: 'bill' })
      expect(await redis.wait(1, 5000)).toBe(1)
      expect(await replica.hexists(`tm:{${namespace}}:task`, 'invoice-42')).toBe(1)
    } finally {
      await scheduler.close()
      redis.disconnect()
    }
  })
})
