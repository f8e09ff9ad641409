/**
 * `npm run bench [-- options]`: measures taskmill side by side with BullMQ 6.7.0, Bee-Queue 2.0.0
 * and a raw-ioredis floor, each scenario on its own fresh redis-server; then Redis CPU per call
 * of every taskmill script, taskmill's cost with 1 to 1,000 registered nodes, one namespace
 * as 1 and as 3 partitions on a 3-primary Redis Cluster, and the longest script calls of an
 * enqueue and a drain of 200,000 tasks. Writes the
 * report to stdout, bench/results/latest.md and bench/results/latest.json, and regenerates the
 * README's performance tables from it. Progress goes to stderr.
 *
 *   --quick                 smaller sizes everywhere: a few minutes
 *   --systems=a,b           only these systems (taskmill, taskmill-tuned, bullmq, beequeue, floor)
 *   --scenarios=a,b         only these parts: enqueue, drain, e2e, latency, fanin, chain, weighted
 *                           (side by side), calls (Redis CPU per call of every script; the
 *                           run refuses to start while a script of the manifest has no fixture),
 *                           nodes (node scaling), cluster (scaling out over a Redis Cluster),
 *                           bounded (the longest script calls of a large enqueue and drain),
 *                           schedules (Redis CPU per firing of 10,000 schedules due at once;
 *                           written to bench/results/schedules.json and the README's Schedules
 *                           section only, so a run of it alone leaves the other tables alone);
 *                           groups alone runs bench/group-dispatch.ts (dispatch with 1,000 groups
 *                           waiting against 1 group) and writes only its own results
 *   --tasks=N               override the task count of enqueue/drain/e2e/weighted/cluster/bounded
 *   --nodes=1,10,100        override the node counts of the node-scaling part
 *   --no-profile            skip the per-script profile of taskmill (runs with every command logged)
 *   --out=DIR               where to write latest.md and latest.json (default: bench/results)
 *   --no-readme             leave README.md alone (it is only rewritten when --out is the default)
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { checkout, describeRevision, hostDescription } from './checkout.js'
import { BOUNDED_FULL, BOUNDED_QUICK, measureBoundedCalls, type BoundedCallsRun } from './bounded-calls.js'
import { runGroupDispatchBench } from './group-dispatch.js'
import { NODE_SCALING_FULL, NODE_SCALING_QUICK, measureNodeScaling, type NodeScalingTable } from './node-scaling.js'
import { README_PATH, SCHEDULE_MARKERS, SCHEDULES_REPORT_PATH, updateMarkedSection, updateReadme } from './readme.js'
import { REDIS_SERVER_BINARY } from './redis-server.js'
import { CLUSTER_FULL, CLUSTER_QUICK, measureCluster, type ClusterTable } from './cluster.js'
import { buildReport, machine, toMarkdown, type Environment } from './report.js'
import {
  SCHEDULE_FIRINGS_FULL,
  SCHEDULE_FIRINGS_QUICK,
  measureScheduleFirings,
  scheduleFiringsMarkdown,
  type ScheduleFiringFigures,
  type ScheduleFiringTable,
} from './schedule-firings.js'
import { FULL, QUICK, runScenario, type RunResult, type Sizes } from './scenarios.js'
import { SCRIPT_COSTS_FULL, SCRIPT_COSTS_QUICK, assertEveryScriptHasAFixture, measureScriptCosts, type ScriptCostTable } from './script-costs.js'
import { loadSystem, SYSTEM_NAMES } from './systems/index.js'
import type { ScenarioName, SystemModule, SystemName } from './systems/types.js'

const SCENARIO_ORDER: readonly ScenarioName[] = ['enqueue', 'drain', 'e2e', 'latency', 'fanin', 'chain', 'weighted']
/** Parts of the run that are not side-by-side scenarios: table (a), table (b), scaling out and the longest calls. */
const TABLES = ['calls', 'nodes', 'cluster', 'bounded', 'schedules'] as const
type TableName = (typeof TABLES)[number]
const DEFAULT_OUT = fileURLToPath(new URL('./results', import.meta.url))
/** Which scenarios of taskmill get a per-script profile. */
const PROFILED: readonly ScenarioName[] = ['e2e', 'fanin', 'chain']

