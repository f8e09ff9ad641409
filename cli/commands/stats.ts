/** `taskmill stats`: a namespace's task counts per state and its worker nodes, from the `stats` script. */
import { stats, type StatsReply } from '../../loader/generated/scripts.js'
import { createRunner } from '../../client/connection.js'
import { parseCommandArgs, type Command } from '../command.js'
import {
  connectionHelp,
  connectionOptions,
  describeTarget,
  explainUnavailable,
  openTarget,
  serverTimeMs,
  targetSpec,
} from '../connection.js'
import { EXIT_OK } from '../errors.js'
import { formatDuration } from '../format.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'
import { renderTable } from '../table.js'

const options = { ...connectionOptions, namespace: { type: 'string' }, json: { type: 'boolean' } } as const

const help = `Usage: taskmill stats --namespace NS [--url URL | --cluster SEEDS] [--json]

Shows how many tasks of the namespace are in each state, and each registered worker node: its
weight, capacity, tasks in flight, tasks completed and failed, and how long ago it last reported.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --json                 Print the reply of the stats script as JSON.
  -h, --help             Show this help.
`

const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

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
      let reply: StatsReply
      let now: number
      try {
        ;[reply, now] = await Promise.all([stats(createRunner(target.redis), namespace), serverTimeMs(target.redis)])
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      if (values.json) {
        output.out(JSON.stringify(reply, null, 2) + '\n')
        return EXIT_OK
      }
      output.out(`Namespace ${namespace.name} on ${describeTarget(spec)}, dispatch strategy ${reply.strategy}\n\n`)
      output.out(renderStates(reply))
      output.out('\n')
      output.out(reply.nodes.length === 0 ? 'No worker nodes are registered.\n' : renderNodes(reply.nodes, now))
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}

function renderStates(reply: StatsReply): string {
  const rows = STATES.map((state) => [state, String(reply[state])])
  rows.push(['total', String(STATES.reduce((sum, state) => sum + reply[state], 0))])
  return renderTable([{ header: 'STATE' }, { header: 'TASKS', align: 'right' }], rows)
}

function renderNodes(nodes: StatsReply['nodes'], now: number): string {
  const rows = nodes.map(([id, weight, capacity, inflight, completed, failed, lastSeenAt, queues]) => [
    id,
    String(weight),
    String(capacity),
    String(inflight),
    String(completed),
    String(failed),
    `${formatDuration(Math.max(0, now - lastSeenAt))} ago`,
    queues === '' ? '(all)' : queues.split(',').join(' '),
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
      { header: 'QUEUES', maxWidth: 40 },
    ],
    rows,
  )
}
