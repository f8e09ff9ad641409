/**
 * The prelude: Lua generated from a script's header that runs before everything else in the
 * script. It checks the key count, binds each key to a local (`@key node-weight` →
 * `nodeWeightKey`), and checks and converts each argument with `lib/args.lua`, so every
 * rejection happens before the first write and the body never reads KEYS or ARGV.
 */
import type { ArgSpec } from '../loader/contract.js'
import type { ScriptContract } from './header.js'
import { keyLocal } from './header.js'

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
      check = 'args_idlist'
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
      return `{ ${text === '' ? '' : text.split(',').map(luaString).join(', ')} }`.replace('{  }', '{}')
    default:
      return luaString(text)
  }
}

export function generatePrelude(contract: ScriptContract): string[] {
  const lines: string[] = [
    `-- Prelude generated from the header of ${contract.file}: binds KEYS, checks and binds ARGV.`,
    `args_keys(#KEYS, ${contract.keys.length})`,
  ]
  contract.keys.forEach((key, index) => {
    lines.push(`local ${keyLocal(key.name)} = KEYS[${index + 1}]`)
  })
  const group = contract.group
  if (group === undefined) lines.push(`args_count(#ARGV, ${contract.args.length})`)
  contract.args.forEach((arg, index) => {
    lines.push(`local ${arg.name} = ${checkCall(arg, `ARGV[${index + 1}]`)}`)
  })
  if (group !== undefined) {
    const size = group.fields.length
    const first = contract.args.length
    lines.push(
      `local ${group.name} = {}`,
      'do',
      `  local count = args_groupCount(#ARGV - ${first}, ${luaString(group.name)}, ${size}, ${group.min}, ${group.max}, ${luaString(group.fields.map((field) => field.name).join(', '))})`,
      '  for i = 1, count do',
      `    local at = ${first === 0 ? '' : `${first} + `}(i - 1) * ${size}`,
      `    args_enterGroup(${luaString(group.name)}, i)`,
      `    ${group.name}[i] = {`,
    )
    group.fields.forEach((field, index) => {
      lines.push(`      ${field.name} = ${checkCall(field, `ARGV[at + ${index + 1}]`)},`)
    })
    lines.push('    }', '  end', '  args_leaveGroup()', 'end')
  }
  return lines
}
