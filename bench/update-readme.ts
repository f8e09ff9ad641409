/**
 * `npm run bench:readme`: rewrites the README's performance tables (between the bench markers)
 * from bench/results/latest.json, or from the report given as the first argument.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { README_PATH, REPORT_PATH, updateReadme } from './readme.js'
import type { Report } from './report.js'

async function main(): Promise<void> {
  const from = process.argv[2] ?? REPORT_PATH
  const report = JSON.parse(await readFile(from, 'utf8')) as Report
  const readme = await readFile(README_PATH, 'utf8')
  const updated = updateReadme(readme, report)
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
