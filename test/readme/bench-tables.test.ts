/**
 * The README's performance tables are generated from bench/results/latest.json (bench/readme.ts):
 * this fails when the text between the README's bench markers differs from what the committed
 * report generates, e.g. after a benchmark run whose README change was not committed, or a hand
 * edit of a figure. Fix: `npm run bench:readme`.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  currentScheduleSection,
  currentSection,
  README_PATH,
  README_END,
  README_START,
  readmeSection,
  REPORT_PATH,
  SCHEDULES_REPORT_PATH,
  SCHEDULES_START,
  updateReadme,
} from '../../bench/readme.js'
import type { Report } from '../../bench/report.js'
import { scheduleFiringsMarkdown, type ScheduleFiringTable } from '../../bench/schedule-firings.js'

async function load(): Promise<{ readme: string; report: Report }> {
  const [readme, json] = await Promise.all([readFile(README_PATH, 'utf8'), readFile(REPORT_PATH, 'utf8')])
  return { readme, report: JSON.parse(json) as Report }
}

describe('README performance tables', () => {
  it('has exactly one generated section', async () => {
    const { readme } = await load()
    expect(readme.split(README_START)).toHaveLength(2)
    expect(readme.split(README_END)).toHaveLength(2)
    expect(readme.indexOf(README_START)).toBeLessThan(readme.indexOf(README_END))
  })

  it('match what bench/results/latest.json generates (run `npm run bench:readme` to fix)', async () => {
    const { readme, report } = await load()
    expect(currentSection(readme), 'README.md differs from bench/results/latest.json: run `npm run bench:readme`').toBe(readmeSection(report))
  })

  it('say which machine and which kind of run the figures come from', async () => {
    const { readme, report } = await load()
    const section = currentSection(readme) ?? ''
    expect(section).toContain(report.environment.cpus)
    expect(section).toContain(report.environment.redis)
    expect(section).toContain(report.environment.quick ? 'npm run bench --quick' : '`npm run bench`')
  })

  it('regenerating leaves the rest of the README as it is', async () => {
    const { readme, report } = await load()
    const updated = updateReadme(readme, report)
    const outside = (text: string): string => text.slice(0, text.indexOf(README_START)) + text.slice(text.indexOf(README_END))
    expect(outside(updated)).toBe(outside(readme))
    expect(updateReadme(updated, report)).toBe(updated)
  })
})

describe("README's schedule firing table", () => {
  it('matches what bench/results/schedules.json generates (run `npm run bench:readme` to fix)', async () => {
    const [readme, json] = await Promise.all([readFile(README_PATH, 'utf8'), readFile(SCHEDULES_REPORT_PATH, 'utf8')])
    const table = JSON.parse(json) as ScheduleFiringTable
    expect(readme.split(SCHEDULES_START)).toHaveLength(2)
    expect(currentScheduleSection(readme), 'README.md differs from bench/results/schedules.json: run `npm run bench:readme`').toBe(
      scheduleFiringsMarkdown(table),
    )
    expect(table.sizes.schedules).toBe(10_000)
    expect(table.best.firings).toBe(table.sizes.schedules)
  })
})
