/**
 * `taskmill schedules` lists a namespace's repeating schedules; `taskmill schedule add|pause|
 * resume|remove` changes one. Each change is one script call on partition 0, where schedules
 * live (client/schedules.ts); refusals come back as the scripts' TM_ errors.
 */
import { getScheduleIn, listSchedulesIn, pauseScheduleIn, putSchedule, removeScheduleIn, resumeScheduleIn, type MissedFirings } from '../../client/schedules.js'
import { integerOption, parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions } from '../connection.js'
import { UsageError } from '../errors.js'
import { namespaceHelp } from '../namespace.js'
import { renderTable } from '../table.js'
import { withNamespace } from './operations.js'

const baseOptions = { ...connectionOptions, namespace: { type: 'string' } } as const

const MISSED: readonly MissedFirings[] = ['skip', 'once', 'catch-up']

function time(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '-'
}

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'list the repeating schedules',
  help: `Usage: taskmill schedules --namespace NS [--url URL | --cluster SEEDS] [--limit N]

Lists the namespace's repeating schedules: what they fire on, their state (active, paused,
refilling: a cron schedule waiting for a Worker to compute its next times, or ended: nothing
left to fire), the next fire time, how many times they fired and their last task.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --limit N              At most about N schedules (1 to 10000). Default: 1000.
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values } = parseCommandArgs('schedules', argv, { ...baseOptions, limit: { type: 'string' } }, { names: [], required: 0 })
    const limit = integerOption('schedules', 'limit', values.limit, 1000)
    if (limit < 1 || limit > 10_000) throw new UsageError(`--limit ${limit}: expected 1 to 10000`, 'schedules')
    return withNamespace('schedules', values, async (runner, table) => {
      const rows: string[][] = []
      let cursor = ''
      do {
        const page = await listSchedulesIn(runner, table.all[0]!, { cursor, limit: Math.min(100, limit) })
        for (const s of page.schedules) {
          rows.push([
            s.id,
            s.kind === 'cron' ? `${s.expression} (${s.timezone})` : `every ${s.intervalMs} ms`,
            s.paused === 1 ? 'paused' : s.nextAt > 0 ? 'active' : s.kind === 'cron' && (s.endAt === 0 || s.horizon < s.endAt) ? 'refilling' : 'ended',
            time(s.paused === 1 ? 0 : s.nextAt),
            String(s.firings),
            s.lastTaskId === '' ? '-' : s.lastTaskId,
          ])
        }
        cursor = page.cursor
      } while (cursor !== '' && rows.length < limit)
      rows.sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
      if (rows.length === 0) return 'no schedules\n'
      return renderTable(
        [{ header: 'ID', maxWidth: 60 }, { header: 'FIRES', maxWidth: 40 }, { header: 'STATE' }, { header: 'NEXT' },
          { header: 'FIRINGS', align: 'right' }, { header: 'LAST TASK', maxWidth: 60 }],
        rows.slice(0, limit),
      )
    }, output)
  },
}

const addOptions = {
  ...baseOptions,
  cron: { type: 'string' },
  timezone: { type: 'string' },
  every: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  missed: { type: 'string' },
  'catch-up-cap': { type: 'string' },
  grace: { type: 'string' },
  chain: { type: 'boolean' },
  paused: { type: 'boolean' },
  payload: { type: 'string' },
  queue: { type: 'string' },
  priority: { type: 'string' },
  'max-attempts': { type: 'string' },
  lease: { type: 'string' },
} as const

export const scheduleCommand: Command = {
  name: 'schedule',
  summary: 'add, pause, resume or remove a repeating schedule',
  help: `Usage: taskmill schedule add --namespace NS [--url URL | --cluster SEEDS] ID (--cron EXPR | --every MS) [options]
       taskmill schedule pause|resume|remove --namespace NS [--url URL | --cluster SEEDS] ID

add creates a schedule that enqueues one task per firing, with the id "<ID>:<fire time in ms>".
pause stops its firings, resume starts them again (the firings missed meanwhile follow its
--missed policy), remove deletes it (the tasks it fired stay).

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
  --cron EXPR            A cron expression: 5 fields, or 6 with seconds first.
  --timezone TZ          The IANA time zone of --cron. Default: UTC.
  --every MS             A fixed interval in ms, at least 100 (instead of --cron).
  --start MS             No firing before this Unix time in ms. Default: now.
  --end MS               No firing after this Unix time in ms. Default: none.
  --missed POLICY        skip, once or catch-up: what runs of the firings missed while nothing
                         ran. Default: skip.
  --catch-up-cap N       With --missed catch-up, at most N of them. Default: 10.
  --grace MS             With --missed skip, how late a firing may still run. Default: 60000.
  --chain                Each firing's task waits for the previous firing's task to finish.
  --paused               Create it paused.
  --payload TEXT         Each task's payload. Default: empty.
  --queue Q              Each task's queue. Default: default.
  --priority N           Each task's priority, -1000 to 1000. Default: 0.
  --max-attempts N       Each task's attempts. Default: 3.
  --lease MS             Each task's lease. Default: 30000.
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('schedule', argv, addOptions, { names: ['ACTION', 'ID'], required: 2 })
    const [action, id] = positionals as [string, string]
    const int = (name: keyof typeof addOptions, value: string | undefined): number | undefined => {
      if (value === undefined) return undefined
      if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected a whole number`, 'schedule')
      return Number(value)
    }
    if (action === 'add') {
      if ((values.cron === undefined) === (values.every === undefined)) throw new UsageError('give either --cron or --every', 'schedule')
      const missed = (values.missed ?? 'skip') as MissedFirings
      if (!MISSED.includes(missed)) throw new UsageError(`--missed ${JSON.stringify(values.missed)}: expected one of ${MISSED.join(', ')}`, 'schedule')
      return withNamespace('schedule', values, async (runner, table) => {
        let reply
        try {
          reply = await putSchedule(runner, table.all[0]!, {
            id,
            cron: values.cron,
            timezone: values.timezone,
            everyMs: int('every', values.every),
            startAt: int('start', values.start),
            endAt: int('end', values.end),
            missed,
            catchUpCap: int('catch-up-cap', values['catch-up-cap']),
            graceMs: int('grace', values.grace),
            chain: values.chain ?? false,
            paused: values.paused ?? false,
            task: {
              payload: values.payload,
              queue: values.queue,
              priority: int('priority', values.priority),
              maxAttempts: int('max-attempts', values['max-attempts']),
              leaseMs: int('lease', values.lease),
            },
          }, 0)
        } catch (error) {
          if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message, 'schedule')
          throw error
        }
        return `${id}: created, revision ${reply.revision}, next firing ${time(reply.nextAt)}\n`
      }, output)
    }
    const act = { pause: pauseScheduleIn, resume: resumeScheduleIn, remove: removeScheduleIn }[action]
    if (act === undefined) throw new UsageError(`unknown action ${JSON.stringify(action)}: expected add, pause, resume or remove`, 'schedule')
    return withNamespace('schedule', values, async (runner, table) => {
      const outcome = await act(runner, table.all[0]!, id)
      if (outcome === 'unchanged') {
        const schedule = await getScheduleIn(runner, table.all[0]!, id)
        return `${id}: unchanged (${schedule?.paused === 1 ? 'paused' : 'active'} already)\n`
      }
      return `${id}: ${outcome}\n`
    }, output)
  },
}
