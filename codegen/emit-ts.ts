/**
 * Writes `loader/generated/scripts.ts` (one ScriptDefinition, argument and reply types and a
 * typed wrapper per script) and `loader/generated/errors.ts` (one class per error code), in the
 * repo's style: 2-space indent, single quotes, no semicolons.
 */
import type { ArgSpec, ArgType, ReplyType, ScriptDefinition } from '../loader/contract.js'
import { camelCase, pascalCase, type KeyKind, type ScriptContract } from './header.js'
import { GENERATED_BY } from './manifest.js'

const LINE_WIDTH = 100

/** Text emitted as is, e.g. a JSON string literal. */
class Raw {
  constructor(readonly text: string) {}
}

export function tsString(text: string): string {
  let out = "'"
  for (const c of text) {
    const code = c.codePointAt(0) as number
    if (c === "'") out += "\\'"
    else if (c === '\\') out += '\\\\'
    else if (c === '\n') out += '\\n'
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, '0')}`
    } else out += c
  }
  return out + "'"
}

function propertyName(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : tsString(name)
}

/** A TS expression for a JSON-like value; short arrays and objects stay on one line. */
function tsValue(value: unknown, indent: string): string {
  if (value instanceof Raw) return value.text
  if (typeof value === 'string') return tsString(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null || value === undefined) return 'null'
  const inner = indent + '  '
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    const items = value.map((item) => tsValue(item, inner))
    const flat = `[${items.join(', ')}]`
    if (!flat.includes('\n') && indent.length + flat.length <= LINE_WIDTH) return flat
    return `[\n${items.map((item) => `${inner}${item},\n`).join('')}${indent}]`
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
  if (entries.length === 0) return '{}'
  const items = entries.map(([k, v]) => `${propertyName(k)}: ${tsValue(v, inner)}`)
  const flat = `{ ${items.join(', ')} }`
  if (!flat.includes('\n') && indent.length + flat.length <= LINE_WIDTH) return flat
  return `{\n${items.map((item) => `${inner}${item},\n`).join('')}${indent}}`
}

/** A TSDoc block; empty lines in `lines` become paragraph breaks. */
function doc(lines: readonly string[], indent = ''): string {
  const text = lines.map((line) => line.replace(/\*\//g, '*\\/'))
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`
  return `${indent}/**\n${text.map((line) => (line === '' ? `${indent} *\n` : `${indent} * ${line}\n`)).join('')}${indent} */\n`
}

function argTsType(type: ArgType): string {
  switch (type.kind) {
    case 'integer':
    case 'number':
      return 'number'
    case 'id':
    case 'string':
      return 'string'
    case 'bytes':
      return 'string | Buffer'
    case 'enum':
      return type.values.map(tsString).join(' | ')
    case 'boolean':
      return 'boolean'
    case 'idlist':
    case 'reflist':
      return 'string[]'
  }
}

function describeArg(spec: ArgSpec): string {
  const type = spec.type
  let text: string
  switch (type.kind) {
    case 'integer':
      text = `Integer from ${type.min} to ${type.max}.`
      break
    case 'number':
      text = `Number from ${type.min} to ${type.max}.`
      break
    case 'id':
      text = 'Id: 1 to 128 characters of A-Z a-z 0-9 _ . : -.'
      break
    case 'string':
      text = `${type.min} to ${type.max} bytes.`
      break
    case 'bytes':
      text = 'Any bytes.'
      break
    case 'enum':
      text = `One of ${type.values.join(', ')}.`
      break
    case 'boolean':
      text = 'Sent as 1 or 0.'
      break
    case 'idlist':
      text = type.total === undefined ? `At most ${type.max} ids.` : `At most ${type.max} ids, and ${type.total} in all the elements of one call together.`
      break
    case 'reflist':
      text = `At most ${type.max} references "<partition>/<id>" to tasks of other partitions.`
      break
  }
  if (spec.defaultValue !== undefined) text += ` Default: ${spec.defaultValue === '' ? 'empty' : spec.defaultValue}.`
  else if (spec.optional) text += ' Optional.'
  return text
}

function argProperties(specs: readonly ArgSpec[], indent: string): string {
  return specs
    .map(
      (spec) =>
        doc([spec.meaning, describeArg(spec)].filter((line) => line !== ''), indent) +
        `${indent}${spec.name}${spec.optional ? '?' : ''}: ${argTsType(spec.type)}\n`,
    )
    .join('')
}

