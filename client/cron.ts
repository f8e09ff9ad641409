/**
 * Cron expressions and their fire times in an IANA time zone.
 *
 * A schedule's times are computed here, by the client that creates or refills it, and stored in
 * the schedule's record; the firing itself happens in Redis (scripts-lua/lib/schedule-firing.lua).
 * Parsing cron with time zones in Lua would mean shipping the zone database to the server, so
 * the zone offsets come from the JavaScript runtime (Intl) instead.
 *
 * Expressions: five fields `minute hour day-of-month month day-of-week`, or six with `second`
 * first. Each field is `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or `a/n`, or a list of
 * these separated by commas. Months and weekdays may be named (JAN–DEC, SUN–SAT); weekday 7 is
 * Sunday, like 0; `?` means `*` in the day fields. As in classic cron, when both day fields are
 * restricted (neither is `*` or `?`), a day matches when either does. `@yearly`, `@annually`,
 * `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for their usual expressions.
 *
 * Daylight-saving time. Times are matched on the wall clock of the zone, and each matching wall
 * time fires once:
 * - a wall time the clocks skip (spring forward) fires at the same clock time after the jump:
 *   a daily 02:30 job in Europe/Berlin runs at 03:30 on the last Sunday of March, once; a time
 *   that lands on a firing already made (every 15 minutes: 02:00 → 03:00) is not repeated;
 * - a wall time that occurs twice (fall back) fires at its first occurrence only: a daily
 *   02:30 job runs once, at 02:30 summer time; an every-15-minutes job does not run again in
 *   the repeated hour.
 * This is the rule of JavaScript's Temporal (`disambiguation: 'compatible'`) applied to a
 * cron's list of wall times.
 */

const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
] as const

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

export interface Cron {
  readonly expression: string
  readonly seconds: ReadonlySet<number>
  readonly minutes: ReadonlySet<number>
  readonly hours: ReadonlySet<number>
  readonly daysOfMonth: ReadonlySet<number>
  readonly months: ReadonlySet<number>
  readonly daysOfWeek: ReadonlySet<number>
  /** The day fields that are restricted (not `*` or `?`). */
  readonly restrictsDayOfMonth: boolean
  readonly restrictsDayOfWeek: boolean
}

/** Parses an expression, or throws a RangeError naming the field at fault. */
export function parseCron(expression: string): Cron {
  const text = expression.trim()
  const expanded = MACROS[text.toLowerCase()] ?? text
  const parts = expanded.split(/\s+/)
  if (parts.length !== 5 && parts.length !== 6) {
    throw new RangeError(`cron ${JSON.stringify(expression)}: expected 5 fields (or 6 with seconds first), got ${parts.length}`)
  }
  const fields = parts.length === 5 ? ['0', ...parts] : parts
  const sets = fields.map((field, i) => parseField(field, i, expression))
  const weekdays = sets[5] as Set<number>
  if (weekdays.delete(7)) weekdays.add(0)
  return {
    expression,
    seconds: sets[0] as Set<number>,
    minutes: sets[1] as Set<number>,
    hours: sets[2] as Set<number>,
    daysOfMonth: sets[3] as Set<number>,
    months: sets[4] as Set<number>,
    daysOfWeek: weekdays,
    restrictsDayOfMonth: !isWildcard(fields[3] as string),
    restrictsDayOfWeek: !isWildcard(fields[5] as string),
  }
}

function isWildcard(field: string): boolean {
  return field === '*' || field === '?'
}

