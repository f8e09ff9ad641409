/**
 * Repeating schedules, from TypeScript: create, update, pause, resume, remove, read and list,
 * and the top-up of a cron schedule's stored fire times.
 *
 * A schedule lives in partition 0 of its namespace, and its tasks are enqueued there, by the
 * maintain script that the timer node runs when the next firing falls due (see
 * scripts-lua/lib/schedule-firing.lua). A cron schedule's fire times are computed here, in its
 * time zone (client/cron.ts), and stored with it, 64 ahead; when fewer than 16 are left,
 * maintain names the schedule and the Worker that called it computes the next ones and calls
 * refill-schedule, a compare-and-set on the schedule's revision and its last stored time, so
 * that any number of Workers may try at once.
 */
import {
  getSchedule,
  listSchedules,
  pauseSchedule,
  refillSchedule,
  removeSchedule,
  resumeSchedule,
  upsertSchedule,
  type GetScheduleReply,
} from '../loader/generated/scripts.js'
import { ScheduleChangedError } from '../loader/generated/errors.js'
import type { Namespace } from '../loader/keys.js'
import type { ScriptRunner } from '../loader/runner.js'
import { cronTimesAfter, checkTimeZone, parseCron } from './cron.js'

export type MissedFirings = 'skip' | 'once' | 'catch-up'

export interface ScheduleTemplate<Payload = string | Buffer> {
  payload?: Payload
  /** Default: 'default'. */
  queue?: string
  /** -1000 to 1000, higher first. Default: 0. */
  priority?: number
  /** Default: 3. */
  maxAttempts?: number
  /** Default: exponential from 1,000 ms, at most 3,600,000 ms. */
  backoff?: { type?: 'fixed' | 'exponential'; delayMs?: number; maxDelayMs?: number }
  /** Default: 30,000. */
  leaseMs?: number
}

export interface ScheduleInput<Payload = string | Buffer> {
  /** At most 100 characters of A-Z a-z 0-9 _ . : -; each firing's task is `<id>:<fire time in ms>`. */
  id: string
  /** A cron expression (client/cron.ts); give this or `everyMs`. */
  cron?: string
  /** The IANA time zone the cron expression is read in. Default: 'UTC'. */
  timezone?: string
  /** A fixed interval in ms, at least 100; give this or `cron`. */
  everyMs?: number
  /** No firing before this time; an interval schedule fires first at it. Default: now (an interval schedule then fires first one interval from now). */
  startAt?: Date | number
  /** No firing after this time. Default: none. */
  endAt?: Date | number
  /**
   * Firings missed while nothing ran (no Worker, a pause): 'skip' runs the most recent one only if
   * it is at most `graceMs` late, 'once' runs the most recent one, 'catch-up' the most recent
   * `catchUpCap`. Default: 'skip'.
   */
  missed?: MissedFirings
  /** Default: 10. */
  catchUpCap?: number
  /** Default: 60,000. */
  graceMs?: number
  /** Each firing's task depends on the previous firing's task, so two runs never overlap. Default: false. */
  chain?: boolean
  /** Store the schedule paused. Default: false. */
  paused?: boolean
  task?: ScheduleTemplate<Payload>
}

export type ScheduleInfo = NonNullable<GetScheduleReply>

/** Stored cron times per schedule; refill-schedule keeps at most this many. */
const TIMES_AHEAD = 64
/** A cron schedule created with a start in the past counts missed firings at most this far back. */
const LOOK_BACK_MS = 86_400_000

function toMs(value: Date | number | undefined): number {
  if (value === undefined) return 0
  return value instanceof Date ? value.getTime() : value
}

/**
 * The cron times a schedule is given: those after `after` and at most a day before now, of which
 * only the `keepPast` most recent before now (missed firings for the policy to judge), then the
 * next ones, up to 64 in all.
 */
export function cronTimesFor(expression: string, timezone: string, after: number, now: number, keepPast: number): number[] {
  const cron = parseCron(expression)
  // Looks back a minute, then further while too few missed times turn up, at most a day: a
  // per-second expression is not walked over a whole day.
  for (let window = 60_000; ; window = Math.min(window * 8, LOOK_BACK_MS)) {
    const from = Math.max(after, now - window)
    const past: number[] = []
    const future: number[] = []
    let cursor = from
    while (future.length < TIMES_AHEAD - Math.min(past.length, keepPast)) {
      const batch = cronTimesAfter(cron, timezone, cursor, TIMES_AHEAD)
      for (const t of batch) (t <= now ? past : future).push(t)
      if (batch.length < TIMES_AHEAD) break
      cursor = batch[batch.length - 1] as number
    }
    if (past.length >= keepPast || from === after || window === LOOK_BACK_MS) {
      return [...past.slice(Math.max(0, past.length - keepPast)), ...future].slice(0, TIMES_AHEAD)
    }
  }
}

