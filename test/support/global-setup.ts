/**
 * Starts one standalone Redis and one three-primary cluster for the whole test run and hands
 * their addresses to the test files through `inject` (see `context.ts`). Each test works in its
 * own random namespace, so files share these servers and still run in parallel.
 */
import type { TestProject } from 'vitest/node'
import { clusterUnavailableReason, startCluster, type TestCluster } from './cluster.js'
import { startRedis, type TestRedis } from '../../devtools/redis-server.js'

export interface ProvidedRedis {
  url: string
  host: string
  port: number
  source: TestRedis['source']
}

export interface ProvidedCluster {
  nodes: { host: string; port: number }[]
  urls: string[]
}

declare module 'vitest' {
  export interface ProvidedContext {
    redis: ProvidedRedis
    /** Null when no cluster could be started; `clusterSkipReason` says why. */
    cluster: ProvidedCluster | null
    clusterSkipReason: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const standalone = await startRedis()
  let cluster: TestCluster | undefined
  const reason = clusterUnavailableReason()
  if (reason === undefined) cluster = await startCluster()

  project.provide('redis', {
    url: standalone.url,
    host: standalone.host,
    port: standalone.port,
    source: standalone.source,
  })
  project.provide('cluster', cluster ? { nodes: cluster.nodes, urls: cluster.urls } : null)
  project.provide('clusterSkipReason', reason ?? '')

  return async () => {
    await Promise.all([standalone.stop(), cluster?.stop()])
  }
}
