/**
 * The runner's `waitForReplicas`: a call of a script that writes resolves once the replicas have
 * the write, and rejects with a ReplicationTimeoutError carrying the reply when they do not.
 * On a primary of this file's own with one replica, which the tests freeze with SIGSTOP to play
 * a replica that is away; MONITOR shows where each WAIT went. On the run's shared cluster,
 * which has no replicas, the WAIT must reach the node that ran the script.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { ReplicationTimeoutError } from '../../loader/errors.js'
import { ScriptRunner, type ReplicaWaitOptions } from '../../loader/runner.js'
import { findExecutable, spawnRedisServer, type SpawnedRedis } from '../../devtools/redis-server.js'
import {
  clientAddresses,
  clusterClient,
  clusterInfo,
  clusterSkipReason,
  closeClients,
  openClient,
  randomNamespace,
  WireTap,
  type SeenCommand,
} from '../support/context.js'
import { BadArgumentError, echoScript, failScript, readScript, testErrorClasses, testScripts } from './fixtures.js'

/** What the runner sent, without the CLIENT INFO that `clientAddresses` itself sends. */
function scriptCommands(commands: SeenCommand[]): SeenCommand[] {
  return commands.filter((c) => c.args[0] !== 'client')
}

const skip = findExecutable('redis-server') === undefined ? 'redis-server is not on PATH' : undefined

