/**
 * A Redis of a test file's own, standalone or a three-primary cluster, for tests that change
 * server-wide state (flush the script cache, restart, lower the busy-script threshold) which
 * would disturb other files sharing the run's servers.
 */
import type { Cluster, Redis } from 'ioredis'
import { startCluster } from './cluster.js'
import { openClient, openCluster } from './context.js'
import { startRedis } from '../../devtools/redis-server.js'

export interface PrivateRedis {
  servers: { host: string; port: number }[]
  client(): Redis | Cluster
  restart: (() => Promise<void>) | undefined
  stop(): Promise<void>
}

export async function startPrivate(kind: 'standalone' | 'cluster'): Promise<PrivateRedis> {
  if (kind === 'standalone') {
    const redis = await startRedis()
    return {
      servers: [{ host: redis.host, port: redis.port }],
      client: () => openClient(redis.url),
      restart: redis.restart,
      stop: () => redis.stop(),
    }
  }
  const cluster = await startCluster()
  return {
    servers: cluster.nodes,
    client: () => openCluster(cluster.urls),
    restart: undefined,
    stop: () => cluster.stop(),
  }
}

