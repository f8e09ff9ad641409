/**
 * A real Redis Cluster on loopback for tests: three primaries, or three primaries with one
 * replica each, as `redis-server` processes in cluster mode joined with `redis-cli --cluster
 * create`, ready when every node reports `cluster_state:ok` (and, with replicas, when every
 * replica has caught up with its primary). Without redis-server (or redis-cli) there is no
 * cluster and the cluster tests skip, saying why.
 *
 * A replicated cluster also gives a test what it needs to fail a shard over: which node serves a
 * slot, the server process behind each node (to pause or kill it), and `failover`, which sends
 * `CLUSTER FAILOVER` to a replica and returns once every node that still answers sees it as the
 * primary and the cluster is ok again. Every wait polls against a deadline; none sleeps a fixed time.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { findExecutable, sleep, spawnRedisServer, type SpawnedRedis } from '../../devtools/redis-server.js'

const run = promisify(execFile)
const READY_TIMEOUT_MS = 20_000
const POLL_MS = 20

export interface NodeAddress {
  host: string
  port: number
}

export interface ClusterOptions {
  /** Replicas per primary: 0 (three processes) or 1 (six). Default: 0. */
  replicasPerPrimary?: 0 | 1
}

/** One shard as a node sees it: the primary of a slot range and the replicas that follow it. */
export interface Shard {
  primary: NodeAddress
  replicas: NodeAddress[]
}

/**
 * How `failover` asks: a coordinated handover in which the replica first catches up with its
 * primary (default), `FORCE` without the old primary's part, `TAKEOVER` without the other
 * primaries' vote either (the only way while the old primary and its replica are cut off).
 */
export type FailoverMode = 'default' | 'FORCE' | 'TAKEOVER'

export interface TestCluster {
  nodes: NodeAddress[]
  /** `redis://host:port` of every node, usable as seeds. */
  urls: string[]
  /** The slot of a key, from `CLUSTER KEYSLOT`. */
  keySlot(key: string): Promise<number>
  /** The shard serving `slot` now, as the first node that answers sees it (`CLUSTER SLOTS`). */
  shardOf(slot: number): Promise<Shard>
  /** Polls until every replica's link to its primary is up and it has applied all the primary sent. */
  waitForReplicasInSync(timeoutMs?: number): Promise<void>
  /**
   * Sends `CLUSTER FAILOVER [FORCE|TAKEOVER]` to a replica and polls until every node that still
   * answers sees it as a primary serving slots, and reports `cluster_state:ok`; unless taking
   * over, also until the old primary follows it in sync and every node lists it as its replica.
   */
  failover(replica: NodeAddress, mode?: FailoverMode, timeoutMs?: number): Promise<void>
  /** The process behind a node, e.g. to SIGSTOP it; nodes that do not answer are left out of the waits above. */
  pid(node: NodeAddress): number
  /** SIGSTOP a node's process; `resume` sends SIGCONT. */
  pause(node: NodeAddress): void
  resume(node: NodeAddress): void
  /** SIGKILL a node's process and wait until it is gone. */
  kill(node: NodeAddress): Promise<void>
  stop(): Promise<void>
}

/** Why there can be no cluster here, or undefined when there can. */
export function clusterUnavailableReason(): string | undefined {
  if (findExecutable('redis-server') === undefined) return 'redis-server is not on PATH'
  if (findExecutable('redis-cli') === undefined) return 'redis-cli is not on PATH'
  return undefined
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const reason = clusterUnavailableReason()
  if (reason !== undefined) throw new Error(`cannot start a Redis Cluster: ${reason}`)
  const replicas = options.replicasPerPrimary ?? 0
  const server = findExecutable('redis-server')!
  const cli = findExecutable('redis-cli')!
  const servers: SpawnedRedis[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()))
  }
  try {
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      servers.push(
        await spawnRedisServer(server, [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '5000',
          // Redis 7.0 waits 5 s by default before a diskless full sync, in case more replicas
          // come; each primary here has one, so the first sync (and any after a failover) starts at once.
          '--repl-diskless-sync-delay', '0',
        ]),
      )
    }
    const addresses = servers.map((s) => `${s.host}:${s.port}`)
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
      timeout: READY_TIMEOUT_MS,
    })
    const cluster = new ReplicatedCluster(servers, stop)
    await cluster.waitUntilOk(READY_TIMEOUT_MS)
    if (replicas > 0) {
      await cluster.touchPrimaries()
      await cluster.waitForReplicasListed()
    }
    return cluster
  } catch (error) {
    await stop()
    throw error
  }
}

