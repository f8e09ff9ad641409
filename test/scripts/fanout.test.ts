/**
 * A failure that fans out to 100,000 dependents must be settled in bounded slices: with the
 * busy-script threshold lowered to 300 ms, a single script that settled them all (seconds of
 * work) would make Redis answer BUSY to the pinging client below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cluster, Redis } from 'ioredis'
import { createRunner } from '../../client/connection.js'
import { chunkEnqueueRows } from '../../client/enqueue-chunks.js'
import * as s from '../../loader/generated/scripts.js'
import { maintainScript } from '../../loader/generated/scripts.js'
import { clusterUnavailableReason } from '../support/cluster.js'
import { closeClients, randomNamespace, serverClient } from '../support/context.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'

const DEPENDENTS = 100_000
const BUSY_THRESHOLD_MS = 300

const kinds = [
  { kind: 'standalone' as const, skip: undefined },
  { kind: 'cluster' as const, skip: clusterUnavailableReason() },
]

describe.each(kinds)('failure fan-out on a private $kind Redis', ({ kind, skip }) => {
  let redis: PrivateRedis
  beforeAll(async () => {
    if (skip !== undefined) return
    redis = await startPrivate(kind)
    for (const server of redis.servers) {
      await serverClient(server).config('SET', 'busy-reply-threshold', String(BUSY_THRESHOLD_MS))
    }
  }, 60_000)
  afterAll(async () => {
    await closeClients()
    await redis?.stop()
  })

  it.skipIf(skip !== undefined)(
    `settles ${DEPENDENTS} dependents of a dead task without Redis ever answering BUSY`,
    async () => {
      const client: Redis | Cluster = redis.client()
      const runner = createRunner(client)
      await runner.loadAll()
      const ns = randomNamespace()
      await s.init(runner, ns, { eventsMaxLen: 0, keepDeadCount: 0 })
      await s.enqueue(runner, ns, { tasks: [{ id: 'root', payload: '' }] })
      const dependents = Array.from({ length: DEPENDENTS }, (_, i) => ({ id: `d${i}`, payload: '', dependsOn: ['root'] }))
      for (const tasks of chunkEnqueueRows(dependents)) await s.enqueue(runner, ns, { tasks })
      await s.registerNode(runner, ns, { nodeId: 'n1', capacity: 1 })
      const [[, token]] = (await s.start(runner, ns, { nodeId: 'n1' })) as [s.StartReply[number]]

      // Pings from other connections while the cascade runs; any BUSY reply fails the test.
      const pingers = redis.servers.map((server) => serverClient(server))
      let pinging = true
      let pings = 0
      const busy: string[] = []
      const pingLoop = Promise.all(
        pingers.map(async (pinger) => {
          while (pinging) {
            await pinger.ping().catch((error: Error) => busy.push(error.message))
            pings++
          }
        }),
      )
      await s.fail(runner, ns, { nodeId: 'n1', id: 'root', token, message: 'broken', retryable: false })
      let rounds = 1
      for (;;) {
        const report = await s.maintain(runner, ns, {})
        if (report.more === 0) break
        rounds++
      }
      pinging = false
      await pingLoop
      const stats = await s.stats(runner, ns)
      expect(stats.dead).toBe(DEPENDENTS + 1)
      expect(stats.waiting).toBe(0)
      expect(busy).toEqual([])
      // Bounded slices: many short calls, not one long one. How long each took is the
      // benchmark's business (a client's ping time on a loaded machine says little about Redis).
      expect(rounds).toBeGreaterThan(DEPENDENTS / (maintainScript.args[0]?.type.kind === 'integer' ? maintainScript.args[0].type.max : 0) - 5)
      expect(pings).toBeGreaterThan(0)
    },
    120_000,
  )
})
