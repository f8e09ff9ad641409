import { describe, expect, it } from 'vitest'
import type { ExpandedScript, OriginKind } from '../../codegen/expand.js'
import { moveToModuleTable } from '../../codegen/module-table.js'
import { standaloneClient } from '../support/context.js'

/** An expanded script from lines tagged with where they came from. */
function expanded(lines: [OriginKind, string][]): ExpandedScript {
  return {
    source: lines.map(([, text]) => text).join('\n') + '\n',
    origins: lines.map(([kind], i) => ({ kind, file: 'x.lua', line: i + 1 })),
  }
}

const script = expanded([
  ['generated', '#!lua'],
  ['generated', '-- banner'],
  ['lib', 'local count = 0'],
  ['lib', 'local function bump(by) count = count + by end'],
  ['lib', 'local function shadowed(count) return count end'],
  ['lib', 'local function looped() local n = 0 for count = 1, 3 do n = n + count end return n end'],
  ['body', 'local total = 5'],
  ['body', 'bump(total)'],
  ['body', 'return { count, shadowed(7), looped(), total }'],
])

describe('lib locals as fields of one table', () => {
  it('moves chunk-level lib locals and their uses, and leaves parameters, loop variables and body locals alone', () => {
    const lines = moveToModuleTable(script).source.split('\n')
    expect(lines[0]).toBe('#!lua')
    expect(lines[1]).toBe('local tm = { count = false, bump = false, shadowed = false, looped = false } -- banner')
    expect(lines.slice(2, 9)).toEqual([
      'tm.count = 0',
      'function tm.bump(by) tm.count = tm.count + by end',
      'function tm.shadowed(count) return count end',
      'function tm.looped() local n = 0 for count = 1, 3 do n = n + count end return n end',
      'local total = 5',
      'tm.bump(total)',
      'return { tm.count, tm.shadowed(7), tm.looped(), total }',
    ])
  })

  it('keeps one line per line, so origins still match', () => {
    expect(moveToModuleTable(script).source.split('\n')).toHaveLength(script.source.split('\n').length)
  })

  it('runs in Redis with the same result as before', async () => {
    const client = standaloneClient()
    const run = (source: string) => client.eval(source.replace(/^#!lua\n/, ''), 0)
    expect(await run(moveToModuleTable(script).source)).toEqual(await run(script.source))
    expect(await run(script.source)).toEqual([5, 7, 6, 5])
  })
})
