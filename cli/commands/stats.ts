/**
 * `taskmill stats`: a namespace's task counts per state and its worker nodes, from the `stats`
 * script; on a partitioned namespace, added up over the partitions and then shown per partition.
 */
import type { StatsReply } from '../../loader/generated/scripts.js'
import { createRunner } from '../../client/connection.js'
import { addUpStats, readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import { parseCommandArgs, type Command } from '../command.js'
import {
  connectionHelp,
  connectionOptions,
  describeTarget,
  explainUnavailable,
  openTarget,
  targetSpec,
} from '../connection.js'
import { EXIT_OK } from '../errors.js'
import { formatDuration } from '../format.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'
import { placePartitions, renderPartitions, STATES, statsOfEach, totalTasks, type Placements } from '../partitions.js'
import { renderTable } from '../table.js'

const options = { ...connectionOptions, namespace: { type: 'string' }, json: { type: 'boolean' } } as const

const help = `Usage: taskmill stats --namespace NS [--url URL | --cluster SEEDS] [--json]

Shows how many tasks of the namespace are in each state, how many tasks completed and how many
attempts failed since the namespace was created, the paused queues, and each registered worker
node: its weight, capacity, tasks in flight, tasks completed and failed, how long ago it last
reported, and whether it is stale (its last heartbeat is older than the namespace's node timeout,
on the Redis server's clock; housekeeping drops a stale node and gives its tasks to others).

A partitioned namespace is shown added up over its partitions (a node's capacity, tasks in flight,
completed and failed summed, its most recent heartbeat, stale only if stale in every partition it
serves), then one row per partition with its hash
tag, on a cluster the primary serving it, and its tasks in each state.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --json                 Print the reply of the stats script as JSON; for a partitioned namespace,
                         added up, with each partition's own reply under "partitions".
  -h, --help             Show this help.
`

export const statsCommand: Command = {
  name: 'stats',
  summary: 'task counts per state and the worker nodes of a namespace',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('stats', argv, options, { names: [], required: 0 })
    const namespace = namespaceOption('stats', values.namespace)
    const spec = targetSpec(values, 'stats')
    const target = await openTarget(spec)
    try {
      const runner = createRunner(target.redis)
      let table: PartitionTable
      let each: StatsReply[]
      let placements: Placements | undefined
      try {
        table = await readPartitionTable(runner, namespace.name)
        ;[each, placements] = await Promise.all([
          statsOfEach(runner, table, output),
          table.count === 1 ? undefined : placePartitions(target.redis, table),
        ])
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      const reply = table.count === 1 ? each[0]! : addUpStats(each)
      if (values.json) {
        output.out(JSON.stringify(table.count === 1 ? reply : withPartitions(reply, table, each, placements), null, 2) + '\n')
        return EXIT_OK
      }
      const partitioned = table.count === 1 ? '' : `, ${table.count} partitions`
      output.out(`Namespace ${namespace.name} on ${describeTarget(spec)}, dispatch strategy ${reply.strategy}${partitioned}\n\n`)
      output.out(renderStates(reply))
      output.out('\n')
      output.out(renderTotals(reply))
      output.out('\n')
      output.out(reply.nodes.length === 0 ? 'No worker nodes are registered.\n' : renderNodes(reply.nodes, reply.now))
      if (table.count > 1) {
        output.out('\n')
        output.out(renderPartitions(table, each, placements, { withSlot: false }))
      }
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}

/** The added-up reply with each partition's own, named by index and tag (and shard on a cluster). */
function withPartitions(
  total: StatsReply,
  table: PartitionTable,
  each: readonly StatsReply[],
  placements: Placements | undefined,
): StatsReply & { partitions: object[] } {
  return {
    ...total,
    partitions: table.all.map((partition, i) => ({
      partition: partition.partition,
      tag: partition.tag,
      ...placements?.partitions[i],
      ...each[i]!,
    })),
  }
}

function renderStates(reply: StatsReply): string {
  const rows = STATES.map((state) => [state, String(reply[state])])
  rows.push(['total', String(totalTasks(reply))])
  return renderTable([{ header: 'STATE' }, { header: 'TASKS', align: 'right' }], rows)
}

function renderTotals(reply: StatsReply): string {
  const paused = reply.pausedQueues.length === 0 ? 'none' : reply.pausedQueues.join(' ')
  return (
    `Completed since creation: ${reply.completedTotal}\n` +
    `Failed attempts since creation: ${reply.failedTotal}\n` +
    `Paused queues: ${paused}\n`
  )
}

function renderNodes(nodes: StatsReply['nodes'], now: number): string {
  const rows = nodes.map((node) => [
    node.id,
    String(node.weight),
    String(node.capacity),
    String(node.inflight),
    String(node.completed),
    String(node.failed),
    `${formatDuration(Math.max(0, now - node.lastSeenAt))} ago`,
    node.stale ? 'stale' : 'live',
    node.queues === '' ? '(all)' : node.queues.split(',').join(' '),
  ])
  return renderTable(
    [
      { header: 'NODE' },
      { header: 'WEIGHT', align: 'right' },
      { header: 'CAPACITY', align: 'right' },
      { header: 'IN FLIGHT', align: 'right' },
      { header: 'COMPLETED', align: 'right' },
      { header: 'FAILED', align: 'right' },
      { header: 'LAST HEARTBEAT', align: 'right' },
      { header: 'STATUS' },
      { header: 'QUEUES', maxWidth: 40 },
    ],
    rows,
  )
}