/** The TS type of a decoded reply. */
export function replyTsType(type: ReplyType, indent = ''): string {
  switch (type.kind) {
    case 'integer':
      return 'number'
    case 'string':
      return 'string'
    case 'bytes':
      return 'Buffer'
    case 'nil':
      return 'null'
    case 'literal':
      return tsString(type.value)
    case 'union':
      return type.members.map((member) => replyTsType(member, indent)).join(' | ')
    case 'array': {
      const element = replyTsType(type.element, indent)
      return type.element.kind === 'union' ? `(${element})[]` : `${element}[]`
    }
    case 'tuple': {
      const members = type.members.map((member) => `${member.name}: ${replyTsType(member.type, indent + '  ')}`)
      const flat = `[${members.join(', ')}]`
      if (indent.length + flat.length <= LINE_WIDTH && !flat.includes('\n')) return flat
      return `[\n${members.map((member) => `${indent}  ${member},\n`).join('')}${indent}]`
    }
    case 'record': {
      const fields = type.fields.map(
        (field) => `${propertyName(field.name)}${field.optional ? '?' : ''}: ${replyTsType(field.type, indent + '  ')}`,
      )
      const flat = `{ ${fields.join('; ')} }`
      if (indent.length + flat.length <= LINE_WIDTH && !flat.includes('\n')) return flat
      return `{\n${fields.map((field) => `${indent}  ${field}\n`).join('')}${indent}}`
    }
  }
}

/** Names the wrappers cannot take: TS reserved words and the module's own exports. */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await allScripts scriptsByName')
    .split(' '),
)

export function wrapperNameProblem(scriptName: string): string | undefined {
  const name = camelCase(scriptName)
  return RESERVED.has(name)
    ? `the wrapper for script ${scriptName} would be named ${name}, which is reserved in TypeScript or in loader/generated/scripts.ts; rename the script`
    : undefined
}

/**
 * A script's ScriptDefinition as codegen knows it. A key's type may be `channel` (a channel
 * prefix), which the emitted literal carries as it is: `KeySpec['redisType']` in
 * loader/contract.ts must list `channel` for such a script's wrapper to compile.
 */
export type EmittedDefinition = Omit<ScriptDefinition, 'keys'> & {
  readonly keys: readonly { readonly name: string; readonly redisType: KeyKind; readonly meaning: string }[]
}

export interface EmittedScript {
  readonly contract: ScriptContract
  readonly definition: EmittedDefinition
}

function definitionLiteral(definition: EmittedDefinition): string {
  const specFor = (spec: ArgSpec): Record<string, unknown> => ({
    name: spec.name,
    type: spec.type,
    optional: spec.optional,
    defaultValue: spec.defaultValue,
    meaning: spec.meaning,
  })
  const value: Record<string, unknown> = {
    name: definition.name,
    version: definition.version,
    summary: definition.summary,
    readOnly: definition.readOnly,
    sha: definition.sha,
    keys: definition.keys.map((key) => ({ name: key.name, redisType: key.redisType, meaning: key.meaning })),
    args: definition.args.map(specFor),
    group:
      definition.group === undefined
        ? undefined
        : {
            name: definition.group.name,
            min: definition.group.min,
            max: definition.group.max,
            meaning: definition.group.meaning,
            fields: definition.group.fields.map(specFor),
          },
    reply: definition.reply,
    errors: definition.errors,
    // The expanded Lua as one JSON string literal: exact bytes, easy to diff against lua/<name>.lua.
    source: new Raw(JSON.stringify(definition.source)),
  }
  return tsValue(value, '')
}

/** `keys: meta, task`, then `; channel prefixes: wake` when the script declares any. */
function keysText(contract: ScriptContract): string {
  const keys = contract.keys.filter((key) => key.redisType !== 'channel').map((key) => key.name)
  const channels = contract.keys.filter((key) => key.redisType === 'channel').map((key) => key.name)
  const text = `keys: ${keys.join(', ') || 'none'}`
  return channels.length === 0 ? text : `${text}; channel prefixes: ${channels.join(', ')}`
}

