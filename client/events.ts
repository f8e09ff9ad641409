import type { Cluster, Redis } from 'ioredis'
import type { Namespace } from '../loader/keys.js'
import { duplicateConnection, lastStreamId, readStream } from './streams.js'

/** What the scripts write to the event stream. */
export type TaskEventType =
  | 'enqueued'
  | 'assigned'
  | 'started'
  | 'completed'
  | 'failed'
  | 'retried'
  | 'dead'
  | 'canceled'
  | 'cancel-requested'
  | 'recovered'
  | 'released'
  | 'node-joined'
  | 'node-left'
  | 'node-lost'

export interface TaskEvent {
  /** The stream entry id; pass it as `from` to resume after this event. */
  readonly id: string
  readonly type: TaskEventType
  /** Server time of the event, in ms, from the stream id. */
  readonly at: number
  /** The task, empty for node events. */
  readonly task: string
  /** The node, empty when none is involved. */
  readonly node: string
  /** Free text: an error, a reason, a token. */
  readonly detail: string
}

export interface EventOptions {
  /** Start after this event id. Default: `'$'`, only events from now on; `'0'` for the whole capped history. */
  from?: string
  /** Stop after this many ms without an event. Default: wait forever. */
  idleTimeoutMs?: number
  /** Stops the iteration. */
  signal?: AbortSignal
}

export function toTaskEvent(entry: { id: string; fields: Readonly<Record<string, string>> }): TaskEvent {
  return {
    id: entry.id,
    type: entry.fields.type as TaskEventType,
    at: Number(entry.id.split('-')[0]),
    task: entry.fields.task ?? '',
    node: entry.fields.node ?? '',
    detail: entry.fields.detail ?? '',
  }
}

/** Follows the namespace's event stream on a connection of its own. */
export async function* followEvents(
  redis: Redis | Cluster,
  namespace: Namespace,
  options: EventOptions = {},
): AsyncGenerator<TaskEvent> {
  const key = namespace.key('events')
  const reader = duplicateConnection(redis)
  const abort = () => reader.disconnect()
  options.signal?.addEventListener('abort', abort, { once: true })
  try {
    let lastId = options.from === undefined || options.from === '$' ? await lastStreamId(reader, key) : options.from
    while (!options.signal?.aborted) {
      const entries = await readStream(reader, key, lastId, options.idleTimeoutMs ?? 0).catch((error: unknown) => {
        if (options.signal?.aborted) return []
        throw error
      })
      if (entries.length === 0) return
      for (const entry of entries) {
        lastId = entry.id
        yield toTaskEvent(entry)
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', abort)
    reader.disconnect()
  }
}
