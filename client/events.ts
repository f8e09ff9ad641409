import type { Cluster, Redis } from 'ioredis'
import type { Namespace } from '../loader/keys.js'
import { duplicateConnection, lastStreamId, readEntry, readStream, type StreamEntry } from './streams.js'

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
  | 'requeued'
  | 'removed'
  | 'recovered'
  | 'released'
  | 'node-joined'
  | 'node-left'
  | 'node-lost'
  | 'paused'
  | 'resumed'
  | 'rate-limit-set'
  | 'rate-limit-removed'
  | 'group-concurrency-set'
  | 'postponed'
  | 'progress'

export interface TaskEvent {
  /**
   * `<stream entry id>/<position>`: a stream entry holds the events of one script call, in
   * order. Pass it as `from` to resume after this event.
   */
  readonly id: string
  readonly type: TaskEventType
  /** Server time of the event, in ms, from the stream id. */
  readonly at: number
  /** The task, empty for node and queue events (`paused`, `resumed`). */
  readonly task: string
  /** The node, empty when none is involved. */
  readonly node: string
  /**
   * Free text: an error, a reason, a token; the queue of a `paused`, `resumed` or
   * `rate-limit-removed` event, and of a `rate-limit-set` event followed by the limit
   * (`<queue> <max>/<intervalMs>`); `<queue>><group> <max>` for `group-concurrency-set` (0: the cap
   * removed); `until <server time in ms>` for `postponed`; the value a
   * handler reported, as sent (JSON from the Worker), for `progress`.
   */
  readonly detail: string
}

export interface EventOptions {
  /**
   * Start after this event id (or after a stream entry id). Default: `'$'`, only events from now
   * on; `'0'` for the whole capped history.
   */
  from?: string
  /** Stop after this many ms without an event. Default: wait forever. */
  idleTimeoutMs?: number
  /** Stops the iteration. */
  signal?: AbortSignal
}

/** The events of one stream entry, in the order the script wrote them. */
export function toTaskEvents(entry: StreamEntry): TaskEvent[] {
  const at = Number(entry.id.split('-')[0])
  const events: TaskEvent[] = []
  let current: Record<string, string> | undefined
  const finish = () => {
    if (current === undefined) return
    events.push({
      id: `${entry.id}/${events.length}`,
      type: current.type as TaskEventType,
      at,
      task: current.task ?? '',
      node: current.node ?? '',
      detail: current.detail ?? '',
    })
  }
  for (let i = 0; i + 1 < entry.pairs.length; i += 2) {
    const field = entry.pairs[i] as string
    // Each event starts with its `type` field.
    if (field === 'type') {
      finish()
      current = {}
    }
    if (current !== undefined) current[field] = entry.pairs[i + 1] as string
  }
  finish()
  return events
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
    let lastId: string
    if (options.from === undefined || options.from === '$') {
      lastId = await lastStreamId(reader, key)
    } else if (options.from.includes('/')) {
      // After one event of an entry: the rest of that entry first.
      const [entryId = '0', position = '0'] = options.from.split('/')
      lastId = entryId
      const entry = await readEntry(reader, key, entryId)
      for (const event of entry === undefined ? [] : toTaskEvents(entry).slice(Number(position) + 1)) yield event
    } else {
      lastId = options.from
    }
    while (!options.signal?.aborted) {
      const entries = await readStream(reader, key, lastId, options.idleTimeoutMs ?? 0).catch((error: unknown) => {
        if (options.signal?.aborted) return []
        throw error
      })
      if (entries.length === 0) return
      for (const entry of entries) {
        lastId = entry.id
        yield* toTaskEvents(entry)
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', abort)
    reader.disconnect()
  }
}
