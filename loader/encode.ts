/**
 * Turns a wrapper's argument object into ARGV, as declared by the script's header.
 *
 * Encoding only spells values the way the header's types read them; it does not validate.
 * The script validates every argument before its first write (codegen generates that check),
 * so there is one source of truth for what is acceptable and a bad value comes back as
 * `TM_BAD_ARGUMENT` naming the argument.
 */
import type { ArgSpec, ArgType, ScriptDefinition } from './contract.js'

export type EncodedArg = string | Buffer

/** ARGV for one call: the declared args in order, then each group element's fields in order. */
export function encodeArgs(definition: ScriptDefinition, args: Readonly<Record<string, unknown>>): EncodedArg[] {
  const argv: EncodedArg[] = definition.args.map((spec) => encodeValue(spec, args[spec.name]))
  const group = definition.group
  if (group !== undefined) {
    const elements = args[group.name]
    if (elements !== undefined && elements !== null) {
      if (!Array.isArray(elements)) {
        throw new TypeError(`${definition.name}: argument ${group.name} must be an array`)
      }
      for (const element of elements as readonly unknown[]) {
        const fields = (element ?? {}) as Readonly<Record<string, unknown>>
        for (const spec of group.fields) argv.push(encodeValue(spec, fields[spec.name]))
      }
    }
  }
  return argv
}

function encodeValue(spec: ArgSpec, value: unknown): EncodedArg {
  // An absent value travels as '' in both cases: the script applies the default of an optional
  // argument, and rejects a required one with TM_BAD_ARGUMENT naming it.
  if (value === undefined || value === null) return ''
  return encodeByType(spec.type, value)
}

function encodeByType(type: ArgType, value: unknown): EncodedArg {
  switch (type.kind) {
    case 'integer':
    case 'number':
      return typeof value === 'number' ? formatDecimal(value) : String(value)
    case 'boolean':
      return value === true ? '1' : value === false ? '0' : String(value)
    case 'idlist':
    case 'reflist':
      return Array.isArray(value) ? value.map(String).join(',') : String(value)
    case 'bytes':
      return Buffer.isBuffer(value) ? value : value instanceof Uint8Array ? Buffer.from(value) : String(value)
    case 'id':
    case 'string':
    case 'enum':
      return String(value)
  }
}

/**
 * Decimal notation without an exponent, because the scripts accept only plain decimals
 * (`String(1e21)` is `"1e+21"`, `String(1e-7)` is `"1e-7"`). The digits are JavaScript's
 * shortest round-trip digits, only the decimal point moves. Non-finite values pass through as
 * text for the script to reject.
 */
export function formatDecimal(value: number): string {
  const plain = String(value)
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(plain)
  if (match === null) return plain
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match
  const digits = whole + fraction
  const point = whole.length + Number(exponent)
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length)
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}
