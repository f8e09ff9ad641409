/**
 * How payloads and results travel. Redis stores bytes: a string (as UTF-8) or a Buffer goes as it
 * is, and nothing (undefined or null) as the empty string. With `json: true` on the Scheduler and
 * the Worker, a value goes as its JSON text, and the empty string stands for undefined (no
 * payload, a handler that returned nothing). Anything else is refused here rather than sent:
 * ioredis would send an object as the text `[object Object]`. The Scheduler throws a refusal at
 * its caller as a TypeError; the Worker fails the task with it, not retryable, since the same
 * handler or payload would be refused again.
 */

export type Encoded = { ok: true; bytes: string | Buffer } | { ok: false; why: string }
export type Decoded = { ok: true; value: unknown } | { ok: false; why: string }

/** A string or a Buffer as it is; `fix` says what to do instead, for anything else. */
export function encodeBytes(value: unknown, fix: string): Encoded {
  if (value === undefined || value === null) return { ok: true, bytes: '' }
  if (typeof value === 'string' || Buffer.isBuffer(value)) return { ok: true, bytes: value }
  return { ok: false, why: `expected a string or a Buffer, got ${describeValue(value)}: ${fix}` }
}

export function encodeJson(value: unknown): Encoded {
  if (value === undefined) return { ok: true, bytes: '' }
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    return { ok: false, why: `cannot be written as JSON: ${(error as Error).message}` }
  }
  // JSON.stringify returns undefined for a function or a symbol.
  if (text === undefined) return { ok: false, why: `${describeValue(value)} cannot be written as JSON` }
  return { ok: true, bytes: text }
}

export function decodeJson(bytes: Buffer): Decoded {
  if (bytes.length === 0) return { ok: true, value: undefined }
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) }
  } catch (error) {
    return { ok: false, why: `not JSON (${(error as Error).message})` }
  }
}

/** A value's kind, for a message: `an object`, `a Uint8Array`, `the number 42`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') {
    const name: unknown = Object.getPrototypeOf(value)?.constructor?.name
    return typeof name !== 'string' || name === 'Object' ? 'an object' : `a ${name}`
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `the ${typeof value} ${String(value)}`
  return `a ${typeof value}`
}
