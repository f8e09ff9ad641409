/**
 * Small script definitions, written by hand the way codegen emits them, so the loader is tested
 * on every argument and reply type independently of the scheduler's own scripts.
 */
import { createHash } from 'node:crypto'
import type { ScriptDefinition } from '../../loader/contract.js'
import { TaskmillScriptError, type ScriptErrorClass, type ScriptErrorContext } from '../../loader/errors.js'

type Draft = Omit<ScriptDefinition, 'sha' | 'summary' | 'errors'> & Partial<Pick<ScriptDefinition, 'errors'>>

export function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex')
}

function define(draft: Draft): ScriptDefinition {
  return { summary: `loader test script ${draft.name}`, errors: [], ...draft, sha: sha1(draft.source) }
}

/** Writes: counts its calls in `meta` and echoes every argument back as a record. */
export const echoScript = define({
  name: 'loader-test-echo',
  version: 3,
  readOnly: false,
  source: [
    "local calls = redis.call('HINCRBY', KEYS[1], 'calls', 1)",
    'local n = 0',
    'for i = 6, #ARGV, 2 do n = n + tonumber(ARGV[i + 1]) end',
    "return {'calls', calls, 'count', ARGV[1], 'ratio', ARGV[2], 'flag', ARGV[3], 'ids', ARGV[4],",
    "  'payload', ARGV[5], 'groups', (#ARGV - 5) / 2, 'sum', n, 'unknown', 'ignored', 'key', KEYS[1]}",
  ].join('\n'),
  keys: [{ name: 'meta', redisType: 'hash', meaning: 'counters' }],
  args: [
    { name: 'count', type: { kind: 'integer', min: -10, max: 1e15 }, optional: false, meaning: 'an integer' },
    { name: 'ratio', type: { kind: 'number', min: -1e30, max: 1e30 }, optional: true, defaultValue: '0', meaning: 'a number' },
    { name: 'flag', type: { kind: 'boolean' }, optional: true, meaning: 'a flag' },
    { name: 'ids', type: { kind: 'idlist', max: 10 }, optional: true, meaning: 'ids' },
    { name: 'payload', type: { kind: 'bytes' }, optional: false, meaning: 'opaque bytes' },
  ],
  group: {
    name: 'items',
    min: 0,
    max: 100,
    meaning: 'items',
    fields: [
      { name: 'id', type: { kind: 'id' }, optional: false, meaning: 'item id' },
      { name: 'n', type: { kind: 'integer', min: 0, max: 100 }, optional: true, defaultValue: '0', meaning: 'a count' },
    ],
  },
  reply: {
    kind: 'record',
    fields: [
      { name: 'calls', optional: false, type: { kind: 'integer' } },
      { name: 'count', optional: false, type: { kind: 'string' } },
      { name: 'ratio', optional: false, type: { kind: 'string' } },
      { name: 'flag', optional: false, type: { kind: 'string' } },
      { name: 'ids', optional: false, type: { kind: 'string' } },
      { name: 'payload', optional: false, type: { kind: 'bytes' } },
      { name: 'groups', optional: false, type: { kind: 'integer' } },
      { name: 'sum', optional: false, type: { kind: 'integer' } },
      { name: 'key', optional: false, type: { kind: 'string' } },
      { name: 'absent', optional: true, type: { kind: 'string' } },
    ],
  },
})

/** Read-only: the call count, or nil before the first echo. */
export const readScript = define({
  name: 'loader-test-read',
  version: 1,
  readOnly: true,
  source: [
    '#!lua flags=no-writes',
    "local calls = redis.call('HGET', KEYS[1], 'calls')",
    'if not calls then return nil end',
    'return tonumber(calls)',
  ].join('\n'),
  keys: [{ name: 'meta', redisType: 'hash', meaning: 'counters' }],
  args: [],
  reply: { kind: 'union', members: [{ kind: 'integer' }, { kind: 'nil' }] },
})

/** Fails in the way its argument asks for, before any write. */
export const failScript = define({
  name: 'loader-test-fail',
  version: 2,
  readOnly: false,
  source: [
    'local mode = ARGV[1]',
    "if mode == 'table' then error({ err = 'TM_UNKNOWN_TASK task ' .. ARGV[2] .. ' does not exist' }) end",
    "if mode == 'reply' then return redis.error_reply('TM_BAD_ARGUMENT when: must be an integer') end",
    "if mode == 'unregistered' then return redis.error_reply('TM_NOT_A_CODE something') end",
    "if mode == 'lua' then error('plain lua failure') end",
    "if mode == 'wrongtype' then redis.call('HSET', KEYS[1], 'f', 'v'); return redis.call('LPUSH', KEYS[1], 'x') end",
    "if mode == 'shape' then return 'not an integer' end",
    'return 1',
  ].join('\n'),
  keys: [{ name: 'meta', redisType: 'hash', meaning: 'a hash' }],
  args: [
    { name: 'mode', type: { kind: 'enum', values: ['table', 'reply', 'unregistered', 'lua', 'wrongtype', 'shape', 'ok'] }, optional: false, meaning: 'how to fail' },
    { name: 'taskId', type: { kind: 'id' }, optional: true, meaning: 'named in the error' },
  ],
  reply: { kind: 'integer' },
  errors: ['TM_UNKNOWN_TASK', 'TM_BAD_ARGUMENT'],
})

export const testScripts = [echoScript, readScript, failScript] as const

/** Stand-ins for the generated per-code classes, with the generated constructor shape. */
export class UnknownTaskError extends TaskmillScriptError {
  constructor(detail: string, context: ScriptErrorContext) {
    super('TM_UNKNOWN_TASK', detail, context)
  }
}

export class BadArgumentError extends TaskmillScriptError {
  constructor(detail: string, context: ScriptErrorContext) {
    super('TM_BAD_ARGUMENT', detail, context)
  }
}

export const testErrorClasses: Record<string, ScriptErrorClass> = {
  TM_UNKNOWN_TASK: UnknownTaskError,
  TM_BAD_ARGUMENT: BadArgumentError,
}
