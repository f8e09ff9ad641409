/**
 * A real three-primary Redis Cluster on loopback for tests: three `redis-server` processes in
 * cluster mode, joined with `redis-cli --cluster create`, ready when every node reports
 * `cluster_state:ok`. Without redis-server (or redis-cli) there is no cluster and the cluster
 * tests skip, saying why.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { findExecutable, sleep, spawnRedisServer, type SpawnedRedis } from '../../devtools/redis-server.js'

const run = promisify(execFile)
const READY_TIMEOUT_MS = 20_000

export interface TestCluster {
  nodes: { host: string; port: number }[]
  /** `redis://host:port` of every node, usable as seeds. */
  urls: string[]
  stop(): Promise<void>
}

/** Why there can be no cluster here, or undefined when there can. */
export function clusterUnavailableReason(): string | undefined {
  if (findExecutable('redis-server') === undefined) return 'redis-server is not on PATH'
  if (findExecutable('redis-cli') === undefined) return 'redis-cli is not on PATH'
  return undefined
}

export async function startCluster(): Promise<TestCluster> {
  const reason = clusterUnavailableReason()
  if (reason !== undefined) throw new Error(`cannot start a Redis Cluster: ${reason}`)
  const server = findExecutable('redis-server')!
  const cli = findExecutable('redis-cli')!
  const servers: SpawnedRedis[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()))
  }
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await spawnRedisServer(server, [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '5000',
        ]),
      )
    }
    const addresses = servers.map((s) => `${s.host}:${s.port}`)
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: READY_TIMEOUT_MS,
    })
    await waitForClusterOk(servers)
  } catch (error) {
    await stop()
    throw error
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    urls: servers.map((s) => s.url),
    stop,
  }
}

async function waitForClusterOk(servers: readonly SpawnedRedis[]): Promise<void> {
  const clients = servers.map((s) => new Redis({ host: s.host, port: s.port, maxRetriesPerRequest: 1 }))
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>))
      if (infos.every((info) => info.includes('cluster_state:ok'))) return
      if (Date.now() > deadline) throw new Error(`the test cluster did not become ready:\n${infos.join('\n')}`)
      await sleep(50)
    }
  } finally {
    clients.forEach((c) => c.disconnect())
  }
}