const started = performance.now()

function elapsed(): string {
  return `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s]`
}

/** One line per step on stderr; while a step waits on its worker, a live counter on a TTY. */
class Progress {
  private live = false

  line(text: string): void {
    this.clearLive()
    process.stderr.write(`${elapsed()} ${text}\n`)
  }

  counter(prefix: string, done: number, total: number): void {
    if (!process.stderr.isTTY) return
    process.stderr.write(`\r${elapsed()} ${prefix} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} tasks run\x1b[K`)
    this.live = true
  }

  private clearLive(): void {
    if (this.live) process.stderr.write('\r\x1b[K')
    this.live = false
  }
}

function parseList<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (value === undefined) return [...allowed]
  const items = value.split(',').map((item) => item.trim()).filter(Boolean)
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}"; choose from ${allowed.join(', ')}`)
  }
  return items as T[]
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync(REDIS_SERVER_BINARY, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function summary(result: RunResult): string {
  if (!result.ok) return `✗ ${result.failure}`
  if (result.profile) return `✓ profiled ${result.profile.length} commands`
  const m = result.measurement
  if (!m) return '✓'
  const parts = [`${(m.wallMs / 1000).toFixed(2)} s`, `${Math.round(m.tasksPerSec).toLocaleString('en-US')} tasks/s`, `${m.cpuUsPerTask.toFixed(1)} µs/task`]
  if (m.memoryBytesPerTask !== undefined) parts.push(`${Math.round(m.memoryBytesPerTask)} B/task`)
  if (m.latency) parts.push(`p50 ${m.latency.p50Ms.toFixed(2)} ms, p99 ${m.latency.p99Ms.toFixed(2)} ms`)
  if (m.shares) parts.push(`shares ${m.shares.map((s) => `${s.node} ${(s.share * 100).toFixed(1)}%`).join(' ')}`)
  return `✓ ${parts.join(' · ')}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      systems: { type: 'string' },
      scenarios: { type: 'string' },
      tasks: { type: 'string' },
      nodes: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    const source = await import('node:fs').then((fs) => fs.readFileSync(fileURLToPath(import.meta.url), 'utf8'))
    process.stdout.write(`${/\/\*\*([\s\S]*?)\*\//.exec(source)?.[1]?.replace(/^ \* ?/gm, '') ?? ''}\n`)
    return
  }
  if (values.scenarios === 'groups') {
    await runGroupDispatchBench(values.tasks === undefined ? [] : [`--tasks=${values.tasks}`])
    return
  }
  const systems = parseList(values.systems, SYSTEM_NAMES, 'system')
  const parts = parseList<ScenarioName | TableName>(values.scenarios, [...SCENARIO_ORDER, ...TABLES], 'scenario')
  const scenarios = SCENARIO_ORDER.filter((scenario) => parts.includes(scenario))
  // `npm run bench --quick` (no `--`) hands the flag to npm, which passes it on as npm_config_quick.
  const quick = values.quick || process.env.npm_config_quick === 'true'
  const sizes: Sizes = { ...(quick ? QUICK : FULL) }
  const clusterSizes = { ...(quick ? CLUSTER_QUICK : CLUSTER_FULL) }
  const boundedSizes = { ...(quick ? BOUNDED_QUICK : BOUNDED_FULL) }
  if (values.tasks !== undefined) {
    const tasks = Number(values.tasks)
    if (!Number.isInteger(tasks) || tasks < 1) throw new Error(`--tasks must be a positive integer, got ${values.tasks}`)
    sizes.tasks = tasks
    clusterSizes.tasks = tasks
    boundedSizes.tasks = tasks
  }
  const outDir = resolve(values.out ?? DEFAULT_OUT)
  const scriptCostSizes = quick ? SCRIPT_COSTS_QUICK : SCRIPT_COSTS_FULL
  const nodeSizes = { ...(quick ? NODE_SCALING_QUICK : NODE_SCALING_FULL) }
  if (values.nodes !== undefined) {
    nodeSizes.nodeCounts = values.nodes.split(',').map((item) => Number(item.trim()))
    if (nodeSizes.nodeCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--nodes must list positive integers, got ${values.nodes}`)
  }

  // Checked before anything runs, so a missing fixture does not cost the side-by-side scenarios.
  if (parts.includes('calls')) assertEveryScriptHasAFixture()
  const progress = new Progress()
  const plan: { system: SystemName; scenario: ScenarioName; profile: boolean }[] = []
  for (const scenario of SCENARIO_ORDER) {
    if (!scenarios.includes(scenario)) continue
    for (const system of systems) plan.push({ system, scenario, profile: false })
  }
  if (!values['no-profile'] && systems.includes('taskmill')) {
    for (const scenario of PROFILED) if (scenarios.includes(scenario)) plan.push({ system: 'taskmill', scenario, profile: true })
  }

  const loadAtStart = loadavg()[0] ?? 0
  const revisionAtStart = checkout()
  progress.line(
    `taskmill benchmark${quick ? ' (quick)' : ''}: ${sizes.tasks.toLocaleString('en-US')} tasks, systems ${systems.join(', ')}; a fresh redis-server per step`,
  )
  const runs: RunResult[] = []
  const profiles: RunResult[] = []
  const modules = new Map<SystemName, SystemModule | Error>()
  for (const name of systems) {
    modules.set(name, await loadSystem(name).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))))
  }
  const runnable = plan.filter((item) => {
    const module = modules.get(item.system)
    return module instanceof Error || module?.scenarios.includes(item.scenario)
  })
  let step = 0
  for (const item of runnable) {
    step++
    const system = modules.get(item.system)
    if (!system || system instanceof Error) {
      const failure = `could not load ${item.system}: ${system?.message ?? 'unknown system'}`
      if (!item.profile) runs.push({ system: item.system, scenario: item.scenario, ok: false, failure })
      progress.line(`${step}/${runnable.length} ✗ ${item.system} · ${item.scenario}: ${failure}`)
      continue
    }
    const name = `${step}/${runnable.length} ${system.label} · ${item.scenario}${item.profile ? ' (profile: every command logged)' : ''}`
    progress.line(`${name} …`)
    const result = await runScenario(system, item.scenario, {
      sizes,
      profile: item.profile,
      onProgress: (done, total) => progress.counter(`   ${system.label} · ${item.scenario}:`, done, total),
    })
    ;(item.profile ? profiles : runs).push(result)
    progress.line(`   ${summary(result)}`)
  }

  let scriptCosts: ScriptCostTable | undefined
  if (parts.includes('calls')) {
    progress.line('Redis CPU per call of every script (one fresh redis-server) …')
    scriptCosts = await measureScriptCosts(scriptCostSizes, (line) => progress.line(`   ${line}`))
  }
  let nodeScaling: NodeScalingTable | undefined
  if (parts.includes('nodes')) {
    progress.line(`node scaling: ${nodeSizes.nodeCounts.map((n) => n.toLocaleString('en-US')).join(', ')} registered nodes …`)
    const taskmill = await loadSystem('taskmill')
    nodeScaling = await measureNodeScaling(nodeSizes, {
      log: (line) => progress.line(line),
      counter: (prefix, done, total) => progress.counter(prefix, done, total),
      openProducer: (url) => taskmill.openProducer(url),
    })
  }
  let cluster: ClusterTable | undefined
  if (parts.includes('cluster')) {
    progress.line(`scaling out: ${clusterSizes.tasks.toLocaleString('en-US')} tasks, P = ${clusterSizes.partitionCounts.join(' and ')}, on a 3-primary cluster and on one server …`)
    cluster = await measureCluster(clusterSizes, {
      log: (line) => progress.line(line),
      counter: (prefix, done, total) => progress.counter(prefix, done, total),
    })
  }
  let boundedCalls: BoundedCallsRun | undefined
  if (parts.includes('bounded')) {
    progress.line(`longest script calls: ${boundedSizes.tasks.toLocaleString('en-US')} tasks enqueued, then drained (one fresh redis-server) …`)
    // A failure is reported in its table, so that the parts already measured are still written.
    boundedCalls = await measureBoundedCalls(boundedSizes, (line) => progress.line(`   ${line}`)).then(
      (figures): BoundedCallsRun => ({ ok: true, ...figures }),
      (error: unknown): BoundedCallsRun => ({ ok: false, ...boundedSizes, failure: error instanceof Error ? error.message : String(error) }),
    )
    if (!boundedCalls.ok) progress.line(`   ✗ ${boundedCalls.failure}`)
    else {
      const { enqueue, drain } = boundedCalls
      progress.line(
        `   ✓ longest call: enqueue ${enqueue.longest[0]?.maxMs ?? '–'} ms wall (${enqueue.longestCpu?.[0]?.maxMs ?? '–'} ms Redis CPU), drain ${drain.longest[0]?.maxMs ?? '–'} ms wall`,
      )
    }
  }

  let scheduleFirings: ScheduleFiringFigures | undefined
  if (parts.includes('schedules')) {
    const firingSizes = quick ? SCHEDULE_FIRINGS_QUICK : SCHEDULE_FIRINGS_FULL
    progress.line(`schedule firings: ${firingSizes.schedules.toLocaleString('en-US')} schedules due at once (one fresh redis-server) …`)
    scheduleFirings = await measureScheduleFirings(firingSizes, (line) => progress.line(`   ${line}`))
  }

  const environment: Environment = {
    date: new Date().toISOString(),
    node: process.versions.node,
    redis: redisVersion(),
    revision: describeRevision(revisionAtStart, checkout()),
    ...hostDescription(),
    quick,
    load: `${loadAtStart.toFixed(2)} at start, ${(loadavg()[0] ?? 0).toFixed(2)} at end (1-minute load average; other work on the machine makes figures noisier)`,
    durationSeconds: Math.round((performance.now() - started) / 1000),
  }
  await mkdir(outDir, { recursive: true })
  const rewriteReadme = outDir === resolve(DEFAULT_OUT) && !values['no-readme']
  if (scheduleFirings) {
    const table: ScheduleFiringTable = {
      ...scheduleFirings,
      date: environment.date,
      redis: environment.redis,
      machine: machine(environment),
      revision: environment.revision,
    }
    const markdown = scheduleFiringsMarkdown(table)
    await writeFile(join(outDir, 'schedules.json'), `${JSON.stringify(table, null, 2)}\n`)
    await writeFile(join(outDir, 'schedules.md'), `${markdown}\n`)
    process.stdout.write(`${markdown}\n`)
    progress.line(`schedule firings written to ${join(outDir, 'schedules.json')} and schedules.md`)
    if (rewriteReadme && join(outDir, 'schedules.json') === SCHEDULES_REPORT_PATH) {
      const readme = await readFile(README_PATH, 'utf8')
      const updated = updateMarkedSection(readme, SCHEDULE_MARKERS, markdown)
      if (updated !== readme) {
        await writeFile(README_PATH, updated)
        progress.line('README.md: the schedule firing table regenerated from schedules.json')
      }
    }
  }
  // A run of the schedule firings alone has nothing for the main report: leave it as it is.
  if (!parts.some((part) => part !== 'schedules')) return
  const report = buildReport(environment, sizes, runs, profiles, scriptCosts, nodeScaling, cluster, boundedCalls)
  const markdown = toMarkdown(report)
  await writeFile(join(outDir, 'latest.md'), markdown)
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(markdown)
  progress.line(`done; written to ${join(outDir, 'latest.md')} and latest.json`)
  if (rewriteReadme) {
    const readme = await readFile(README_PATH, 'utf8')
    const updated = updateReadme(readme, report)
    if (updated !== readme) {
      await writeFile(README_PATH, updated)
      progress.line('README.md: performance tables regenerated from latest.json')
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
