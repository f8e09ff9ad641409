/**
 * A namespace's partitions as a client sees them: the table read from partition 0 (how many,
 * each one's hash tag, the counts it has had), routing by loader/routing.ts, and raising the
 * count. Partition 0 is the namespace's own key set, so an unpartitioned namespace is a table
 * of one and costs nothing extra.
 */
import type { Cluster, Redis } from 'ioredis'
import {
  addPartitions,
  getTask,
  init,
  partitions,
  pauseQueue,
  type GetTaskReply,
  type InitArgs,
  type PartitionsReply,
  type StatsReply,
} from '../loader/generated/scripts.js'
import { Namespace, partitionTag } from '../loader/keys.js'
import { partitionOf, slotOfTag } from '../loader/routing.js'
import type { ScriptRunner } from '../loader/runner.js'

/** The most partitions a namespace may have; the add-partitions script refuses more. */
export const MAX_PARTITIONS = 1024

export class PartitionTable {
  /** Every partition, by index. */
  readonly all: readonly Namespace[]
  /** The counts the namespace has had, oldest first; the last is the current count. */
  readonly history: readonly number[]

  constructor(
    readonly namespace: string,
    reply: Pick<PartitionsReply, 'tags' | 'history'>,
  ) {
    this.all = reply.tags.map((tag, index) => new Namespace(namespace, { index, tag }))
    this.history = reply.history
  }

  /** A namespace that has never been partitioned. */
  static single(namespace: string): PartitionTable {
    return new PartitionTable(namespace, { tags: [namespace], history: [1] })
  }

  get count(): number {
    return this.all.length
  }

  /** The partition a new task of this routing key goes to. */
  route(routingKey: string): Namespace {
    return this.all[partitionOf(routingKey, this.count)] as Namespace
  }

  /**
   * Where a task of this routing key may be: its partition under the current count first, then
   * under each earlier count, newest first; a raised count moves no task.
   */
  candidates(routingKey: string): Namespace[] {
    const found: Namespace[] = []
    for (let i = this.history.length - 1; i >= 0; i--) {
      const partition = this.all[partitionOf(routingKey, this.history[i] as number)] as Namespace
      if (!found.includes(partition)) found.push(partition)
    }
    return found
  }
}

export async function readPartitionTable(runner: ScriptRunner, namespace: string): Promise<PartitionTable> {
  const reply = await partitions(runner, new Namespace(namespace))
  return new PartitionTable(namespace, reply)
}

/** The configuration partition 0 holds, as the `init` script takes it. */
export function configOf(reply: PartitionsReply): Omit<InitArgs, 'keepExisting'> {
  return {
    strategy: reply.strategy as InitArgs['strategy'],
    payloadCap: reply.payloadCap,
    resultCap: reply.resultCap,
    keepCompletedMs: reply.keepCompletedMs,
    keepCompletedCount: reply.keepCompletedCount,
    keepDeadMs: reply.keepDeadMs,
    keepDeadCount: reply.keepDeadCount,
    eventsMaxLen: reply.eventsMaxLen,
    nodeTimeoutMs: reply.nodeTimeoutMs,
  }
}

/**
 * Raises the partition count to `count`. Each new partition is initialised with partition 0's
 * configuration, and paused for the queues paused there, before the table names it, so no client ever routes to a partition that is not
 * ready; two raises at once are told apart by the count each read (TM_PARTITIONS_CHANGED for the
 * loser). Lowering is refused: tasks live where they were routed, and no partition is emptied.
 */
export async function raisePartitions(runner: ScriptRunner, namespace: string, count: number): Promise<PartitionTable> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw new RangeError(`partitions: expected an integer from 1 to ${MAX_PARTITIONS}, got ${count}`)
  }
  const reply = await partitions(runner, new Namespace(namespace))
  if (count < reply.count) {
    throw new RangeError(
      `partitions: namespace ${namespace} has ${reply.count} partitions; the count cannot be lowered (tasks stay in the partition they were routed to)`,
    )
  }
  if (count === reply.count) return new PartitionTable(namespace, reply)
  const salts = await chooseSalts(runner.redis, namespace, reply.tags, count)
  const config = configOf(reply)
  await Promise.all(
    salts.map(async (salt, i) => {
      const index = reply.count + i
      const partition = new Namespace(namespace, { index, tag: partitionTag(namespace, index, salt) })
      await init(runner, partition, config)
      // Paused in partition 0, paused in the new partition before anything can be routed there.
      for (const queue of reply.pausedQueues?.split(',') ?? []) await pauseQueue(runner, partition, { queue })
    }),
  )
  await addPartitions(runner, new Namespace(namespace), { count: reply.count, partitions: salts.map((salt) => ({ salt })) })
  return readPartitionTable(runner, namespace)
}

