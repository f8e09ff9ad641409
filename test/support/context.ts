/**
 * What a test file needs to talk to the Redis servers that `global-setup.ts` started: clients
 * (closed after the file), a random namespace per test, namespace dumps for byte-identical
 * before/after assertions, and MONITOR taps for asserting the commands on the wire.
 */
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
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
  // Connection errors reach the tests as rejected commands; the 'error' events only repeat them
  // (and ioredis prints every unhandled one while it reconnects, e.g. across a restart).
  client.on('error', () => {})
  openClients.add(client)
  return client
}

/** A client of the run's standalone Redis, with taskmill's connection options. */
export function standaloneClient(): Redis {
  return openClient(redisInfo.url)
}

/** A client of any standalone Redis, closed after the file. */
export function openClient(url: string): Redis {
  return track(connect(url))
}

/** A client of any cluster, from seed URLs, closed after the file. */
export function openCluster(seeds: readonly string[]): Cluster {
  return track(connectCluster(seeds))
}

/** A client of the run's three-primary cluster; only call it where the cluster tests do not skip. */
export function clusterClient(): Cluster {
  if (clusterInfo === null) throw new Error(`no test cluster: ${clusterSkipReason}`)
  return openCluster(clusterInfo.urls)
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

/** SCRIPT FLUSH on each of the servers. */
export async function flushScripts(servers: readonly { host: string; port: number }[]): Promise<void> {
  await Promise.all(servers.map((server) => serverClient(server).script('FLUSH')))
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

/**
 * MONITOR on some servers, recording every command they execute until `stop()`.
 *
 * It speaks MONITOR over a plain socket: ioredis' monitor mode throws "Command queue state
 * error" when a line arrives while the connection is being closed.
 */
export class WireTap {
  readonly seen: SeenCommand[] = []
  private constructor(private readonly sockets: { server: string; socket: Socket }[]) {}

  static async open(servers: readonly { host: string; port: number }[]): Promise<WireTap> {
    const tap = new WireTap([])
    await Promise.all(servers.map((server) => tap.attach(server.host, server.port)))
    return tap
  }

  private attach(host: string, port: number): Promise<void> {
    const server = `${host}:${port}`
    return new Promise((resolve, reject) => {
      const socket = new Socket()
      let buffer = ''
      let ready = false
      socket.once('error', reject)
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1')
        let end: number
        while ((end = buffer.indexOf('\r\n')) !== -1) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!ready) {
            if (line !== '+OK') reject(new Error(`MONITOR on ${server} answered ${line}`))
            ready = true
            resolve()
            continue
          }
          const parsed = parseMonitorLine(line)
          if (parsed !== undefined) this.seen.push({ server, ...parsed })
        }
      })
      socket.connect(port, host, () => socket.write('MONITOR\r\n'))
      this.sockets.push({ server, socket })
    })
  }

  /**
   * Waits until every server's feed has caught up with everything executed before this call: a
   * marker ECHO is sent to each server and MONITOR reports commands in execution order.
   */
  async sync(): Promise<void> {
    const marker = `wiretap-sync-${randomBytes(6).toString('hex')}`
    await Promise.all(
      this.sockets.map(async ({ server }) => {
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
    while (this.seen.filter((c) => c.args[0] === 'echo' && c.args[1] === marker).length < this.sockets.length) {
      if (Date.now() > deadline) throw new Error('MONITOR did not deliver the sync marker')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** The commands sent from the given client addresses. */
  from(addresses: ReadonlySet<string>): SeenCommand[] {
    return this.seen.filter((c) => addresses.has(c.source))
  }

  stop(): void {
    for (const { socket } of this.sockets) socket.destroy()
  }
}

/**
 * `+1700000000.123456 [0 127.0.0.1:54321] "evalsha" "abc" "1"`: the arguments are quoted as
 * Redis' sdscatrepr writes them (backslash escapes, `\xHH` for other bytes).
 */
function parseMonitorLine(line: string): Omit<SeenCommand, 'server'> | undefined {
  const match = /^\+\S+ \[\d+ ([^\]]+)\] (.*)$/.exec(line)
  if (match === null) return undefined
  const source = match[1]!
  const text = match[2]!
  const args: string[] = []
  let i = 0
  while (i < text.length) {
    if (text[i] !== '"') {
      i++
      continue
    }
    let value = ''
    i++
    while (i < text.length && text[i] !== '"') {
      const ch = text[i]!
      if (ch === '\\') {
        const next = text[i + 1] ?? ''
        if (next === 'x') {
          value += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16))
          i += 4
          continue
        }
        value += ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[next] ?? next
        i += 2
        continue
      }
      value += ch
      i++
    }
    args.push(value)
    i++
  }
  const [name = '', ...rest] = args
  return { source, args: [name.toLowerCase(), ...rest] }
}
