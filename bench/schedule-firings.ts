/**
 * Redis CPU per schedule firing: 10,000 interval schedules all due at the same instant, fired by
 * `maintain` calls of the default limit (250 items) until every one has fired. Each round creates
 * the schedules in a fresh namespace (library defaults: events on, no node registered, so the
 * fired tasks wait ready and dispatch finds nobody), with a start time a moment in the past, so
 * that they are all due before the first measured call; then `CONFIG RESETSTAT`, the maintain
 * calls one after another, as the timer node makes them, and the `evalsha` counters of
 * `INFO commandstats`. A firing is the schedule's record read and written, its index entry moved,
 * and its task created (record, ready index, queue index, `enqueued` event); the figure is the
 * round's Redis µs divided by the firings, best of the rounds.
 *
 * Written to bench/results/schedules.json and .md, and to the README's Schedules section
 * (between its own markers, bench/readme.ts), apart from the report of the other parts, so that
 * `npm run bench -- --scenarios=schedules` updates this figure alone.
 */
import { init, maintain, upsertSchedule } from '../loader/generated/scripts.js'
import { toUpsertArgs } from '../client/schedules.js'
import { Namespace, openRunner, pipelined, scriptCounters, serverNow } from './call-cost.js'
import { RedisServer } from './redis-server.js'

export interface ScheduleFiringSizes {
  schedules: number
  rounds: number
}

export const SCHEDULE_FIRINGS_FULL: ScheduleFiringSizes = { schedules: 10_000, rounds: 5 }
export const SCHEDULE_FIRINGS_QUICK: ScheduleFiringSizes = { schedules: 10_000, rounds: 2 }

export interface ScheduleFiringRound {
  /** maintain calls it took to fire every schedule. */
  calls: number
  firings: number
  /** Redis CPU of those calls, from INFO commandstats (evalsha). */
  usec: number
  usecPerFiring: number
}

export interface ScheduleFiringFigures {
  sizes: ScheduleFiringSizes
  /** The maintain limit: firings per call at most. */
  limit: number
  rounds: ScheduleFiringRound[]
  /** The round with the lowest µs per firing. */
  best: ScheduleFiringRound
  /** Wall time of the whole measurement, s. */
  seconds: number
}

/** The figures with the run they come from, as bench/results/schedules.json holds them. */
export interface ScheduleFiringTable extends ScheduleFiringFigures {
  date: string
  redis: string
  /** CPUs, memory and operating system. */
  machine: string
  /** The commit measured, as in the main report. */
  revision: string
}

const LIMIT = 250

export async function measureScheduleFirings(sizes: ScheduleFiringSizes, log: (line: string) => void): Promise<ScheduleFiringFigures> {
  const began = performance.now()
  const server = await RedisServer.start()
  const { runner, admin, close } = await openRunner(server.url)
  const rounds: ScheduleFiringRound[] = []
  try {
    for (let round = 0; round < sizes.rounds; round++) {
      const ns = new Namespace(`firings-${round}`)
      await init(runner, ns, {})
      // One start time for all, just past: each is due at once, and fires once (skip, 60 s grace).
      const startAt = (await serverNow(admin)) - 1
      await pipelined(runner, sizes.schedules, (caller, i) =>
        upsertSchedule(caller, ns, toUpsertArgs({ id: `s${i}`, everyMs: 3_600_000, startAt, task: { payload: 'tick' } }, 0)),
      )
      await admin.config('RESETSTAT')
      let calls = 0
      let firings = 0
      for (;;) {
        const reply = await maintain(runner, ns, { limit: LIMIT })
        calls++
        firings += reply.fired
        if (reply.fired === 0) break
      }
      const counters = await scriptCounters(admin)
      if (firings !== sizes.schedules) throw new Error(`round ${round + 1}: ${firings} firings, not ${sizes.schedules}`)
      const tasks = await admin.hlen(ns.key('task'))
      if (tasks !== sizes.schedules) throw new Error(`round ${round + 1}: ${tasks} tasks, not ${sizes.schedules}`)
      // The last call fired nothing; it is counted, as a timer node makes it too.
      const measured = { calls, firings, usec: counters.usec, usecPerFiring: counters.usec / firings }
      rounds.push(measured)
      log(`round ${round + 1}: ${firings.toLocaleString('en-US')} firings in ${calls} maintain calls, ${(counters.usec / 1000).toFixed(1)} ms of Redis CPU, ${measured.usecPerFiring.toFixed(1)} µs per firing`)
    }
  } finally {
    await close()
    await server.stop()
  }
  const best = rounds.reduce((a, b) => (b.usecPerFiring < a.usecPerFiring ? b : a))
  return {
    sizes,
    limit: LIMIT,
    rounds,
    best,
    seconds: Math.round((performance.now() - began) / 1000),
  }
}

/** The table for the README's Schedules section and schedules.md. */
export function scheduleFiringsMarkdown(table: ScheduleFiringTable): string {
  const { best, sizes } = table
  const n = (value: number) => value.toLocaleString('en-US')
  return [
    `<!-- Generated from bench/results/schedules.json by \`npm run bench:readme\` (bench/readme.ts); edit that, not this. -->`,
    `| schedules due in the same second | maintain calls (limit ${table.limit}) | Redis CPU, ms | Redis µs per firing |`,
    '| ---: | ---: | ---: | ---: |',
    `| ${n(sizes.schedules)} | ${best.calls} | ${(best.usec / 1000).toFixed(1)} | ${best.usecPerFiring.toFixed(1)} |`,
    '',
    `Best of ${sizes.rounds} rounds of interval schedules with one start time, fired by maintain calls one after another; ` +
      `taskmill ${table.revision} on ${table.date.slice(0, 10)}, ${table.machine}, redis-server ${table.redis}, persistence off; ` +
      'events on, no Worker registered, so each fired task waits ready. `npm run bench -- --scenarios=schedules` measures it again.',
  ].join('\n')
}
