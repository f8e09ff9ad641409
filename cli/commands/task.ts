/**
 * `taskmill task ID`: one task as the `get-task` script reads it, from whichever partition holds
 * it (`findTask`: the partition its id routes to first, then the others).
 */
import type { GetTaskReply } from '../../loader/generated/scripts.js'
import { createRunner } from '../../client/connection.js'
import { findTask, readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import type { Namespace } from '../../loader/keys.js'
import { integerOption, parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions, describeTarget, explainUnavailable, openTarget, serverTimeMs, targetSpec } from '../connection.js'
import { CliFailure, EXIT_OK } from '../errors.js'
import { formatBytes, formatTimestamp } from '../format.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'
import { renderPairs } from '../table.js'

const DEFAULT_MAX_BYTES = 256

const options = { ...connectionOptions, namespace: { type: 'string' }, 'max-bytes': { type: 'string' } } as const

const help = `Usage: taskmill task --namespace NS [--url URL | --cluster SEEDS] [--max-bytes N] ID

Shows one task: state, attempts, the node holding it, its timestamps, the error or reason it
failed with, and its payload and result (as text when printable, else hex; cut after N bytes).
In a partitioned namespace every partition is searched, and the one holding the task is shown.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --max-bytes N          Show at most N bytes of the payload and the result. Default: ${DEFAULT_MAX_BYTES}.
  -h, --help             Show this help.
`

type Task = NonNullable<GetTaskReply>

export const taskCommand: Command = {
  name: 'task',
  summary: 'one task: state, attempts, node, timestamps, payload and result',
  help,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('task', argv, options, { names: ['ID'], required: 1 })
    const id = positionals[0]!
    const namespace = namespaceOption('task', values.namespace)
    const maxBytes = integerOption('task', 'max-bytes', values['max-bytes'], DEFAULT_MAX_BYTES)
    const spec = targetSpec(values, 'task')
    const target = await openTarget(spec)
    try {
      const runner = createRunner(target.redis)
      let table: PartitionTable
      let found: { partition: Namespace; task: Task } | undefined
      let now: number
      try {
        table = await readPartitionTable(runner, namespace.name)
        ;[found, now] = await Promise.all([findTask(runner, table, id), serverTimeMs(target.redis)])
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      if (found === undefined) {
        const where = table.count === 1 ? '' : ` (all ${table.count} partitions searched)`
        throw new CliFailure(
          `no task ${JSON.stringify(id)} in namespace ${namespace.name}${where} on ${describeTarget(spec)}: ` +
            'it was never enqueued there, or retention has removed it since it finished',
        )
      }
      const partition = table.count === 1 ? undefined : `${found.partition.partition} of ${table.count} (tag ${found.partition.tag})`
      output.out(renderPairs(taskPairs(found.task, partition, now, maxBytes), 100))
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}

function taskPairs(task: Task, partition: string | undefined, now: number, maxBytes: number): [string, string][] {
  const time = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : formatTimestamp(ms, now))
  const lost = task.lostAttempts > 0 ? ` (+${task.lostAttempts} lost with their node)` : ''
  const dependencies =
    task.dependsOn.length === 0
      ? undefined
      : `${task.dependsOn.join(' ')}${task.unmetDependencies > 0 ? ` (${task.unmetDependencies} not completed yet)` : ''}`
  const pairs: [string, string | undefined][] = [
    ['id', task.id],
    ['partition', partition],
    ['state', task.state + (task.cancelRequested ? ' (cancel requested)' : '')],
    ['queue', task.queue],
    ['priority', String(task.priority)],
    ['attempts', `${task.attempts} of ${task.maxAttempts}${lost}`],
    ['depends on', dependencies],
    ['node', task.node === undefined ? undefined : `${task.node}${task.token === undefined ? '' : ` (lease token ${task.token})`}`],
    ['enqueued', time(task.enqueuedAt)],
    // Only a delayed or retried task has a due time of its own.
    ['run at', task.runAt > task.enqueuedAt ? time(task.runAt) : undefined],
    ['assigned', time(task.assignedAt)],
    ['started', time(task.startedAt)],
    ['finished', time(task.finishedAt)],
    ['error', task.error],
    ['reason', task.reason],
    ['payload', formatBytes(task.payload, maxBytes)],
    ['result', task.result === undefined ? undefined : formatBytes(task.result, maxBytes)],
  ]
  return pairs.filter((pair): pair is [string, string] => pair[1] !== undefined)
}