interface NodeView {
  id: string
  address: string
  flags: string[]
  primaryId: string | undefined
  slots: number
}

class ReplicatedCluster implements TestCluster {
  readonly nodes: NodeAddress[]
  readonly urls: string[]
  /** Nodes paused or killed by the test: they do not answer, so the waits skip them. */
  private readonly silent = new Set<string>()
  private readonly paused = new Set<SpawnedRedis>()

  constructor(
    private readonly servers: readonly SpawnedRedis[],
    private readonly stopAll: () => Promise<void>,
  ) {
    this.nodes = servers.map((s) => ({ host: s.host, port: s.port }))
    this.urls = servers.map((s) => s.url)
  }

  async stop(): Promise<void> {
    // A stopped process acts on SIGTERM only once continued.
    for (const server of this.paused) if (server.pid !== undefined) process.kill(server.pid, 'SIGCONT')
    this.paused.clear()
    await this.stopAll()
  }

  async keySlot(key: string): Promise<number> {
    return (await this.ask((c) => c.cluster('KEYSLOT', key))) as number
  }

  async shardOf(slot: number): Promise<Shard> {
    const ranges = await this.ask((c) => c.cluster('SLOTS'))
    const range = ranges.find(([start, end]) => start <= slot && slot <= end)
    const [, , primary, ...replicas] = range ?? []
    if (primary === undefined) throw new Error(`no node serves slot ${slot}`)
    const address = ([host, port]: [string, number, ...unknown[]]): NodeAddress => ({ host, port })
    return { primary: address(primary), replicas: replicas.map(address) }
  }

  async waitForReplicasInSync(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await this.poll('every replica to catch up with its primary', timeoutMs, async () => {
      const lagging: string[] = []
      for (const server of this.answering()) {
        const info = await this.on(server, (c) => c.info('replication'))
        if (field(info, 'role') !== 'slave') continue
        const primary = `${field(info, 'master_host')}:${field(info, 'master_port')}`
        if (this.silent.has(primary)) continue
        // The primary's offset is read first: under traffic it moves on, and the replica is in
        // sync once it has applied everything sent up to that reading.
        const sent = Number(field(await this.on(primary, (c) => c.info('replication')), 'master_repl_offset'))
        const now = await this.on(server, (c) => c.info('replication'))
        const applied = Number(field(now, 'slave_repl_offset'))
        const link = field(now, 'master_link_status')
        if (link !== 'up' || field(now, 'master_sync_in_progress') !== '0' || !(applied >= sent)) {
          lagging.push(`${server} (link ${link}, at ${applied} of ${sent})`)
        }
      }
      return lagging.length === 0 ? true : `lagging: ${lagging.join(', ')}`
    })
  }

  async failover(replica: NodeAddress, mode: FailoverMode = 'default', timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const address = key(replica)
    await this.on(address, (c) => c.call('CLUSTER', 'FAILOVER', ...(mode === 'default' ? [] : [mode])))
    await this.poll(`${address} to become a primary after CLUSTER FAILOVER ${mode}`, timeoutMs, async () => {
      const states = await Promise.all(
        this.answering().map(async (node) => {
          const [info, views] = await Promise.all([
            this.on(node, (c) => c.cluster('INFO') as Promise<string>),
            this.on(node, (c) => c.cluster('NODES') as Promise<string>).then(parseNodes),
          ])
          const promoted = views.find((v) => v.address === address)
          const ok = field(info, 'cluster_state') === 'ok'
          if (ok && promoted !== undefined && promoted.flags.includes('master') && promoted.slots > 0) return undefined
          const role = promoted?.flags.join(',') ?? 'unknown'
          return `${node}: state ${field(info, 'cluster_state')}, sees ${address} as ${role} with ${promoted?.slots ?? 0} slot ranges`
        }),
      )
      const waiting = states.filter((s) => s !== undefined)
      return waiting.length === 0 ? true : waiting.join('; ')
    })
    // The old primary, still there, follows the new one: done once it is synced and listed.
    if (mode !== 'TAKEOVER') await this.waitForReplicasListed(timeoutMs)
  }

  pid(node: NodeAddress): number {
    const pid = this.server(node).pid
    if (pid === undefined) throw new Error(`${key(node)} has no running process`)
    return pid
  }

  pause(node: NodeAddress): void {
    process.kill(this.pid(node), 'SIGSTOP')
    this.paused.add(this.server(node))
    this.silent.add(key(node))
  }