/** The upsert-schedule arguments for an input; throws a RangeError or TypeError naming what is wrong. */
export function toUpsertArgs(input: ScheduleInput<string | Buffer>, revision: number, now = Date.now()) {
  if ((input.cron === undefined) === (input.everyMs === undefined)) {
    throw new TypeError(`schedule ${input.id}: give either cron or everyMs`)
  }
  const startAt = toMs(input.startAt)
  const missed = input.missed ?? 'skip'
  let times: number[] = []
  if (input.cron !== undefined) {
    const timezone = input.timezone ?? 'UTC'
    checkTimeZone(timezone)
    const keepPast = missed === 'catch-up' ? (input.catchUpCap ?? 10) : 1
    times = cronTimesFor(input.cron, timezone, startAt > 0 ? startAt - 1 : now - 60_000, now, keepPast)
    if (times.length === 0) throw new RangeError(`cron ${JSON.stringify(input.cron)}: matches no time in the next 30 years`)
  }
  const task = input.task ?? {}
  return {
    id: input.id,
    revision,
    kind: input.cron !== undefined ? ('cron' as const) : ('interval' as const),
    expression: input.cron ?? '',
    timezone: input.cron !== undefined ? (input.timezone ?? 'UTC') : undefined,
    intervalMs: input.everyMs ?? 0,
    times: times.join(','),
    startAt,
    endAt: toMs(input.endAt),
    missed,
    catchUpCap: input.catchUpCap,
    graceMs: input.graceMs,
    chain: input.chain ?? false,
    paused: input.paused ?? false,
    payload: task.payload ?? '',
    queue: task.queue,
    priority: task.priority,
    maxAttempts: task.maxAttempts,
    backoff: task.backoff?.type,
    backoffMs: task.backoff?.delayMs,
    backoffCapMs: task.backoff?.maxDelayMs,
    leaseMs: task.leaseMs,
  }
}

/** Creates a schedule (revision 0) or replaces one at the revision given. */
export function putSchedule(runner: ScriptRunner, partition0: Namespace, input: ScheduleInput<string | Buffer>, revision: number) {
  return upsertSchedule(runner, partition0, toUpsertArgs(input, revision))
}

export function pauseScheduleIn(runner: ScriptRunner, partition0: Namespace, id: string) {
  return pauseSchedule(runner, partition0, { id })
}

export function resumeScheduleIn(runner: ScriptRunner, partition0: Namespace, id: string) {
  return resumeSchedule(runner, partition0, { id })
}

export function removeScheduleIn(runner: ScriptRunner, partition0: Namespace, id: string) {
  return removeSchedule(runner, partition0, { id })
}

export async function getScheduleIn(runner: ScriptRunner, partition0: Namespace, id: string): Promise<ScheduleInfo | null> {
  return (await getSchedule(runner, partition0, { id })) ?? null
}

export async function listSchedulesIn(
  runner: ScriptRunner,
  partition0: Namespace,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ schedules: ScheduleInfo[]; cursor: string }> {
  return listSchedules(runner, partition0, { cursor: options.cursor ?? '', limit: options.limit })
}

/**
 * Tops up a cron schedule's stored times. Returns false when there was nothing to do: not a
 * cron schedule, ended, or changed by someone else meanwhile (who refilled it, or updated it).
 */
export async function refillScheduleIn(runner: ScriptRunner, partition: Namespace, id: string, now = Date.now()): Promise<boolean> {
  const schedule = await getScheduleIn(runner, partition, id)
  if (schedule === null || schedule.kind !== 'cron' || schedule.timesLeft >= TIMES_AHEAD) return false
  const keepPast = schedule.missed === 'catch-up' ? schedule.catchUpCap : 1
  const after = Math.max(schedule.horizon, schedule.lastFireAt, schedule.startAt - 1)
  let times = cronTimesFor(schedule.expression, schedule.timezone, after, now, keepPast)
  if (schedule.endAt > 0) times = times.filter((t) => t <= schedule.endAt)
  times = times.slice(0, TIMES_AHEAD - schedule.timesLeft)
  if (times.length === 0) return false
  try {
    await refillSchedule(runner, partition, { id, revision: schedule.revision, horizon: schedule.horizon, times: times.join(',') })
    return true
  } catch (error) {
    if (error instanceof ScheduleChangedError) return false
    throw error
  }
}

/** Tops up the schedules a maintain call named, one after another. */
export async function refillSchedules(runner: ScriptRunner, partition: Namespace, ids: readonly string[]): Promise<void> {
  for (const id of ids) await refillScheduleIn(runner, partition, id)
}
