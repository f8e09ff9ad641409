/**
 * The two small type grammars of the header: argument types (`integer[0,10]=3`, `enum(a|b)?`)
 * and reply types (`nil | { id: string, tags: string[] }`). Both parsers return either a value or
 * a message a person can act on; the caller adds the file and line.
 */
import type { ArgType, ReplyType } from '../loader/contract.js'

/** JavaScript numbers are exact up to here, and so are Lua's doubles. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER

export interface ParsedArgType {
  readonly type: ArgType
  readonly optional: boolean
  /** Present for `=<default>`; never for `?`. */
  readonly defaultValue?: string
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

const INTEGER_TEXT = /^-?\d+$/
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/
const ENUM_WORD = /^[A-Za-z0-9_.:-]+$/
const ID_TEXT = /^[A-Za-z0-9_.:-]{1,128}$/
/** A task of another partition: `<partition>/<id>`, the partition without leading zeros. */
const REF_TEXT = /^(0|[1-9][0-9]{0,3})\/[A-Za-z0-9_.:-]{1,128}$/

export const ARG_TYPE_FORMS =
  'integer[min,max], number[min,max], id, string[min,max], bytes, enum(a|b|c), boolean, idlist[max] (idlist[max,total] in a group) or reflist[max]'

/** Parses one argument type as written in `@arg` or `@field`, including a `?` or `=default` suffix. */
export function parseArgType(text: string): Parsed<ParsedArgType> {
  let rest = text
  let optional = false
  let defaultValue: string | undefined
  const equals = findDefault(text)
  if (equals >= 0) {
    rest = text.slice(0, equals)
    defaultValue = text.slice(equals + 1)
    optional = true
  } else if (text.endsWith('?')) {
    rest = text.slice(0, -1)
    optional = true
  }
  const type = parseBareArgType(rest)
  if (!type.ok) return type
  if (defaultValue !== undefined) {
    const problem = checkValue(type.value, defaultValue)
    if (problem !== undefined) {
      return { ok: false, message: `the default "${defaultValue}" is not valid for ${rest}: expected ${problem}` }
    }
  }
  const parsed: ParsedArgType =
    defaultValue === undefined ? { type: type.value, optional } : { type: type.value, optional, defaultValue }
  return { ok: true, value: parsed }
}

/** The `=` that starts a default: the first one outside `enum(...)`. */
function findDefault(text: string): number {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === '=' && depth === 0) return i
  }
  return -1
}

function parseBareArgType(text: string): Parsed<ArgType> {
  const fail = (message: string): Parsed<ArgType> => ({ ok: false, message })
  const ranged = /^(integer|number|string)\[([^\],]*),([^\]]*)\]$/.exec(text)
  if (ranged) {
    const [, kind, minText = '', maxText = ''] = ranged
    const pattern = kind === 'number' ? DECIMAL_TEXT : INTEGER_TEXT
    for (const bound of [minText, maxText]) {
      if (!pattern.test(bound)) {
        return fail(`${text}: the bound "${bound}" is not ${kind === 'number' ? 'a decimal number' : 'an integer'}`)
      }
    }
    const min = Number(minText)
    const max = Number(maxText)
    if (Math.abs(min) > MAX_SAFE || Math.abs(max) > MAX_SAFE) {
      return fail(`${text}: bounds must lie within ±${MAX_SAFE}, where Lua and JavaScript numbers are exact`)
    }
    if (min > max) return fail(`${text}: the minimum is greater than the maximum`)
    if (kind === 'string' && min < 0) return fail(`${text}: a length cannot be negative`)
    return { ok: true, value: { kind: kind as 'integer' | 'number' | 'string', min, max } }
  }
  if (/^(integer|number|string)$/.test(text)) {
    return fail(`${text} needs a range, e.g. ${text}[0,100]`)
  }
  if (text === 'id' || text === 'bytes' || text === 'boolean') return { ok: true, value: { kind: text } }
  const idlist = /^idlist\[(\d+)(?:,(\d+))?\]$/.exec(text)
  if (idlist) {
    const max = Number(idlist[1])
    if (max < 1 || max > MAX_SAFE) return fail(`${text}: the maximum count must be a positive integer`)
    if (idlist[2] === undefined) return { ok: true, value: { kind: 'idlist', max } }
    const total = Number(idlist[2])
    if (total < max || total > MAX_SAFE) return fail(`${text}: the total must be at least the maximum count of one list`)
    return { ok: true, value: { kind: 'idlist', max, total } }
  }
  if (text === 'idlist') return fail('idlist needs a maximum count, e.g. idlist[100]')
  const reflist = /^reflist\[(\d+)\]$/.exec(text)
  if (reflist) {
    const max = Number(reflist[1])
    if (max < 1 || max > MAX_SAFE) return fail(`${text}: the maximum count must be a positive integer`)
    return { ok: true, value: { kind: 'reflist', max } }
  }
  if (text === 'reflist') return fail('reflist needs a maximum count, e.g. reflist[100]')
  const enumMatch = /^enum\((.*)\)$/.exec(text)
  if (enumMatch) {
    const values = (enumMatch[1] ?? '').split('|')
    for (const value of values) {
      if (!ENUM_WORD.test(value)) {
        return fail(`${text}: "${value}" is not an enum word (use A-Z a-z 0-9 _ . : -, separated by |)`)
      }
    }
    const duplicate = values.find((value, index) => values.indexOf(value) !== index)
    if (duplicate !== undefined) return fail(`${text}: "${duplicate}" is listed twice`)
    return { ok: true, value: { kind: 'enum', values } }
  }
  return fail(`unknown type "${text}"; use ${ARG_TYPE_FORMS}, optionally followed by ? or =default`)
}