  resume(node: NodeAddress): void {
    process.kill(this.pid(node), 'SIGCONT')
    this.paused.delete(this.server(node))
    this.silent.delete(key(node))
  }

  async kill(node: NodeAddress): Promise<void> {
    const server = this.server(node)
    this.silent.add(key(node))
    this.paused.delete(server)
    process.kill(this.pid(node), 'SIGKILL')
    await server.stopProcess()
  }

  async waitUntilOk(timeoutMs: number): Promise<void> {
    await this.poll('the test cluster to become ready', timeoutMs, async () => {
      const infos = await Promise.all(this.answering().map((s) => this.on(s, (c) => c.cluster('INFO') as Promise<string>)))
      return infos.every((info) => field(info, 'cluster_state') === 'ok') ? true : infos.join('\n')
    })
  }

  /**
   * Writes and deletes one key on each primary. Redis 7.0's `CLUSTER SLOTS`, where clients
   * (ioredis among them) learn of replicas, leaves out a replica whose replication offset it has
   * not heard to be above 0, and a primary nothing was written to stays at offset 0.
   */
  async touchPrimaries(): Promise<void> {
    const ranges = await this.ask((c) => c.cluster('SLOTS'))
    const primaries = new Set(ranges.map(([, , primary]) => `${primary?.[0]}:${primary?.[1]}`))
    for (let i = 0; primaries.size > 0; i++) {
      const candidate = `taskmill-test-cluster-${i}`
      const { primary } = await this.shardOf(await this.keySlot(candidate))
      if (!primaries.delete(key(primary))) continue
      await this.on(key(primary), async (c) => {
        await c.set(candidate, '1')
        await c.del(candidate)
      })
    }
  }

  /** Polls until every answering node's `CLUSTER SLOTS` names a replica for every slot range, and the replicas are in sync. */
  async waitForReplicasListed(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await this.poll('every node to list a replica for every slot range', timeoutMs, async () => {
      const views = await Promise.all(this.answering().map((s) => this.on(s, (c) => c.cluster('SLOTS') as Promise<unknown[][]>)))
      const listed = views.map((view) => view.filter((range) => range.length > 3).length)
      if (views.every((view, i) => listed[i] === view.length)) return true
      return `ranges with a replica listed, per node: ${listed.join(', ')}`
    })
    await this.waitForReplicasInSync(timeoutMs)
  }

  /** `host:port` of every node not paused or killed by the test. */
  private answering(): string[] {
    return this.servers.map((s) => key(s)).filter((address) => !this.silent.has(address))
  }

  private server(node: NodeAddress): SpawnedRedis {
    const server = this.servers.find((s) => s.port === node.port && s.host === node.host)
    if (server === undefined) throw new Error(`${key(node)} is not a node of this cluster`)
    return server
  }

  /** Runs `command` on the first node that answers. */
  private async ask<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    let last: unknown
    for (const server of this.servers) {
      if (this.silent.has(key(server))) continue
      try {
        return await this.on(key(server), command)
      } catch (error) {
        last = error
      }
    }
    throw new Error(`no node of the test cluster answered: ${String(last)}`)
  }

  private async on<T>(address: string, command: (client: Redis) => Promise<T>): Promise<T> {
    const [host = '', port = ''] = address.split(':')
    const client = new Redis({
      host,
      port: Number(port),
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => null,
      connectTimeout: 2000,
      commandTimeout: 2000,
    })
    client.on('error', () => {})
    try {
      return await command(client)
    } finally {
      client.disconnect()
    }
  }

  /** Polls `check` (true, or what is still awaited) until it is true; fails with the last answer at the deadline. */
  private async poll(what: string, timeoutMs: number, check: () => Promise<true | string>): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      try {
        const outcome = await check()
        if (outcome === true) return
        last = outcome
      } catch (error) {
        last = String(error)
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`)
      await sleep(POLL_MS)
    }
  }
}

function key(node: NodeAddress): string {
  return `${node.host}:${node.port}`
}

/** A `name:value` line of INFO or CLUSTER INFO. */
function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1]
}

/** `<id> <ip:port@cport> <flags> <primary> <ping> <pong> <epoch> <link> <slot>…` per line. */
function parseNodes(text: string): NodeView[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', endpoint = '', flags = '', primary = '-', , , , , ...slots] = line.trim().split(' ')
      return {
        id,
        address: endpoint.split('@')[0] ?? '',
        flags: flags.split(','),
        primaryId: primary === '-' ? undefined : primary,
        slots: slots.filter((s) => !s.startsWith('[')).length,
      }
    })
}
