/**
 * Scaling out (`--scenarios=cluster`): one namespace on a three-primary Redis Cluster, as one
 * partition and as three, each run on a fresh cluster so that none pays for another's keys or
 * script cache. The question is where the Redis CPU goes: a partition is a full key set with its
 * own hash tag, so three partitions should put a third of the work on each shard, and spreading
 * should cost little in all (more calls of fewer tasks each, a heartbeat per partition, the
 * partition table read from partition 0).
 *
 * The same two partition counts also run on one standalone redis-server, all partitions on it:
 * what spreading costs by itself, apart from what running three servers costs (on a machine with
 * fewer cores than servers, they also compete for the cores).
 *
 * A run is the e2e scenario through the public API: the worker (one node, concurrency as in e2e,
 * its slots split over the partitions by the Worker) runs in a child process; the producer
 * enqueues N tasks in batches as fast as it can, each task routed by its id, so a batch is split
 * by partition and each partition still gets calls of about `batch` tasks. The window is e2e's:
 * from the first enqueue until the namespace's stats count all N completed. Redis CPU is
 * `used_cpu_user + used_cpu_sys` of each primary over the window; a shard that holds no
 * partition still counts (its cluster housekeeping is part of what the cluster costs).
 *
 * Verification as elsewhere: every task ran once in the worker, stats count N completed and
 * nothing else, each task's record says completed on its first attempt.
 */
import { Redis } from 'ioredis'
import { startCluster, type TestCluster } from '../test/support/cluster.js'
import { makeTasks } from './payload.js'
import { diff, parseInfo, RedisServer, sleep, type InfoDelta, type InfoSnapshot } from './redis-server.js'
import { openPartitionedProducer, type TaskmillProducer } from './systems/taskmill.js'
import { WorkerProcess } from './worker-process.js'

export interface ClusterSizes {
  tasks: number
  /** Tasks per enqueue call in each partition. */
  batch: number
  /** Slots of the one worker node, over all partitions. */
  concurrency: number
  /** The partition counts compared; each round runs every one of them, in this order. */
  partitionCounts: number[]
  /** Rounds of each partition count and topology, taken in turn; the report uses the cheapest of each. */
  rounds: number
}

/** A three-primary cluster, or one standalone redis-server holding every partition. */
export type Topology = 'cluster' | 'standalone'
export const TOPOLOGIES: readonly Topology[] = ['cluster', 'standalone']

export const CLUSTER_QUICK: ClusterSizes = { tasks: 3_000, batch: 1_000, concurrency: 50, partitionCounts: [1, 3], rounds: 1 }
export const CLUSTER_FULL: ClusterSizes = { ...CLUSTER_QUICK, tasks: 20_000, rounds: 3 }

/** Primaries of the cluster; test/support/cluster.ts starts three. */
export const SHARDS = 3

export interface ShardFigures {
  /** `host:port` of the primary (a fresh port every run). */
  node: string
  /** The partitions whose slots this primary serves, by index. */
  partitions: number[]
  /** Redis CPU over the window, µs. */
  cpuUs: number
  cpuUsPerTask: number
  /** The kernel's part of {@link cpuUsPerTask} (used_cpu_sys): socket reads and writes, epoll. */
  sysUsPerTask: number
  /** This shard's part of the CPU of all shards. */
  share: number
  /**
   * INFO commandstats delta, busiest first. Redis 7 counts the commands scripts call, too; the
   * times are wall clock inside Redis, so a server that waits for a core (more servers than
   * cores) shows longer ones: read the calls, not the times.
   */
  commands: { name: string; callsPerTask: number; usecPerCall: number; usecPerTask: number }[]
}

export interface ClusterRun {
  topology: Topology
  partitions: number
  /** 1, 2, …: which round of this partition count. */
  round: number
  ok: boolean
  failure?: string
  tasks: number
  wallMs?: number
  tasksPerSec?: number
  /** Redis CPU of every primary over the window, per task. */
  cpuUsPerTask?: number
  /** EVALSHA and EVALSHA_RO calls on every primary, per task: fewer tasks per call means more calls. */
  scriptCallsPerTask?: number
  /** Commands every primary ran (`total_commands_processed`, which in Redis 7 counts those scripts call), per task. */
  commandsPerTask?: number
  /** In the order of the partitions they hold (the shard of partition 0 first); idle shards last. */
  shards?: ShardFigures[]
  /** The furthest any shard's CPU is from an even share of the total, as a fraction of that share. */
  maxShareDeviation?: number
}

export interface ClusterTable {
  sizes: ClusterSizes
  /** Primaries of the cluster. */
  shards: number
  /** Every round of every topology and partition count, in the order run. */
  runs: ClusterRun[]
}

/** How long the run may take before it counts as failed: generous, so only a hang trips it. */
function deadlineMs(tasks: number): number {
  return 60_000 + tasks * 5
}

