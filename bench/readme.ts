/**
 * The README's performance tables, generated from a benchmark report (bench/results/latest.json):
 * everything between the two markers below is rewritten by `npm run bench:readme`, and by
 * `npm run bench` when it writes to bench/results. test/readme/bench-tables.test.ts fails when
 * the README's text between the markers differs from what latest.json generates, so the README
 * never shows figures that are not in the committed report.
 */
import { fileURLToPath } from 'node:url'
import {
  BOUNDED_CALLS_TITLE,
  boundedCallsMarkdown,
  clusterMarkdown,
  duration,
  fixed,
  find,
  LABELS,
  machine,
  oneLine,
  nodeScalingMarkdown,
  scriptCostMarkdown,
  SYSTEM_ORDER,
  table,
  targetsMarkdown,
  type Report,
} from './report.js'

export const README_START = '<!-- bench:start -->'
export const README_END = '<!-- bench:end -->'
export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url))
export const REPORT_PATH = fileURLToPath(new URL('./results/latest.json', import.meta.url))

/** The markdown that goes between the markers. */
export function readmeSection(report: Report): string {
  const env = report.environment
  const out: string[] = []
  out.push('<!-- Generated from bench/results/latest.json by `npm run bench:readme` (bench/readme.ts); edit that, not this. -->')
  out.push(
    `Latest run: ${env.date.slice(0, 10)}, ${env.quick ? '`npm run bench --quick` (small sizes, so noisier figures)' : '`npm run bench`'}, ` +
      `which took ${duration(env.durationSeconds)}, of taskmill ${env.revision}. Machine: ${machine(env)}; Node ${env.node}; redis-server ${env.redis}, persistence off, ` +
      `a fresh server per system and scenario; 1-minute load average ${env.load.replace(/ \(.*\)$/, '')}.`,
  )
  out.push(sideBySide(report))
  if (report.scriptCosts) {
    out.push('### Redis CPU per call of every script')
    out.push(scriptCostMarkdown(report.scriptCosts))
  }
  if (report.nodeScaling) {
    out.push('### Node scaling')
    out.push(nodeScalingMarkdown(report.nodeScaling))
  }
  if (report.cluster) {
    out.push('### Scaling out over a Redis Cluster')
    out.push(clusterMarkdown(report.cluster, env, false))
  }
  if (report.boundedCalls) {
    out.push(`### ${BOUNDED_CALLS_TITLE}`)
    out.push(boundedCallsMarkdown(report.boundedCalls))
  }
  out.push('### Targets')
  out.push(targetsMarkdown(report.targets))
  return out.join('\n\n')
}

function sideBySide(report: Report): string {
  const { runs, sizes } = report
  const rows: string[][] = []
  for (const system of SYSTEM_ORDER) {
    if (!runs.some((run) => run.system === system)) continue
    const life = report.wholeLife.find((w) => w.system === system)?.totalUs
    const latency = find(runs, system, 'latency')
    rows.push([
      LABELS[system] ?? system,
      fixed(life, 1),
      fixed(latency?.cpuUsPerTask, 1),
      fixed(latency?.latency?.p99Ms, 2),
      fixed(find(runs, system, 'chain')?.cpuUsPerTask, 1),
      fixed(find(runs, system, 'fanin')?.cpuUsPerTask, 1),
      fixed(find(runs, system, 'enqueue')?.memoryBytesPerTask, 0),
    ])
  }
  const failed = runs.filter((run) => !run.ok).map((run) => `- ${LABELS[run.system] ?? run.system}, ${run.scenario}: ${oneLine(run.failure ?? 'failed')}`)
  return [
    `### Side by side\n\nRedis CPU (µs) per task; taskmill with the library's defaults (events on), every system keeping its completed tasks; ` +
      `whole life is enqueue in batches of ${sizes.batch.toLocaleString('en-US')} plus drain by one worker process (${sizes.tasks.toLocaleString('en-US')} tasks); ` +
      `end to end is one enqueue call per task at ${sizes.rate.toLocaleString('en-US')}/s with the worker running. ` +
      'Every figure with its ratios and command counts is in `bench/results/latest.md`.',
    table(
      ['system', 'whole life, batches', `end to end at ${sizes.rate.toLocaleString('en-US')}/s`, 'p99 enqueue → start, ms', `chain of ${sizes.chainLength}, per step`,
        `fan-in of ${sizes.fanInWidth.toLocaleString('en-US')}, per task`, 'memory per waiting task, B'],
      rows,
    ),
    failed.join('\n'),
  ]
    .filter(Boolean)
    .join('\n\n')
}

/** The text between the markers, or undefined when the README has no such section. */
export function currentSection(readme: string): string | undefined {
  const start = readme.indexOf(README_START)
  const end = readme.indexOf(README_END)
  if (start === -1 || end === -1 || end < start) return undefined
  return readme.slice(start + README_START.length, end).replace(/^\n+|\n+$/g, '')
}

/** The README with the section between the markers regenerated from `report`. */
export function updateReadme(readme: string, report: Report): string {
  const start = readme.indexOf(README_START)
  const end = readme.indexOf(README_END)
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md has no ${README_START} … ${README_END} section for the benchmark tables`)
  }
  return `${readme.slice(0, start + README_START.length)}\n${readmeSection(report)}\n${readme.slice(end)}`
}

/**
 * The figures in the README's Schedules and Groups sections have markers of their own, and
 * reports of their own (bench/results/schedules.json, group-dispatch.json), so that measuring one
 * again leaves the other tables alone.
 */
export interface Markers {
  start: string
  end: string
  /** What the section holds, for the error when the README lacks it. */
  holds: string
}

export const SCHEDULE_MARKERS: Markers = {
  start: '<!-- bench-schedules:start -->',
  end: '<!-- bench-schedules:end -->',
  holds: 'the schedule firing figure',
}
export const SCHEDULES_REPORT_PATH = fileURLToPath(new URL('./results/schedules.json', import.meta.url))

export const GROUP_MARKERS: Markers = {
  start: '<!-- bench-groups:start -->',
  end: '<!-- bench-groups:end -->',
  holds: 'the group dispatch table',
}
export const GROUPS_REPORT_PATH = fileURLToPath(new URL('./results/group-dispatch.json', import.meta.url))

/** The text between the markers, or undefined when the README has none. */
export function currentMarkedSection(readme: string, markers: Markers): string | undefined {
  const start = readme.indexOf(markers.start)
  const end = readme.indexOf(markers.end)
  if (start === -1 || end === -1 || end < start) return undefined
  return readme.slice(start + markers.start.length, end).replace(/^\n+|\n+$/g, '')
}

/** The README with `text` between the markers. */
export function updateMarkedSection(readme: string, markers: Markers, text: string): string {
  const start = readme.indexOf(markers.start)
  const end = readme.indexOf(markers.end)
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md has no ${markers.start} … ${markers.end} section for ${markers.holds}`)
  }
  return `${readme.slice(0, start + markers.start.length)}\n${text}\n${readme.slice(end)}`
}
