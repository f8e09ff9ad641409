/**
 * The tables of docs/reliability.md, rendered from the figures a recorded run of the fault
 * tests wrote to test/fault/results/ (`TASKMILL_FAULT_RECORD=1 npx vitest run test/fault`).
 * `write-table.ts` puts them into the document; `reliability-doc.test.ts` fails when the
 * document and the results differ.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FaultRow } from './harness.js'

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
export const DOC_PATH = fileURLToPath(new URL('../../../docs/reliability.md', import.meta.url))

/** The scenarios whose rows the fault table must have, one per fault test file. */
export const SCENARIOS = ['kill-storm', 'pause', 'redis-crash', 'script-flush', 'out-of-memory'] as const

type Recorded<T> = T & { run: { date: string; commit: string; machine: string } }

interface BoundedPhase {
  calls: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  longest: { script: string; maxMs: number; over1ms: number; over5ms: number; over10ms: number }[]
  seconds: number
}

interface BoundedResults {
  tasks: number
  batch: number
  enqueue: BoundedPhase
  drain: BoundedPhase
}

export function readRows(): Recorded<FaultRow>[] {
  return readdirSync(RESULTS_DIR)
    .filter((file) => file.endsWith('.json') && file !== 'bounded-calls.json')
    .map((file) => JSON.parse(readFileSync(`${RESULTS_DIR}${file}`, 'utf8')) as Recorded<FaultRow>)
    .sort((a, b) => a.order - b.order)
}

export function readBounded(): Recorded<BoundedResults> {
  return JSON.parse(readFileSync(`${RESULTS_DIR}bounded-calls.json`, 'utf8')) as Recorded<BoundedResults>
}

const number = (value: number): string => value.toLocaleString('en-US')

function runs(recorded: readonly Recorded<unknown>[]): string {
  const distinct = [...new Set(recorded.map((r) => `${r.run.date}, commit ${r.run.commit}, ${r.run.machine}`))]
  return distinct.join('; ')
}

function userErrors(errors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(errors).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0 ? 'none' : entries.map(([name, count]) => `${name} ×${number(count)}`).join(', ')
}

export function renderFaultTable(rows: readonly Recorded<FaultRow>[]): string {
  const lines = [
    `<!-- Generated from test/fault/results/*.json by \`npx tsx test/fault/write-table.ts\`; edit those, not this. -->`,
    '',
    `Recorded by \`TASKMILL_FAULT_RECORD=1 npx vitest run test/fault\`: ${runs(rows)}.`,
    '',
    '| # | fault | tasks | kills or pauses | Redis restarts | script flushes | lost | stuck | duplicate handler runs | duplicate completion records | NOSCRIPT errors reaching user code | attempts lost with a node | errors reaching user code | seconds |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ]
  rows.forEach((row, i) => {
    lines.push(
      `| ${i + 1} | ${row.fault} | ${number(row.tasks)} | ${row.kills} | ${row.restarts} | ${row.flushes} | ${row.lost} | ${row.stuck} | ${number(row.duplicateHandlerRuns)} | ${row.duplicateCompletionRecords} | ${row.noscriptErrors} | ${number(row.lostAttempts)} | ${userErrors(row.userErrors)} | ${row.seconds} |`,
    )
  })
  lines.push('')
  rows.forEach((row, i) => {
    lines.push(
      `${i + 1}. \`test/fault/${row.scenario}.test.ts\`: ${row.setup}. Also ${row.reusedTokens} handler runs under a token that had run before, ${row.staleResults} stored results not made by the assignment holding the task, ${row.dependencyViolations} tasks started before a dependency completed, ${row.notCompleted} tasks ended other than completed.`,
    )
  })
  return lines.join('\n')
}

export function renderBoundedTable(bounded: Recorded<BoundedResults>): string {
  const lines = [
    `<!-- Generated from test/fault/results/bounded-calls.json by \`npx tsx test/fault/write-table.ts\`; edit that, not this. -->`,
    '',
    `Recorded by \`TASKMILL_FAULT_RECORD=1 TASKMILL_BOUNDED_TASKS=${bounded.tasks} npx vitest run test/fault/bounded-calls.test.ts\`: ${runs([bounded])}. ` +
      `${number(bounded.tasks)} tasks of 100 B payloads enqueued in batches of ${number(bounded.batch)}, each sent as calls of at most 200 tasks as \`Scheduler.enqueueBatch\` sends it, with no worker, then drained by two worker processes of capacity 50 (library defaults: events on, 10,000 completed tasks kept; \`bench/bounded-calls.ts\`). Times are Redis' own wall times (SLOWLOG, INFO latencystats), on a machine where the workers and the test share two cores with Redis.`,
    '',
    '| phase | script calls | p50 ms | p99 ms | p99.9 ms | longest call, ms | calls over 1 / 5 / 10 ms (by script) | seconds |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ]
  for (const [name, phase] of [
    [`enqueue, batches of ${number(bounded.batch)}`, bounded.enqueue],
    ['drain', bounded.drain],
  ] as const) {
    const top = phase.longest[0]
    const over = phase.longest
      .filter((entry) => entry.over1ms > 0)
      .map((entry) => `${entry.script} ${number(entry.over1ms)} / ${number(entry.over5ms)} / ${number(entry.over10ms)}`)
      .join('; ')
    lines.push(
      `| ${name} | ${number(phase.calls)} | ${phase.p50Ms} | ${phase.p99Ms} | ${phase.p999Ms} | ${top ? `${top.maxMs} (${top.script})` : '–'} | ${over || 'none'} | ${phase.seconds} |`,
    )
  }
  return lines.join('\n')
}

/** The document with the text between `<!-- name:start -->` and `<!-- name:end -->` replaced. */
export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const from = doc.indexOf(start)
  const to = doc.indexOf(end)
  if (from === -1 || to < from) throw new Error(`docs/reliability.md lacks the ${start} … ${end} markers`)
  return `${doc.slice(0, from + start.length)}\n${body}\n${doc.slice(to)}`
}

export function renderDoc(doc: string): string {
  return replaceSection(replaceSection(doc, 'faults', renderFaultTable(readRows())), 'bounded', renderBoundedTable(readBounded()))
}
