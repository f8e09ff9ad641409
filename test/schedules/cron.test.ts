/**
 * Cron expressions against a table of expected fire times, in UTC and in zones with both
 * daylight-saving transitions (client/cron.ts states the rule), and the refusal of bad ones.
 */
import { describe, expect, it } from 'vitest'
import { cronTimesAfter, parseCron } from '../../client/cron.js'
import { cronTimesFor } from '../../client/schedules.js'

const utc = (text: string) => Date.parse(text)

const TABLE: { expression: string; zone: string; after: string; expected: string[]; note?: string }[] = [
  { expression: '*/15 * * * *', zone: 'UTC', after: '2026-01-01T00:07:00Z', expected: ['2026-01-01T00:15:00Z', '2026-01-01T00:30:00Z', '2026-01-01T00:45:00Z'] },
  { expression: '0 9 * * MON-FRI', zone: 'UTC', after: '2026-01-02T10:00:00Z', expected: ['2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'] },
  { expression: '*/20 * * * * *', zone: 'UTC', after: '2026-01-01T00:00:05Z', expected: ['2026-01-01T00:00:20Z', '2026-01-01T00:00:40Z', '2026-01-01T00:01:00Z'] },
  { expression: '0 0 29 2 *', zone: 'UTC', after: '2026-01-01T00:00:00Z', expected: ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z'] },
  { expression: '0 12 1 * 0', zone: 'UTC', after: '2026-01-30T00:00:00Z', expected: ['2026-02-01T12:00:00Z', '2026-02-08T12:00:00Z'], note: 'both day fields: either matches' },
  { expression: '30 8 * JAN,jul *', zone: 'UTC', after: '2026-01-31T09:00:00Z', expected: ['2026-07-01T08:30:00Z'] },
  { expression: '0 0 * * 7', zone: 'UTC', after: '2026-01-01T00:00:00Z', expected: ['2026-01-04T00:00:00Z'], note: '7 is Sunday' },
  { expression: '@daily', zone: 'UTC', after: '2026-01-01T00:00:00Z', expected: ['2026-01-02T00:00:00Z'] },
  { expression: '5-10/5 3 * * *', zone: 'UTC', after: '2026-01-01T00:00:00Z', expected: ['2026-01-01T03:05:00Z', '2026-01-01T03:10:00Z', '2026-01-02T03:05:00Z'] },
  { expression: '0 9 * * *', zone: 'Asia/Tokyo', after: '2026-01-01T00:00:00Z', expected: ['2026-01-02T00:00:00Z'] },
  { expression: '0 9 * * *', zone: 'America/New_York', after: '2026-01-01T00:00:00Z', expected: ['2026-01-01T14:00:00Z'] },
  // Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST.
  {
    expression: '30 2 * * *', zone: 'Europe/Berlin', after: '2026-03-28T00:00:00Z',
    expected: ['2026-03-28T01:30:00Z', '2026-03-29T01:30:00Z', '2026-03-30T00:30:00Z'],
    note: 'spring forward: 02:30 does not exist, it runs once, at 03:30 CEST',
  },
  {
    expression: '*/30 * * * *', zone: 'Europe/Berlin', after: '2026-03-29T00:10:00Z',
    expected: ['2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z', '2026-03-29T02:00:00Z'],
    note: 'spring forward: no gap and no repeat for a sub-hourly job',
  },
  // Europe/Berlin falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET.
  {
    expression: '30 2 * * *', zone: 'Europe/Berlin', after: '2026-10-24T00:00:00Z',
    expected: ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
    note: 'fall back: 02:30 occurs twice, it runs once, at the first',
  },
  // America/New_York falls back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST.
  {
    expression: '0,30 * * * *', zone: 'America/New_York', after: '2026-11-01T04:45:00Z',
    expected: ['2026-11-01T05:00:00Z', '2026-11-01T05:30:00Z', '2026-11-01T07:00:00Z'],
    note: 'fall back: the repeated hour does not run again',
  },
  // America/New_York springs forward on 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT.
  {
    expression: '30 2 * * *', zone: 'America/New_York', after: '2026-03-07T12:00:00Z',
    expected: ['2026-03-08T07:30:00Z', '2026-03-09T06:30:00Z'],
    note: 'spring forward in New York: 02:30 runs at 03:30 EDT',
  },
]

describe('cron fire times', () => {
  it.each(TABLE)('$expression in $zone after $after', ({ expression, zone, after, expected }) => {
    expect(cronTimesAfter(expression, zone, utc(after), expected.length).map((t) => new Date(t).toISOString())).toEqual(
      expected.map((text) => new Date(utc(text)).toISOString()),
    )
  })

  it('returns fewer times when the expression matches none within 30 years', () => {
    expect(cronTimesAfter('0 0 30 2 *', 'UTC', utc('2026-01-01T00:00:00Z'), 3)).toEqual([])
  })

  it.each([
    ['* * * *', /5 fields/],
    ['60 * * * *', /minute field .*outside 0-59/],
    ['* 24 * * *', /hour field/],
    ['* * 0 * *', /day-of-month field/],
    ['* * * 13 *', /month field/],
    ['* * * * 8', /day-of-week field/],
    ['* * * FOO *', /month field .*not a number or a name/],
    ['*/0 * * * *', /step/],
    ['10-5 * * * *', /backwards/],
    ['1,,2 * * * *', /minute field/],
  ])('refuses %s', (expression, message) => {
    expect(() => parseCron(expression)).toThrow(message)
  })

  it('refuses a zone the runtime does not know', () => {
    expect(() => cronTimesAfter('* * * * *', 'Mars/Olympus', 0, 1)).toThrow(/time zone/)
  })

  it('keeps the most recent missed times the policy may need, then the next ones, 64 in all', () => {
    const now = utc('2026-01-01T12:00:30Z')
    const times = cronTimesFor('* * * * *', 'UTC', now - 3_600_000, now, 3)
    expect(times).toHaveLength(64)
    expect(times.slice(0, 4).map((t) => new Date(t).toISOString())).toEqual([
      '2026-01-01T11:58:00.000Z',
      '2026-01-01T11:59:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T12:01:00.000Z',
    ])
  })
})
