/**
 * What `stats`, `task` and `partitions` show of a namespace's partitions: each partition's
 * counts (the `stats` script, once per partition), where its slot lives on a cluster, and the
 * table with one row per partition. An unpartitioned namespace is a table of one, so the
 * commands read it the same way and show the partition only when there is more than one.
 */
import { Cluster, type Redis } from 'ioredis'
import type { PartitionTable } from '../client/partitions.js'
import { stats, type StatsReply } from '../loader/generated/scripts.js'
import type { ScriptRunner } from '../loader/runner.js'
import { Progress, type Output } from './io.js'
import { renderTable, type Column } from './table.js'

/** The task states of the `stats` reply, in its order. */
export const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

/** Where a partition lives on a cluster: its hash tag's slot and the primary serving that slot. */
export interface Placement {
  readonly slot: number
  /** The primary's `host:port`, as CLUSTER SLOTS gives it. */
  readonly shard: string
}

/**
 * The `stats` reply of every partition, by index. The calls go out together, each to the shard
 * holding its partition; a terminal sees how many have answered.
 */
export async function statsOfEach(runner: ScriptRunner, table: PartitionTable, output: Output): Promise<StatsReply[]> {
  if (table.count === 1) return [await stats(runner, table.all[0]!)]
  const progress = new Progress(output)
  let answered = 0
  try {
    return await Promise.all(
      table.all.map(async (partition) => {
        const reply = await stats(runner, partition)
        progress.update(`reading stats: ${++answered} of ${table.count} partitions`)
        return reply
      }),
    )
  } finally {
    progress.done()
  }
}

/** Where a namespace's partitions live on a cluster. */
export interface Placements {
  /** Each partition's, by index. */
  readonly partitions: readonly Placement[]
  /** Every primary serving slots, as `host:port`, sorted: the shards a partition may be on. */
  readonly primaries: readonly string[]
}

/**
 * On a cluster, each partition's slot (CLUSTER KEYSLOT of its hash tag) and the primary that
 * serves it (CLUSTER SLOTS); undefined on a single Redis, where there is one shard.
 */
export async function placePartitions(redis: Redis | Cluster, table: PartitionTable): Promise<Placements | undefined> {
  if (!(redis instanceof Cluster)) return undefined
  const [ranges, slots] = await Promise.all([
    redis.cluster('SLOTS'),
    Promise.all(table.all.map(async (partition) => (await redis.cluster('KEYSLOT', `{${partition.tag}}`)) as number)),
  ])
  const address = (primary: [string, number, ...unknown[]]): string => `${primary[0]}:${primary[1]}`
  return {
    partitions: slots.map((slot) => {
      const primary = ranges.find(([start, end]) => start <= slot && slot <= end)?.[2]
      // A slot no primary serves: the cluster is resharding or has lost a shard.
      return { slot, shard: primary === undefined ? '(no primary)' : address(primary) }
    }),
    primaries: [...new Set(ranges.flatMap(([, , primary]) => (primary === undefined ? [] : [address(primary)])))].sort(),
  }
}

/** All the tasks of one reply, whatever their state. */
export function totalTasks(reply: StatsReply): number {
  return STATES.reduce((sum, state) => sum + reply[state], 0)
}

/**
 * One row per partition: its index and hash tag, on a cluster its slot (when `withSlot`) and
 * shard, then its tasks in each state and in all.
 */
export function renderPartitions(
  table: PartitionTable,
  each: readonly StatsReply[],
  placements: Placements | undefined,
  options: { withSlot: boolean },
): string {
  const columns: Column[] = [{ header: 'PARTITION', align: 'right' }, { header: 'TAG' }]
  if (placements !== undefined) {
    if (options.withSlot) columns.push({ header: 'SLOT', align: 'right' })
    columns.push({ header: 'SHARD' })
  }
  columns.push(...STATES.map((state): Column => ({ header: state.toUpperCase(), align: 'right' })), { header: 'TOTAL', align: 'right' })
  const rows = table.all.map((partition, i) => {
    const reply = each[i]!
    const placement = placements?.partitions[i]
    const where = placement === undefined ? [] : options.withSlot ? [String(placement.slot), placement.shard] : [placement.shard]
    return [String(partition.partition), partition.tag, ...where, ...STATES.map((state) => String(reply[state])), String(totalTasks(reply))]
  })
  return renderTable(columns, rows)
}
