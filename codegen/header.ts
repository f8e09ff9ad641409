/**
 * Parses the `---` header of a script (the contract, spec in `scripts-lua/README.md`) and of a lib
 * file (`--- @lib <name>` plus its `@include`s). The header ends at the first line that does not
 * start with `---`; everything after it is the body.
 */
import type { ArgSpec, GroupSpec, KeySpec, ReplyType } from '../loader/contract.js'
import type { CodegenError } from './diagnostics.js'
import { parseArgType, parseReplyType } from './types.js'

/**
 * What a KEYS entry holds: a Redis data type, or `channel` for a channel prefix, which names no
 * stored key (see loader/keys.ts).
 */
export type KeyKind = KeySpec['redisType'] | 'channel'
const KEY_KINDS: readonly KeyKind[] = ['hash', 'zset', 'set', 'list', 'stream', 'string', 'channel']

/** A `@key` line. */
export interface ContractKey extends Omit<KeySpec, 'redisType'>, Located {
  readonly redisType: KeyKind
}

/** Where a part of the contract was written, for errors found after parsing. */
export interface Located {
  readonly line: number
}

export interface IncludeRef extends Located {
  /** The lib name, `schema` for `@include "lib/schema"`. */
  readonly name: string
}

/** An @arg or @field with where it was written and its type as written. */
export type ContractArg = ArgSpec & Located & { readonly typeText: string }

export interface ContractGroup extends Omit<GroupSpec, 'fields'>, Located {
  readonly fields: readonly ContractArg[]
}

export interface ScriptContract {
  readonly file: string
  readonly name: string
  readonly nameLine: number
  readonly version: number
  readonly versionLine: number
  readonly summary: string
  readonly readOnly: boolean
  readonly keys: readonly ContractKey[]
  readonly args: readonly ContractArg[]
  readonly group?: ContractGroup
  readonly reply: ReplyType
  /** The `@reply` lines joined, as written. */
  readonly replyText: string
  readonly replyLine: number
  readonly errors: readonly (Located & { code: string })[]
  readonly includes: readonly IncludeRef[]
  /** 1-based line of the first body line. */
  readonly bodyStartLine: number
}

export interface LibHeader {
  readonly file: string
  readonly name: string
  readonly includes: readonly IncludeRef[]
  readonly bodyStartLine: number
}

export const LUA_KEYWORDS = new Set(
  'and break do else elseif end false for function if in local nil not or repeat return then true until while'.split(' '),
)

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/
const CAMEL = /^[a-z][A-Za-z0-9]*$/
const TAG_LINE = /^---\s*@([A-Za-z]+)(?:\s+(.*?))?\s*$/
const INCLUDE = /^"lib\/([A-Za-z0-9_-]+)"$/

interface HeaderLine {
  readonly line: number
  readonly tag: string
  readonly rest: string
}

/** Splits the leading `---` block into tag lines; malformed lines become errors. */
function readHeaderLines(
  file: string,
  lines: readonly string[],
  errors: CodegenError[],
): { tags: HeaderLine[]; bodyStart: number } {
  const tags: HeaderLine[] = []
  let index = 0
  for (; index < lines.length; index++) {
    const text = lines[index] ?? ''
    if (!text.startsWith('---')) break
    const line = index + 1
    if (/^---\s*$/.test(text)) continue
    const match = TAG_LINE.exec(text)
    if (!match) {
      errors.push({
        file,
        line,
        message: `malformed header line "${text.trim()}": header lines are "--- @<tag> ...", one tag per line (use "--" for a plain comment)`,
      })
      continue
    }
    tags.push({ line, tag: match[1] ?? '', rest: match[2] ?? '' })
  }
  return { tags, bodyStart: index + 1 }
}

/** `<word> <rest>`; the rest may be empty. */
function splitWord(text: string): [string, string] {
  const match = /^(\S+)\s*(.*)$/.exec(text)
  return match ? [match[1] ?? '', match[2] ?? ''] : ['', '']
}

