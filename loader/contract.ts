/**
 * The shape of a script's contract as codegen emits it into `loader/generated/`.
 * Runtime code (the runner, argument encoding, reply decoding) reads these descriptors;
 * the header in `scripts-lua/<name>.lua` is their only source.
 */

/** A declared argument or group field type, parsed from the header. */
export type ArgType =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'id' }
  | { kind: 'string'; min: number; max: number }
  | { kind: 'bytes' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'boolean' }
  /** `total`: a group field's ids over all the group's elements together, at most this many. */
  | { kind: 'idlist'; max: number; total?: number }
  /** Comma-separated references to tasks of other partitions, `<partition>/<id>`. */
  | { kind: 'reflist'; max: number }

export interface ArgSpec {
  /** camelCase name, as in the header. */
  readonly name: string
  readonly type: ArgType
  /** Optional arguments travel as an empty string when absent. */
  readonly optional: boolean
  /** The default the script applies to an empty string, as written in the header. */
  readonly defaultValue?: string
  readonly meaning: string
}

export interface KeySpec {
  /** kebab-case name, one of `loader/keys.ts`. */
  readonly name: string
  readonly redisType: 'hash' | 'zset' | 'set' | 'list' | 'stream' | 'string' | 'channel'
  readonly meaning: string
}

export interface GroupSpec {
  readonly name: string
  readonly min: number
  readonly max: number
  readonly meaning: string
  readonly fields: readonly ArgSpec[]
}

export type ReplyType =
  | { kind: 'integer' }
  | { kind: 'string' }
  | { kind: 'bytes' }
  | { kind: 'nil' }
  | { kind: 'literal'; value: string }
  | { kind: 'union'; members: readonly ReplyType[] }
  | { kind: 'array'; element: ReplyType }
  | { kind: 'tuple'; members: readonly { name: string; type: ReplyType }[] }
  | { kind: 'record'; fields: readonly { name: string; optional: boolean; type: ReplyType }[] }

export interface ScriptDefinition {
  /** kebab-case script name, equal to the file name in `scripts-lua/`. */
  readonly name: string
  /** Contract version from the header. */
  readonly version: number
  readonly summary: string
  readonly readOnly: boolean
  /** SHA1 of `source`, what SCRIPT LOAD returns. */
  readonly sha: string
  /** The expanded Lua that runs in Redis. */
  readonly source: string
  readonly keys: readonly KeySpec[]
  readonly args: readonly ArgSpec[]
  readonly group?: GroupSpec
  readonly reply: ReplyType
  readonly errors: readonly string[]
}
