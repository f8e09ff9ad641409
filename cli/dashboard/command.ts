/** `taskmill dashboard`: serves the web dashboard until interrupted. */
import { connect, connectCluster } from '../../loader/connect.js'
import { Namespace } from '../../loader/keys.js'
import { createRunner } from '../../client/connection.js'
import { integerOption, parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions, describeTarget, openTarget, targetSpec } from '../connection.js'
import { EXIT_OK, UsageError } from '../errors.js'
import { DashboardData } from './data.js'
import { startDashboard } from './server.js'

const options = {
  ...connectionOptions,
  port: { type: 'string' },
  host: { type: 'string' },
  'allow-actions': { type: 'boolean' },
  namespace: { type: 'string', multiple: true },
} as const

export const DEFAULT_PORT = 8700

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve a web dashboard: namespaces, nodes, tasks, graphs, live',
  help: `Usage: taskmill dashboard [--url URL | --cluster SEEDS] [--port ${DEFAULT_PORT}] [--host 127.0.0.1]
                         [--allow-actions] [--namespace NS …]

Serves a web page that shows every namespace live: task counts per state, completed and failed
per second over the last five minutes, the worker nodes (weight, capacity, in flight, their share
of tasks against the share their weights promise, last heartbeat, stale ones marked), tasks by
state page by page, and each task with its record, payload, result, events and dependency graph.

Read-only unless --allow-actions is given: then the page can retry, cancel and remove tasks,
and pause and resume queues. GET /metrics answers the Prometheus text of every namespace shown.
Runs until interrupted (Ctrl-C).

Options:
${connectionHelp.join('\n')}
  --port PORT            Port to listen on (0 for any free one). Default: ${DEFAULT_PORT}.
  --host HOST            Address to listen on. Default: 127.0.0.1, this machine only; anyone
                         who can reach the port sees the tasks' payloads and results.
  --allow-actions        Let the page retry, cancel and remove tasks and pause and resume
                         queues. Default: read-only, the action requests are answered 403.
  --namespace NS         Show this namespace (repeat for several). Default: every namespace
                         found on the server (SCAN on every primary, each sample).
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values } = parseCommandArgs('dashboard', argv, options, { names: [], required: 0 })
    const port = integerOption('dashboard', 'port', values.port, DEFAULT_PORT)
    if (port > 65535) throw new UsageError(`--port ${port}: expected 0 to 65535`, 'dashboard')
    const namespaces = (values.namespace ?? []).map((name) => {
      try {
        return new Namespace(name).name
      } catch (error) {
        throw new UsageError(`--namespace: ${(error as Error).message}`, 'dashboard')
      }
    })
    const spec = targetSpec(values, 'dashboard')
    // One attempt first, for a clear message when Redis cannot be reached; then a connection
    // that reconnects, since a dashboard outlives restarts of Redis.
    await (await openTarget(spec)).close()
    const redis = spec.kind === 'standalone' ? connect(spec.url) : connectCluster(spec.seeds)
    const runner = createRunner(redis)
    await runner.loadAll()
    const data = new DashboardData(redis, runner, namespaces)
    const dashboard = await startDashboard({
      data,
      host: values.host ?? '127.0.0.1',
      port,
      allowActions: values['allow-actions'] === true,
    })
    output.out(
      `taskmill dashboard on ${dashboard.url} for ${describeTarget(spec)} ` +
        `(${values['allow-actions'] === true ? 'actions allowed' : 'read-only'})\n`,
    )
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
    await dashboard.close()
    await redis.quit().catch(() => redis.disconnect())
    return EXIT_OK
  },
}
