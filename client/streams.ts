/**
 * Blocking reads of taskmill's two streams: the event log (`events`) and the doorbell
 * (`dispatch`). A blocked XREAD holds its connection, so each reader owns a duplicate of the
 * caller's connection and closes it when done.
 */
import { Cluster, type Redis } from 'ioredis'

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
  const reply = (await redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, lastId)) as
    | [string, [string, string[]][]][]
    | null
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
  const newest = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][]
  return newest[0]?.[0] ?? '0-0'
}

/** A new connection to the same Redis or cluster, for a reader that blocks. */
export function duplicateConnection(redis: Redis | Cluster): Redis | Cluster {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate()
}
