/**
 * A Redis that may evict taskmill's keys is refused at open. Under `allkeys-lru` (or -lfu,
 * -random) Redis deletes whole keys of a namespace when memory runs short, while enqueues go
 * on being acknowledged; `Scheduler.open` and `Worker.start` refuse it with a
 * RedisEvictionPolicyError, before writing anything, unless given `allowEvictingPolicy: true`.
 * The policy is read from INFO, or from CONFIG GET for an ACL user refused INFO; a user who may
 * read it neither way is refused too, with advice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { RedisEvictionPolicyError, Scheduler, Worker } from '../../client/index.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import { closeClients, dumpNamespace, openClient, randomNamespace } from '../support/context.js'
import { faultSkipReason, startServer } from './support/harness.js'

describe.skipIf(faultSkipReason() !== undefined)('an evicting maxmemory-policy', () => {
  let server: SpawnedRedis
  let admin: Redis
  const opened: { close(): Promise<void> }[] = []

  beforeAll(async () => {
    server = await startServer(['--maxmemory-policy', 'allkeys-lru'])
    admin = openClient(server.url)
    await admin.acl('SETUSER', 'config-only', 'on', '>pw', '~*', '&*', '+@all', '-info')
    await admin.acl('SETUSER', 'blind', 'on', '>pw', '~*', '&*', '+@all', '-info', '-config')
  })
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close()))
    await closeClients()
    await server?.stop()
  })

  const as = (user: string): string => `redis://${user}:pw@127.0.0.1:${server.port}`

  it('refuses Scheduler.open and Worker.start with RedisEvictionPolicyError, and writes nothing', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    const namespace = randomNamespace('evict')
    const scheduler = await Scheduler.open({ connection: server.url, namespace: namespace.name }).catch((e: unknown) => e)
    expect(scheduler).toBeInstanceOf(RedisEvictionPolicyError)
    expect(scheduler).toMatchObject({ policy: 'allkeys-lru', target: `127.0.0.1:${server.port}` })
    expect((scheduler as Error).message).toMatch(/maxmemory-policy allkeys-lru.*noeviction.*allowEvictingPolicy: true/s)
    const worker = await Worker.start({ connection: server.url, namespace: namespace.name, handler: async () => {} }).catch(
      (e: unknown) => e,
    )
    expect(worker).toBeInstanceOf(RedisEvictionPolicyError)
    expect(await dumpNamespace(admin, namespace)).toEqual(new Map())
  })

  it.each(['allkeys-lfu', 'allkeys-random'])('refuses %s the same way', async (policy) => {
    await admin.config('SET', 'maxmemory-policy', policy)
    const error = await Scheduler.open({ connection: server.url, namespace: randomNamespace('evict').name }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'RedisEvictionPolicyError', policy })
  })

  it('opens and runs with allowEvictingPolicy: true', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    const namespace = randomNamespace('evict').name
    const scheduler = await Scheduler.open({ connection: server.url, namespace, allowEvictingPolicy: true })
    opened.push(scheduler)
    const worker = await Worker.start({
      connection: server.url,
      namespace,
      allowEvictingPolicy: true,
      heartbeatIntervalMs: 100,
      handler: async () => 'ran anyway',
    })
    opened.push({ close: () => worker.stop({ timeoutMs: 1000 }) })
    await scheduler.enqueue({ id: 'risky' })
    expect((await scheduler.waitForResult('risky', { timeoutMs: 10_000 })).toString()).toBe('ran anyway')
  })

  it.each(['noeviction', 'volatile-lru', 'volatile-ttl'])('opens under %s (taskmill keys have no TTL to evict by)', async (policy) => {
    await admin.config('SET', 'maxmemory-policy', policy)
    const scheduler = await Scheduler.open({ connection: server.url, namespace: randomNamespace('evict').name })
    opened.push(scheduler)
  })

  it('reads the policy with CONFIG GET for a user refused INFO', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    const error = await Scheduler.open({ connection: as('config-only'), namespace: randomNamespace('evict').name }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ name: 'RedisEvictionPolicyError', policy: 'allkeys-lru', user: 'config-only' })
  })

  it('refuses a user who may read the policy neither way, and says what to grant', async () => {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const error = await Scheduler.open({ connection: as('blind'), namespace: randomNamespace('evict').name }).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RedisEvictionPolicyError)
    expect(error).toMatchObject({ policy: undefined, user: 'blind' })
    expect((error as Error).message).toMatch(/Grant the user \+info/)
  })
})