export function parseScriptHeader(
  file: string,
  fileName: string,
  source: string,
): { contract?: ScriptContract; errors: CodegenError[] } {
  const errors: CodegenError[] = []
  const error = (line: number, message: string): void => {
    errors.push({ file, line, message })
  }
  const lines = source.split('\n')
  const { tags, bodyStart } = readHeaderLines(file, lines, errors)

  let name: string | undefined
  let nameLine = 1
  let version: number | undefined
  let versionLine = 1
  let summary: string | undefined
  let readOnly = false
  const keys: ContractKey[] = []
  const args: ContractArg[] = []
  let group: (ContractGroup & { fields: ContractArg[] }) | undefined
  const replyParts: { text: string; line: number }[] = []
  const codes: (Located & { code: string })[] = []
  const includes: IncludeRef[] = []
  const boundNames = new Map<string, string>()

  const bind = (line: number, local: string, what: string): void => {
    const previous = boundNames.get(local)
    if (previous !== undefined) {
      error(line, `${what} binds the local ${local}, which ${previous} binds already; names must be unique`)
      return
    }
    boundNames.set(local, what)
  }

  const parseArg = (
    line: number,
    tag: 'arg' | 'field',
    rest: string,
  ): ContractArg | undefined => {
    const [argName, afterName] = splitWord(rest)
    const [typeText, meaning] = splitWord(afterName)
    if (argName === '' || typeText === '') {
      error(line, `@${tag} needs a name, a type and a meaning: "--- @${tag} priority integer[-1000,1000]=0 Higher runs first."`)
      return undefined
    }
    if (!CAMEL.test(argName) || LUA_KEYWORDS.has(argName)) {
      error(line, `@${tag} name "${argName}" must be camelCase (a-z first, then letters and digits) and not a Lua keyword`)
      return undefined
    }
    if (meaning === '') error(line, `@${tag} ${argName} needs a meaning after its type`)
    const parsed = parseArgType(typeText)
    if (!parsed.ok) {
      error(line, `@${tag} ${argName}: ${parsed.message}`)
      return undefined
    }
    const spec = { name: argName, ...parsed.value, meaning, line, typeText }
    return spec
  }

  tags.forEach((header, position) => {
    const { line, tag, rest } = header
    if (position === 0 && tag !== 'script') {
      error(line, `the header must start with "--- @script ${fileName}"`)
    }
    switch (tag) {
      case 'script': {
        if (name !== undefined) return error(line, 'a second @script tag; a file holds one script')
        if (position !== 0) error(line, '@script must be the first header line')
        nameLine = line
        name = rest
        if (!KEBAB.test(rest)) error(line, `script name "${rest}" must be kebab-case, e.g. get-task`)
        else if (rest !== fileName) {
          error(line, `@script ${rest} does not match the file name ${fileName}.lua; rename one of them`)
        }
        return
      }
      case 'version': {
        if (version !== undefined) return error(line, 'a second @version tag')
        versionLine = line
        if (!/^[1-9]\d{0,8}$/.test(rest)) return error(line, `@version must be a positive integer, got "${rest}"`)
        version = Number(rest)
        return
      }
      case 'summary': {
        if (summary !== undefined) return error(line, 'a second @summary tag; the summary is one line')
        if (rest === '') return error(line, '@summary needs a one-line description')
        summary = rest
        return
      }
      case 'readonly': {
        if (rest !== '') return error(line, `@readonly takes nothing after it, got "${rest}"`)
        if (readOnly) return error(line, 'a second @readonly tag')
        readOnly = true
        return
      }
      case 'key': {
        const [keyName, afterName] = splitWord(rest)
        const [redisType, meaning] = splitWord(afterName)
        if (keyName === '' || redisType === '') {
          return error(line, '@key needs a name, a Redis type and a meaning: "--- @key task hash Task id to its record."')
        }
        if (!KEBAB.test(keyName)) return error(line, `key name "${keyName}" must be kebab-case`)
        if (!KEY_KINDS.includes(redisType as KeyKind)) {
          return error(line, `@key ${keyName}: unknown Redis type "${redisType}"; use one of ${KEY_KINDS.join(', ')}`)
        }
        if (meaning === '') error(line, `@key ${keyName} needs a meaning after its Redis type`)
        if (keys.some((key) => key.name === keyName)) return error(line, `key ${keyName} is declared twice`)
        bind(line, keyLocal(keyName), `@key ${keyName}`)
        keys.push({ name: keyName, redisType: redisType as KeyKind, meaning, line })
        return
      }
      case 'arg': {
        if (group !== undefined) {
          return error(line, '@arg after @group: the group takes the rest of ARGV, so every @arg must come before it')
        }
        const arg = parseArg(line, 'arg', rest)
        if (arg === undefined) return
        if (arg.type.kind === 'idlist' && arg.type.total !== undefined) {
          return error(line, `@arg ${arg.name}: a total (idlist[max,total]) counts over a group's elements; an @arg has one list, use idlist[max]`)
        }
        if (args.some((existing) => existing.name === arg.name)) return error(line, `argument ${arg.name} is declared twice`)
        bind(line, arg.name, `@arg ${arg.name}`)
        args.push(arg)
        return
      }
      case 'group': {
        if (group !== undefined) return error(line, 'a second @group; a script has at most one')
        const match = /^(\S+)\s+(\d+)\.\.(\d+)\s*(.*)$/.exec(rest)
        if (!match) {
          return error(line, '@group needs a name, a count range and a meaning: "--- @group tasks 1..5000 The tasks to add."')
        }
        const [, groupName = '', minText = '', maxText = '', meaning = ''] = match
        if (!CAMEL.test(groupName) || LUA_KEYWORDS.has(groupName)) {
          return error(line, `group name "${groupName}" must be camelCase and not a Lua keyword`)
        }
        const min = Number(minText)
        const max = Number(maxText)
        if (min > max) return error(line, `@group ${groupName}: the minimum count ${min} is greater than the maximum ${max}`)
        if (max === 0) return error(line, `@group ${groupName}: the maximum count must be at least 1`)
        if (meaning === '') error(line, `@group ${groupName} needs a meaning after its count range`)
        bind(line, groupName, `@group ${groupName}`)
        group = { name: groupName, min, max, meaning, fields: [], line }
        return
      }
      case 'field': {
        if (group === undefined) return error(line, '@field outside a group: declare "--- @group <name> <min>..<max> <meaning>" first')
        const field = parseArg(line, 'field', rest)
        if (field === undefined) return
        if (group.fields.some((existing) => existing.name === field.name)) {
          return error(line, `field ${field.name} of group ${group.name} is declared twice`)
        }
        group.fields.push(field)
        return
      }
      case 'reply': {
        if (rest === '') return error(line, '@reply needs a type')
        replyParts.push({ text: rest, line })
        return
      }
      case 'error': {
        if (rest === '') return error(line, '@error needs one or more codes, e.g. "--- @error TM_BAD_ARGUMENT TM_UNKNOWN_TASK"')
        for (const code of rest.split(/\s+/)) {
          if (!/^TM_[A-Z][A-Z0-9_]*$/.test(code)) {
            error(line, `"${code}" is not an error code; codes look like TM_UNKNOWN_TASK`)
          } else if (codes.some((existing) => existing.code === code)) {
            error(line, `error code ${code} is declared twice`)
          } else {
            codes.push({ code, line })
          }
        }
        return
      }
      case 'include': {
        const match = INCLUDE.exec(rest)
        if (!match) return error(line, `@include takes a quoted lib path, e.g. @include "lib/schema"; got ${rest || 'nothing'}`)
        const libName = match[1] ?? ''
        if (includes.some((include) => include.name === libName)) return error(line, `lib/${libName} is included twice`)
        includes.push({ name: libName, line })
        return
      }
      case 'lib':
        return error(line, '@lib belongs in lib/ files; a script starts with @script')
      default:
        return error(
          line,
          `unknown tag @${tag}; the header knows @script, @version, @summary, @readonly, @key, @arg, @group, @field, @reply, @error and @include`,
        )
    }
  })

  if (tags.length === 0) {
    error(1, `missing header: a script starts with "--- @script ${fileName}" (see scripts-lua/README.md)`)
  }
  const missing = (tag: string, example: string): void =>
    error(tags.length > 0 ? nameLine : 1, `missing required tag @${tag}: add "--- @${tag} ${example}" to the header`)
  // A tag that is present but malformed has been reported already.
  const seen = new Set(tags.map((header) => header.tag))
  if (tags.length > 0 && !seen.has('script')) missing('script', fileName)
  if (!seen.has('version')) missing('version', '1')
  if (!seen.has('summary')) missing('summary', '<one line>')
  if (!seen.has('reply')) missing('reply', '<type>')
  if (group !== undefined && group.fields.length === 0) {
    error(group.line, `group ${group.name} has no @field lines; declare its fields right after it`)
  }

  let reply: ReplyType | undefined
  const replyText = replyParts.map((part) => part.text).join(' ')
  if (replyParts.length > 0) {
    const parsed = parseReplyType(replyText)
    if (parsed.ok) {
      reply = parsed.value
    } else {
      // Point at the @reply line that holds the offending token.
      let offset = parsed.offset ?? 0
      let at = replyParts[0] as { text: string; line: number }
      for (const part of replyParts) {
        at = part
        if (offset <= part.text.length) break
        offset -= part.text.length + 1
      }
      error(at.line, `@reply: ${parsed.message}`)
    }
  }

  if (errors.length > 0 || name === undefined || version === undefined || summary === undefined || reply === undefined) {
    return { errors }
  }
  const contract: ScriptContract = {
    file,
    name,
    nameLine,
    version,
    versionLine,
    summary,
    readOnly,
    keys,
    args,
    ...(group !== undefined ? { group } : {}),
    reply,
    replyText,
    replyLine: replyParts[0]?.line ?? nameLine,
    errors: codes,
    includes,
    bodyStartLine: bodyStart,
  }
  return { contract, errors }
}

