/**
 * Failovers on a cluster of three primaries with a replica each, in the middle of a run.
 *
 * A manual failover (`CLUSTER FAILOVER` on the replica of the namespace's primary) while a
 * producer enqueues with WAIT and a Worker runs the tasks: every acknowledged enqueue completes,
 * and no NOSCRIPT reaches the producer or the Worker although the promoted replica never had the
 * scripts (SCRIPT LOAD goes to primaries and is not replicated).
 *
 * A failover to a replica that fell behind (its link cut while it was frozen, its primary killed,
 * `CLUSTER FAILOVER TAKEOVER`): what WAIT buys and what it does not, shown on the same run. An
 * enqueue that WAIT confirmed survives; one acknowledged without WAIT in the same window is lost,
 * and so is one whose WAIT timed out (its ReplicationTimeoutError said it might be).
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scheduler, Worker } from '../../client/index.js'
import { open, type Opened } from '../../client/connection.js'
import { RedisUnavailableError, ReplicationTimeoutError, ScriptLoadError } from '../../loader/errors.js'
import { enqueue, enqueueScript } from '../../loader/generated/scripts.js'
import { clusterUnavailableReason, startCluster, type NodeAddress, type TestCluster } from '../support/cluster.js'

const WAIT = { replicas: 1, timeoutMs: 2000, scripts: [enqueueScript] }

describe.skipIf(clusterUnavailableReason() !== undefined)('failovers on 3 primaries with 3 replicas', () => {
  let cluster: TestCluster
  let connection: string
  const closing: (() => Promise<void>)[] = []

  beforeAll(async () => {
    cluster = await startCluster({ replicasPerPrimary: 1 })
    connection = `redis-cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
  }, 30_000)
  afterAll(async () => {
    // Bounded: a client may be waiting on a node a failed test left frozen or dead.
    for (const close of closing.reverse()) await Promise.race([close().catch(() => undefined), sleep(3000)])
    await cluster?.stop()
  })

  /** The namespace's slot and the shard serving it, checked against the key names taskmill uses. */
  async function placement(namespace: string): Promise<{ slot: number; primary: NodeAddress; replica: NodeAddress }> {
    const slot = await cluster.keySlot(`{${namespace}}`)
    expect(await cluster.keySlot(`tm:{${namespace}}:meta`)).toBe(slot)
    const shard = await cluster.shardOf(slot)
    expect(shard.replicas).toHaveLength(1)
    return { slot, primary: shard.primary, replica: shard.replicas[0]! }
  }

  /** A plain connection to one node, for SCRIPT EXISTS, INFO and CLIENT KILL. */
  function node(address: NodeAddress): Redis {
    const client = new Redis({ host: address.host, port: address.port, maxRetriesPerRequest: 1, lazyConnect: true })
    client.on('error', () => {})
    closing.push(async () => client.disconnect())
    return client
  }

  async function noscriptReplies(address: NodeAddress): Promise<number> {
    const stats = await node(address).info('errorstats')
    return Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(stats)?.[1] ?? 0)
  }

  /** Retries `read` while the cluster is still settling after a failover. */
  async function settled<T>(read: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        return await read()
      } catch (error) {
        if (!(error instanceof RedisUnavailableError) || Date.now() > deadline) throw error
        await sleep(50)
      }
    }
  }

  it('a manual failover of the primary of one partition mid-run loses no acknowledged enqueue and shows no NOSCRIPT', async () => {
    const namespace = `failover-${randomBytes(6).toString('hex')}`
    const { slot, primary, replica } = await placement(namespace)

    // Every completed task is kept, so that stats count them all.
    // Three partitions, one per shard: the failover takes partition 0's shard, the others go on.
    const scheduler = await Scheduler.open({ connection, namespace, partitions: 3, config: { keepCompletedCount: 0 } })
    closing.push(() => scheduler.close())
    const primaries = await Promise.all(
      scheduler.partitions.all.map(async (p) => (await cluster.shardOf(await cluster.keySlot(p.key('meta')))).primary.port),
    )
    expect(new Set(primaries).size).toBe(3)
    const producer = await Scheduler.open({ connection, namespace, waitForReplicas: WAIT })
    closing.push(() => producer.close())
    const workerErrors: unknown[] = []
    const worker = await Worker.start({
      connection,
      namespace,
      capacity: 16,
      heartbeatIntervalMs: 100,
      handler: async () => 'done',
      onError: (error) => workerErrors.push(error),
    })
    closing.push(() => worker.stop({ timeoutMs: 2000 }))
    // Loaded on the primaries only, and SCRIPT LOAD is not replicated: the replica has none of them.
    expect(await node(replica).script('EXISTS', enqueueScript.sha)).toEqual([0])

    const acknowledged = new Set<string>()
    const producerErrors: Error[] = []
    let target = Number.POSITIVE_INFINITY
    let batch = 0
    let failingOver = false
    let duringFailover = 0
    const producing = (async () => {
      while (acknowledged.size < target) {
        const ids = Array.from({ length: 10 }, (_, i) => `task-${batch}-${i}`)
        batch++
        const deadline = Date.now() + 15_000
        for (;;) {
          try {
            await producer.enqueueBatch(ids.map((id) => ({ id, payload: id })))
            for (const id of ids) acknowledged.add(id)
            if (failingOver) duringFailover += ids.length
            break
          } catch (error) {
            producerErrors.push(error as Error)
            // Sent again as it was, as docs/reliability.md advises: the ids make it idempotent.
            const passing = error instanceof RedisUnavailableError || error instanceof ReplicationTimeoutError
            if (!passing || Date.now() > deadline) throw error
            await sleep(20)
          }
        }
        // A steady trickle rather than a flood: the run stays a few thousand tasks long.
        await sleep(5)
      }
    })()

    const deadline = Date.now() + 20_000
    while (acknowledged.size < 300) {
      if (Date.now() > deadline) throw new Error(`only ${acknowledged.size} tasks acknowledged before the failover`)
      await sleep(10)
    }
    const beforeFailover = acknowledged.size
    const noscriptBefore = await noscriptReplies(replica)
    failingOver = true
    await cluster.failover(replica)
    failingOver = false
    expect((await cluster.shardOf(slot)).primary).toEqual(replica)
    target = acknowledged.size + 300
    await producing
    const afterFailover = acknowledged.size - beforeFailover - duringFailover

    const finished = Date.now() + 30_000
    for (;;) {
      const stats = await settled(() => scheduler.stats())
      if (stats.completed >= acknowledged.size) break
      if (Date.now() > finished) throw new Error(`${stats.completed} of ${acknowledged.size} tasks completed by the deadline`)
      await sleep(50)
    }
    const missing: string[] = []
    const unfinished: string[] = []
    for (const id of acknowledged) {
      const task = await settled(() => scheduler.getTask(id))
      if (task === null) missing.push(id)
      else if (task.state !== 'completed') unfinished.push(`${id}: ${task.state}`)
    }

    const everyError = [...producerErrors, ...workerErrors]
    const noscript = everyError.filter((e) => e instanceof ScriptLoadError || /NOSCRIPT/.test(String(e)))
    // The runner follows the redirects of a call sent with WAIT itself (ioredis cannot, see loader/runner.ts).
    const redirected = everyError.filter((e) => /\b(MOVED|ASK) \d+/.test(String(e)))
    const byClass = (errors: readonly unknown[]): Record<string, number> => {
      const counts: Record<string, number> = {}
      for (const e of errors) {
        const name = e instanceof Error ? e.name : typeof e
        counts[name] = (counts[name] ?? 0) + 1
      }
      return counts
    }
    const noscriptOnNewPrimary = (await noscriptReplies(replica)) - noscriptBefore
    console.log(
      `manual failover of ${primary.port} to ${replica.port}: ${acknowledged.size} enqueues acknowledged ` +
        `(${beforeFailover} before the failover, ${duringFailover} during, ${afterFailover} after), ` +
        `${missing.length} lost, ${unfinished.length} unfinished; ` +
        `NOSCRIPT replies from the new primary: ${noscriptOnNewPrimary}; ` +
        `producer errors ${JSON.stringify(byClass(producerErrors))}, worker errors ${JSON.stringify(byClass(workerErrors))}`,
    )
    expect({ lost: missing, unfinished, noscript, redirected }).toEqual({ lost: [], unfinished: [], noscript: [], redirected: [] })
    expect(afterFailover).toBeGreaterThanOrEqual(300)
    // Partition 0, on the shard that failed over, took its share of the run.
    expect((await settled(() => scheduler.stats())).partitions[0]!.completed).toBeGreaterThan(acknowledged.size / 6)
    // The new primary did lack the scripts: the runner met NOSCRIPT there and loaded them.
    expect(noscriptOnNewPrimary).toBeGreaterThan(0)
    expect(await node(replica).script('EXISTS', enqueueScript.sha)).toEqual([1])
  }, 60_000)

  it('a failover to a replica that fell behind keeps what WAIT confirmed and loses what it did not', async () => {
    const namespace = `lagging-${randomBytes(6).toString('hex')}`
    const { slot, primary, replica } = await placement(namespace)
    const scheduler = await Scheduler.open({ connection, namespace })
    closing.push(() => scheduler.close())
    const waiting = await open(connection, namespace, { waitForReplicas: { ...WAIT, timeoutMs: 300 } })
    closing.push(() => waiting.close())
    const plain = await open(connection, namespace)
    closing.push(() => plain.close())
    const tasks = (prefix: string) => ({ tasks: Array.from({ length: 10 }, (_, i) => ({ id: `${prefix}-${i}`, payload: '' })) })

    // The ids of every enqueue sent with WAIT that resolved: none of them may be lost.
    const acknowledgedWithWait: string[] = []
    const enqueueWithWait = async (prefix: string): Promise<unknown> => {
      const batch = tasks(prefix)
      try {
        const reply = await enqueue(waiting.runner, waiting.namespace, batch)
        acknowledgedWithWait.push(...batch.tasks.map((t) => t.id))
        return reply
      } catch (error) {
        return error
      }
    }
    expect(await enqueueWithWait('confirmed')).toEqual(Array(10).fill('created'))

    // The replica stops applying anything: frozen, and its link cut so that it cannot catch up
    // from the primary's buffers once it thaws.
    cluster.pause(replica)
    let timedOut: unknown
    let unwaited: unknown
    try {
      await node(primary).call('CLIENT', 'KILL', 'TYPE', 'replica')
      timedOut = await enqueueWithWait('unconfirmed')
      unwaited = await enqueue(plain.runner, plain.namespace, tasks('unwaited'))
      await cluster.kill(primary)
    } finally {
      cluster.resume(replica)
    }
    await cluster.failover(replica, 'TAKEOVER')
    expect((await cluster.shardOf(slot)).primary).toEqual(replica)

    const missing = async (ids: readonly string[]): Promise<string[]> => {
      const gone: string[] = []
      for (const id of ids) if ((await settled(() => scheduler.getTask(id))) === null) gone.push(id)
      return gone
    }
    const ids = (prefix: string): string[] => tasks(prefix).tasks.map((t) => t.id)
    const lost = {
      acknowledgedWithWait: (await missing(acknowledgedWithWait)).length,
      timedOut: (await missing(ids('unconfirmed'))).length,
      acknowledgedWithoutWait: (await missing(ids('unwaited'))).length,
    }
    console.log(`failover to a lagging replica, tasks lost of 10 each: ${JSON.stringify(lost)}`)
    expect(lost).toEqual({ acknowledgedWithWait: 0, timedOut: 10, acknowledgedWithoutWait: 10 })
    expect(acknowledgedWithWait).toHaveLength(10)
    // The timed-out enqueue had been written, and said so: its reply is in the error.
    expect(timedOut).toBeInstanceOf(ReplicationTimeoutError)
    expect(timedOut).toMatchObject({ acknowledged: 0, replicas: 1, reply: Array(10).fill('created') })
    expect(unwaited).toEqual(Array(10).fill('created'))
  }, 60_000)
})
