/**
 * Opening connections the way every taskmill client (runner, CLI, tests) wants them: a call
 * fails fast with a connection error instead of waiting forever in ioredis' offline queue, while
 * a long-lived client still reconnects by itself after Redis comes back, without printing a
 * line for every failed attempt (see {@link quietErrors}).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

/** Default: 5000. How long one TCP connect may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5000

/**
 * Options shared by standalone connections and by each node connection of a cluster.
 *
 * - `maxRetriesPerRequest: 1`: a command waiting for a connection is failed after the second
 *   failed attempt (about 100 ms against a refused port) instead of being retried 20 times.
 *   One retry lets a command that was in flight when a server restarted go through on the new
 *   connection.
 * - `enableOfflineQueue` stays on: without it a command issued before the first connect has
 *   finished fails at once, which would force every caller to await a ready event first.
 * - `retryStrategy` keeps reconnecting (100 ms steps up to 2 s), so a client outlives a restart.
 */
export const connectionOptions: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: CONNECT_TIMEOUT_MS,
  retryStrategy: (times) => Math.min(times * 100, 2000),
}

/**
 * Cluster-level options. ioredis holds commands in the cluster's own offline queue until it has
 * a slot map, and gives up only when `clusterRetryStrategy` returns a non-number: five attempts
 * (about 1.5 s against refused ports) and then every queued command fails. Once the client has a
 * slot map, single nodes reconnect through `connectionOptions.retryStrategy` as usual.
 */
export const clusterOptions: ClusterOptions = {
  enableOfflineQueue: true,
  clusterRetryStrategy: (times) => (times > 5 ? null : Math.min(times * 100, 500)),
  redisOptions: connectionOptions,
}

/**
 * Gives a connection taskmill opens an 'error' listener that drops the event, and returns it.
 *
 * Without any listener ioredis prints `[ioredis] Unhandled error event` for every failed
 * reconnect attempt (every 100 ms to 2 s for as long as Redis is away), on connections the user
 * never sees and so cannot silence. Dropping the events loses nothing: the connection keeps
 * reconnecting by itself, and every command the outage affects is rejected, which taskmill
 * turns into a `RedisUnavailableError` for the caller (the Worker hands those to its
 * `onError`). Routing the events to `onError` as well would report one outage once per
 * reconnect attempt. A listener of the user's own still receives every event.
 */
export function quietErrors<T extends Redis | Cluster>(client: T): T {
  if (!client.listeners('error').includes(dropConnectionError)) client.on('error', dropConnectionError)
  return client
}

function dropConnectionError(): void {}

/** A standalone connection from a `redis://[user:password@]host:port[/db]` (or `rediss://`) URL. */
export function connect(url: string, overrides: RedisOptions = {}): Redis {
  return quietErrors(new Redis(url, { ...connectionOptions, ...overrides }))
}

/**
 * A Redis Cluster connection from one or more seed URLs (`redis://host:port`); the client learns
 * the other nodes from the seeds.
 */
export function connectCluster(seeds: string | readonly string[], overrides: ClusterOptions = {}): Cluster {
  const list = typeof seeds === 'string' ? seeds.split(',') : seeds
  const nodes = list.map((seed) => {
    const url = new URL(seed.includes('://') ? seed : `redis://${seed}`)
    return { host: url.hostname, port: Number(url.port || 6379) }
  })
  const first = new URL(list[0]?.includes('://') ? list[0] : `redis://${list[0] ?? ''}`)
  const auth: RedisOptions = {}
  if (first.username) auth.username = decodeURIComponent(first.username)
  if (first.password) auth.password = decodeURIComponent(first.password)
  return quietErrors(
    new Cluster(nodes, {
      ...clusterOptions,
      ...overrides,
      redisOptions: { ...connectionOptions, ...auth, ...overrides.redisOptions },
    }),
  )
}

/** `host:port` of one connection. */
export function nodeName(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}

/** Where a connection goes, for messages: `host:port`, or a cluster's known nodes. */
export function describeTarget(redis: Redis | Cluster): string {
  if (redis instanceof Cluster) {
    const known = redis.nodes().map(nodeName)
    return known.length > 0 ? `Redis Cluster ${known.join(',')}` : 'Redis Cluster (no node reachable)'
  }
  return nodeName(redis)
}

/** The ACL user a connection authenticates as; Redis calls a connection without a user name `default`. */
export function aclUser(redis: Redis | Cluster): string {
  const username = redis instanceof Cluster ? redis.options.redisOptions?.username : redis.options.username
  return username || 'default'
}
