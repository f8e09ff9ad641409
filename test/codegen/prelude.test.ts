/**
 * The generated prelude on a real Redis: the fixture script `prelude/echo.lua` declares one
 * argument of every type plus a group, and returns what the prelude made of them as JSON.
 * Uses the run's Redis from test/support/global-setup.ts, or REDIS_URL; skips without either.
 */
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
const source = runFixture('prelude').files.get('lua/echo.lua') as string

/** count, ratio, name, label, blob, mode, flag, ids, refs, then groups of (key, weight). */
const VALID = ['-5', '', 'task:1', '', 'any bytes', '', '1', 'a,b', '0/a,12/b:c']

describe.skipIf(url === undefined)('the generated prelude on Redis', () => {
  const client = new Redis(url as string, { lazyConnect: true, maxRetriesPerRequest: 1 })
  afterAll(() => client.quit())

  const run = async (argv: string[], keys: string[] = ['x:meta']): Promise<unknown> =>
    JSON.parse((await client.eval(source, keys.length, ...keys, ...argv)) as string)
  const rejection = async (argv: string[], keys: string[] = ['x:meta']): Promise<string> => {
    try {
      await client.eval(source, keys.length, ...keys, ...argv)
    } catch (error) {
      // Redis 7 appends where the error was raised; the runner strips it the same way.
      return (error as Error).message.replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, '')
    }
    throw new Error('the script accepted the arguments')
  }
  const withArg = (index: number, value: string): string[] => VALID.map((v, i) => (i === index ? value : v))

  it('binds checked values, applies defaults and builds the group', async () => {
    expect(await run([...VALID, 'x', '', 'y', '7'])).toEqual({
      count: -5,
      ratio: 0.5,
      name: 'task:1',
      label: null,
      blob: 'any bytes',
      mode: 'a',
      flag: true,
      ids: ['a', 'b'],
      refs: ['0/a', '12/b:c'],
      items: [
        { key: 'x', weight: 1 },
        { key: 'y', weight: 7 },
      ],
      idCount: 2,
      itemCount: 2,
    })
    expect(await run(['5', '0.25', 'n', 'abc', '', 'b-c', '0', '', ''])).toMatchObject({
      count: 5,
      ratio: 0.25,
      label: 'abc',
      blob: '',
      mode: 'b-c',
      flag: false,
      idCount: 0,
      itemCount: 0,
    })
  })

  it.each(['nan', 'inf', '0x10', '1e3', '1.0', ' 1', '+1', '', '-0', '6', '12345678901234567'])(
    'integer refuses %j',
    async (value) => {
      const shown = JSON.stringify(value)
      expect(await rejection(withArg(0, value))).toBe(`TM_BAD_ARGUMENT count: expected an integer from -5 to 5, got ${shown}`)
    },
  )

  it.each(['1e-1', '.5', '1.', '2', '-0.0', 'inf'])('number refuses %j', async (value) => {
    expect(await rejection(withArg(1, value))).toBe(
      `TM_BAD_ARGUMENT ratio: expected a decimal number from 0 to 1, got ${JSON.stringify(value)}`,
    )
  })

  it('refuses bad ids, strings, enums, booleans and id lists, naming them', async () => {
    expect(await rejection(withArg(2, 'a b'))).toBe(
      'TM_BAD_ARGUMENT name: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -, got "a b"',
    )
    expect(await rejection(withArg(2, 'x'.repeat(129)))).toBe(
      `TM_BAD_ARGUMENT name: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -, got "${'x'.repeat(40)}"...`,
    )
    expect(await rejection(withArg(3, 'toolong'))).toBe('TM_BAD_ARGUMENT label: expected 1 to 5 bytes, got 7 bytes: "toolong"')
    expect(await rejection(withArg(5, 'c'))).toBe('TM_BAD_ARGUMENT mode: expected one of a, b-c, got "c"')
    expect(await rejection(withArg(6, 'true'))).toBe('TM_BAD_ARGUMENT flag: expected 1 or 0, got "true"')
    expect(await rejection(withArg(7, 'a,,b'))).toBe(
      'TM_BAD_ARGUMENT ids[2]: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -, got ""',
    )
    expect(await rejection(withArg(7, 'a,b,c,d'))).toBe('TM_BAD_ARGUMENT ids: expected at most 3 comma-separated ids, got more')
    for (const bad of ['a', '/a', '01/a', '10000/a', '1/', '1/a/b', '-1/a']) {
      expect(await rejection(withArg(8, bad)), bad).toBe(
        `TM_BAD_ARGUMENT refs[1]: expected <partition>/<id>: a partition from 0 to 9999 without leading zeros, then 1 to 128 characters of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(bad)}`,
      )
    }
    expect(await rejection(withArg(8, '0/a,1/b,2/c'))).toBe('TM_BAD_ARGUMENT refs: expected at most 2 comma-separated references, got more')
    expect(await rejection(withArg(2, 'new\nline"é'))).toBe(
      'TM_BAD_ARGUMENT name: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -, got "new\\x0aline\\x22\\xc3\\xa9"',
    )
  })

  it('refuses missing arguments, wrong key counts and broken groups', async () => {
    expect(await rejection(VALID.slice(0, 4))).toBe('TM_BAD_ARGUMENT blob: missing')
    expect(await rejection(VALID, [])).toBe('TM_BAD_ARGUMENT keys: expected 1, got 0')
    expect(await rejection(VALID, ['a', 'b'])).toBe('TM_BAD_ARGUMENT keys: expected 1, got 2')
    expect(await rejection([...VALID, 'x'])).toBe(
      'TM_BAD_ARGUMENT items: expected 0 to 2 groups of 2 values (key, weight), got 1 values',
    )
    expect(await rejection([...VALID, 'x', '1', 'y', '2', 'z', '3'])).toBe(
      'TM_BAD_ARGUMENT items: expected 0 to 2 groups of 2 values (key, weight), got 6 values',
    )
    expect(await rejection([...VALID, 'x', '1', 'y', 'heavy'])).toBe(
      'TM_BAD_ARGUMENT items[2].weight: expected an integer from 0 to 9, got "heavy"',
    )
    expect(await rejection([...VALID, 'x', '1', 'bad key', '2'])).toBe(
      'TM_BAD_ARGUMENT items[2].key: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -, got "bad key"',
    )
  })

  it('bounds an id list over all the elements of a group together (idlist[max,total])', async () => {
    const tagged = runFixture('prelude').files.get('lua/tagged.lua') as string
    const call = (argv: string[]) => client.eval(tagged, 1, 'x:meta', ...argv)
    expect(JSON.parse((await call(['a', 'x,y', 'b', 'z', 'c', ''])) as string)).toEqual([
      { key: 'a', tags: ['x', 'y'] },
      { key: 'b', tags: ['z'] },
      { key: 'c', tags: {} },
    ])
    await expect(call(['a', 'x,y,z'])).rejects.toThrow('TM_BAD_ARGUMENT items[1].tags: expected at most 2 comma-separated ids, got more')
    await expect(call(['a', 'x,y', 'b', 'z', 'c', 'w'])).rejects.toThrow('TM_BAD_ARGUMENT items[*].tags: expected at most 3 ids in all, got 4')
  })

  it('loads as a no-writes script', async () => {
    const sha = (await client.script('LOAD', source)) as string
    expect(JSON.parse((await client.evalsha_ro(sha, 1, 'x:meta', ...VALID)) as string)).toMatchObject({ name: 'task:1' })
  })
})
