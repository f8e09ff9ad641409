/**
 * The `taskmill` command: finds the subcommand, hands it the rest of the arguments, and turns
 * what it throws into a message on stderr and an exit code (see `errors.ts`). Runs from source
 * with `npm run taskmill -- …` and from the build as `dist/cli.js`.
 */
import packageJson from '../package.json' with { type: 'json' }
import { TaskmillError } from '../loader/errors.js'
import type { Command } from './command.js'
import { initCommand } from './commands/init.js'
import { loadCommand } from './commands/load.js'
import { metricsCommand } from './commands/metrics.js'
import { partitionsCommand } from './commands/partitions.js'
import { scriptsCommand } from './commands/scripts.js'
import { statsCommand } from './commands/stats.js'
import { taskCommand } from './commands/task.js'
import { tasksCommand } from './commands/tasks.js'
import { cleanCommand, pauseCommand, removeCommand, resumeCommand, retryCommand } from './commands/operations.js'
import { rateLimitCommand } from './commands/rate-limit.js'
import { scheduleCommand, schedulesCommand } from './commands/schedules.js'
import { dashboardCommand } from './dashboard/command.js'
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js'
import { processOutput, type Output } from './io.js'
import { renderTable } from './table.js'

const COMMANDS: readonly Command[] = [
  scriptsCommand,
  loadCommand,
  initCommand,
  statsCommand,
  metricsCommand,
  taskCommand,
  tasksCommand,
  partitionsCommand,
  retryCommand,
  removeCommand,
  cleanCommand,
  pauseCommand,
  resumeCommand,
  rateLimitCommand,
  schedulesCommand,
  scheduleCommand,
  dashboardCommand,
]

function usage(): string {
  const list = renderTable(
    [{ header: '' }, { header: '' }],
    COMMANDS.map((command) => [`  ${command.name}`, command.summary]),
  )
  return `Usage: taskmill <command> [options]

taskmill ${packageJson.version}: inspect and prepare the Redis behind a taskmill scheduler.

Commands:
${list}
Run \`taskmill <command> --help\` for a command's options. Redis commands take --url URL
(default $REDIS_URL, else redis://127.0.0.1:6379) or --cluster host:port,host:port.
`
}

/** Whether the arguments ask for help before any `--` that ends the options. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')
}

/** Runs one command line and resolves to the exit code; never throws. */
async function main(argv: readonly string[], output: Output = processOutput): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    output.err(usage())
    return EXIT_USAGE
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined
    const command = COMMANDS.find((candidate) => candidate.name === topic)
    output.out(command?.help ?? usage())
    return EXIT_OK
  }
  if (name === '--version' || name === '-v') {
    output.out(`${packageJson.version}\n`)
    return EXIT_OK
  }
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (command === undefined) {
    output.err(`taskmill: unknown command ${JSON.stringify(name)}\n\n${usage()}`)
    return EXIT_USAGE
  }
  if (wantsHelp(rest)) {
    output.out(command.help)
    return EXIT_OK
  }
  try {
    return await command.run(rest, output)
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`taskmill ${command.name}: ${error.message}\nRun \`taskmill ${command.name} --help\` for usage.\n`)
      return EXIT_USAGE
    }
    // Our own failures and taskmill's errors carry a message meant for a person; anything else
    // is a bug, and its stack is what a report needs.
    if (error instanceof CliFailure || error instanceof TaskmillError) {
      output.err(`taskmill ${command.name}: ${error.message}\n`)
    } else {
      output.err(`taskmill ${command.name}: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`)
    }
    return EXIT_FAILURE
  }
}

process.exitCode = await main(process.argv.slice(2))
