/**
 * Channel prefixes (`@key wake channel ...`): a KEYS entry that names no stored key but the
 * prefix of the nodes' shard channels. Codegen lets the script publish on `wakeKey .. <suffix>`,
 * the manifest and wrappers say it is a channel, the namespace spells its names, and the
 * script from test/codegen/fixtures/good/notify.lua delivers on a real Redis.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { formatError } from '../../codegen/diagnostics.js'
import { KEY_TYPES, keyPattern, Namespace } from '../../loader/keys.js'
import { runFixture } from './helpers.js'

function redisUrl(): string | undefined {
  try {
    return inject('redis')?.url ?? process.env.REDIS_URL
  } catch {
    return process.env.REDIS_URL
  }
}

describe('channel prefixes in codegen', () => {
  const result = runFixture('good')

  it('accepts SPUBLISH on wakeKey .. <suffix> and PUBLISH on wakeKey', () => {
    expect(result.errors.map(formatError)).toEqual([])
    const notify = result.files.get('lua/notify.lua') as string
    expect(notify).toContain('tm.wakeKey = KEYS[2]\n')
    expect(notify).toContain("redis.call('SPUBLISH', tm.wakeKey .. node_id, message)")
  })

  it('describes the key as a channel prefix in the manifest', () => {
    const manifest = JSON.parse(result.files.get('manifest.json') as string) as {
      scripts: { name: string; keys: { index: number; name: string; pattern: string; redisType: string }[] }[]
    }
    const notify = manifest.scripts.find((script) => script.name === 'notify')
    expect(notify?.keys).toEqual([
      { index: 1, name: 'meta', pattern: 'tm:{<namespace>}:meta', redisType: 'hash', meaning: 'Configuration and counters.' },
      { index: 2, name: 'wake', pattern: 'tm:{<namespace>}:wake:', redisType: 'channel', meaning: "Prefix of the nodes' wake channels." },
    ])
  })

  it('describes it as a channel in the wrapper', () => {
    const scripts = result.files.get('scripts.ts') as string
    expect(scripts).toContain("{ name: 'wake', redisType: 'channel', meaning: 'Prefix of the nodes\\' wake channels.' }")
    expect(scripts).toContain(' * Script `notify` v1; keys: meta; channel prefixes: wake.\n')
    expect(scripts).toContain(' * Script `add` v3; keys: meta, task, ready.\n')
  })
})

describe('channel prefixes in loader/keys.ts', () => {
  const ns = new Namespace('shop')

  it('declares wake as a channel', () => {
    expect(KEY_TYPES.wake).toBe('channel')
    expect(keyPattern('wake')).toBe('tm:{<namespace>}:wake:')
    expect(keyPattern('meta')).toBe('tm:{<namespace>}:meta')
  })

  it('passes the prefix in KEYS and spells a node channel under the same hash tag', () => {
    expect(ns.key('wake')).toBe('tm:{shop}:wake:')
    expect(ns.wakeChannel('node-1')).toBe('tm:{shop}:wake:node-1')
    expect(ns.wakeChannel('node-1').startsWith(ns.prefix)).toBe(true)
  })

  it('leaves channels out of allKeys, which lists stored keys only', () => {
    expect(ns.allKeys()).toContain('tm:{shop}:meta')
    expect(ns.allKeys().some((key) => key.includes(':wake'))).toBe(false)
    expect(ns.allKeys().length).toBe(Object.values(KEY_TYPES).filter((type) => type !== 'channel').length)
  })
})

const url = redisUrl()

describe.skipIf(url === undefined)('a channel prefix on Redis', () => {
  const source = runFixture('good').files.get('lua/notify.lua') as string
  const client = new Redis(url as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const listener = new Redis(url as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
  afterAll(async () => {
    await client.quit()
    listener.disconnect()
  })

  it('wakes the one node on its shard channel', async () => {
    const ns = new Namespace(`channel-${process.pid}-${Date.now()}`)
    const received: [string, string][] = []
    listener.on('smessage', (channel: string, message: string) => received.push([channel, message]))
    await listener.ssubscribe(ns.wakeChannel('n1'))
    // KEYS exactly as the runner builds them: one namespace.key() per declared key.
    const keys = [ns.key('meta'), ns.key('wake')]
    expect(await client.eval(source, 2, ...keys, 'n1')).toBe(1)
    expect(await client.eval(source, 2, ...keys, 'n2')).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(received).toEqual([[ns.wakeChannel('n1'), 'work']])
    expect(await client.hget(ns.key('meta'), 'wakes')).toBe('2')
    await client.del(...ns.allKeys())
  })
})
