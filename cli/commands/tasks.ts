/**
 * `taskmill tasks --state S`: one page of a namespace's tasks in a state, from the list-tasks
 * script, over the partitions in turn (client/list-tasks.ts), with the cursor of the next page.
 */
import { createRunner } from '../../client/connection.js'
import { listTasksAcross, type ListedState, type TaskPage } from '../../client/list-tasks.js'
import { readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import { listTasksScript } from '../../loader/generated/scripts.js'
import { integerOption, parseCommandArgs, requireOption, type Command } from '../command.js'
import { connectionHelp, connectionOptions, explainUnavailable, openTarget, serverTimeMs, targetSpec } from '../connection.js'
import { EXIT_OK, UsageError } from '../errors.js'
import { formatDuration } from '../format.js'
import { explainNamespace, namespaceHelp, namespaceOption } from '../namespace.js'
import { renderTable } from '../table.js'

const stateArg = listTasksScript.args.find((arg) => arg.name === 'state')?.type
/** The states as the script's header declares them. */
const STATES: readonly string[] = stateArg?.kind === 'enum' ? stateArg.values : []

const DEFAULT_LIMIT = 20

const options = {
  ...connectionOptions,
  namespace: { type: 'string' },
  state: { type: 'string' },
  oldest: { type: 'boolean' },
  queue: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean' },
} as const

const help = `Usage: taskmill tasks --namespace NS --state STATE [--url URL | --cluster SEEDS]
                     [--oldest] [--queue Q] [--limit N] [--cursor C] [--json]

Lists one page of the tasks in a state, newest first (--oldest: oldest first), and the cursor of
the next page. STATE is one of ${STATES.join(', ')}.
The order is the state's own: ready tasks in dispatch order (oldest: the next to run), delayed
and retrying ones by due time, assigned and running ones by lease expiry, finished ones by finish
time; waiting tasks come in no particular order. A partitioned namespace is listed partition by
partition, the order holding within each. A page may be short, even empty, before the end: each
call looks at a bounded number of tasks; only "end of the list" means the end.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --state STATE          The state to list (required).
  --oldest               Oldest first instead of newest first.
  --queue Q              Only tasks of queue Q.
  --limit N              At most N tasks, 1 to 1000. Default: ${DEFAULT_LIMIT}.
  --cursor C             Go on from the page that printed this cursor.
  --json                 Print the page as JSON: { tasks: [...], cursor }.
  -h, --help             Show this help.
`

export const tasksCommand: Command = {
  name: 'tasks',
  summary: 'one page of the tasks in a state, with the cursor of the next',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('tasks', argv, options, { names: [], required: 0 })
    const namespace = namespaceOption('tasks', values.namespace)
    const state = requireOption('tasks', 'state', values.state)
    if (!STATES.includes(state)) {
      throw new UsageError(`--state ${JSON.stringify(state)}: expected one of ${STATES.join(', ')}`, 'tasks')
    }
    const limit = integerOption('tasks', 'limit', values.limit, DEFAULT_LIMIT)
    if (limit < 1 || limit > 1000) throw new UsageError(`--limit ${limit}: expected 1 to 1000`, 'tasks')
    const spec = targetSpec(values, 'tasks')
    const target = await openTarget(spec)
    try {
      const runner = createRunner(target.redis)
      let table: PartitionTable
      let page: TaskPage
      let now: number
      try {
        table = await readPartitionTable(runner, namespace.name)
        ;[page, now] = await Promise.all([
          listTasksAcross(runner, table, {
            state: state as ListedState,
            order: values.oldest ? 'oldest' : 'newest',
            queue: values.queue,
            limit,
            cursor: values.cursor,
          }),
          serverTimeMs(target.redis),
        ])
      } catch (error) {
        throw await explainNamespace(explainUnavailable(spec, error), namespace, target.redis, spec)
      }
      if (values.json) {
        output.out(JSON.stringify(page, null, 2) + '\n')
        return EXIT_OK
      }
      output.out(page.tasks.length === 0 ? `No ${state} tasks on this page.\n` : renderPage(page, table.count > 1, now))
      output.out(page.cursor === '' ? 'End of the list.\n' : `Next page: --cursor ${quoteForShell(page.cursor)}\n`)
      return EXIT_OK
    } finally {
      await target.close()
    }
  },
}

function renderPage(page: TaskPage, partitioned: boolean, now: number): string {
  const when = (ms: number): string => {
    if (ms === 0) return '-'
    const delta = now - ms
    return delta >= 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`
  }
  const rows = page.tasks.map((task) => [
    task.id,
    ...(partitioned ? [String(task.partition)] : []),
    task.queue,
    String(task.priority),
    String(task.attempts),
    when(task.enqueuedAt),
    when(task.runAt),
    when(task.finishedAt),
    task.node === '' ? '-' : task.node,
  ])
  return renderTable(
    [
      { header: 'ID', maxWidth: 60 },
      ...(partitioned ? [{ header: 'PARTITION', align: 'right' as const }] : []),
      { header: 'QUEUE', maxWidth: 30 },
      { header: 'PRIORITY', align: 'right' },
      { header: 'ATTEMPTS', align: 'right' },
      { header: 'ENQUEUED', align: 'right' },
      { header: 'RUN AT', align: 'right' },
      { header: 'FINISHED', align: 'right' },
      { header: 'NODE' },
    ],
    rows,
  )
}

/** Cursors hold ids (A-Z a-z 0-9 _ . : -), digits and `/`; quoted all the same, to paste safely. */
function quoteForShell(cursor: string): string {
  return `'${cursor.replace(/'/g, `'\\''`)}'`
}
