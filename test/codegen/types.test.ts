/** The argument and reply type grammars of the header. */
import { describe, expect, it } from 'vitest'
import { checkValue, formatReplyType, parseArgType, parseReplyType } from '../../codegen/types.js'

describe('argument types', () => {
  it.each([
    ['integer[-1000,1000]=0', { type: { kind: 'integer', min: -1000, max: 1000 }, optional: true, defaultValue: '0' }],
    ['number[0,1]', { type: { kind: 'number', min: 0, max: 1 }, optional: false }],
    ['id', { type: { kind: 'id' }, optional: false }],
    ['id=default', { type: { kind: 'id' }, optional: true, defaultValue: 'default' }],
    ['string[0,20]?', { type: { kind: 'string', min: 0, max: 20 }, optional: true }],
    ['bytes', { type: { kind: 'bytes' }, optional: false }],
    ['enum(round-robin|weighted)=weighted', { type: { kind: 'enum', values: ['round-robin', 'weighted'] }, optional: true, defaultValue: 'weighted' }],
    ['boolean=0', { type: { kind: 'boolean' }, optional: true, defaultValue: '0' }],
    ['idlist[50]', { type: { kind: 'idlist', max: 50 }, optional: false }],
    ['reflist[20]=', { type: { kind: 'reflist', max: 20 }, optional: true, defaultValue: '' }],
    ['idlist[50,200]=', { type: { kind: 'idlist', max: 50, total: 200 }, optional: true, defaultValue: '' }],
  ])('parses %s', (text, expected) => {
    expect(parseArgType(text)).toEqual({ ok: true, value: expected })
  })

  it.each([
    ['integer', 'integer needs a range, e.g. integer[0,100]'],
    ['integer[5,1]', 'integer[5,1]: the minimum is greater than the maximum'],
    ['integer[0,99999999999999999]', 'integer[0,99999999999999999]: bounds must lie within ±9007199254740991, where Lua and JavaScript numbers are exact'],
    ['enum(a|a)', 'enum(a|a): "a" is listed twice'],
    ['idlist[50,10]', 'idlist[50,10]: the total must be at least the maximum count of one list'],
    ['float', 'unknown type "float"; use integer[min,max], number[min,max], id, string[min,max], bytes, enum(a|b|c), boolean, idlist[max] (idlist[max,total] in a group) or reflist[max], optionally followed by ? or =default'],
    ['boolean=yes', 'the default "yes" is not valid for boolean: expected 1 or 0'],
  ])('refuses %s', (text, message) => {
    expect(parseArgType(text)).toEqual({ ok: false, message })
  })

  it('checks values like lib/args.lua', () => {
    const integer = { kind: 'integer', min: -1000, max: 1000 } as const
    for (const bad of ['nan', 'inf', '0x10', '1e3', '1.0', ' 1', '+1', '', '-0', '1001']) {
      expect(checkValue(integer, bad), bad).toBe('an integer from -1000 to 1000')
    }
    expect(checkValue(integer, '-1000')).toBeUndefined()
    expect(checkValue({ kind: 'idlist', max: 2 }, 'a,b')).toBeUndefined()
    expect(checkValue({ kind: 'idlist', max: 2 }, 'a,,b')).toBeDefined()
    const reflist = { kind: 'reflist', max: 2 } as const
    expect(checkValue(reflist, '0/a,12/b:c')).toBeUndefined()
    for (const bad of ['a', '/a', '01/a', '10000/a', '1/', '1/a/b', '-1/a', '0/a,1/b,2/c']) {
      expect(checkValue(reflist, bad), bad).toBeDefined()
    }
  })
})

describe('reply types', () => {
  it('parses tuples, records, unions, arrays and grouping', () => {
    expect(parseReplyType('[created: integer, existing: integer]')).toEqual({
      ok: true,
      value: {
        kind: 'tuple',
        members: [
          { name: 'created', type: { kind: 'integer' } },
          { name: 'existing', type: { kind: 'integer' } },
        ],
      },
    })
    const parsed = parseReplyType('nil | { id: string, node?: string, tags: string[], state: "ready" | "done" }')
    expect(parsed.ok && formatReplyType(parsed.value)).toBe(
      'nil | { id: string, node?: string, tags: string[], state: "ready" | "done" }',
    )
    const grouped = parseReplyType('("created" | "exists")[]')
    expect(grouped).toEqual({
      ok: true,
      value: {
        kind: 'array',
        element: { kind: 'union', members: [{ kind: 'literal', value: 'created' }, { kind: 'literal', value: 'exists' }] },
      },
    })
    expect(parseReplyType('[a: integer][]')).toMatchObject({ ok: true, value: { kind: 'array', element: { kind: 'tuple' } } })
  })

  it.each([
    ['{ id: string, }', 'expected a field name, got "}"', 14],
    ['integer |', 'expected a type, got the end of the reply', 9],
    ['number', 'expected a type (integer, string, bytes, nil, "literal", [tuple] or {record}), got "number"', 0],
    ['{ a: integer, a: string }', 'the record has two fields named a', 14],
    ['integer string', 'unexpected "string" after a complete type', 8],
  ])('refuses %s', (text, message, offset) => {
    expect(parseReplyType(text)).toEqual({ ok: false, message, offset })
  })
})
