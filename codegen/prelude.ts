/**
 * The prelude: Lua generated from a script's header that runs before everything else in the
 * script. It checks KEYS, binds each key to a local (`@key node-weight` → `nodeWeightKey`),
 * and checks and converts each argument with `lib/args.lua`, so every rejection happens before
 * the first write and the body never reads KEYS or ARGV.
 *
 * KEYS must be exactly the declared keys of one namespace, in order: the first names the
 * namespace (its prefix is KEYS[1] less the first key's name, `tm:{<namespace>}:` for
 * `tm:{<namespace>}:meta`), and every other entry must be that prefix followed by its declared
 * name, spelled as `loader/keys.ts` spells it. A key of another namespace, a swapped pair or a
 * foreign hash tag is refused with `TM_BAD_ARGUMENT keys[<i>]: ...`. The check is one string
 * comparison per key, no Redis call. Key types are not checked on every call (a TYPE per key
 * would cost more than most scripts do): with the names right, a key of the wrong type can only
 * have been written by hand. A script that declares `TM_WRONG_TYPE` in its header, the calls
 * that open a session, also checks the TYPE of each stored key it declares.
 */
import type { ArgSpec } from '../loader/contract.js'
import { keyUnder } from '../loader/keys.js'
import type { ScriptContract } from './header.js'
import { keyLocal } from './header.js'

/** The error code that makes the prelude check key types. */
export const WRONG_TYPE_CODE = 'TM_WRONG_TYPE'

/** A Lua string literal in single quotes; bytes outside printable ASCII become `\ddd`. */
export function luaString(text: string): string {
  let out = "'"
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x27) out += "\\'"
    else if (byte === 0x5c) out += '\\\\'
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte)
    else out += `\\${byte}`
  }
  return out + "'"
}

/** The call that checks one argument; `value` is the Lua expression holding its ARGV string. */
function checkCall(spec: ArgSpec, value: string): string {
  const type = spec.type
  let check: string
  let params: string[]
  switch (type.kind) {
    case 'integer':
    case 'number':
    case 'string':
      check = `args_${type.kind}`
      params = [String(type.min), String(type.max)]
      break
    case 'idlist':
    case 'reflist':
      check = `args_${type.kind}`
      params = [String(type.max)]
      break
    case 'enum':
      check = 'args_enum'
      params = [`{ ${type.values.map(luaString).join(', ')} }`]
      break
    default:
      check = `args_${type.kind}`
      params = []
  }
  const name = luaString(spec.name)
  if (spec.optional && spec.defaultValue === undefined) {
    return `args_optional(${[value, name, check, ...params].join(', ')})`
  }
  const checked = `${check}(${[value, name, ...params].join(', ')})`
  if (spec.defaultValue === undefined) return checked
  // An absent value takes the default as a Lua constant, parsed here once instead of on every
  // call: callers mostly send defaults, and checking them again costs a batch of 5,000 tasks
  // tens of thousands of needless checks.
  const absent = `(${value} == '' or ${value} == nil)`
  const literal = defaultLiteral(spec, spec.defaultValue)
  if (literal === 'false') return `(not ${absent}) and ${checked} or false`
  return `${absent} and ${literal} or ${checked}`
}

/** The header's default as a Lua expression of the type's parsed value. */
function defaultLiteral(spec: ArgSpec, text: string): string {
  switch (spec.type.kind) {
    case 'integer':
    case 'number':
      return String(Number(text))
    case 'boolean':
      return text === '1' ? 'true' : 'false'
    case 'idlist':
    case 'reflist':
      return `{ ${text === '' ? '' : text.split(',').map(luaString).join(', ')} }`.replace('{  }', '{}')
    default:
      return luaString(text)
  }
}

/** The KEYS checks and bindings. */
function keyLines(contract: ScriptContract): string[] {
  const keys = contract.keys
  const names = keys.map((key) => keyUnder('', key.name, key.redisType))
  const first = names[0]
  if (first === undefined) return ['args_keys(#KEYS, 0)']
  const namespace = `args_namespace(KEYS, ${keys.length}, ${luaString(first)}`
  const lines = [`local keys_prefix = ${namespace})`]
  if (keys.length > 1) {
    const compares = names.slice(1).map((name, i) => `KEYS[${i + 2}] ~= keys_prefix .. ${luaString(name)}`)
    lines.push(
      `if ${compares[0]}`,
      ...compares.slice(1).map((compare) => `  or ${compare}`),
      'then',
      `  ${namespace}, { ${names.map(luaString).join(', ')} })`,
      'end',
    )
  }
  if (contract.errors.some((entry) => entry.code === WRONG_TYPE_CODE)) {
    keys.forEach((key, index) => {
      if (key.redisType === 'channel') return
      lines.push(`args_keyType(KEYS, ${index + 1}, redis.call('TYPE', KEYS[${index + 1}]), ${luaString(key.redisType)})`)
    })
  }
  keys.forEach((key, index) => {
    lines.push(`local ${keyLocal(key.name)} = KEYS[${index + 1}]`)
  })
  return lines
}

export function generatePrelude(contract: ScriptContract): string[] {
  const lines: string[] = [
    `-- Prelude generated from the header of ${contract.file}: checks and binds KEYS, checks and binds ARGV.`,
    ...keyLines(contract),
  ]
  const group = contract.group
  if (group === undefined) lines.push(`args_count(#ARGV, ${contract.args.length})`)
  contract.args.forEach((arg, index) => {
    lines.push(`local ${arg.name} = ${checkCall(arg, `ARGV[${index + 1}]`)}`)
  })
  if (group !== undefined) {
    const size = group.fields.length
    const first = contract.args.length
    // An idlist's own maximum bounds one element; its total bounds what one call carries in all.
    const totals = group.fields.flatMap((field) =>
      field.type.kind === 'idlist' && field.type.total !== undefined
        ? [{ field: field.name, total: field.type.total, counter: `ids_in_all_${field.name}` }]
        : [],
    )
    lines.push(
      `local ${group.name} = {}`,
      'do',
      ...totals.map(({ counter }) => `  local ${counter} = 0`),
      `  local count = args_groupCount(#ARGV - ${first}, ${luaString(group.name)}, ${size}, ${group.min}, ${group.max}, ${luaString(group.fields.map((field) => field.name).join(', '))})`,
      '  for i = 1, count do',
      `    local at = ${first === 0 ? '' : `${first} + `}(i - 1) * ${size}`,
      `    args_enterGroup(${luaString(group.name)}, i)`,
      `    ${group.name}[i] = {`,
    )
    group.fields.forEach((field, index) => {
      lines.push(`      ${field.name} = ${checkCall(field, `ARGV[at + ${index + 1}]`)},`)
    })
    lines.push(
      '    }',
      ...totals.map(({ field, counter }) => `    ${counter} = ${counter} + #${group.name}[i].${field}`),
      '  end',
      '  args_leaveGroup()',
      ...totals.map(
        ({ field, total, counter }) => `  args_idlistTotal(${counter}, ${luaString(`${group.name}[*].${field}`)}, ${total})`,
      ),
      'end',
    )
  }
  return lines
}
