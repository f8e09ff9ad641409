/**
 * `taskmill partitions`: a namespace's partition table (each partition's hash tag, on a cluster
 * its slot and primary, its tasks per state), and raising the partition count with
 * `raisePartitions`, the function `Scheduler.addPartitions` uses. The raise reports each step
 * as it happens by watching the script calls `raisePartitions` makes through the runner it is
 * given: one `init` per new partition, then one `add-partitions` that publishes them all.
 */
import type { Cluster, Redis } from 'ioredis'
import { MAX_PARTITIONS, raisePartitions, readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import { TaskmillScriptError } from '../../loader/errors.js'
import { errorClassesByCode } from '../../loader/generated/errors.js'
import { allScripts, type StatsReply } from '../../loader/generated/scripts.js'
import type { ScriptDefinition } from '../../loader/contract.js'
import type { Namespace } from '../../loader/keys.js'
import { ScriptRunner } from '../../loader/runner.js'
import { integerOption, parseCommandArgs, type Command } from '../command.js'
import {
  connectionHelp,
  connectionOptions,
  describeTarget,
  explainUnavailable,
  openTarget,
  targetSpec,
  type TargetSpec,
} from '../connection.js'
import { CliFailure, EXIT_OK, UsageError } from '../errors.js'
import type { Output } from '../io.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'
import { placePartitions, renderPartitions, statsOfEach, type Placements } from '../partitions.js'

const options = { ...connectionOptions, namespace: { type: 'string' }, raise: { type: 'string' } } as const

const help = `Usage: taskmill partitions --namespace NS [--url URL | --cluster SEEDS] [--raise N]

Shows the namespace's partitions: each one's index and hash tag (its keys are tm:{TAG}:…), on a
cluster the slot of that tag and the primary serving it, and its tasks in each state. A namespace
that was never partitioned is one partition, its own key set.

With --raise N, raises the partition count to N first, as Scheduler.addPartitions does: each new
partition is initialised with the namespace's configuration, then all are published in the
partition table at once. Tasks that exist stay where they are; new tasks spread over all N
partitions, and running workers pick the new ones up within 20 heartbeats. The count cannot be
lowered. On a cluster each new partition's tag is chosen to land on the primary with the fewest.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --raise N              Raise the partition count to N (at most ${MAX_PARTITIONS}); N equal to the count
                         changes nothing.
  -h, --help             Show this help.
`

export const partitionsCommand: Command = {
  name: 'partitions',
  summary: 'a namespace\'s partitions: tag, slot, shard, tasks; --raise N adds more',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('partitions', argv, options, { names: [], required: 0 })
    const namespace = namespaceOption('partitions', values.namespace)
    const raise = values.raise === undefined ? undefined : integerOption('partitions', 'raise', values.raise, 0)
    if (raise !== undefined && (raise < 1 || raise > MAX_PARTITIONS)) {
      throw new UsageError(`--raise ${raise}: expected a partition count from 1 to ${MAX_PARTITIONS}`, 'partitions')
    }
    const spec = targetSpec(values, 'partitions')
    const target = await openTarget(spec)
    try {
      const runner = new ReportingRunner(target.redis)
      let table: PartitionTable
      let each: StatsReply[]
      let placements: Placements | undefined
      try {
        table = await readPartitionTable(runner, namespace.name)
        if (raise !== undefined) table = await raiseCount(runner, table, raise, spec, output)
        ;[each, placements] = await Promise.all([statsOfEach(runner, table, output), placePartitions(target.redis, table)])
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      output.out(`Namespace ${namespace.name} on ${describeTarget(spec)}: ${describeCount(table)}\n\n`)
      output.out(renderPartitions(table, each, placements, { withSlot: true }))
      if (placements !== undefined) output.out(`\n${spread(placements)}\n`)
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}

/**
 * Raises the count to `count`, or says why it does not: refuses a lower count before anything
 * is written, and turns a raise that lost a race with another into advice on what to do.
 */
async function raiseCount(
  runner: ReportingRunner,
  table: PartitionTable,
  count: number,
  spec: TargetSpec,
  output: Output,
): Promise<PartitionTable> {
  const name = table.namespace
  if (count < table.count) throw cannotLower(name, table.count, count)
  if (count === table.count) {
    output.err(`Namespace ${name} has ${plural(count, 'partition')} already: nothing to raise.\n`)
    return table
  }
  const first = table.count
  output.err(`Raising namespace ${name} from ${table.count} to ${count} partitions on ${describeTarget(spec)}\n`)
  output.err(
    `  choosing hash tags for ${range(first, count - 1)}` +
      (spec.kind === 'cluster' ? ', each on the primary with the fewest partitions\n' : '\n'),
  )
  let initialised = 0
  runner.report = (definition, partition, phase) => {
    if (definition.name === 'init' && phase === 'done') {
      output.err(`  initialised partition ${partition.partition} (tag ${partition.tag}), ${++initialised} of ${count - first}\n`)
    } else if (definition.name === 'add-partitions' && phase === 'start') {
      output.err(`  publishing ${range(first, count - 1)} in the partition table\n`)
    }
  }
  let raised: PartitionTable
  try {
    raised = await raisePartitions(runner, name, count)
  } catch (error) {
    // Another raise got in between this command's read and its own.
    if (error instanceof RangeError) {
      throw new CliFailure(`${error.message.replace(/^partitions: /, '')}. Run \`taskmill partitions --namespace ${name}\` to see the count now.`)
    }
    if (error instanceof TaskmillScriptError && error.code === 'TM_PARTITIONS_CHANGED') {
      throw new CliFailure(
        `another client changed the partition count of namespace ${name} while this raise ran, so this raise was not applied: ` +
          `run \`taskmill partitions --namespace ${name}\` to see the count now, and --raise ${count} again if it is still lower.`,
      )
    }
    throw error
  } finally {
    runner.report = undefined
  }
  output.err(
    `Namespace ${name} has ${raised.count} partitions now. Tasks that exist stay where they are; new tasks spread\n` +
      'over every partition, and running workers pick the new partitions up within 20 heartbeats (20 s at the default interval).\n',
  )
  if (spec.kind === 'standalone') {
    output.err('On a single Redis every partition shares one core: partitions spread the load only over a cluster\'s shards.\n')
  }
  output.err('\n')
  return raised
}

function cannotLower(namespace: string, current: number, asked: number): CliFailure {
  return new CliFailure(
    `namespace ${namespace} has ${current} partitions and --raise ${asked} would lower that: the partition count cannot be ` +
      'lowered, because every task stays in the partition it was routed to and no partition is ever emptied. ' +
      `Pass --raise with a count above ${current} to add partitions, or leave the count as it is.`,
  )
}

/** `3 partitions (earlier counts: 1)`, or `1 partition` for a namespace never partitioned. */
function describeCount(table: PartitionTable): string {
  const earlier = table.history.slice(0, -1)
  return plural(table.count, 'partition') + (earlier.length === 0 ? '' : ` (earlier counts: ${earlier.join(', ')})`)
}

/** How many partitions each primary serves, every primary named, as a check that they are spread evenly. */
function spread(placements: Placements): string {
  const counts = new Map(placements.primaries.map((primary) => [primary, 0]))
  for (const { shard } of placements.partitions) counts.set(shard, (counts.get(shard) ?? 0) + 1)
  return `Partitions per primary: ${[...counts].map(([primary, n]) => `${primary} ${n}`).join(', ')}.`
}

function range(first: number, last: number): string {
  return first === last ? `partition ${first}` : `partitions ${first} to ${last}`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * The client's ScriptRunner (every script, every error class), telling `report` as each call
 * starts and ends, so a raise can say how far it has got.
 */
class ReportingRunner extends ScriptRunner {
  report: ((definition: ScriptDefinition, partition: Namespace, phase: 'start' | 'done') => void) | undefined

  constructor(redis: Redis | Cluster) {
    super(redis, allScripts, { errorClasses: errorClassesByCode })
  }

  override async call(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): Promise<unknown> {
    this.report?.(definition, namespace, 'start')
    const reply = await super.call(definition, namespace, args)
    this.report?.(definition, namespace, 'done')
    return reply
  }
}
