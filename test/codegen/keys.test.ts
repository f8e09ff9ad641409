/**
 * The generated KEYS checks on a real Redis (fixture scripts in `keys/`): KEYS must be the
 * declared keys of one namespace in order, named as loader/keys.ts spells them, and a script
 * that declares TM_WRONG_TYPE also checks each stored key's type. Uses the run's Redis from
 * test/support/global-setup.ts, or REDIS_URL; skips without either.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { runFixture } from './helpers.js'

function redisUrl(): string | undefined {
  try {
    return inject('redis')?.url ?? process.env.REDIS_URL
  } catch {
    return process.env.REDIS_URL
  }
}

const url = redisUrl()
const result = runFixture('keys')
const typed = result.files.get('lua/typed.lua') as string
const untyped = result.files.get('lua/untyped.lua') as string

describe('the generated KEYS checks', () => {
  it('generate without errors; TYPE calls only where TM_WRONG_TYPE is declared, none for a channel', () => {
    expect(result.errors).toEqual([])
    expect(typed.match(/redis\.call\('TYPE', KEYS\[\d\]\)/g)).toEqual([
      "redis.call('TYPE', KEYS[1])",
      "redis.call('TYPE', KEYS[2])",
      "redis.call('TYPE', KEYS[3])",
    ])
    expect(untyped).not.toContain("'TYPE'")
    expect(untyped).not.toContain('TM_WRONG_TYPE')
    expect(typed).toContain("or KEYS[4] ~= tm.keys_prefix .. 'wake:'")
  })

  describe.skipIf(url === undefined)('on Redis', () => {
    const client = new Redis(url as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
    afterAll(() => client.quit())
    const prefix = `tm:{keys-${randomBytes(6).toString('hex')}}:`
    const other = `tm:{keys-${randomBytes(6).toString('hex')}}:`
    const good = [`${prefix}meta`, `${prefix}task`, `${prefix}ready`, `${prefix}wake:`]

    const outcome = async (source: string, keys: string[]): Promise<string> => {
      try {
        return (await client.eval(source, keys.length, ...keys)) as string
      } catch (error) {
        return (error as Error).message.replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, '')
      }
    }

    it('accepts the declared keys of one namespace, absent or of their type', async () => {
      expect(await outcome(typed, good)).toBe('ok')
      expect(await outcome(untyped, good.slice(0, 3))).toBe('ok')
    })

    it.each([
      ['another namespace', [good[0], `${other}task`, good[2], good[3]], `keys[2]: expected "${prefix}task", got "${other}task"`],
      ['a swapped pair', [good[0], good[2], good[1], good[3]], `keys[2]: expected "${prefix}task", got "${prefix}ready"`],
      ['a channel prefix without its colon', [good[0], good[1], good[2], `${prefix}wake`], `keys[4]: expected "${prefix}wake:", got "${prefix}wake"`],
      ['another first key', [good[1], good[0], good[2], good[3]], `keys[1]: expected a key ending in "meta", got "${prefix}task"`],
      ['a bare name for the first key', ['meta', 'task', 'ready', 'wake:'], 'keys[1]: expected a key ending in "meta", got "meta"'],
      ['a key too many', [...good, good[0]], 'keys: expected 4, got 5'],
    ] as [string, string[], string][])('refuses %s', async (_what, keys, message) => {
      expect(await outcome(typed, keys)).toBe(`TM_BAD_ARGUMENT ${message}`)
    })

    it('a script that declares TM_WRONG_TYPE refuses a key of another type before running; one that does not fails where it uses it', async () => {
      await client.set(`${prefix}ready`, 'written by hand')
      try {
        expect(await outcome(typed, good)).toBe(
          `TM_WRONG_TYPE keys[3]: "${prefix}ready" holds a string, expected a zset (written by something other than taskmill?)`,
        )
        expect(await outcome(untyped, good.slice(0, 3))).toMatch(/^WRONGTYPE /)
      } finally {
        await client.del(`${prefix}ready`)
      }
    })
  })
})
