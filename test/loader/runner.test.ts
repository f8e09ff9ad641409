/**
 * The runner on the run's shared standalone Redis and three-primary cluster: loading, argument
 * encoding, reply decoding, error mapping, pipelines, cluster routing, concurrency. Tests that
 * flush script caches or restart servers live in `script-cache.test.ts`, on servers of their own.
 */
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { connect, connectCluster } from '../../loader/connect.js'
import {
  RedisUnavailableError,
  ScriptLoadError,
  TaskmillError,
  TaskmillScriptError,
  UnexpectedScriptError,
} from '../../loader/errors.js'
import { Namespace } from '../../loader/keys.js'
import { ScriptRunner } from '../../loader/runner.js'
import { freePort } from '../../devtools/redis-server.js'
import {
  clientAddresses,
  dumpNamespace,
  randomNamespace,
  serverClient,
  targets,
  WireTap,
} from '../support/context.js'
import {
  BadArgumentError,
  echoScript,
  failScript,
  readScript,
  sha1,
  testErrorClasses,
  testScripts,
  UnknownTaskError,
} from './fixtures.js'

describe.each(targets)('ScriptRunner on $name Redis', (target) => {
  const it_ = it.skipIf(target.skip !== undefined)
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})

  const runner = (): ScriptRunner =>
    new ScriptRunner(target.client(), testScripts, { errorClasses: testErrorClasses })

  it_('loads every script on every primary under the SHA codegen computed', async () => {
    await runner().loadAll()
    for (const server of target.servers()) {
      const exists = (await serverClient(server).script('EXISTS', ...testScripts.map((s) => s.sha))) as number[]
      expect(exists).toEqual(testScripts.map(() => 1))
    }
  })

  it_('refuses a definition whose SHA is not what Redis computes', async () => {
    const wrong = { ...readScript, name: 'loader-test-wrong-sha', sha: sha1('something else') }
    const error = await new ScriptRunner(target.client(), [wrong]).loadAll().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ScriptLoadError)
    expect((error as Error).message).toMatch(/loader-test-wrong-sha on 127\.0\.0\.1:\d+.*computed SHA/)
  })

  it_('encodes every argument type and decodes a record reply', async () => {
    const namespace = randomNamespace()
    const r = runner()
    const reply = await r.call(echoScript, namespace, {
      count: 1e15,
      ratio: 1e-7,
      flag: true,
      ids: ['a', 'b.c', 'd:e'],
      payload: Buffer.from([0, 255, 13, 10, 128]),
      items: [{ id: 'x', n: 4 }, { id: 'y', n: 5 }, { id: 'z', n: 0 }],
    })
    expect(reply).toEqual({
      calls: 1,
      count: '1000000000000000',
      ratio: '0.0000001',
      flag: '1',
      ids: 'a,b.c,d:e',
      payload: Buffer.from([0, 255, 13, 10, 128]),
      groups: 3,
      sum: 9,
      key: namespace.key('meta'),
    })
    const second = (await r.call(echoScript, namespace, { count: -3, flag: false, payload: 'text' })) as Record<string, unknown>
    expect(second).toMatchObject({ calls: 2, count: '-3', ratio: '', flag: '0', ids: '', groups: 0 })
    expect(second.payload).toEqual(Buffer.from('text'))
  })

  it_('calls a read-only script with EVALSHA_RO on the primary that owns the namespace', async () => {
    const client = target.client()
    const r = new ScriptRunner(client, testScripts)
    await r.loadAll()
    const namespaces = Array.from({ length: 6 }, () => randomNamespace('ro'))
    const tap = await WireTap.open(target.servers())
    try {
      const mine = await clientAddresses(client)
      for (const namespace of namespaces) expect(await r.call(readScript, namespace, {})).toBeNull()
      await r.call(echoScript, namespaces[0]!, { count: 1, payload: '' })
      expect(await r.call(readScript, namespaces[0]!, {})).toBe(1)
      await tap.sync()
      const calls = tap.from(mine).filter((c) => c.args[0] === 'evalsha_ro')
      // Exactly one EVALSHA_RO per call: a wrong first hop would show up as a second, redirected one.
      expect(calls).toHaveLength(namespaces.length + 1)
      for (const call of calls) {
        const key = call.args[3]!
        const owner = await ownerOf(target.servers(), key)
        expect(call.server).toBe(owner)
      }
      expect(tap.from(mine).some((c) => c.args[0] === 'eval' || c.args[0] === 'eval_ro')).toBe(false)
    } finally {
      tap.stop()
    }
  })

  it_('maps a TM_ error raised as a table to its class, without the location Redis appends', async () => {
    const error = await runner()
      .call(failScript, randomNamespace(), { mode: 'table', taskId: 'job-7' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnknownTaskError)
    expect(error).toBeInstanceOf(TaskmillScriptError)
    expect(error).toMatchObject({
      code: 'TM_UNKNOWN_TASK',
      detail: 'task job-7 does not exist',
      context: { script: 'loader-test-fail', version: 2, sha: failScript.sha },
      message: 'TM_UNKNOWN_TASK task job-7 does not exist (script loader-test-fail v2)',
    })
  })

  it_('maps a TM_ error reply to its class, and an unregistered code to TaskmillScriptError', async () => {
    const r = runner()
    const namespace = randomNamespace()
    const bad = await r.call(failScript, namespace, { mode: 'reply' }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(BadArgumentError)
    expect(bad).toMatchObject({ code: 'TM_BAD_ARGUMENT', detail: 'when: must be an integer' })
    const other = await r.call(failScript, namespace, { mode: 'unregistered' }).catch((e: unknown) => e)
    expect(other).toBeInstanceOf(TaskmillScriptError)
    expect(other).toMatchObject({ code: 'TM_NOT_A_CODE', detail: 'something' })
  })

  it_('reports other failures as UnexpectedScriptError naming script, version and SHA', async () => {
    const r = runner()
    const namespace = randomNamespace()
    for (const mode of ['lua', 'wrongtype', 'shape']) {
      const error = await r.call(failScript, namespace, { mode }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnexpectedScriptError)
      expect((error as Error).message).toContain(`script loader-test-fail v2 (sha ${failScript.sha})`)
    }
    const lua = (await r.call(failScript, namespace, { mode: 'lua' }).catch((e: unknown) => e)) as UnexpectedScriptError
    expect(lua.redisMessage).toContain('plain lua failure')
    const wrongType = (await r.call(failScript, namespace, { mode: 'wrongtype' }).catch((e: unknown) => e)) as Error
    expect(wrongType.message).toContain('WRONGTYPE')
  })

  it_('leaves the namespace byte-identical when a script rejects a call', async () => {
    const namespace = randomNamespace()
    const client = target.client()
    const r = new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses })
    await r.call(echoScript, namespace, { count: 1, payload: 'p' })
    const before = await dumpNamespace(client, namespace)
    expect(before.size).toBe(1)
    await expect(r.call(failScript, namespace, { mode: 'table', taskId: 'a' })).rejects.toBeInstanceOf(UnknownTaskError)
    expect(await dumpNamespace(client, namespace)).toEqual(before)
  })

  it_('shares one load among 20 concurrent loadAll() calls and serves 20 concurrent calls', async () => {
    const client = target.client()
    const r = new ScriptRunner(client, testScripts)
    await client.ping()
    const tap = await WireTap.open(target.servers())
    try {
      const mine = await clientAddresses(client)
      await Promise.all(Array.from({ length: 20 }, () => r.loadAll()))
      const namespace = randomNamespace()
      const replies = await Promise.all(
        Array.from({ length: 20 }, () => r.call(echoScript, namespace, { count: 1, payload: 'x' })),
      )
      expect(replies.map((reply) => (reply as { calls: number }).calls).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
      await tap.sync()
      const loads = tap.from(mine).filter((c) => c.args[0] === 'script' && c.args[1]?.toLowerCase() === 'load')
      expect(loads).toHaveLength(testScripts.length * target.servers().length)
    } finally {
      tap.stop()
    }
  })

  it_('runs a pipeline and reports each call on its own', async () => {
    const r = runner()
    const namespace = randomNamespace()
    const pipeline = r
      .pipeline()
      .add(echoScript, namespace, { count: 1, payload: 'a' })
      .add(failScript, namespace, { mode: 'table', taskId: 't1' })
      .add(readScript, namespace, {})
      .add(failScript, namespace, { mode: 'lua' })
    expect(pipeline.length).toBe(4)
    const results = await pipeline.exec()
    expect(results).toHaveLength(4)
    expect(results[0]).toMatchObject({ ok: true, value: { calls: 1, payload: Buffer.from('a') } })
    expect(results[1]).toMatchObject({ ok: false, error: expect.any(UnknownTaskError) })
    expect(results[2]).toEqual({ ok: true, value: 1 })
    expect(results[3]).toMatchObject({ ok: false, error: expect.any(UnexpectedScriptError) })
    expect(await r.pipeline().exec()).toEqual([])
  })

  if (target.name === 'cluster') {
    it_('refuses a cluster pipeline that spans two namespaces', () => {
      const pipeline = runner().pipeline().add(readScript, randomNamespace(), {})
      expect(() => pipeline.add(readScript, randomNamespace(), {})).toThrow(TaskmillError)
      expect(() => pipeline.add(readScript, randomNamespace(), {})).toThrow(/one namespace/)
    })
  } else {
    it_('allows a standalone pipeline over several namespaces', async () => {
      const results = await runner()
        .pipeline()
        .add(readScript, randomNamespace(), {})
        .add(readScript, randomNamespace(), {})
        .exec()
      expect(results).toEqual([
        { ok: true, value: null },
        { ok: true, value: null },
      ])
    })
  }
})