class VerificationError extends Error {}

function check(condition: boolean, message: string): void {
  if (!condition) throw new VerificationError(message)
}

export interface ClusterHooks {
  log(line: string): void
  counter(prefix: string, done: number, total: number): void
}

export async function measureCluster(sizes: ClusterSizes, hooks: ClusterHooks): Promise<ClusterTable> {
  const runs: ClusterRun[] = []
  // Rounds in turn, so that other work on the machine falls on every partition count alike.
  for (let round = 1; round <= sizes.rounds; round++) {
    for (const topology of TOPOLOGIES) {
      for (const partitions of sizes.partitionCounts) {
        const where = topology === 'cluster' ? `a fresh ${SHARDS}-primary cluster` : 'one fresh redis-server'
        hooks.log(`P = ${partitions} on ${where}${sizes.rounds > 1 ? `, round ${round} of ${sizes.rounds}` : ''} …`)
        const run = await runOnFreshServers(sizes, topology, partitions, round, hooks)
        hooks.log(`   ${summary(run)}`)
        runs.push(run)
      }
    }
  }
  return { sizes, shards: SHARDS, runs }
}

function summary(run: ClusterRun): string {
  if (!run.ok) return `✗ ${run.failure}`
  const shares = run.shards?.map((shard) => `${(shard.share * 100).toFixed(1)}%`).join(' / ')
  const where = run.topology === 'cluster' ? ` over all shards · shares ${shares}` : ''
  return `✓ ${Math.round(run.tasksPerSec ?? 0).toLocaleString('en-US')} tasks/s · ${run.cpuUsPerTask?.toFixed(1)} µs/task${where}`
}

