/**
 * The runner when Redis forgets its scripts: SCRIPT FLUSH between calls and inside a pipeline,
 * a server restart, many calls meeting NOSCRIPT at once. The caller must never see NOSCRIPT, and
 * the wire must show SCRIPT LOAD and EVALSHA only, never EVAL.
 *
 * These tests flush script caches and restart servers, so they run on a standalone server and a
 * cluster of their own instead of the run's shared ones, which other files use in parallel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cluster, Redis } from 'ioredis'
import { ScriptRunner } from '../../loader/runner.js'
import { clientAddresses, closeClients, flushScripts, randomNamespace, WireTap } from '../support/context.js'
import { clusterUnavailableReason } from '../support/cluster.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'
import { echoScript, failScript, readScript, testErrorClasses, testScripts, UnknownTaskError } from './fixtures.js'

const kinds = [
  { kind: 'standalone' as const, skip: undefined },
  { kind: 'cluster' as const, skip: clusterUnavailableReason() },
]

describe.each(kinds)('script cache on a private $kind Redis', ({ kind, skip }) => {
  const it_ = it.skipIf(skip !== undefined)
  if (skip !== undefined) it.skip(`skipped: ${skip}`, () => {})
  let redis: PrivateRedis

  beforeAll(async () => {
    if (skip === undefined) redis = await startPrivate(kind)
  })
  afterAll(async () => {
    // Close this file's clients first: they would keep reconnecting to the stopped servers.
    await closeClients()
    await redis?.stop()
  })

  /** A runner on a fresh client, a tap on every server, and the client's addresses to filter by. */
  async function setup(): Promise<{ runner: ScriptRunner; tap: WireTap; mine: () => Promise<Set<string>> }> {
    const client = redis.client()
    const runner = new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses })
    const tap = await WireTap.open(redis.servers)
    return { runner, tap, mine: () => clientAddresses(client) }
  }

  function commandNames(commands: { args: string[] }[]): string[] {
    return commands.map((c) => (c.args[0] === 'script' ? `script ${c.args[1]?.toLowerCase()}` : c.args[0]!))
  }

  it_('reloads after SCRIPT FLUSH between two calls; the wire shows SCRIPT LOAD and EVALSHA, never EVAL', async () => {
    const { runner, tap, mine } = await setup()
    try {
      const namespace = randomNamespace()
      await runner.loadAll()
      expect(await runner.call(echoScript, namespace, { count: 1, payload: 'a' })).toMatchObject({ calls: 1 })
      await flushScripts(redis.servers)
      expect(await runner.call(echoScript, namespace, { count: 2, payload: 'b' })).toMatchObject({ calls: 2 })
      await tap.sync()
      const names = commandNames(tap.from(await mine()))
      const primaries = redis.servers.length
      expect(names.filter((n) => n === 'script load')).toHaveLength(testScripts.length * primaries + primaries)
      // The call before the flush, the one that met NOSCRIPT, and its retry.
      expect(names.filter((n) => n === 'evalsha')).toHaveLength(3)
      expect(names.filter((n) => n.startsWith('eval') && n !== 'evalsha' && n !== 'evalsha_ro')).toEqual([])
      // The reload happened between the NOSCRIPT and the retry, and the retry was the last call.
      expect(names.lastIndexOf('script load')).toBeLessThan(names.lastIndexOf('evalsha'))
    } finally {
      tap.stop()
    }
  })

  it_('reloads a read-only script after SCRIPT FLUSH and calls it with EVALSHA_RO', async () => {
    const { runner, tap, mine } = await setup()
    try {
      const namespace = randomNamespace()
      await runner.call(echoScript, namespace, { count: 1, payload: 'a' })
      await flushScripts(redis.servers)
      expect(await runner.call(readScript, namespace, {})).toBe(1)
      await tap.sync()
      const names = commandNames(tap.from(await mine()))
      expect(names.filter((n) => n === 'evalsha_ro')).toHaveLength(2)
      expect(names).not.toContain('eval')
      expect(names).not.toContain('eval_ro')
    } finally {
      tap.stop()
    }
  })

  it_('re-runs only the calls that met NOSCRIPT when SCRIPT FLUSH hits a pipeline', async () => {
    const { runner, tap, mine } = await setup()
    try {
      const namespace = randomNamespace()
      await runner.loadAll()
      const pipeline = runner
        .pipeline()
        .add(echoScript, namespace, { count: 1, payload: 'a' })
        .add(readScript, namespace, {})
        .add(failScript, namespace, { mode: 'table', taskId: 'p' })
        .add(echoScript, namespace, { count: 1, payload: 'b' })
      await flushScripts(redis.servers)
      const results = await pipeline.exec()
      expect(results[0]).toMatchObject({ ok: true, value: { calls: 1 } })
      expect(results[1]).toEqual({ ok: true, value: 1 })
      expect(results[2]).toMatchObject({ ok: false, error: expect.any(UnknownTaskError) })
      expect(results[3]).toMatchObject({ ok: true, value: { calls: 2 } })
      await tap.sync()
      const names = commandNames(tap.from(await mine()))
      // Four calls met NOSCRIPT and were re-run once each; nothing ran twice successfully.
      expect(names.filter((n) => n === 'evalsha')).toHaveLength(6)
      expect(names.filter((n) => n === 'evalsha_ro')).toHaveLength(2)
      expect(names).not.toContain('eval')
    } finally {
      tap.stop()
    }
  })

  it_('reloads each script once when 20 concurrent calls meet NOSCRIPT together', async () => {
    const { runner, tap, mine } = await setup()
    try {
      const namespace = randomNamespace()
      await runner.loadAll()
      await flushScripts(redis.servers)
      const replies = await Promise.all([
        ...Array.from({ length: 20 }, () => runner.call(echoScript, namespace, { count: 1, payload: 'x' })),
        ...Array.from({ length: 20 }, () => runner.loadAll()),
      ])
      const calls = replies.slice(0, 20).map((reply) => (reply as { calls: number }).calls)
      expect(calls.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      await tap.sync()
      const loads = tap
        .from(await mine())
        .filter((c) => c.args[0] === 'script' && c.args[2] === echoScript.source)
      // One initial load, then at most one concurrent loadAll and one NOSCRIPT reload per primary.
      expect(loads.length).toBeGreaterThanOrEqual(redis.servers.length)
      expect(loads.length).toBeLessThanOrEqual(3 * redis.servers.length)
    } finally {
      tap.stop()
    }
  })

  it.skipIf(kind !== 'standalone' || process.env.REDIS_URL !== undefined)(
    'goes on after redis-server restarts between two calls',
    async () => {
      const restart = redis.restart
      if (restart === undefined) throw new Error('the private standalone server cannot restart')
      const client = redis.client()
      const runner = new ScriptRunner(client, testScripts)
      const namespace = randomNamespace()
      expect(await runner.call(echoScript, namespace, { count: 1, payload: 'a' })).toMatchObject({ calls: 1 })
      await restart()
      // No persistence: the data and the script cache are gone, the connection is re-opened.
      expect(await runner.call(echoScript, namespace, { count: 1, payload: 'b' })).toMatchObject({ calls: 1 })
      expect(await runner.call(readScript, namespace, {})).toBe(1)
    },
  )
})
