/**
 * How a Scheduler or Worker gets its Redis: a URL (taskmill opens and closes the connection)
 * or a client the caller owns (taskmill never closes it). Either way one ScriptRunner with
 * every generated script and error class sits on top.
 */
import type { Cluster, Redis } from 'ioredis'
import { connect, connectCluster } from '../loader/connect.js'
import { errorClassesByCode } from '../loader/generated/errors.js'
import { allScripts } from '../loader/generated/scripts.js'
import { Namespace } from '../loader/keys.js'
import { ScriptRunner, type ReplicaWaitOptions } from '../loader/runner.js'
import { refuseEvictingPolicy } from './eviction-policy.js'

/**
 * Where Redis is: a `redis://host:port` URL, a comma-separated list of cluster seeds prefixed
 * with `redis-cluster://` (e.g. `redis-cluster://127.0.0.1:7000,127.0.0.1:7001`), or an
 * ioredis `Redis` or `Cluster` client that you own and close yourself.
 */
export type Connection = string | Redis | Cluster

export interface Opened {
  readonly redis: Redis | Cluster
  readonly runner: ScriptRunner
  readonly namespace: Namespace
  /** Closes the connection if taskmill opened it. */
  close(): Promise<void>
}

const CLUSTER_SCHEME = 'redis-cluster://'

/**
 * The connection for a Scheduler or Worker. One opened here from a URL is taskmill's, and
 * `connect`/`connectCluster` give it a listener that drops 'error' events, so ioredis prints no
 * "Unhandled error event" line per reconnect attempt; the outage still reaches the caller as a
 * RedisUnavailableError from each call it fails (see `quietErrors` in loader/connect.ts). A
 * client the caller passes in is theirs: its listeners are left as they are.
 */
export function openRedis(connection: Connection): { redis: Redis | Cluster; owned: boolean } {
  if (typeof connection !== 'string') {
    return { redis: connection, owned: false }
  }
  if (connection.startsWith(CLUSTER_SCHEME)) {
    return { redis: connectCluster(connection.slice(CLUSTER_SCHEME.length)), owned: true }
  }
  return { redis: connect(connection), owned: true }
}

export function createRunner(redis: Redis | Cluster, options: { waitForReplicas?: ReplicaWaitOptions } = {}): ScriptRunner {
  return new ScriptRunner(redis, allScripts, { errorClasses: errorClassesByCode, waitForReplicas: options.waitForReplicas })
}

export interface OpenOptions {
  /** Skip the refusal of a Redis whose maxmemory-policy may evict taskmill's keys (see eviction-policy.ts). */
  allowEvictingPolicy?: boolean
  /** Passed to the runner: which calls wait for replicas (Redis `WAIT`), see ReplicaWaitOptions. Default: none. */
  waitForReplicas?: ReplicaWaitOptions
}

export async function open(connection: Connection, namespace: string, options: OpenOptions = {}): Promise<Opened> {
  const ns = new Namespace(namespace)
  const { redis, owned } = openRedis(connection)
  let runner: ScriptRunner
  try {
    runner = createRunner(redis, { waitForReplicas: options.waitForReplicas })
    if (options.allowEvictingPolicy !== true) await refuseEvictingPolicy(redis)
    await runner.loadAll()
  } catch (error) {
    if (owned) redis.disconnect()
    throw error
  }
  return {
    redis,
    runner,
    namespace: ns,
    async close() {
      if (owned) await redis.quit().catch(() => redis.disconnect())
    },
  }
}
