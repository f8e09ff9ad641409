/**
 * `taskmill retry ID`, `taskmill remove ID` and `taskmill clean --older-than MS`: the operator's
 * changes to finished tasks, each one script call (or, for clean, bounded calls on every
 * partition until nothing is left). `taskmill pause QUEUE` and `taskmill resume QUEUE`: one call
 * on each partition. Refusals come back as the scripts' TM_ errors.
 */
import type { ScriptRunner } from '../../loader/runner.js'
import type { Namespace } from '../../loader/keys.js'
import { cleanTasks, pauseQueue, removeTask, resumeQueue, retryTask } from '../../loader/generated/scripts.js'
import { createRunner } from '../../client/connection.js'
import { findTask, readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import { integerOption, parseCommandArgs, requireOption, type Command } from '../command.js'
import { connectionHelp, connectionOptions, describeTarget, explainUnavailable, openTarget, targetSpec } from '../connection.js'
import { CliFailure, EXIT_OK, UsageError } from '../errors.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'

type Values = { namespace?: string; url?: string; cluster?: string }

/** Opens the target, reads the partition table and runs `act`; connection failures are explained. */
export async function withNamespace(
  command: string,
  values: Values,
  act: (runner: ScriptRunner, table: PartitionTable, where: string) => Promise<string>,
  output: { out(text: string): void },
): Promise<number> {
  const namespace = namespaceOption(command, values.namespace)
  const spec = targetSpec(values, command)
  const target = await openTarget(spec)
  try {
    const runner = createRunner(target.redis)
    let table: PartitionTable
    try {
      table = await readPartitionTable(runner, namespace.name)
    } catch (error) {
      throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
    }
    output.out(await act(runner, table, `namespace ${namespace.name} on ${describeTarget(spec)}`))
    return EXIT_OK
  } finally {
    await target.close()
  }
}

async function partitionOf(runner: ScriptRunner, table: PartitionTable, id: string, where: string): Promise<Namespace> {
  const found = await findTask(runner, table, id)
  if (found === undefined) {
    throw new CliFailure(`no task ${JSON.stringify(id)} in ${where}: it was never enqueued there, or it has been removed`)
  }
  return found.partition
}

const idOptions = { ...connectionOptions, namespace: { type: 'string' } } as const

export const retryCommand: Command = {
  name: 'retry',
  summary: 'run a dead or canceled task again, same id, fresh attempts',
  help: `Usage: taskmill retry --namespace NS [--url URL | --cluster SEEDS] ID

Runs a dead or canceled task again under its id, with a fresh attempt budget; prints its new
state (ready, or delayed when it was canceled before its run-at time). Refused for a task in
another state, one whose dependencies did not complete, and one that had dependents (they have
settled on its failure already and stay as they are).

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('retry', argv, idOptions, { names: ['ID'], required: 1 })
    const id = positionals[0]!
    return withNamespace('retry', values, async (runner, table, where) => {
      const state = await retryTask(runner, await partitionOf(runner, table, id, where), { id })
      return `${id}: ${state}\n`
    }, output)
  },
}

export const removeCommand: Command = {
  name: 'remove',
  summary: 'remove a finished task now',
  help: `Usage: taskmill remove --namespace NS [--url URL | --cluster SEEDS] ID

Removes a completed, dead or canceled task now instead of at its retention time; prints the
state it had. Refused while it is unfinished, or while a dependent may still read its result.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('remove', argv, idOptions, { names: ['ID'], required: 1 })
    const id = positionals[0]!
    return withNamespace('remove', values, async (runner, table, where) => {
      const state = await removeTask(runner, await partitionOf(runner, table, id, where), { id })
      return `${id}: removed (was ${state})\n`
    }, output)
  },
}

const CLEAN_STATES = ['completed', 'dead', 'canceled', 'finished'] as const
const CLEAN_LIMIT = 1000

export const cleanCommand: Command = {
  name: 'clean',
  summary: 'remove finished tasks older than a time',
  help: `Usage: taskmill clean --namespace NS [--url URL | --cluster SEEDS] --older-than MS [--state S]

Removes the finished tasks that finished at least MS milliseconds ago, on every partition, in
calls of ${CLEAN_LIMIT}; prints how many. Tasks a dependent may still read are left for retention.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --older-than MS        Only tasks that finished at least MS ms ago (server time). Required.
  --state S              completed, dead, canceled or finished (all three). Default: finished.
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const options = { ...idOptions, 'older-than': { type: 'string' }, state: { type: 'string' } } as const
    const { values } = parseCommandArgs('clean', argv, options, { names: [], required: 0 })
    const olderThanMs = integerOption('clean', 'older-than', requireOption('clean', 'older-than', values['older-than']), 0)
    const state = (values.state ?? 'finished') as (typeof CLEAN_STATES)[number]
    if (!CLEAN_STATES.includes(state)) {
      throw new UsageError(`--state ${JSON.stringify(values.state)}: expected one of ${CLEAN_STATES.join(', ')}`, 'clean')
    }
    return withNamespace('clean', values, async (runner, table) => {
      let removed = 0
      for (const partition of table.all) {
        let skip = 0
        for (;;) {
          const [gone, passed, more] = await cleanTasks(runner, partition, { state, olderThanMs, limit: CLEAN_LIMIT, skip })
          removed += gone
          skip += passed
          if (more === 0) break
        }
      }
      return `removed ${removed} ${state === 'finished' ? 'finished' : state} task${removed === 1 ? '' : 's'}\n`
    }, output)
  },
}

const partitionCount = (count: number): string => `${count} partition${count === 1 ? '' : 's'}`

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'stop dispatching the tasks of a queue',
  help: `Usage: taskmill pause --namespace NS [--url URL | --cluster SEEDS] QUEUE

Pauses a queue on every partition: none of its tasks is given to a node until it is resumed
(they stay ready); its tasks already assigned or running finish as usual, and other queues go
on. Pausing a paused queue changes nothing, and says so.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('pause', argv, idOptions, { names: ['QUEUE'], required: 1 })
    const queue = positionals[0]!
    return withNamespace('pause', values, async (runner, table) => {
      const replies = await Promise.all(table.all.map((partition) => pauseQueue(runner, partition, { queue })))
      const paused = replies[0]?.pausedQueues.split(',').join(', ') ?? ''
      const changed = replies.some((reply) => reply.changed === 1)
      return `queue ${queue}: ${changed ? `paused on ${partitionCount(table.count)}` : 'was paused already'} (paused queues: ${paused})\n`
    }, output)
  },
}

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'dispatch the tasks of a paused queue again',
  help: `Usage: taskmill resume --namespace NS [--url URL | --cluster SEEDS] QUEUE

Resumes a paused queue on every partition; its ready tasks go to free nodes at once, and the
line printed says how many were given out. Resuming a queue that is not paused changes nothing,
and says so.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('resume', argv, idOptions, { names: ['QUEUE'], required: 1 })
    const queue = positionals[0]!
    return withNamespace('resume', values, async (runner, table) => {
      const replies = await Promise.all(table.all.map((partition) => resumeQueue(runner, partition, { queue })))
      if (!replies.some((reply) => reply.changed === 1)) return `queue ${queue}: was not paused\n`
      const dispatched = replies.reduce((sum, reply) => sum + reply.dispatched, 0)
      return `queue ${queue}: resumed on ${partitionCount(table.count)}, ${dispatched} task${dispatched === 1 ? '' : 's'} dispatched\n`
    }, output)
  },
}
