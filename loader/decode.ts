/**
 * Turns a raw script reply (as ioredis returns it from `callBuffer`: numbers, Buffers, null and
 * arrays of them) into the value the header's `@reply` declares.
 *
 * Records travel as flat `[field, value, ...]` arrays, like HGETALL, and become plain objects
 * holding only the declared fields. A union is resolved by the reply's runtime shape; for an
 * array reply that several array-like members could take, a record wins when its field names
 * fit, then a tuple of exactly that length, then a plain array.
 */
import type { ReplyType } from './contract.js'

/** The reply does not have the declared shape; the runner reports it as an unexpected error. */
export class ReplyShapeError extends Error {
  constructor(path: string, expected: string, actual: unknown) {
    super(`reply${path} should be ${expected} but is ${describe(actual)}`)
    this.name = 'ReplyShapeError'
  }
}

export function decodeReply(reply: unknown, type: ReplyType): unknown {
  return decode(reply, type, '')
}

function decode(reply: unknown, type: ReplyType, path: string): unknown {
  switch (type.kind) {
    case 'integer':
      if (typeof reply === 'number') return reply
      throw new ReplyShapeError(path, 'an integer', reply)
    case 'string':
      if (Buffer.isBuffer(reply)) return reply.toString('utf8')
      if (typeof reply === 'string') return reply
      throw new ReplyShapeError(path, 'a string', reply)
    case 'bytes':
      if (Buffer.isBuffer(reply)) return reply
      if (typeof reply === 'string') return Buffer.from(reply, 'utf8')
      throw new ReplyShapeError(path, 'bytes', reply)
    case 'nil':
      if (reply === null || reply === undefined) return null
      throw new ReplyShapeError(path, 'nil', reply)
    case 'literal': {
      const text = Buffer.isBuffer(reply) ? reply.toString('utf8') : reply
      if (text === type.value) return text
      throw new ReplyShapeError(path, JSON.stringify(type.value), reply)
    }
    case 'array':
      if (!Array.isArray(reply)) throw new ReplyShapeError(path, 'an array', reply)
      return reply.map((element, i) => decode(element, type.element, `${path}[${i}]`))
    case 'tuple': {
      if (!Array.isArray(reply) || reply.length !== type.members.length) {
        throw new ReplyShapeError(path, `a tuple of ${type.members.length}`, reply)
      }
      return type.members.map((member, i) => decode(reply[i], member.type, `${path}.${member.name}`))
    }
    case 'record':
      return decodeRecord(reply, type, path)
    case 'union':
      return decode(reply, pickMember(reply, type.members, path), path)
  }
}

type RecordType = Extract<ReplyType, { kind: 'record' }>

function decodeRecord(reply: unknown, type: RecordType, path: string): Record<string, unknown> {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) {
    throw new ReplyShapeError(path, 'a record (a flat array of field/value pairs)', reply)
  }
  const raw = new Map<string, unknown>()
  for (let i = 0; i < reply.length; i += 2) raw.set(fieldName(reply[i]), reply[i + 1])
  const result: Record<string, unknown> = {}
  for (const field of type.fields) {
    if (!raw.has(field.name)) {
      if (field.optional) continue
      throw new ReplyShapeError(`${path}.${field.name}`, 'present', undefined)
    }
    result[field.name] = decode(raw.get(field.name), field.type, `${path}.${field.name}`)
  }
  return result
}

function fieldName(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

function flatten(members: readonly ReplyType[]): ReplyType[] {
  return members.flatMap((member) => (member.kind === 'union' ? flatten(member.members) : [member]))
}

function pickMember(reply: unknown, members: readonly ReplyType[], path: string): ReplyType {
  const all = flatten(members)
  const found = ((): ReplyType | undefined => {
    if (reply === null || reply === undefined) return all.find((m) => m.kind === 'nil')
    if (typeof reply === 'number') return all.find((m) => m.kind === 'integer')
    if (Buffer.isBuffer(reply) || typeof reply === 'string') {
      const text = Buffer.isBuffer(reply) ? reply.toString('utf8') : reply
      return (
        all.find((m) => m.kind === 'literal' && m.value === text) ??
        all.find((m) => m.kind === 'string' || m.kind === 'bytes')
      )
    }
    if (Array.isArray(reply)) {
      const arrayLike = all.filter((m) => m.kind === 'record' || m.kind === 'tuple' || m.kind === 'array')
      if (arrayLike.length <= 1) return arrayLike[0]
      return (
        arrayLike.find((m) => m.kind === 'record' && recordFits(reply, m)) ??
        arrayLike.find((m) => m.kind === 'tuple' && m.members.length === reply.length) ??
        arrayLike.find((m) => m.kind === 'array')
      )
    }
    return undefined
  })()
  if (found === undefined) throw new ReplyShapeError(path, `one of ${all.map((m) => m.kind).join(' | ')}`, reply)
  return found
}

function recordFits(reply: readonly unknown[], type: RecordType): boolean {
  if (reply.length % 2 !== 0) return false
  const names = new Set(type.fields.map((f) => f.name))
  const seen = new Set<string>()
  for (let i = 0; i < reply.length; i += 2) {
    const name = reply[i]
    if (!Buffer.isBuffer(name) && typeof name !== 'string') return false
    seen.add(fieldName(name))
  }
  return type.fields.every((f) => f.optional || seen.has(f.name)) && [...seen].some((n) => names.has(n))
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nil'
  if (Buffer.isBuffer(value)) return `the string ${JSON.stringify(value.toString('utf8').slice(0, 60))}`
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (typeof value === 'number') return `the integer ${value}`
  return typeof value
}