/**
 * Checks a value against a type exactly as `lib/args.lua` does at run time; used for defaults.
 * Returns what was expected when the value is not valid.
 */
export function checkValue(type: ArgType, value: string): string | undefined {
  switch (type.kind) {
    case 'integer': {
      const digits = value.replace(/^-/, '')
      const ok = INTEGER_TEXT.test(value) && digits.length <= 16 && !/^-0+$/.test(value)
      const n = Number(value)
      return ok && n >= type.min && n <= type.max ? undefined : `an integer from ${type.min} to ${type.max}`
    }
    case 'number': {
      const ok = DECIMAL_TEXT.test(value) && value.length <= 40 && !/^-0+(\.0+)?$/.test(value)
      const n = Number(value)
      return ok && n >= type.min && n <= type.max ? undefined : `a decimal number from ${type.min} to ${type.max}`
    }
    case 'id':
      return ID_TEXT.test(value) ? undefined : 'an id'
    case 'string': {
      const length = Buffer.byteLength(value)
      return length >= type.min && length <= type.max ? undefined : `${type.min} to ${type.max} bytes`
    }
    case 'bytes':
      return undefined
    case 'enum':
      return type.values.includes(value) ? undefined : `one of ${type.values.join(', ')}`
    case 'boolean':
      return value === '1' || value === '0' ? undefined : '1 or 0'
    case 'idlist': {
      if (value === '') return undefined
      const ids = value.split(',')
      return ids.length <= type.max && ids.every((id) => ID_TEXT.test(id))
        ? undefined
        : `at most ${type.max} comma-separated ids`
    }
    case 'reflist': {
      if (value === '') return undefined
      const refs = value.split(',')
      return refs.length <= type.max && refs.every((ref) => REF_TEXT.test(ref))
        ? undefined
        : `at most ${type.max} comma-separated <partition>/<id> references`
    }
  }
}

/** Writes a type back in header syntax: the canonical form used for hashing. */
export function formatArgType(type: ArgType): string {
  switch (type.kind) {
    case 'integer':
    case 'number':
    case 'string':
      return `${type.kind}[${type.min},${type.max}]`
    case 'idlist':
      return type.total === undefined ? `idlist[${type.max}]` : `idlist[${type.max},${type.total}]`
    case 'reflist':
      return `reflist[${type.max}]`
    case 'enum':
      return `enum(${type.values.join('|')})`
    default:
      return type.kind
  }
}

// ---------------------------------------------------------------------------------------------
// Reply types
//
//   type    := primary ('|' primary)*
//   primary := 'integer' | 'string' | 'bytes' | 'nil' | '"literal"' | tuple | record | primary '[]'
//            | '(' type ')'            (grouping, for arrays of unions: ("created" | "exists")[])
//   tuple   := '[' name ':' type (',' name ':' type)* ']'
//   record  := '{' name ['?'] ':' type (',' name ['?'] ':' type)* '}'
// ---------------------------------------------------------------------------------------------

interface Token {
  readonly text: string
  /** 0-based offset in the reply text. */
  readonly offset: number
}

const TOKEN = /\s*(?:("[^"]*")|([A-Za-z_][A-Za-z0-9_]*)|(\[\])|([[\]{}()|:,?]))/y

class ReplyParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let position = 0
  for (;;) {
    while (position < text.length && /\s/.test(text[position] ?? '')) position++
    if (position >= text.length) return tokens
    TOKEN.lastIndex = position
    const match = TOKEN.exec(text)
    if (!match) {
      throw new ReplyParseError(`unexpected character "${text[position]}"`, position)
    }
    const tokenText = match[1] ?? match[2] ?? match[3] ?? match[4] ?? ''
    tokens.push({ text: tokenText, offset: match.index + match[0].length - tokenText.length })
    position = TOKEN.lastIndex
  }
}