async function runOnFreshServers(
  sizes: ClusterSizes,
  topology: Topology,
  partitions: number,
  round: number,
  hooks: ClusterHooks,
): Promise<ClusterRun> {
  const { tasks, batch, concurrency } = sizes
  let servers: Servers | undefined
  let producer: TaskmillProducer | undefined
  let worker: WorkerProcess | undefined
  try {
    servers = topology === 'cluster' ? await Servers.cluster() : await Servers.standalone()
    const { url, primaries } = servers
    producer = await openPartitionedProducer(url, partitions)
    const table = producer.scheduler.partitions
    check(table.count === partitions, `the namespace has ${table.count} partitions, expected ${partitions}`)
    const owners = await servers.owners(table.all.map((partition) => partition.key('meta')))

    const all = makeTasks('t', tasks)
    worker = await WorkerProcess.spawn({
      system: 'taskmill',
      url,
      worker: { concurrency, nodes: [{ id: 'n1', weight: 1 }] },
      expected: tasks,
      recordOrder: false,
    })
    await worker.go()
    const before = await Promise.all(primaries.map((primary) => primary.snapshot()))
    const startedAt = performance.now()
    // A chunk of batch × P tasks gives each partition a call of about `batch`.
    for (let i = 0; i < all.length; i += batch * partitions) await producer.enqueueBatch(all.slice(i, i + batch * partitions))
    const running = worker
    const ticker = setInterval(() => hooks.counter(`   P = ${partitions}:`, running.handled, tasks), 200)
    try {
      await worker.untilHandled(deadlineMs(tasks))
      // The handler has run; the completion reaches Redis a moment later.
      const deadline = Date.now() + 30_000
      for (;;) {
        const counts = await producer.counts()
        if (counts.completed >= tasks && counts.unfinished === 0) break
        if (Date.now() > deadline) {
          throw new VerificationError(`all ${tasks} tasks ran, but after 30 s stats count ${counts.completed} completed, ${counts.unfinished} unfinished`)
        }
        await sleep(2)
      }
    } finally {
      clearInterval(ticker)
    }
    const wallMs = performance.now() - startedAt
    const after = await Promise.all(primaries.map((primary) => primary.snapshot()))
    const deltas = before.map((snapshot, i) => diff(snapshot, after[i]!))

    const result = await worker.stop()
    check(result.duplicates === 0, `${result.duplicates} tasks ran more than once`)
    check(result.distinct === tasks && result.handled === tasks, `the worker ran ${result.handled} handler calls for ${result.distinct} distinct tasks, expected ${tasks}`)
    const counts = await producer.counts()
    check(counts.completed === tasks && counts.unfinished === 0 && counts.failed === 0,
      `stats count ${counts.completed} completed, ${counts.unfinished} unfinished, ${counts.failed} failed; expected ${tasks} completed`)
    const problems = await producer.verify(all.map((task) => task.id))
    check(problems.length === 0, problems.join('; '))

    const totalUs = deltas.reduce((sum, delta) => sum + delta.cpuUs, 0)
    const scriptCalls = deltas
      .flatMap((delta) => delta.commands)
      .filter((command) => command.name === 'evalsha' || command.name === 'evalsha_ro')
      .reduce((sum, command) => sum + command.calls, 0)
    const even = totalUs / primaries.length
    return {
      topology,
      partitions,
      round,
      ok: true,
      tasks,
      wallMs,
      tasksPerSec: tasks / (wallMs / 1000),
      cpuUsPerTask: totalUs / tasks,
      scriptCallsPerTask: scriptCalls / tasks,
      commandsPerTask: deltas.reduce((sum, delta) => sum + delta.commandsProcessed, 0) / tasks,
      shards: shardFigures(primaries, owners, deltas, tasks),
      maxShareDeviation: Math.max(...deltas.map((delta) => Math.abs(delta.cpuUs - even) / even)),
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { topology, partitions, round, ok: false, tasks, failure: error instanceof VerificationError ? `verification failed: ${message}` : message }
  } finally {
    worker?.kill()
    await producer?.close().catch(() => undefined)
    await servers?.stop()
  }
}

/** The servers of one run, with an admin connection to each primary. */
class Servers {
  private constructor(
    readonly url: string,
    readonly primaries: Primary[],
    /** For each partition (by the key of its meta hash), the `host:port` of the primary that serves it. */
    readonly owners: (metaKeys: readonly string[]) => Promise<string[]>,
    private readonly stopServers: () => Promise<void>,
  ) {}

  static async cluster(): Promise<Servers> {
    const cluster: TestCluster = await startCluster()
    const primaries = cluster.nodes.map((node) => new Primary(node.host, node.port))
    const url = `redis-cluster://${cluster.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`
    return new Servers(url, primaries, (metaKeys) => partitionOwners(primaries, metaKeys), () => cluster.stop())
  }

  static async standalone(): Promise<Servers> {
    const server = await RedisServer.start()
    const primary = new Primary(new URL(server.url).hostname, server.port)
    return new Servers(server.url, [primary], async (metaKeys) => metaKeys.map(() => primary.name), () => server.stop())
  }

  async stop(): Promise<void> {
    for (const primary of this.primaries) primary.close()
    await this.stopServers()
  }
}

/** An admin connection to one primary, outside the cluster client, for its own INFO. */
class Primary {
  readonly name: string
  private readonly admin: Redis

  constructor(host: string, port: number) {
    this.name = `${host}:${port}`
    this.admin = new Redis({ host, port, maxRetriesPerRequest: 0, retryStrategy: () => null })
    this.admin.on('error', () => undefined)
  }

  async snapshot(): Promise<InfoSnapshot> {
    return parseInfo(await this.admin.info('everything'))
  }

  /** `host:port` of the primary serving each slot range. */
  async slotOwners(): Promise<{ start: number; end: number; owner: string }[]> {
    const ranges = await this.admin.cluster('SLOTS')
    return ranges.map(([start, end, primary]) => ({ start, end, owner: `${primary?.[0]}:${primary?.[1]}` }))
  }

  async keySlot(key: string): Promise<number> {
    return (await this.admin.cluster('KEYSLOT', key)) as number
  }

  close(): void {
    this.admin.disconnect()
  }
}

/** For each partition (by the key of its meta hash), the primary that serves it. */
async function partitionOwners(primaries: readonly Primary[], metaKeys: readonly string[]): Promise<string[]> {
  const asked = primaries[0]!
  const ranges = await asked.slotOwners()
  return Promise.all(
    metaKeys.map(async (key) => {
      const slot = await asked.keySlot(key)
      const owner = ranges.find((range) => slot >= range.start && slot <= range.end)?.owner
      if (owner === undefined) throw new Error(`no primary serves slot ${slot} of ${key}`)
      return owner
    }),
  )
}

function shardFigures(primaries: readonly Primary[], owners: readonly string[], deltas: readonly InfoDelta[], tasks: number): ShardFigures[] {
  const totalUs = deltas.reduce((sum, delta) => sum + delta.cpuUs, 0)
  const shards = primaries.map((primary, i) => {
    const delta = deltas[i]!
    return {
      node: primary.name,
      partitions: owners.flatMap((owner, partition) => (owner === primary.name ? [partition] : [])),
      cpuUs: delta.cpuUs,
      cpuUsPerTask: delta.cpuUs / tasks,
      sysUsPerTask: delta.cpuSysUs / tasks,
      share: delta.cpuUs / totalUs,
      commands: delta.commands.slice(0, 8).map((c) => ({
        name: c.name,
        callsPerTask: c.calls / tasks,
        usecPerCall: c.usecPerCall,
        usecPerTask: c.usec / tasks,
      })),
    }
  })
  const firstPartition = (shard: ShardFigures): number => shard.partitions[0] ?? Number.MAX_SAFE_INTEGER
  return shards.sort((a, b) => firstPartition(a) - firstPartition(b))
}
