/**
 * `npm run bench:readme`: rewrites the README's performance tables (between the bench markers)
 * from bench/results/latest.json, or from the report given as the first argument, and the
 * figure in the Schedules section from bench/results/schedules.json.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { README_PATH, REPORT_PATH, SCHEDULES_REPORT_PATH, updateReadme, updateScheduleSection } from './readme.js'
import type { Report } from './report.js'
import type { ScheduleFiringTable } from './schedule-firings.js'

async function main(): Promise<void> {
  const from = process.argv[2] ?? REPORT_PATH
  const report = JSON.parse(await readFile(from, 'utf8')) as Report
  const readme = await readFile(README_PATH, 'utf8')
  let updated = updateReadme(readme, report)
  if (existsSync(SCHEDULES_REPORT_PATH)) {
    updated = updateScheduleSection(updated, JSON.parse(await readFile(SCHEDULES_REPORT_PATH, 'utf8')) as ScheduleFiringTable)
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
