/**
 * The one place where taskmill's Redis key names are spelled.
 *
 * Every key of one scheduler lives under `tm:{<namespace>}:`, so the hash tag `{<namespace>}`
 * puts them all in one Redis Cluster slot and every script runs on a cluster unchanged.
 * The set of keys is fixed per namespace (no key per task): scripts receive all of them in
 * KEYS and never build a key name themselves.
 */

/** Key names with the Redis type they hold; scripts' `@key` tags must use these names. */
export const KEY_TYPES = {
  meta: 'hash',
  task: 'hash',
  ready: 'zset',
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
} as const

export type KeyName = keyof typeof KEY_TYPES

export const KEY_NAMES = Object.keys(KEY_TYPES).sort() as KeyName[]

/** Namespaces are part of every key and of the hash tag, so braces and spaces are out. */
const NAMESPACE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

export function isKeyName(name: string): name is KeyName {
  return Object.prototype.hasOwnProperty.call(KEY_TYPES, name)
}

/** The pattern a person reads in docs and in the manifest. */
export function keyPattern(name: KeyName): string {
  return `tm:{<namespace>}:${name}`
}

/** One scheduler's key space. */
export class Namespace {
  readonly name: string
  readonly prefix: string

  constructor(name: string) {
    if (!NAMESPACE_PATTERN.test(name)) {
      throw new TypeError(
        `namespace ${JSON.stringify(name)} is not valid: use 1 to 64 characters of A-Z a-z 0-9 _ . : -`,
      )
    }
    this.name = name
    this.prefix = `tm:{${name}}:`
  }

  key(name: KeyName): string {
    return this.prefix + name
  }

  /** Every key of this namespace, for tests and tools that inspect or delete them all. */
  allKeys(): string[] {
    return KEY_NAMES.map((name) => this.key(name))
  }
}