/**
 * Parses a reply type. On failure the result carries the offset of the offending token, so the
 * caller can point at the right `@reply` line when the type spans several.
 */
export function parseReplyType(text: string): Parsed<ReplyType> & { offset?: number } {
  try {
    const tokens = tokenize(text)
    let index = 0
    const peek = (): Token | undefined => tokens[index]
    const where = (): number => peek()?.offset ?? text.length
    const describe = (): string => {
      const token = peek()
      return token === undefined ? 'the end of the reply' : `"${token.text}"`
    }
    const expect = (tokenText: string): void => {
      if (peek()?.text !== tokenText) {
        throw new ReplyParseError(`expected "${tokenText}", got ${describe()}`, where())
      }
      index++
    }
    const name = (): string => {
      const token = peek()
      if (token === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(token.text)) {
        throw new ReplyParseError(`expected a field name, got ${describe()}`, where())
      }
      index++
      return token.text
    }
    const parseType = (): ReplyType => {
      const members: ReplyType[] = [parsePrimary()]
      while (peek()?.text === '|') {
        index++
        members.push(parsePrimary())
      }
      if (members.length === 1) return members[0] as ReplyType
      const flat = members.flatMap((member) => (member.kind === 'union' ? member.members : [member]))
      return { kind: 'union', members: flat }
    }
    const parsePrimary = (): ReplyType => {
      const token = peek()
      if (token === undefined) throw new ReplyParseError('expected a type, got the end of the reply', text.length)
      let type: ReplyType
      if (token.text === 'integer' || token.text === 'string' || token.text === 'bytes' || token.text === 'nil') {
        index++
        type = { kind: token.text }
      } else if (token.text === '(') {
        index++
        type = parseType()
        expect(')')
      } else if (token.text.startsWith('"')) {
        index++
        type = { kind: 'literal', value: token.text.slice(1, -1) }
      } else if (token.text === '[') {
        index++
        const members: { name: string; type: ReplyType }[] = []
        do {
          if (members.length > 0) index++
          const memberName = name()
          expect(':')
          members.push({ name: memberName, type: parseType() })
        } while (peek()?.text === ',')
        expect(']')
        type = { kind: 'tuple', members }
      } else if (token.text === '{') {
        index++
        const fields: { name: string; optional: boolean; type: ReplyType }[] = []
        do {
          if (fields.length > 0) index++
          const fieldOffset = where()
          const fieldName = name()
          if (fields.some((field) => field.name === fieldName)) {
            throw new ReplyParseError(`the record has two fields named ${fieldName}`, fieldOffset)
          }
          const optional = peek()?.text === '?'
          if (optional) index++
          expect(':')
          fields.push({ name: fieldName, optional, type: parseType() })
        } while (peek()?.text === ',')
        expect('}')
        type = { kind: 'record', fields }
      } else {
        throw new ReplyParseError(
          `expected a type (integer, string, bytes, nil, "literal", [tuple] or {record}), got ${describe()}`,
          where(),
        )
      }
      while (peek()?.text === '[]') {
        index++
        type = { kind: 'array', element: type }
      }
      return type
    }
    const type = parseType()
    if (index < tokens.length) {
      throw new ReplyParseError(`unexpected ${describe()} after a complete type`, where())
    }
    return { ok: true, value: type }
  } catch (error) {
    if (error instanceof ReplyParseError) return { ok: false, message: error.message, offset: error.offset }
    throw error
  }
}

/** Writes a reply type back in header syntax, spaced canonically. */
export function formatReplyType(type: ReplyType): string {
  switch (type.kind) {
    case 'integer':
    case 'string':
    case 'bytes':
    case 'nil':
      return type.kind
    case 'literal':
      return `"${type.value}"`
    case 'union':
      return type.members.map(formatReplyType).join(' | ')
    case 'array': {
      const element = formatReplyType(type.element)
      return type.element.kind === 'union' ? `(${element})[]` : `${element}[]`
    }
    case 'tuple':
      return `[${type.members.map((member) => `${member.name}: ${formatReplyType(member.type)}`).join(', ')}]`
    case 'record':
      return `{ ${type.fields
        .map((field) => `${field.name}${field.optional ? '?' : ''}: ${formatReplyType(field.type)}`)
        .join(', ')} }`
  }
}
