/**
 * The per-call setup report: closures built at chunk level and their upvalue captures, counted
 * on test/codegen/fixtures/setup/chunk.lua (each function's count is written above it), and the
 * figures codegen puts in the manifest and prints.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countClosures, formatSetupTable } from '../../codegen/setup-cost.js'
import { fixturesDir, runFixture } from './helpers.js'

describe('counting closures and upvalues', () => {
  it('counts the fixture chunk as its comments say', () => {
    const source = readFileSync(join(fixturesDir, 'setup/chunk.lua'), 'utf8')
    expect(countClosures(source)).toEqual({ closures: 9, upvalues: 9 })
  })

  it('counts a capture once per closure however often it is used', () => {
    expect(countClosures('local a = 1\nlocal function f() return a + a + a end\nreturn f()\n')).toEqual({ closures: 1, upvalues: 1 })
  })

  it('counts no closure for a chunk without functions, and none for globals read', () => {
    expect(countClosures("local a = redis.call('TIME')\nreturn tonumber(a[1])\n")).toEqual({ closures: 0, upvalues: 0 })
    expect(countClosures('local function f() return string.len(tostring(1)) end\nreturn f()\n')).toEqual({ closures: 1, upvalues: 0 })
  })
})

describe('the setup figures of generated scripts', () => {
  const result = runFixture('good')
  const manifest = JSON.parse(result.files.get('manifest.json') as string) as {
    scripts: {
      name: string
      lua: string
      keys: unknown[]
      args: unknown[]
      group: { fields: unknown[] } | null
      setup: { closures: number; upvalues: number; keys: number; args: number; groupFields: number; lines: number }
    }[]
  }

  it('are in each manifest entry and agree with the expanded source', () => {
    expect(manifest.scripts.length).toBeGreaterThan(0)
    for (const script of manifest.scripts) {
      const source = result.files.get(script.lua) as string
      expect(script.setup, script.name).toEqual({
        ...countClosures(source),
        keys: script.keys.length,
        args: script.args.length,
        groupFields: script.group?.fields.length ?? 0,
        lines: source.split('\n').length - 1,
      })
    }
    const add = manifest.scripts.find((script) => script.name === 'add')
    expect(add?.setup).toMatchObject({ keys: 3, args: 2, groupFields: 5 })
    // Inlined constants are no upvalues: ARG_SHOWN_BYTES is read by arg_show as a literal.
    expect(add?.setup.closures).toBeGreaterThan(0)
  })

  it('are returned for codegen to print, in script order', () => {
    expect(result.setup.map((row) => row.name)).toEqual(manifest.scripts.map((script) => script.name))
    expect(result.setup.map(({ name, ...figures }) => ({ name, ...figures }))).toEqual(
      manifest.scripts.map((script) => ({ name: script.name, ...script.setup })),
    )
  })

  it('print as a table with aligned columns', () => {
    const table = formatSetupTable([
      { name: 'enqueue', closures: 120, upvalues: 310, keys: 15, args: 2, groupFields: 11, lines: 998 },
      { name: 'get-task', closures: 9, upvalues: 12, keys: 3, args: 1, groupFields: 0, lines: 180 },
    ])
    expect(table).toBe(
      [
        'script    closures  upvalues  keys         args  lines',
        '--------  --------  --------  ----  -----------  -----',
        'enqueue        120       310    15  2 + 11/item    998',
        'get-task         9        12     3            1    180',
        '',
      ].join('\n'),
    )
  })
})
