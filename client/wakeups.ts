/**
 * A worker node's wake-ups. Dispatch publishes on the node's own shard channel,
 * `tm:{<namespace>}:wake:<node>`, so a task assigned to one node wakes that node alone, and
 * Redis sends nothing to the others. Messages: `work` (tasks were assigned: start them) and
 * `due` (this node holds the namespace's timer, and housekeeping falls due earlier than it was
 * told or outcomes wait in the outbox for relay to other partitions: report in; the heartbeat's
 * reply says which). A channel keeps nothing for a subscriber that is away; the heartbeat
 * covers that gap, since its reply says how many tasks wait assigned to the node.
 */
import { Cluster, type Redis } from 'ioredis'
import { quietErrors } from '../loader/connect.js'
import type { Namespace } from '../loader/keys.js'

export interface WakeupHandlers {
  onWork(): void
  onDue(): void
}

export interface Wakeups {
  /** Listens on the node's channel in one more partition. */
  add(namespace: Namespace, handlers: WakeupHandlers): Promise<void>
  close(): Promise<void>
}

/** The shard channel of one node; it carries the namespace's hash tag, like every key. */
export function wakeChannel(namespace: Namespace, nodeId: string): string {
  return `${namespace.prefix}wake:${nodeId}`
}

/**
 * One subscriber connection for the node's channels in every partition it serves: on a cluster,
 * sharded subscribers open a connection per shard that holds one of them and follow each slot's
 * primary through failovers.
 */
export async function subscribeToWakeups(redis: Redis | Cluster, nodeId: string): Promise<Wakeups> {
  // A subscribed connection can do nothing else, so it is a connection of its own.
  const subscriber = redis instanceof Cluster ? redis.duplicate([], { shardedSubscribers: true }) : redis.duplicate()
  const byChannel = new Map<string, WakeupHandlers>()
  // The subscriber reconnects and subscribes again by itself; an outage reaches the worker
  // through its calls, which fail with RedisUnavailableError, so its events are not repeated.
  quietErrors(subscriber)
  subscriber.on('smessage', (from: string, message: string) => {
    const handlers = byChannel.get(from)
    if (handlers === undefined) return
    if (message === 'work') handlers.onWork()
    else if (message === 'due') handlers.onDue()
  })
  return {
    async add(namespace, handlers) {
      const channel = wakeChannel(namespace, nodeId)
      byChannel.set(channel, handlers)
      await subscriber.ssubscribe(channel)
    },
    async close() {
      subscriber.disconnect()
    },
  }
}