describe('ScriptRunner without Redis', () => {
  it('fails fast with RedisUnavailableError on a standalone port nobody listens on', async () => {
    const port = await freePort()
    const client = connect(`redis://127.0.0.1:${port}`)
    client.on('error', () => {})
    try {
      const started = Date.now()
      const error = await new ScriptRunner(client, testScripts)
        .call(readScript, new Namespace('nobody'), {})
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RedisUnavailableError)
      expect((error as Error).message).toContain(`127.0.0.1:${port}`)
      expect((error as Error).message).toMatch(/redis-server is running/)
      const loadError = await new ScriptRunner(client, testScripts).loadAll().catch((e: unknown) => e)
      expect(loadError).toBeInstanceOf(RedisUnavailableError)
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      client.disconnect()
    }
  })

  it('fails fast with RedisUnavailableError on cluster seeds nobody listens on', async () => {
    const port = await freePort()
    const cluster = connectCluster([`redis://127.0.0.1:${port}`])
    cluster.on('error', () => {})
    try {
      const started = Date.now()
      const r = new ScriptRunner(cluster, testScripts)
      await expect(r.call(readScript, new Namespace('nobody'), {})).rejects.toBeInstanceOf(RedisUnavailableError)
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      cluster.disconnect()
    }
  })
})

/** `host:port` of the primary that owns a key's slot, asked from the servers themselves. */
async function ownerOf(servers: readonly { host: string; port: number }[], key: string): Promise<string> {
  if (servers.length === 1) return `${servers[0]!.host}:${servers[0]!.port}`
  const probe = new Redis({ host: servers[0]!.host, port: servers[0]!.port })
  try {
    const slot = (await probe.cluster('KEYSLOT', key)) as number
    const ranges = (await probe.cluster('SLOTS')) as unknown as [number, number, [string, number, ...unknown[]]][]
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)
    if (range === undefined) throw new Error(`no owner for slot ${slot}`)
    return `${range[2][0]}:${range[2][1]}`
  } finally {
    probe.disconnect()
  }
}
