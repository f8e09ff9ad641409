/**
 * `npm run bench:readme`: rewrites the README's performance tables (between the bench markers)
 * from bench/results/latest.json, or from the report given as the first argument, the figure in
 * the Schedules section from bench/results/schedules.json and the table in the Groups section
 * from bench/results/group-dispatch.json.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { groupDispatchMarkdown, type GroupDispatchRun } from './group-dispatch.js'
import {
  GROUP_MARKERS,
  GROUPS_REPORT_PATH,
  README_PATH,
  REPORT_PATH,
  SCHEDULE_MARKERS,
  SCHEDULES_REPORT_PATH,
  updateMarkedSection,
  updateReadme,
} from './readme.js'
import type { Report } from './report.js'
import { scheduleFiringsMarkdown, type ScheduleFiringTable } from './schedule-firings.js'

async function main(): Promise<void> {
  const from = process.argv[2] ?? REPORT_PATH
  const report = JSON.parse(await readFile(from, 'utf8')) as Report
  const readme = await readFile(README_PATH, 'utf8')
  let updated = updateReadme(readme, report)
  if (existsSync(SCHEDULES_REPORT_PATH)) {
    const table = JSON.parse(await readFile(SCHEDULES_REPORT_PATH, 'utf8')) as ScheduleFiringTable
    updated = updateMarkedSection(updated, SCHEDULE_MARKERS, scheduleFiringsMarkdown(table))
  }
  if (existsSync(GROUPS_REPORT_PATH)) {
    const run = JSON.parse(await readFile(GROUPS_REPORT_PATH, 'utf8')) as GroupDispatchRun
    updated = updateMarkedSection(updated, GROUP_MARKERS, groupDispatchMarkdown(run))
  }
  if (updated === readme) {
    process.stderr.write('README.md: performance tables already match the report\n')
    return
  }
  await writeFile(README_PATH, updated)
  process.stderr.write(`README.md: performance tables regenerated from ${from}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