export function parseLibHeader(file: string, fileName: string, source: string): { lib?: LibHeader; errors: CodegenError[] } {
  const errors: CodegenError[] = []
  const lines = source.split('\n')
  const { tags, bodyStart } = readHeaderLines(file, lines, errors)
  let name: string | undefined
  const includes: IncludeRef[] = []
  tags.forEach(({ line, tag, rest }, position) => {
    if (tag === 'lib') {
      if (position !== 0) errors.push({ file, line, message: '@lib must be the first header line' })
      else if (rest !== fileName) {
        errors.push({ file, line, message: `@lib ${rest} does not match the file name ${fileName}.lua; rename one of them` })
      }
      name = rest
    } else if (tag === 'include') {
      const match = INCLUDE.exec(rest)
      if (!match) {
        errors.push({ file, line, message: `@include takes a quoted lib path, e.g. @include "lib/schema"; got ${rest || 'nothing'}` })
      } else if (includes.some((include) => include.name === match[1])) {
        errors.push({ file, line, message: `lib/${match[1]} is included twice` })
      } else {
        includes.push({ name: match[1] ?? '', line })
      }
    } else {
      errors.push({ file, line, message: `unknown tag @${tag} in a lib file; a lib header has only @lib and @include` })
    }
  })
  if (name === undefined) {
    errors.push({ file, line: 1, message: `a lib file must start with "--- @lib ${fileName}"` })
  }
  if (errors.length > 0 || name === undefined) return { errors }
  return { lib: { file, name, includes, bodyStartLine: bodyStart }, errors }
}

/** `node-weight` → `nodeWeightKey`: the local the prelude binds a key to. */
export function keyLocal(keyName: string): string {
  return camelCase(keyName) + 'Key'
}

/** `get-task` → `getTask`. */
export function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

/** `get-task` → `GetTask`. */
export function pascalCase(kebab: string): string {
  const camel = camelCase(kebab)
  return camel.charAt(0).toUpperCase() + camel.slice(1)
}