function parseField(field: string, index: number, expression: string): Set<number> {
  const { name, min, max } = FIELDS[index] as (typeof FIELDS)[number]
  const bad = (why: string) => new RangeError(`cron ${JSON.stringify(expression)}: ${name} field ${JSON.stringify(field)}: ${why}`)
  const names = index === 4 ? MONTH_NAMES : index === 5 ? WEEKDAY_NAMES : undefined
  const value = (token: string): number => {
    const upper = token.toUpperCase()
    if (names !== undefined && names.includes(upper)) return names.indexOf(upper) + (index === 4 ? 1 : 0)
    if (!/^\d{1,2}$/.test(token)) throw bad(`${JSON.stringify(token)} is not a number${names ? ' or a name' : ''}`)
    const n = Number(token)
    if (n < min || n > max) throw bad(`${n} is outside ${min}-${max}`)
    return n
  }
  const out = new Set<number>()
  for (const item of field.split(',')) {
    const [range, stepText, extra] = item.split('/')
    if (range === undefined || range === '' || extra !== undefined) throw bad(`${JSON.stringify(item)} is not a value, range or step`)
    let step = 1
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) < 1) throw bad(`step ${JSON.stringify(stepText)} must be a whole number from 1`)
      step = Number(stepText)
    }
    let from: number
    let to: number
    if (range === '*' || (range === '?' && (index === 3 || index === 5))) {
      from = min
      to = index === 5 ? 6 : max
    } else if (range.includes('-')) {
      const [a, b, more] = range.split('-')
      if (a === undefined || b === undefined || more !== undefined) throw bad(`${JSON.stringify(range)} is not a range`)
      from = value(a)
      to = value(b)
      if (from > to) throw bad(`range ${range} runs backwards`)
    } else {
      from = value(range)
      to = stepText === undefined ? from : index === 5 ? 6 : max
    }
    for (let n = from; n <= to; n += step) out.add(n)
  }
  return out
}

const DAY_MS = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, format)
  }
  return format
}

/** Throws a RangeError unless the runtime knows the IANA zone. */
export function checkTimeZone(timeZone: string): void {
  try {
    formatter(timeZone)
  } catch {
    throw new RangeError(`time zone ${JSON.stringify(timeZone)} is not an IANA time zone this runtime knows`)
  }
}

/** The zone's wall clock at an instant, as the ms of the same fields read as UTC (whole seconds). */
export function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {}
  for (const part of formatter(timeZone).formatToParts(new Date(Math.floor(instant / 1000) * 1000))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value)
  }
  return Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day, parts.hour, parts.minute, parts.second)
}

/** The instant a wall time fires at, by the DST rule in the module note. */
function instantOf(wall: number, timeZone: string): number {
  const before = wallClock(wall - DAY_MS, timeZone) - (wall - DAY_MS)
  const after = wallClock(wall + DAY_MS, timeZone) - (wall + DAY_MS)
  const candidates = before === after ? [wall - before] : [wall - before, wall - after].sort((a, b) => a - b)
  for (const instant of candidates) if (wallClock(instant, timeZone) === wall) return instant
  // Skipped by the clocks: the same clock time after the jump.
  return wall - before
}

function dayMatches(cron: Cron, date: Date): boolean {
  const dom = cron.daysOfMonth.has(date.getUTCDate())
  const dow = cron.daysOfWeek.has(date.getUTCDay())
  if (cron.restrictsDayOfMonth && cron.restrictsDayOfWeek) return dom || dow
  if (cron.restrictsDayOfMonth) return dom
  if (cron.restrictsDayOfWeek) return dow
  return true
}

/** The first wall time at or after `wall` that the expression matches, or undefined past `until`. */
function nextWall(cron: Cron, wall: number, until: number): number | undefined {
  let t = wall
  while (t <= until) {
    const d = new Date(t)
    const [y, mo, day, h, mi, s] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    if (!cron.months.has(mo + 1)) t = Date.UTC(y, mo + 1, 1)
    else if (!dayMatches(cron, d)) t = Date.UTC(y, mo, day + 1)
    else if (!cron.hours.has(h)) t = Date.UTC(y, mo, day, h + 1)
    else if (!cron.minutes.has(mi)) t = Date.UTC(y, mo, day, h, mi + 1)
    else if (!cron.seconds.has(s)) t = Date.UTC(y, mo, day, h, mi, s + 1)
    else return t
  }
  return undefined
}

/** How far ahead a search for the next time goes: an expression like `0 0 29 2 MON` is rare. */
const SEARCH_YEARS = 30

/**
 * Fire times strictly after `after` (a Unix time in ms), ascending, at most `count` of them;
 * fewer when the expression matches no more times within 30 years.
 */
export function cronTimesAfter(cron: Cron | string, timeZone: string, after: number, count: number): number[] {
  const parsed = typeof cron === 'string' ? parseCron(cron) : cron
  checkTimeZone(timeZone)
  const out: number[] = []
  let last = after
  let wall = wallClock(after, timeZone) + 1000
  const until = wall + SEARCH_YEARS * 366 * DAY_MS
  while (out.length < count) {
    const next = nextWall(parsed, wall, until)
    if (next === undefined) break
    const instant = instantOf(next, timeZone)
    if (instant > last) {
      out.push(instant)
      last = instant
    }
    wall = next + 1000
  }
  return out
}