describe.skipIf(skip !== undefined)('waitForReplicas on a primary with one replica', () => {
  let primary: SpawnedRedis
  let replica: SpawnedRedis
  let replicaClient: Redis

  beforeAll(async () => {
    const server = findExecutable('redis-server')!
    primary = await spawnRedisServer(server, ['--repl-diskless-sync-delay', '0'])
    replica = await spawnRedisServer(server, ['--replicaof', primary.host, String(primary.port)])
    replicaClient = openClient(replica.url)
    const deadline = Date.now() + 20_000
    while (!/master_link_status:up/.test(await replicaClient.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the replica did not sync')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
  afterAll(async () => {
    if (replica?.pid !== undefined) process.kill(replica.pid, 'SIGCONT')
    await closeClients()
    await Promise.all([replica?.stop(), primary?.stop()])
  })

  function runner(wait: ReplicaWaitOptions): { runner: ScriptRunner; client: Redis } {
    const client = openClient(primary.url)
    return { runner: new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses, waitForReplicas: wait }), client }
  }

  /** Runs `body` with the replica frozen: it holds its connection but applies and acknowledges nothing. */
  async function withReplicaFrozen<T>(body: (thaw: () => void) => Promise<T>): Promise<T> {
    process.kill(replica.pid!, 'SIGSTOP')
    let frozen = true
    const thaw = (): void => {
      if (frozen) process.kill(replica.pid!, 'SIGCONT')
      frozen = false
    }
    try {
      return await body(thaw)
    } finally {
      thaw()
    }
  }

  it('resolves a write only once the replica has applied it', async () => {
    const { runner: r } = runner({ replicas: 1, timeoutMs: 10_000 })
    const namespace = randomNamespace('wait')
    await r.loadAll()
    const events: string[] = []
    await withReplicaFrozen(async (thaw) => {
      const call = r.call(echoScript, namespace, { count: 1, payload: 'x' }).then(() => events.push('resolved'))
      // The window in which a call that does not wait resolves: the primary has answered long before.
      await new Promise((resolve) => setTimeout(resolve, 300))
      events.push('thawed')
      thaw()
      await call
    })
    expect(events).toEqual(['thawed', 'resolved'])
    expect(await replicaClient.hget(namespace.key('meta'), 'calls')).toBe('1')
  })

  it('rejects with ReplicationTimeoutError when no replica acknowledges, and the write stays on the primary', async () => {
    const { runner: r, client } = runner({ replicas: 1, timeoutMs: 200 })
    const namespace = randomNamespace('wait')
    const started = Date.now()
    const error = await withReplicaFrozen(() => r.call(echoScript, namespace, { count: 7, payload: 'kept' }).catch((e: unknown) => e))
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
    expect(error).toBeInstanceOf(ReplicationTimeoutError)
    expect(error).toMatchObject({
      replicas: 1,
      acknowledged: 0,
      timeoutMs: 200,
      namespace: namespace.name,
      script: { script: echoScript.name, version: echoScript.version, sha: echoScript.sha },
      reply: { calls: 1, count: '7', payload: Buffer.from('kept') },
    })
    expect((error as Error).message).toMatch(/0 of the 1 replicas .* within 200 ms\. The write happened and stays on the primary/)
    expect(await client.hget(namespace.key('meta'), 'calls')).toBe('1')
  })

  it('says how many replicas acknowledged when fewer than asked did', async () => {
    const { runner: r } = runner({ replicas: 2, timeoutMs: 200 })
    const error = await r.call(echoScript, randomNamespace('wait'), { count: 1, payload: '' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ReplicationTimeoutError)
    expect(error).toMatchObject({ replicas: 2, acknowledged: 1 })
  })

  it('sends WAIT right behind the EVALSHA, on the same connection, and after no read-only or unlisted script', async () => {
    const { runner: r, client } = runner({ replicas: 1, timeoutMs: 5000, scripts: [echoScript] })
    const namespace = randomNamespace('wait')
    await r.loadAll()
    const tap = await WireTap.open([primary])
    try {
      await r.call(echoScript, namespace, { count: 1, payload: '' })
      await r.call(readScript, namespace, {})
      await r.call(failScript, namespace, { mode: 'ok' })
      await tap.sync()
      const mine = scriptCommands(tap.from(await clientAddresses(client))).map((c) => c.args.slice(0, 3).join(' '))
      expect(mine).toEqual([
        `evalsha ${echoScript.sha} 1`,
        'wait 1 5000',
        `evalsha_ro ${readScript.sha} 1`,
        `evalsha ${failScript.sha} 1`,
      ])
    } finally {
      tap.stop()
    }
  })

  it('reloads a script Redis forgot and waits after the call that ran', async () => {
    const { runner: r, client } = runner({ replicas: 1, timeoutMs: 5000 })
    const namespace = randomNamespace('wait')
    await r.loadAll()
    await client.script('FLUSH')
    const tap = await WireTap.open([primary])
    try {
      expect(await r.call(echoScript, namespace, { count: 1, payload: '' })).toMatchObject({ calls: 1 })
      await tap.sync()
      const mine = scriptCommands(tap.from(await clientAddresses(client))).map((c) => (c.args[0] === 'script' ? 'script load' : c.args[0]))
      expect(mine).toEqual(['evalsha', 'wait', 'script load', 'evalsha', 'wait'])
      expect(await replicaClient.hget(namespace.key('meta'), 'calls')).toBe('1')
    } finally {
      tap.stop()
    }
  })

  it('rejects a call the script refused with its own error, not a replication error', async () => {
    const { runner: r } = runner({ replicas: 1, timeoutMs: 200 })
    const error = await withReplicaFrozen(() => r.call(failScript, randomNamespace('wait'), { mode: 'reply' }).catch((e: unknown) => e))
    expect(error).toBeInstanceOf(BadArgumentError)
  })

  it('sends one WAIT behind a pipeline; each waiting call gets its reply or the typed error', async () => {
    const { runner: r, client } = runner({ replicas: 1, timeoutMs: 200 })
    const namespace = randomNamespace('wait')
    await r.loadAll()
    const tap = await WireTap.open([primary])
    try {
      const pipeline = (): ReturnType<ScriptRunner['pipeline']> =>
        r
          .pipeline()
          .add(echoScript, namespace, { count: 1, payload: '' })
          .add(readScript, namespace, {})
          .add(echoScript, namespace, { count: 2, payload: '' })
      const acknowledged = await pipeline().exec()
      expect(acknowledged).toEqual([
        { ok: true, value: expect.objectContaining({ calls: 1 }) },
        { ok: true, value: 1 },
        { ok: true, value: expect.objectContaining({ calls: 2 }) },
      ])
      const frozen = await withReplicaFrozen(() => pipeline().exec())
      expect(frozen[0]).toMatchObject({ ok: false, error: { acknowledged: 0, reply: { calls: 3 } } })
      expect(frozen[1]).toEqual({ ok: true, value: 3 })
      expect(frozen[2]).toMatchObject({ ok: false, error: { acknowledged: 0, reply: { calls: 4 } } })
      expect(frozen[0]).toHaveProperty('error', expect.any(ReplicationTimeoutError))
      await tap.sync()
      const names = scriptCommands(tap.from(await clientAddresses(client))).map((c) => c.args[0])
      expect(names).toEqual(['evalsha', 'evalsha_ro', 'evalsha', 'wait', 'evalsha', 'evalsha_ro', 'evalsha', 'wait'])
    } finally {
      tap.stop()
    }
  })

  it('refuses options WAIT cannot honour', () => {
    const client = openClient(primary.url)
    const make = (wait: ReplicaWaitOptions) => () => new ScriptRunner(client, testScripts, { waitForReplicas: wait })
    expect(make({ replicas: 0, timeoutMs: 100 })).toThrow(RangeError)
    expect(make({ replicas: 1.5, timeoutMs: 100 })).toThrow(RangeError)
    expect(make({ replicas: 1, timeoutMs: 0 })).toThrow(/WAIT with 0 waits for ever/)
    expect(make({ replicas: 1, timeoutMs: 100, scripts: [readScript] })).toThrow(/loader-test-read, which is @readonly/)
  })
})

describe.skipIf(clusterSkipReason !== undefined)('waitForReplicas on the shared cluster (no replicas)', () => {
  it('sends WAIT to the node that ran the script, on the same connection, and times out there', async () => {
    const client = clusterClient()
    const r = new ScriptRunner(client, testScripts, { waitForReplicas: { replicas: 1, timeoutMs: 100 } })
    await r.loadAll()
    const namespaces = Array.from({ length: 12 }, () => randomNamespace('wait'))
    const tap = await WireTap.open(clusterInfo!.nodes)
    try {
      for (const namespace of namespaces) {
        const error = await r.call(echoScript, namespace, { count: 1, payload: '' }).catch((e: unknown) => e)
        expect(error).toMatchObject({ name: 'ReplicationTimeoutError', replicas: 1, acknowledged: 0 })
      }
      await tap.sync()
      const mine = tap.from(await clientAddresses(client)).filter((c) => c.args[0] === 'evalsha' || c.args[0] === 'wait')
      expect(mine).toHaveLength(2 * namespaces.length)
      for (let i = 0; i < mine.length; i += 2) {
        const [evalsha, wait] = [mine[i]!, mine[i + 1]!]
        expect([evalsha.args[0], wait.args[0]]).toEqual(['evalsha', 'wait'])
        expect({ server: wait.server, source: wait.source }).toEqual({ server: evalsha.server, source: evalsha.source })
      }
      // The namespaces' slots spread over the primaries, so the WAITs did not all go to one node by chance.
      expect(new Set(mine.map((c) => c.server)).size).toBeGreaterThan(1)
    } finally {
      tap.stop()
    }
  })
})
