/**
 * One bad fixture per rule codegen enforces (test/codegen/fixtures/bad/<case>/): each must fail
 * with the message and the file:line a person would fix.
 */
import { describe, expect, it } from 'vitest'
import { formatError } from '../../codegen/diagnostics.js'
import { runFixture } from './helpers.js'

interface Expected {
  /** Path below test/codegen/fixtures/bad/<case>/. */
  file?: string
  line: number
  message: RegExp
}

const cases: Record<string, Expected | Expected[]> = {
  // 1. header
  'too-many-locals': { line: 1, message: /^the script body has 200 top-level locals, and with the module table Lua 5\.1 allows 200; group them in tables$/ },
  'unknown-tag': { line: 8, message: /^unknown tag @author; the header knows @script/ },
  'malformed-tag': { line: 8, message: /^malformed header line "--- version two"/ },
  'missing-tag': { line: 1, message: /^missing required tag @reply: add "--- @reply <type>"/ },
  'name-mismatch': { line: 1, message: /^@script other does not match the file name s\.lua/ },
  'duplicate-arg': { line: 8, message: /^argument id is declared twice$/ },
  'duplicate-key': { line: 8, message: /^key meta is declared twice$/ },
  'unknown-key': { line: 8, message: /^unknown key "nope": keys are spelled in loader\/keys\.ts/ },
  'key-type': { line: 8, message: /^key ready is declared hash but loader\/keys\.ts says it holds a zset/ },
  'bad-arg-type': { line: 8, message: /^@arg priority: integer needs a range, e\.g\. integer\[0,100\]$/ },
  'idlist-total-arg': { line: 5, message: /^@arg ids: a total \(idlist\[max,total\]\) counts over a group's elements; an @arg has one list, use idlist\[max\]$/ },
  'bad-default': { line: 8, message: /^@arg priority: the default "11" is not valid for integer\[0,10\]/ },
  'bad-reply': { line: 7, message: /^@reply: expected ":", got "}"$/ },
  'wrapper-reserved': { file: 'delete.lua', line: 1, message: /would be named delete, which is reserved/ },
  // 2. KEYS / ARGV and declared-but-unused
  'keys-direct': { line: 8, message: /^KEYS\[1\] is used directly; use metaKey, the local bound to @key meta$/ },
  'argv-undeclared': { line: 8, message: /^ARGV\[3\] is used but not declared; declare it with "--- @arg/ },
  'argv-whole': { line: 8, message: /^ARGV is used directly/ },
  'unused-key': { line: 8, message: /^key task is declared but taskKey is never used/ },
  'unused-arg': { line: 8, message: /^argument other is declared but never used/ },
  // 3. commands
  'command-not-literal': { line: 9, message: /^the command of redis\.call must be a string literal/ },
  'unknown-command': { line: 8, message: /^'HEXIST' is not a Redis command$/ },
  'noscript-command': { line: 8, message: /^SUBSCRIBE cannot run inside a script/ },
  'blocking-command': { line: 9, message: /^BZPOPMIN is a blocking command/ },
  // 4. read-only
  'readonly-write': { line: 9, message: /^HSET writes, but script s is @readonly/ },
  'readonly-publish': { line: 9, message: /^PUBLISH writes, but script s is @readonly/ },
  // 5. keys only through the bound locals
  'key-concat': { line: 8, message: /^key argument 1 of HEXISTS is a string built with \.\.; it must be one of the key locals/ },
  'key-literal': { line: 8, message: /^key argument 1 of HEXISTS is the string 'tm:\{x\}:meta'/ },
  'key-variable': { line: 9, message: /^key argument 1 of HEXISTS is the variable k;/ },
  'key-assign': { line: 8, message: /^metaKey is bound by the prelude to KEYS\[1\]; do not assign or redeclare it$/ },
  'key-param-bad': { line: 11, message: /^argument 1 of count\(\), a key \(used as one at .*key-param-bad\/s\.lua:9\), is a string built with \.\./ },
  // 5b. channel prefixes: only as the channel of SPUBLISH/PUBLISH, and nothing else is a channel
  'channel-type': [
    { line: 4, message: /^key meta is declared channel but loader\/keys\.ts says it holds a hash/ },
    { line: 5, message: /^key wake is declared hash but loader\/keys\.ts says it is a channel prefix; write "@key wake channel \.\.\."/ },
  ],
  'channel-as-key': [
    { line: 9, message: /^key argument 1 of HEXISTS is wakeKey, the prefix of the wake channels \(@key wake channel\), not a key;/ },
    { line: 10, message: /^key argument 1 of EXISTS is a channel name built on wakeKey \(@key wake channel\), not a key;/ },
  ],
  'publish-channel': [
    { line: 9, message: /^the channel of SPUBLISH starts with the string 'tm:\{x\}:wake:'; it must be wakeKey or wakeKey \.\. <suffix>/ },
    { line: 10, message: /^the channel of PUBLISH starts with the variable id;/ },
    { line: 11, message: /^the channel of SPUBLISH starts with metaKey, a key \(@key meta hash\), not a channel prefix;/ },
    { line: 13, message: /^the channel of SPUBLISH starts with the variable channel;/ },
  ],
  // 6. error codes
  'error-undeclared': { line: 9, message: /^TM_UNKNOWN_TASK is raised here but not declared; add it to the header's @error line$/ },
  'error-not-registered': { line: 8, message: /^error code TM_NO_SUCH_CODE is not in test\/codegen\/fixtures\/errors\.json/ },
  'error-never-raised': { line: 8, message: /^TM_UNKNOWN_TASK is declared but never raised/ },
  'error-literal-not-registered': { line: 9, message: /^TM_MADE_UP is not in test\/codegen\/fixtures\/errors\.json/ },
  'bad-argument-undeclared': { line: 1, message: /^s can raise TM_BAD_ARGUMENT by the generated prelude .* add it to @error$/ },
  // 8. includes and libs
  'include-missing': { line: 8, message: /^lib\/nope\.lua does not exist/ },
  'include-cycle': { file: 'lib/b.lua', line: 2, message: /^include cycle: lib\/a → lib\/b → lib\/a;/ },
  'lib-name-mismatch': { file: 'lib/helper.lua', line: 1, message: /^@lib helpers does not match the file name helper\.lua/ },
  'lib-keys': { file: 'lib/peek.lua', line: 3, message: /^ARGV\[1\] is used in a lib;/ },
  'lib-unbound-key': { file: 'lib/tasks.lua', line: 3, message: /^taskKey is not bound in script s; declare "--- @key task <type> <meaning>"/ },
  'lib-hides-arg': { line: 5, message: /^the argument id clashes with the top-level local id of .*lib\/ids\.lua:2/ },
  // 9. Lua syntax, mapped back to the file a person edits
  'syntax-error': { line: 8, message: /^Lua syntax error: <expression> expected near '='$/ },
  'lib-syntax': { file: 'lib/broken.lua', line: 4, message: /^Lua syntax error: <expression> expected near 'end'$/ },
  // globals
  global: [
    { line: 8, message: /^assigning the global total: Redis refuses global variables/ },
    { line: 9, message: /^undefinedThing is not defined/ },
  ],
}

describe('codegen refuses bad scripts', () => {
  it.each(Object.entries(cases))('%s', (name, expected) => {
    const result = runFixture(`bad/${name}`)
    expect(result.files.size, 'nothing is generated when there are errors').toBe(0)
    const printed = result.errors.map(formatError)
    for (const { file = 's.lua', line, message } of [expected].flat()) {
      const path = `test/codegen/fixtures/bad/${name}/${file}`
      const match = result.errors.find((error) => error.file === path && error.line === line && message.test(error.message))
      expect(match, `expected ${path}:${line}: ${message}\ngot:\n${printed.join('\n')}`).toBeDefined()
    }
  })

  // 7. contract changed without a version bump
  it('version-not-bumped: a changed contract needs a higher @version', () => {
    const previous = { scripts: [{ name: 's', version: 1, contractHash: 'an older contract' }] }
    const result = runFixture('bad/version-not-bumped', previous)
    expect(result.errors.map(formatError)).toEqual([
      'test/codegen/fixtures/bad/version-not-bumped/s.lua:2: contract of s changed (keys, args, group, reply, errors or @readonly) since the committed manifest; bump @version to 2',
    ])
  })

  it('version-not-bumped: the same contract with no previous manifest is fine', () => {
    expect(runFixture('bad/version-not-bumped').errors).toEqual([])
  })

  it('a version that goes down is refused', () => {
    const previous = { scripts: [{ name: 's', version: 5, contractHash: 'x' }] }
    const result = runFixture('bad/version-not-bumped', previous)
    expect(result.errors.map((error) => error.message)).toEqual([
      '@version of s went down from 5 to 1; versions only go up',
    ])
  })

  it('every bad fixture folder has a case here', async () => {
    const { readdirSync } = await import('node:fs')
    const { fixturesDir } = await import('./helpers.js')
    const folders = readdirSync(`${fixturesDir}/bad`).sort()
    expect(folders).toEqual([...Object.keys(cases), 'version-not-bumped'].sort())
  })
})
