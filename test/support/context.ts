/**
 * What a test file needs to talk to the Redis servers that `global-setup.ts` started: clients
 * (closed after the file), a random namespace per test, namespace dumps for byte-identical
 * before/after assertions, and MONITOR taps for asserting the commands on the wire.
 */
import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { Redis as RedisClient } from 'ioredis'
import { afterAll, inject } from 'vitest'
import { connect, connectCluster } from '../../loader/connect.js'
import { Namespace } from '../../loader/keys.js'

export const redisInfo = inject('redis')
export const clusterInfo = inject('cluster')
/** Set when the cluster tests must skip, saying why. */
export const clusterSkipReason: string | undefined = clusterInfo === null ? inject('clusterSkipReason') : undefined

const openClients = new Set<Redis | Cluster>()

afterAll(async () => {
  await closeClients()
})

/** Closes every client the helpers opened; runs after each test file on its own. */
export async function closeClients(): Promise<void> {
  const clients = [...openClients]
  openClients.clear()
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())))
}

function track<T extends Redis | Cluster>(client: T): T {
  openClients.add(client)
  return client
}

/** A client of the run's standalone Redis, with taskmill's connection options. */
export function standaloneClient(): Redis {
  return track(connect(redisInfo.url))
}

/** A client of the run's three-primary cluster; only call it where the cluster tests do not skip. */
export function clusterClient(): Cluster {
  if (clusterInfo === null) throw new Error(`no test cluster: ${clusterSkipReason}`)
  return track(connectCluster(clusterInfo.urls))
}

/** A namespace no other test uses, so test files can run in parallel on the same servers. */
export function randomNamespace(label = 't'): Namespace {
  return new Namespace(`${label}-${randomBytes(8).toString('hex')}`)
}

/**
 * Every existing key of the namespace with its DUMP, for asserting that a rejected call left
 * Redis byte-identical. The keys share one hash tag, so on a cluster they are in one slot.
 */
export async function dumpNamespace(client: Redis | Cluster, namespace: Namespace): Promise<Map<string, Buffer>> {
  const keys = namespace.allKeys()
  const dumps = await Promise.all(keys.map((key) => client.dumpBuffer(key)))
  const result = new Map<string, Buffer>()
  keys.forEach((key, i) => {
    const dump = dumps[i]
    if (dump !== null && dump !== undefined) result.set(key, dump)
  })
  return result
}

/** One way to reach Redis, for `describe.each` over standalone and cluster. */
export interface RedisTarget {
  name: 'standalone' | 'cluster'
  /** Why this target's tests skip, or undefined. */
  skip: string | undefined
  client(): Redis | Cluster
  /** The server processes behind it, to MONITOR or SCRIPT FLUSH each one directly. */
  servers(): { host: string; port: number }[]
}

export const targets: RedisTarget[] = [
  {
    name: 'standalone',
    skip: undefined,
    client: standaloneClient,
    servers: () => [{ host: redisInfo.host, port: redisInfo.port }],
  },
  {
    name: 'cluster',
    skip: clusterSkipReason,
    client: clusterClient,
    servers: () => clusterInfo?.nodes ?? [],
  },
]

/** A plain connection to one server, closed after the file. */
export function serverClient(server: { host: string; port: number }): Redis {
  return track(new RedisClient({ host: server.host, port: server.port, maxRetriesPerRequest: 1 }))
}

/** SCRIPT FLUSH on every server behind a target. */
export async function flushScripts(target: RedisTarget): Promise<void> {
  await Promise.all(target.servers().map((server) => serverClient(server).script('FLUSH')))
}

/**
 * The `addr` of every connection a client holds, as MONITOR reports the source of a command.
 * On a cluster these are the client's connections to each node.
 */
export async function clientAddresses(client: Redis | Cluster): Promise<Set<string>> {
  const connections: Redis[] = 'nodes' in client ? client.nodes('all') : [client]
  const infos = await Promise.all(connections.map((c) => c.client('INFO') as Promise<string>))
  return new Set(infos.map((info) => /\baddr=(\S+)/.exec(info)?.[1] ?? ''))
}

export interface SeenCommand {
  /** `host:port` of the server that executed it. */
  server: string
  /** Address of the client that sent it. */
  source: string
  /** Command name in lower case, then the arguments. */
  args: string[]
}

/** MONITOR on some servers, recording every command they execute until `stop()`. */
export class WireTap {
  readonly seen: SeenCommand[] = []
  private constructor(private readonly monitors: { server: string; redis: Redis; base: Redis }[]) {
    for (const monitor of monitors) {
      monitor.redis.on('monitor', (_time: string, args: string[], source: string) => {
        const [name = '', ...rest] = args
        this.seen.push({ server: monitor.server, source, args: [name.toLowerCase(), ...rest] })
      })
    }
  }

  static async open(servers: readonly { host: string; port: number }[]): Promise<WireTap> {
    const monitors = await Promise.all(
      servers.map(async (server) => {
        const base = new RedisClient({ host: server.host, port: server.port, lazyConnect: true })
        const redis = await base.monitor()
        return { server: `${server.host}:${server.port}`, redis, base }
      }),
    )
    return new WireTap(monitors)
  }

  /**
   * Waits until every server's feed has caught up with everything executed before this call: a
   * marker ECHO is sent to each server and MONITOR reports commands in execution order.
   */
  async sync(): Promise<void> {
    const marker = `wiretap-sync-${randomBytes(6).toString('hex')}`
    await Promise.all(
      this.monitors.map(async ({ server }) => {
        const [host = '', port = ''] = server.split(':')
        const pinger = new RedisClient({ host, port: Number(port), maxRetriesPerRequest: 1 })
        try {
          await pinger.echo(marker)
        } finally {
          pinger.disconnect()
        }
      }),
    )
    const deadline = Date.now() + 5000
    while (this.seen.filter((c) => c.args[0] === 'echo' && c.args[1] === marker).length < this.monitors.length) {
      if (Date.now() > deadline) throw new Error('MONITOR did not deliver the sync marker')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** The commands sent from the given client addresses. */
  from(addresses: ReadonlySet<string>): SeenCommand[] {
    return this.seen.filter((c) => addresses.has(c.source))
  }

  stop(): void {
    for (const monitor of this.monitors) {
      monitor.redis.disconnect()
      monitor.base.disconnect()
    }
  }
}
