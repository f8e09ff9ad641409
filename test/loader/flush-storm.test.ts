/**
 * The runner under a storm of SCRIPT FLUSH: dozens of flushes a few milliseconds apart, sent
 * from a connection of their own to every primary, while thousands of single calls and
 * pipelined calls run. No NOSCRIPT (and no other error) may reach a caller, no call may run
 * twice or be lost (the echo script counts its runs), and the wire must show no EVAL.
 *
 * Runs on a private standalone server and a private cluster: flushing the shared servers'
 * caches this often would only exercise other files' reloads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ReplyError } from 'ioredis'
import { sleep } from '../../devtools/redis-server.js'
import { ScriptLoadError } from '../../loader/errors.js'
import { ScriptRunner } from '../../loader/runner.js'
import { clientAddresses, closeClients, randomNamespace, serverClient, WireTap } from '../support/context.js'
import { clusterUnavailableReason } from '../support/cluster.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'
import { echoScript, readScript, testErrorClasses, testScripts } from './fixtures.js'

const FLUSHES = 60
const FLUSH_GAP_MS = 2
/** Callers in parallel; each alternates single calls and pipelines until the storm is over. */
const CALLERS = 48
const MIN_CALLS = 3000
const PIPELINE_SIZE = 5

const kinds = [
  { kind: 'standalone' as const, skip: undefined },
  { kind: 'cluster' as const, skip: clusterUnavailableReason() },
]

describe.each(kinds)('SCRIPT FLUSH storm on a private $kind Redis', ({ kind, skip }) => {
  const it_ = it.skipIf(skip !== undefined)
  if (skip !== undefined) it.skip(`skipped: ${skip}`, () => {})
  let redis: PrivateRedis

  beforeAll(async () => {
    if (skip === undefined) redis = await startPrivate(kind)
  }, 60_000)
  afterAll(async () => {
    await closeClients()
    await redis?.stop()
  })

  it_(
    `keeps every caller free of NOSCRIPT through ${FLUSHES} flushes ${FLUSH_GAP_MS} ms apart`,
    async () => {
      const client = redis.client()
      const runner = new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses })
      const namespace = randomNamespace('storm')
      await runner.loadAll()
      const flushers = redis.servers.map((server) => serverClient(server))
      await Promise.all(flushers.map((f) => f.ping()))
      const tap = await WireTap.open(redis.servers)
      try {
        const errors: unknown[] = []
        let echoes = 0
        let reads = 0
        let flushed = 0
        let storming = true
        const storm = (async () => {
          for (let i = 0; i < FLUSHES; i++) {
            await Promise.all(flushers.map((f) => f.script('FLUSH')))
            flushed++
            await sleep(FLUSH_GAP_MS)
          }
          storming = false
        })()

        const caller = async (index: number): Promise<void> => {
          for (let round = 0; storming || echoes + reads < MIN_CALLS; round++) {
            if ((round + index) % 4 === 0) {
              const pipeline = runner.pipeline()
              for (let i = 0; i < PIPELINE_SIZE; i++) {
                if (i % 2 === 0) pipeline.add(echoScript, namespace, { count: 1, payload: 'p' })
                else pipeline.add(readScript, namespace, {})
              }
              const results = await pipeline.exec().catch((error: unknown) => [{ ok: false as const, error }])
              for (const [i, result] of results.entries()) {
                if (!result.ok) errors.push(result.error)
                else if (i % 2 === 0) echoes++
                else reads++
              }
            } else if (round % 3 === 0) {
              await runner.call(readScript, namespace, {}).then(
                () => reads++,
                (error: unknown) => errors.push(error),
              )
            } else {
              await runner.call(echoScript, namespace, { count: 1, payload: 's' }).then(
                () => echoes++,
                (error: unknown) => errors.push(error),
              )
            }
          }
        }
        await Promise.all([storm, ...Array.from({ length: CALLERS }, (_, i) => caller(i))])

        expect(flushed).toBe(FLUSHES)
        const described = errors.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)))
        expect({ errors: errors.length, first: described.slice(0, 3) }).toEqual({ errors: 0, first: [] })
        expect(echoes + reads).toBeGreaterThanOrEqual(MIN_CALLS)
        // Each successful echo ran exactly once: a NOSCRIPT reply means the script did not run.
        const final = (await runner.call(readScript, namespace, {})) as number
        expect(final).toBe(echoes)

        await tap.sync()
        const mine = await clientAddresses(client)
        const names = new Set(tap.from(mine).map((c) => c.args[0]))
        expect(names.has('eval')).toBe(false)
        expect(names.has('eval_ro')).toBe(false)
        // The storm really hit the callers: they reloaded many times.
        const loads = tap.from(mine).filter((c) => c.args[0] === 'script' && c.args[1]?.toLowerCase() === 'load')
        expect(loads.length).toBeGreaterThan(FLUSHES / 4)
      } finally {
        tap.stop()
      }
    },
    60_000,
  )

  it_('gives up with a ScriptLoadError, not NOSCRIPT, once reloadDeadlineMs has passed', async () => {
    const client = redis.client()
    const runner = new ScriptRunner(client, testScripts, { reloadDeadlineMs: 300 })
    await runner.loadAll()
    // A Redis that forgets the script between every load and call: the loads are real, every
    // EVALSHA is answered NOSCRIPT. No real server can be made to do this on cue.
    client.callBuffer = (async () => {
      throw new ReplyError('NOSCRIPT No matching script. Please use EVAL.')
    }) as typeof client.callBuffer
    const tap = await WireTap.open(redis.servers)
    try {
      const started = Date.now()
      const error = await runner.call(echoScript, randomNamespace(), { count: 1, payload: 'x' }).catch((e: unknown) => e)
      const elapsed = Date.now() - started
      expect(error).toBeInstanceOf(ScriptLoadError)
      expect((error as Error).message).toMatch(/loading script loader-test-echo .*forgot the script again after each of \d+ reloads/)
      expect((error as Error).message).not.toContain('NOSCRIPT')
      expect(elapsed).toBeGreaterThanOrEqual(300)
      expect(elapsed).toBeLessThan(3000)
      await tap.sync()
      const loads = tap
        .from(await clientAddresses(client))
        .filter((c) => c.args[0] === 'script' && c.args[2] === echoScript.source)
      // Reloaded round after round (about 10 rounds fit in 300 ms with pauses up to 50 ms).
      expect(loads.length).toBeGreaterThanOrEqual(5 * redis.servers.length)
    } finally {
      tap.stop()
    }
  })
})
