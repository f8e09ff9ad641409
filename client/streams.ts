/**
 * Blocking reads of taskmill's event stream. A blocked XREAD holds its connection, so each
 * reader owns a duplicate of the caller's connection and closes it when done.
 */
import { Cluster, type Redis } from 'ioredis'
import { aclUser, describeTarget, quietErrors } from '../loader/connect.js'
import { classifyRedisFailure } from '../loader/redis-failures.js'

export interface StreamEntry {
  readonly id: string
  /** The entry's field/value pairs in order; a field may repeat (one event stream entry holds several events). */
  readonly pairs: readonly string[]
}

/** Reads entries after `lastId`, waiting up to `blockMs` (0 waits forever) for the first one. */
export async function readStream(
  redis: Redis | Cluster,
  key: string,
  lastId: string,
  blockMs: number,
  count = 1000,
): Promise<StreamEntry[]> {
  const reply = (await redis
    .xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, lastId)
    .catch((error: unknown) => rethrow(redis, 'XREAD', error))) as [string, [string, string[]][]][] | null
  const entries: StreamEntry[] = []
  for (const [, items] of reply ?? []) {
    for (const [id, pairs] of items) entries.push({ id, pairs })
  }
  return entries
}

/** One entry by its id, or undefined when it was trimmed away. */
export async function readEntry(redis: Redis | Cluster, key: string, id: string): Promise<StreamEntry | undefined> {
  const reply = (await redis
    .xrange(key, id, id)
    .catch((error: unknown) => rethrow(redis, 'XRANGE', error))) as [string, string[]][]
  const [entry] = reply
  return entry === undefined ? undefined : { id: entry[0], pairs: entry[1] }
}

/** The id of the newest entry, or '0-0' for an empty or missing stream. */
export async function lastStreamId(redis: Redis | Cluster, key: string): Promise<string> {
  const newest = (await redis
    .xrevrange(key, '+', '-', 'COUNT', 1)
    .catch((error: unknown) => rethrow(redis, 'XREVRANGE', error))) as [string, string[]][]
  return newest[0]?.[0] ?? '0-0'
}

/**
 * A new connection to the same Redis or cluster, for a reader that blocks. It is taskmill's
 * own, so it gets the quiet 'error' listener of the connections taskmill opens (see
 * `quietErrors` in loader/connect.ts): ioredis does not copy listeners to a duplicate.
 */
export function duplicateConnection(redis: Redis | Cluster): Redis | Cluster {
  return quietErrors(redis instanceof Cluster ? redis.duplicate() : redis.duplicate())
}

/** A lost connection (or OOM, or a missing ACL permission) as taskmill's error; other errors as they are. */
function rethrow(redis: Redis | Cluster, command: string, error: unknown): never {
  throw classifyRedisFailure(error, { command, target: describeTarget(redis), user: aclUser(redis) }) ?? error
}
