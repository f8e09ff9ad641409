/**
 * The README's performance tables are generated from bench/results/latest.json (bench/readme.ts):
 * this fails when the text between the README's bench markers differs from what the committed
 * report generates, e.g. after a benchmark run whose README change was not committed, or a hand
 * edit of a figure. Fix: `npm run bench:readme`.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  currentMarkedSection,
  currentSection,
  GROUP_MARKERS,
  GROUPS_REPORT_PATH,
  README_PATH,
  README_END,
  README_START,
  readmeSection,
  REPORT_PATH,
  SCHEDULE_MARKERS,
  SCHEDULES_REPORT_PATH,
  updateReadme,
} from '../../bench/readme.js'
import { scriptCostMarkdown, type Report } from '../../bench/report.js'
import { assertEveryScriptHasAFixture, scriptsWithoutFixture, type ScriptCostTable } from '../../bench/script-costs.js'
import { groupDispatchMarkdown, type GroupDispatchRun } from '../../bench/group-dispatch.js'
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
    expect(readme.split(SCHEDULE_MARKERS.start)).toHaveLength(2)
    expect(currentMarkedSection(readme, SCHEDULE_MARKERS), 'README.md differs from bench/results/schedules.json: run `npm run bench:readme`').toBe(
      scheduleFiringsMarkdown(table),
    )
    expect(table.sizes.schedules).toBe(10_000)
    expect(table.best.firings).toBe(table.sizes.schedules)
  })
})

describe("README's group dispatch table", () => {
  it('matches what bench/results/group-dispatch.json generates (run `npm run bench:readme` to fix)', async () => {
    const [readme, json] = await Promise.all([readFile(README_PATH, 'utf8'), readFile(GROUPS_REPORT_PATH, 'utf8')])
    const run = JSON.parse(json) as GroupDispatchRun
    expect(readme.split(GROUP_MARKERS.start)).toHaveLength(2)
    expect(currentMarkedSection(readme, GROUP_MARKERS), 'README.md differs from bench/results/group-dispatch.json: run `npm run bench:readme`').toBe(
      groupDispatchMarkdown(run),
    )
    expect(run.cases.map((c) => c.groups)).toEqual([0, 1, 1000])
  })
})

describe('table (a): Redis CPU per call of every script', () => {
  it('has a fixture for every script of the manifest', () => {
    expect(scriptsWithoutFixture(), 'add a case to CASES in bench/script-costs.ts').toEqual([])
    expect(() => assertEveryScriptHasAFixture()).not.toThrow()
  })

  it('names a script without a fixture', () => {
    expect(scriptsWithoutFixture(['enqueue', 'no-such-script', 'list-tasks'])).toEqual(['no-such-script'])
  })

  it("shows a failed case's error code, or the start of its message, in place of its figure", () => {
    const table: ScriptCostTable = {
      returnOne: { usecPerCall: 1.5, calls: 100 },
      sizes: { calls: 100, bulkCalls: 10, singleCalls: 10, rounds: 1 },
      rows: [
        { script: 'enqueue', call: '1 task', items: 1, usecPerCall: 30, ratio: 20, calls: 100 },
        {
          script: 'cancel',
          call: 'a ready task',
          items: 0,
          usecPerCall: null,
          ratio: null,
          calls: 0,
          failure: 'TM_UNKNOWN_TASK id: no task "t-1" in this namespace script: 0123456789abcdef0123456789abcdef01234567, on @user_script:12.',
        },
        { script: 'fail', call: 'a running task', items: 0, usecPerCall: null, ratio: null, calls: 0, failure: 'setup started 200 of 500 tasks | and\nmore lines' },
      ],
      notes: [],
    }
    const lines = scriptCostMarkdown(table).split('\n')
    expect(lines).toContain('| `enqueue` | 1 task | 30.0 | 20.0× |  |')
    expect(lines).toContain('| `cancel` | a ready task | failed: TM_UNKNOWN_TASK | – |  |')
    expect(lines).toContain('| `fail` | a running task | failed: setup started 200 of 500 tasks \\| and | – |  |')
    expect(lines).toContain('- `cancel`, a ready task: TM_UNKNOWN_TASK id: no task "t-1" in this namespace')
  })
})