/**
 * The salts of the new partitions' tags. On a cluster each new partition goes to the shard
 * holding the fewest partitions so far, so P partitions over S shards put P/S on each (rounded);
 * the salt is the smallest that lands the tag's slot on that shard. On one Redis any tag will
 * do, and the salt is 0.
 */
async function chooseSalts(redis: Redis | Cluster, namespace: string, tags: readonly string[], count: number): Promise<number[]> {
  const first = tags.length
  if (!isCluster(redis)) return Array.from({ length: count - first }, () => 0)
  const owners = await slotOwners(redis)
  const load = new Map<string, number>()
  for (const owner of new Set(owners)) load.set(owner, 0)
  for (const tag of tags) {
    const owner = owners[slotOfTag(tag)] as string
    load.set(owner, (load.get(owner) ?? 0) + 1)
  }
  const salts: number[] = []
  for (let index = first; index < count; index++) {
    const target = [...load.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0]
    let salt = 0
    // With S shards about one salt in S lands on the target, so this ends within a few tries.
    while (owners[slotOfTag(partitionTag(namespace, index, salt))] !== target) salt++
    salts.push(salt)
    load.set(target, (load.get(target) ?? 0) + 1)
  }
  return salts
}

function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as Cluster).isCluster === true
}

/** The shard (its primary's node id) that serves each of the 16,384 slots, from CLUSTER SLOTS. */
async function slotOwners(cluster: Cluster): Promise<string[]> {
  const ranges = await cluster.cluster('SLOTS')
  const owners = new Array<string>(16384).fill('')
  for (const [start, end, primary] of ranges) {
    if (primary !== undefined) owners.fill(primary[2] ?? `${primary[0]}:${primary[1]}`, start, end + 1)
  }
  return owners
}

/**
 * The partition holding task `id` and its record, or undefined when no partition has it. The
 * id's own partition under the current count is read first, then under earlier counts; a task
 * routed by another key (a batch's later tasks, a partitionKey) is then looked for in every
 * other partition at once.
 */
export async function findTask(
  runner: ScriptRunner,
  table: PartitionTable,
  id: string,
): Promise<{ partition: Namespace; task: GetTaskReply & object } | undefined> {
  const likely = table.candidates(id)
  for (const partition of likely) {
    const task = await getTask(runner, partition, { id })
    if (task) return { partition, task }
  }
  const others = table.all.filter((partition) => !likely.includes(partition))
  const found = await Promise.all(others.map((partition) => getTask(runner, partition, { id })))
  const index = found.findIndex((task) => task !== null)
  return index < 0 ? undefined : { partition: others[index] as Namespace, task: found[index] as GetTaskReply & object }
}

/**
 * The partitions' counts and totals added up, the paused queues of all of them (each partition
 * holds the same list, and a union shows one that a pause reached only in part); a node's figures
 * added up over the partitions it serves: its last heartbeat is the latest, and it is stale only
 * where it is stale in every partition it serves. `now` is the latest server time read.
 */
export function addUpStats(each: readonly StatsReply[]): StatsReply {
  const [first, ...rest] = each as [StatsReply, ...StatsReply[]]
  const total: StatsReply = {
    ...first,
    pausedQueues: [...first.pausedQueues],
    nodes: first.nodes.map((node) => ({ ...node })),
  }
  const counts = [
    'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled',
    'completedTotal', 'failedTotal',
  ] as const
  const nodes = new Map(total.nodes.map((node) => [node.id, node]))
  const paused = new Set(total.pausedQueues)
  for (const reply of rest) {
    for (const count of counts) total[count] += reply[count]
    total.now = Math.max(total.now, reply.now)
    for (const queue of reply.pausedQueues) paused.add(queue)
    for (const node of reply.nodes) {
      const known = nodes.get(node.id)
      if (!known) {
        const copy = { ...node }
        nodes.set(node.id, copy)
        total.nodes.push(copy)
        continue
      }
      known.capacity += node.capacity
      known.inflight += node.inflight
      known.completed += node.completed
      known.failed += node.failed
      known.lastSeenAt = Math.max(known.lastSeenAt, node.lastSeenAt)
      known.stale = known.stale && node.stale
    }
  }
  total.pausedQueues = [...paused].sort()
  total.nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return total
}