function scriptSection({ contract, definition }: EmittedScript): string {
  const fn = camelCase(contract.name)
  const type = pascalCase(contract.name)
  const hasArgs = contract.args.length > 0 || contract.group !== undefined
  let out = `// ${contract.name} ${'-'.repeat(Math.max(3, 96 - contract.name.length))}\n\n`

  if (hasArgs) {
    out += doc([`Arguments of {@link ${fn}}; each travels as one ARGV string, checked by the script before anything else.`])
    out += `export type ${type}Args = {\n${argProperties(contract.args, '  ')}`
    const group = contract.group
    if (group !== undefined) {
      out += doc([group.meaning, `${group.min} to ${group.max} elements.`].filter((line) => line !== ''), '  ')
      out += `  ${group.name}: Array<{\n${argProperties(group.fields, '    ')}  }>\n`
    }
    out += '}\n\n'
  }

  out += doc([`Reply of {@link ${fn}}: \`${contract.replyText.replace(/`/g, "'")}\`.`])
  out += `export type ${type}Reply = ${replyTsType(contract.reply)}\n\n`

  out += doc([`Contract and expanded Lua of script \`${contract.name}\` v${contract.version}.`])
  out += `export const ${fn}Script: ScriptDefinition = ${definitionLiteral(definition)}\n\n`

  const errors = contract.errors.map((entry) => entry.code).sort()
  out += doc([
    contract.summary,
    '',
    `Script \`${contract.name}\` v${contract.version}${contract.readOnly ? ' (read-only, called with EVALSHA_RO)' : ''}; ${keysText(contract)}.`,
    ...(errors.length > 0 ? [`Fails with: ${errors.join(', ')} (classes in \`./errors.ts\`).`] : []),
  ])
  if (hasArgs) {
    out += `export function ${fn}(runner: ScriptCaller, namespace: Namespace, args: ${type}Args): Promise<${type}Reply> {\n`
    out += `  return runner.call(${fn}Script, namespace, args) as Promise<${type}Reply>\n}\n`
  } else {
    out += `export function ${fn}(runner: ScriptCaller, namespace: Namespace): Promise<${type}Reply> {\n`
    out += `  return runner.call(${fn}Script, namespace, {}) as Promise<${type}Reply>\n}\n`
  }
  return out
}

export function emitScriptsTs(scripts: readonly EmittedScript[]): string {
  const sorted = [...scripts].sort((a, b) => (a.contract.name < b.contract.name ? -1 : 1))
  let out = `// ${GENERATED_BY}\n`
  out += "import type { ScriptDefinition } from '../contract.js'\n"
  out += "import type { Namespace } from '../keys.js'\n"
  out += "import type { ScriptCaller } from '../script-caller.js'\n\n"
  for (const script of sorted) out += scriptSection(script) + '\n'
  out += doc(['Every script, sorted by name: what the loader SCRIPT LOADs.'])
  const consts = sorted.map((script) => `${camelCase(script.contract.name)}Script`)
  out += `export const allScripts: readonly ScriptDefinition[] = ${tsValue(consts.map((name) => new Raw(name)), '')}\n\n`
  out += doc(['Scripts by their kebab-case name.'])
  const byName: Record<string, Raw> = {}
  sorted.forEach((script, index) => {
    byName[script.contract.name] = new Raw(consts[index] as string)
  })
  out += `export const scriptsByName: Readonly<Record<string, ScriptDefinition>> = ${tsValue(byName, '')}\n`
  return out
}

/** `TM_BAD_ARGUMENT` → `BadArgumentError`. */
export function errorClassName(code: string): string {
  return (
    code
      .replace(/^TM_/, '')
      .toLowerCase()
      .split('_')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join('') + 'Error'
  )
}

export function emitErrorsTs(registry: Readonly<Record<string, string>>): string {
  const codes = Object.keys(registry).sort()
  let out = `// ${GENERATED_BY}\n`
  out += "import { TaskmillScriptError, type ScriptErrorContext } from '../errors.js'\n\n"
  for (const code of codes) {
    const name = errorClassName(code)
    out += doc([registry[code] as string, '', `Raised by a script as \`${code} <detail>\`.`])
    out += `export class ${name} extends TaskmillScriptError {\n`
    out += `  static readonly code = ${tsString(code)} as const\n\n`
    out += '  constructor(detail: string, context: ScriptErrorContext) {\n'
    out += `    super(${tsString(code)}, detail, context)\n`
    out += '  }\n}\n\n'
  }
  out += doc(['The class for each code, for turning an error reply into a typed error.'])
  const byCode: Record<string, Raw> = {}
  for (const code of codes) byCode[code] = new Raw(errorClassName(code))
  out += `export const errorClassesByCode: Record<string, new (detail: string, context: ScriptErrorContext) => TaskmillScriptError> = ${tsValue(byCode, '')}\n`
  return out
}
