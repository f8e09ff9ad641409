/**
 * The one place where taskmill's Redis key names are spelled.
 *
 * Every key of one scheduler lives under `tm:{<namespace>}:`, so the hash tag `{<namespace>}`
 * puts them all in one Redis Cluster slot and every script runs on a cluster unchanged.
 * The set of keys is fixed per namespace (no key per task): scripts receive all of them in
 * KEYS and never build a key name themselves.
 *
 * One kind of KEYS entry names no stored key: a channel prefix (type `channel`), such as
 * `tm:{<namespace>}:wake:`. A script may only append a suffix to it (a node id) and publish on
 * the result with SPUBLISH or PUBLISH; codegen refuses any other use. Passing it in KEYS keeps
 * the rule that scripts build no names from scratch, and the shared hash tag puts every such
 * shard channel in the namespace's slot, where Redis Cluster lets the script publish.
 */

/** Key names with the Redis type they hold; scripts' `@key` tags must use these names. */
export const KEY_TYPES = {
  meta: 'hash',
  task: 'hash',
  ready: 'zset',
  /** Ready tasks again, as `<queue>><score>><task>`: a queue's ready tasks are one lex range. */
  'ready-by-queue': 'zset',
  delayed: 'zset',
  leases: 'zset',
  assigned: 'zset',
  running: 'zset',
  edges: 'zset',
  deps: 'hash',
  propagation: 'list',
  done: 'zset',
  dead: 'zset',
  nodes: 'hash',
  free: 'zset',
  seen: 'zset',
  events: 'stream',
  /** Prefix of the nodes' wake channels: `tm:{<namespace>}:wake:<nodeId>`. */
  wake: 'channel',
  /**
   * Outcomes of finished tasks on their way to the partitions where tasks depend on them:
   * `<partition>><task>` to the packed outcome (scripts-lua/lib/outbox.lua).
   */
  outbox: 'hash',
  /** The outbox's entries by when a relay may take them: 0 when due, else the end of a relay's lease. */
  relay: 'zset',
  /** Repeating schedules: schedule id to its packed record (scripts-lua/lib/schedule.lua). */
  schedules: 'hash',
  /** Active schedules by their next fire time; paused and ended ones are not in it. */
  'schedule-due': 'zset',
} as const

export type KeyName = keyof typeof KEY_TYPES

/** What a KEYS entry holds: a Redis data type, or `channel` for a channel prefix. */
export type KeyType = (typeof KEY_TYPES)[KeyName]

export const KEY_NAMES = Object.keys(KEY_TYPES).sort() as KeyName[]

/** The names that are stored keys, channel prefixes left out. */
export const STORED_KEY_NAMES = KEY_NAMES.filter((name) => KEY_TYPES[name] !== 'channel')

/** Namespaces are part of every key and of the hash tag, so braces and spaces are out. */
const NAMESPACE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

export function isKeyName(name: string): name is KeyName {
  return Object.prototype.hasOwnProperty.call(KEY_TYPES, name)
}

/**
 * The KEYS entry for `name` below a prefix: the prefix and the name, and for a channel prefix
 * a final `:` before which nothing more is added and after which a script appends the suffix.
 */
export function keyUnder(prefix: string, name: string, type: string): string {
  return type === 'channel' ? `${prefix}${name}:` : `${prefix}${name}`
}

/** The pattern a person reads in docs and in the manifest. */
export function keyPattern(name: KeyName): string {
  return keyUnder('tm:{<namespace>}:', name, KEY_TYPES[name])
}

/**
 * A partition's hash tag: the namespace for partition 0 (so a namespace created before
 * partitions existed is its own partition 0), `<namespace>/<index>` or `<namespace>/<index>.<salt>`
 * for the others. `/` cannot occur in a namespace, so no partition's keys collide with another
 * namespace's. The salt lets the partition table pick a tag whose slot sits on a chosen shard.
 */
const PARTITION_TAG_PATTERN = /^([A-Za-z0-9_.:-]{1,64})\/([1-9][0-9]{0,3})(?:\.([0-9]{1,6}))?$/

/** The hash tag of partition `index` of `namespace`, with an optional salt (see PARTITION_TAG_PATTERN). */
export function partitionTag(namespace: string, index: number, salt?: number): string {
  if (index === 0) return namespace
  return salt === undefined ? `${namespace}/${index}` : `${namespace}/${index}.${salt}`
}

/**
 * One scheduler's key space: a namespace, or one partition of it. Every key of one partition
 * shares the hash tag, so the partition lives in one cluster slot and each script runs on the
 * shard that holds it.
 */
export class Namespace {
  readonly name: string
  /** Which partition of the namespace these keys are; 0 for an unpartitioned namespace. */
  readonly partition: number
  /** The hash tag between the braces: the namespace itself for partition 0. */
  readonly tag: string
  readonly prefix: string

  constructor(name: string, partition?: { index: number; tag: string }) {
    if (!NAMESPACE_PATTERN.test(name)) {
      throw new TypeError(
        `namespace ${JSON.stringify(name)} is not valid: use 1 to 64 characters of A-Z a-z 0-9 _ . : -`,
      )
    }
    this.name = name
    this.partition = partition?.index ?? 0
    this.tag = partition?.tag ?? name
    if (partition !== undefined) {
      const match = PARTITION_TAG_PATTERN.exec(partition.tag)
      const valid =
        partition.index === 0
          ? partition.tag === name
          : match !== null && match[1] === name && Number(match[2]) === partition.index
      if (!valid) {
        throw new TypeError(
          `partition tag ${JSON.stringify(partition.tag)} is not that of partition ${partition.index} of namespace ${name}`,
        )
      }
    }
    this.prefix = `tm:{${this.tag}}:`
  }

  /** What a script receives in KEYS for `name`; for a channel prefix, the prefix itself. */
  key(name: KeyName): string {
    return keyUnder(this.prefix, name, KEY_TYPES[name])
  }

  /** The shard channel a node listens on for wake-ups (SSUBSCRIBE it on the namespace's shard). */
  wakeChannel(nodeId: string): string {
    return this.key('wake') + nodeId
  }

  /**
   * Every stored key of this namespace, for tests and tools that inspect or delete them all.
   * Channel prefixes are left out: a channel holds nothing, so there is nothing to DUMP or DEL.
   */
  allKeys(): string[] {
    return STORED_KEY_NAMES.map((name) => this.key(name))
  }
}
