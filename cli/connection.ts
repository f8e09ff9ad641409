/**
 * The `--url` / `--cluster` options every Redis command shares, and opening them the way a
 * short-lived command wants: one connection attempt, no reconnect loop, and on failure a message
 * that says where the CLI tried and what to pass instead.
 */
import type { Cluster, Redis } from 'ioredis'
import { connect, connectCluster } from '../loader/connect.js'
import { RedisUnavailableError } from '../loader/errors.js'
import { CliFailure, UsageError } from './errors.js'

export const DEFAULT_URL = 'redis://127.0.0.1:6379'

/** For `parseArgs`. */
export const connectionOptions = {
  url: { type: 'string' },
  cluster: { type: 'string' },
} as const

export const connectionHelp = [
  '  --url URL              Redis to use, redis://[user:password@]host:port[/db] or rediss://…',
  `                         Default: $REDIS_URL, else ${DEFAULT_URL}.`,
  '  --cluster SEEDS        A Redis Cluster instead: host:port[,host:port…] of one or more nodes.',
]

export type TargetSpec =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'cluster'; readonly seeds: readonly string[] }

/** Where to connect, from the parsed options (and `$REDIS_URL`); refuses `--url` with `--cluster`. */
export function targetSpec(values: { url?: string; cluster?: string }, command: string): TargetSpec {
  if (values.url !== undefined && values.cluster !== undefined) {
    throw new UsageError('pass either --url or --cluster, not both', command)
  }
  if (values.cluster !== undefined) {
    const seeds = values.cluster.split(',').map((seed) => seed.trim())
    if (seeds.some((seed) => seed === '')) {
      throw new UsageError(`--cluster ${JSON.stringify(values.cluster)}: expected host:port[,host:port…]`, command)
    }
    return { kind: 'cluster', seeds }
  }
  const raw = values.url ?? (process.env.REDIS_URL || DEFAULT_URL)
  const url = raw.includes('://') ? raw : `redis://${raw}`
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`--url ${JSON.stringify(raw)} is not a URL: expected redis://host:port`, command)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UsageError(`--url ${JSON.stringify(raw)}: expected a redis:// or rediss:// URL`, command)
  }
  return { kind: 'standalone', url }
}

/** The target as a person recognises it, with any password hidden. */
export function describeTarget(spec: TargetSpec): string {
  if (spec.kind === 'cluster') return `the Redis Cluster at ${spec.seeds.join(',')}`
  const url = new URL(spec.url)
  if (url.password !== '') url.password = '***'
  return `Redis at ${url.toString().replace(/\/$/, '')}`
}

export interface OpenTarget {
  readonly spec: TargetSpec
  readonly redis: Redis | Cluster
  close(): Promise<void>
}

/** Connects (and, on a cluster, learns the slot map) or fails with a {@link CliFailure} saying what to do. */
export async function openTarget(spec: TargetSpec): Promise<OpenTarget> {
  // A command-line tool tries once: the loader's reconnect loop is for long-lived clients.
  const redis =
    spec.kind === 'standalone'
      ? connect(spec.url, { lazyConnect: true, retryStrategy: () => null })
      : // Each failed seed connection otherwise holds the process for ioredis' 2 s disconnectTimeout.
        connectCluster(spec.seeds, { lazyConnect: true, redisOptions: { disconnectTimeout: 200 } })
  // ioredis rejects `connect()` with a bare "Connection is closed."; the reason comes as an event.
  let lastError: Error | undefined
  let lastNodeError: string | undefined
  redis.on('error', (error: Error) => {
    lastError = error
  })
  // A cluster reports "Failed to refresh slots cache."; why each seed failed comes separately.
  redis.on('node error', (error: Error, address: string) => {
    lastNodeError = `${address}: ${error.message}`
  })
  const close = async (): Promise<void> => {
    await redis.quit().catch(() => redis.disconnect())
  }
  try {
    await redis.connect()
  } catch (error) {
    // A connection that never opened has ended already; disconnecting it again would leave
    // ioredis' 2 s stream-destroy timer holding the process for nothing.
    if (redis.status !== 'end') redis.disconnect()
    throw unreachable(spec, lastNodeError ?? lastError?.message ?? (error as Error).message)
  }
  return { spec, redis, close }
}

/** The failure for a Redis that cannot be reached or refuses the connection. */
export function unreachable(spec: TargetSpec, reason: string): CliFailure {
  if (/^(NOAUTH|WRONGPASS)\b/.test(reason)) {
    return new CliFailure(
      `${describeTarget(spec)} refused the connection (${reason}): put the credentials in the URL, ` +
        'e.g. --url redis://user:password@host:port',
    )
  }
  const next =
    spec.kind === 'standalone'
      ? 'is redis-server running there? pass --url redis://host:port (or --cluster host:port,… for a cluster)'
      : 'are the cluster nodes up and is the cluster formed? pass --cluster with reachable node addresses (or --url for a single Redis)'
  return new CliFailure(`cannot reach ${describeTarget(spec)} (${reason}): ${next}`)
}

/** Turns a {@link RedisUnavailableError} from a call into the same advice as a failed connect. */
export function explainUnavailable(spec: TargetSpec, error: unknown): unknown {
  if (!(error instanceof RedisUnavailableError)) return error
  const reason = error.cause instanceof Error ? error.cause.message : error.message
  return unreachable(spec, reason)
}

/**
 * Now on the Redis server's clock, in ms: scripts stamp heartbeats and task times with it, so
 * ages are computed against it rather than against this machine's clock.
 */
export async function serverTimeMs(redis: Redis | Cluster): Promise<number> {
  const [seconds, micros] = await redis.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}
