/**
 * Blocking reads of taskmill's two streams: the event log (`events`) and the doorbell
 * (`dispatch`). A blocked XREAD holds its connection, so each reader owns a duplicate of the
 * caller's connection and closes it when done.
 */
import { Cluster, type Redis } from 'ioredis'
import { aclUser, describeTarget, quietErrors } from '../loader/connect.js'
import { classifyRedisFailure } from '../loader/redis-failures.js'

export interface StreamEntry {
  readonly id: string
  readonly fields: Readonly<Record<string, string>>
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
    for (const [id, flat] of items) {
      const fields: Record<string, string> = {}
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string
      entries.push({ id, fields })
    }
  }
  return entries
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
