/**
 * Comments in the expanded scripts: a lib's banner and module note reach every script that runs
 * the lib's code, whatever the inlining of constants and the leaving out of unreachable code
 * remove around them. The fixture is test/codegen/fixtures/notes/.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runFixture } from './helpers.js'

/** The comment lines right after a lib's `---` header: its module note. */
function moduleNote(libSource: string): string[] {
  const lines = libSource.split('\n')
  let i = 0
  while (i < lines.length && (lines[i] ?? '').startsWith('---')) i++
  const note: string[] = []
  for (; i < lines.length && /^--/.test(lines[i] ?? ''); i++) note.push(lines[i] as string)
  return note
}

describe('comments in the expanded script', () => {
  const result = runFixture('notes')
  const take = result.files.get('lua/take.lua') as string

  it('has no errors', () => {
    expect(result.errors).toEqual([])
  })

  it('keeps the banner and module note of a lib that starts with constants', () => {
    const note = moduleNote(readFileSync(join(repoRoot, 'test/codegen/fixtures/notes/lib/pick.lua'), 'utf8'))
    expect(note.length).toBe(3)
    expect(take).toContain(['-- lib/pick.lua', ...note].join('\n') + '\n')
    expect(take).toContain('-- The meta field that names the strategy.\n')
    expect(take).toContain('-- Picks up to PICK_LIMIT members with the configured strategy.\n')
  })

  it('drops only the constant declarations, leaving the value in a comment where one stood', () => {
    expect(take).not.toMatch(/^local PICK_LIMIT/m)
    expect(take).not.toMatch(/^local STRATEGY_FIELD/m)
    expect(take).toContain('-- PICK_LIMIT = 10\n')
    expect(take).toContain("-- STRATEGY_FIELD = 'strategy'\n")
    expect(take).toContain("redis.call('HGET', tm.metaKey, 'strategy' --[[STRATEGY_FIELD]])")
  })

  it('leaves out an unreachable function but not the module note above it', () => {
    expect(take).not.toContain('pick_spare')
  })

  it('leaves out a lib none of whose code runs, banner and note included', () => {
    expect(take).not.toContain('spare')
    expect(take).not.toContain('SPARE_LIMIT')
  })
})
