/**
 * `taskmill metrics`: a namespace's metrics in Prometheus text exposition format, from the
 * `metrics` script (one call per partition), added up as `Scheduler.metrics()` does.
 */
import { createRunner } from '../../client/connection.js'
import { formatMetrics } from '../../client/metrics.js'
import { readPartitionTable } from '../../client/partitions.js'
import { metrics } from '../../loader/generated/scripts.js'
import { parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions, explainUnavailable, openTarget, targetSpec } from '../connection.js'
import { EXIT_OK } from '../errors.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'

const options = { ...connectionOptions, namespace: { type: 'string' } } as const

const help = `Usage: taskmill metrics --namespace NS [--url URL | --cluster SEEDS]

Prints the namespace's metrics in Prometheus text exposition format, added up over its
partitions: tasks per state (taskmill_tasks) and per queue and state (taskmill_queue_tasks),
paused queues, completed tasks and failed attempts as counters, each worker node's tasks in
flight, capacity and staleness, and the age of the next ready task in seconds.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`

export const metricsCommand: Command = {
  name: 'metrics',
  summary: 'a namespace in Prometheus text format',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('metrics', argv, options, { names: [], required: 0 })
    const namespace = namespaceOption('metrics', values.namespace)
    const spec = targetSpec(values, 'metrics')
    const target = await openTarget(spec)
    try {
      const runner = createRunner(target.redis)
      let text: string
      try {
        const table = await readPartitionTable(runner, namespace.name)
        const each = await Promise.all(table.all.map((partition) => metrics(runner, partition)))
        text = formatMetrics(namespace.name, each)
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      output.out(text)
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}
