/**
 * Turns the runs into the report: one markdown table per scenario with every figure also as a
 * ratio to BullMQ's (and Bee-Queue's where it ran) from the same run, the whole-life sum, the
 * weighted shares, Redis CPU per call of every script, node scaling, scaling out over a Redis
 * Cluster, the longest script calls of a large enqueue and drain, the targets with their measured
 * ratios (met or missed), and where taskmill's Redis time goes.
 */
import type { BoundedCallsRun } from './bounded-calls.js'
import type { ClusterRun, ClusterTable, Topology } from './cluster.js'
import type { NodeScalingRow, NodeScalingTable } from './node-scaling.js'
import type { CommandCost, Measurement, RunResult, Sizes } from './scenarios.js'
import type { ScriptCostTable } from './script-costs.js'
import type { ScenarioName } from './systems/types.js'

export interface Environment {
  date: string
  node: string
  redis: string
  /**
   * The commit measured (short hash), "… with uncommitted changes" when the tree outside bench/
   * differed from it, or the range of commits when the code changed during the run.
   */
  revision: string
  /** Count and model, e.g. "2 × AMD EPYC 7B13". */
  cpus: string
  /** Total memory, e.g. "7.8 GiB". */
  memory: string
  /** Operating system and kernel, e.g. "Linux 6.1.0-18-cloud-amd64 (x64)". */
  os: string
  quick: boolean
  load: string
  /** Wall time of the whole benchmark run, in seconds. */
  durationSeconds: number
}

export interface Target {
  target: string
  /** The measured ratio, null when a run it needs failed or did not run. */
  ratio: number | null
  /** How to show the measured value when not as a ratio (a deviation: "±4.4%"). */
  measured?: string
  /** Met when ratio ≤ limit. */
  limit: number
  /** The figures the ratio comes from. */
  detail: string
  pass: boolean | null
}

export interface Report {
  environment: Environment
  sizes: Sizes
  runs: RunResult[]
  /** Runs with every command logged, for the per-script profile; their figures are not comparable. */
  profiles: RunResult[]
  wholeLife: { system: string; enqueueUs: number; drainUs: number; totalUs: number; ratioBullmq: number | null; ratioBee: number | null }[]
  /** Table (a): Redis CPU per call of every script; absent when that part was not run. */
  scriptCosts?: ScriptCostTable
  /** Table (b): per-call and end-to-end cost by number of registered nodes; absent when not run. */
  nodeScaling?: NodeScalingTable
  /** One namespace as 1 and as 3 partitions on a 3-primary cluster (and on one server); absent when not run. */
  cluster?: ClusterTable
  /** The longest script calls of a large enqueue and drain; absent when not run. */
  boundedCalls?: BoundedCallsRun
  targets: Target[]
}

export const SYSTEM_ORDER = ['taskmill', 'taskmill-tuned', 'bullmq', 'beequeue', 'floor'] as const

export const LABELS: Record<string, string> = {
  taskmill: 'taskmill',
  'taskmill-tuned': 'taskmill, events off (tuned)',
  bullmq: 'BullMQ 6.7.0',
  beequeue: 'Bee-Queue 2.0.0',
  floor: 'raw ioredis floor',
}

const SCENARIO_TITLES: Record<ScenarioName, string> = {
  enqueue: 'Enqueue in batches (no worker; memory per waiting task)',
  drain: 'Drain of pre-enqueued no-op tasks by one worker process (concurrency 50)',
  e2e: 'End to end: producer enqueuing in batches while the worker runs',
  latency: 'End to end at a fixed offered rate: latency from enqueue call to handler start',
  fanin: 'Fan-in: one task waiting on 1,000 (figures per job of the graph)',
  chain: 'Chain of 200 (figures per step)',
  weighted: 'Weighted dispatch to three nodes, weights 5/3/1 (taskmill only; small batches offered below saturation)',
}

export function find(runs: readonly RunResult[], system: string, scenario: ScenarioName): Measurement | undefined {
  return runs.find((run) => run.system === system && run.scenario === scenario && run.ok)?.measurement
}

function ratio(value: number | undefined, base: number | undefined): number | null {
  if (value === undefined || base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0) return null
  return value / base
}

export function buildReport(
  environment: Environment,
  sizes: Sizes,
  runs: RunResult[],
  profiles: RunResult[],
  scriptCosts?: ScriptCostTable,
  nodeScaling?: NodeScalingTable,
  cluster?: ClusterTable,
  boundedCalls?: BoundedCallsRun,
): Report {
  const wholeLife: Report['wholeLife'] = []
  const lifeOf = (system: string): number | undefined => {
    const enqueue = find(runs, system, 'enqueue')
    const drain = find(runs, system, 'drain')
    return enqueue && drain ? enqueue.cpuUsPerTask + drain.cpuUsPerTask : undefined
  }
  for (const system of SYSTEM_ORDER) {
    const enqueue = find(runs, system, 'enqueue')
    const drain = find(runs, system, 'drain')
    if (!enqueue || !drain) continue
    const totalUs = enqueue.cpuUsPerTask + drain.cpuUsPerTask
    wholeLife.push({
      system,
      enqueueUs: enqueue.cpuUsPerTask,
      drainUs: drain.cpuUsPerTask,
      totalUs,
      ratioBullmq: ratio(totalUs, lifeOf('bullmq')),
      ratioBee: ratio(totalUs, lifeOf('beequeue')),
    })
  }
  const report: Report = { environment, sizes, runs, profiles, wholeLife, targets: [] }
  if (scriptCosts) report.scriptCosts = scriptCosts
  if (nodeScaling) report.nodeScaling = nodeScaling
  if (cluster) report.cluster = cluster
  if (boundedCalls) report.boundedCalls = boundedCalls
  report.targets = buildTargets(report, lifeOf)
  return report
}

/** A target met when `value / base` ≤ `limit`; `unit` and the names go into the detail. */
function target(
  text: string,
  limit: number,
  value: number | undefined | null,
  base: number | undefined | null,
  detail: (v: string, b: string) => string,
  digits = 1,
  missing = 'a run it needs failed or did not run',
): Target {
  const measured = ratio(value ?? undefined, base ?? undefined)
  return {
    target: text,
    ratio: measured,
    limit,
    detail: measured === null ? `no figure: ${missing}` : detail(fixed(value, digits), fixed(base, digits)),
    pass: measured === null ? null : measured <= limit,
  }
}

/** The rows of the smallest and the largest node count that have figures. */
function scalingEnds(table: NodeScalingTable | undefined): { small?: NodeScalingRow; large?: NodeScalingRow } {
  if (!table || table.rows.length < 2) return {}
  const sorted = [...table.rows].sort((a, b) => a.nodes - b.nodes)
  return { small: sorted[0], large: sorted[sorted.length - 1] }
}

function buildTargets(report: Report, lifeOf: (system: string) => number | undefined): Target[] {
  const { runs, scriptCosts, nodeScaling } = report
  const targets: Target[] = []
  const returnOne = scriptCosts?.returnOne.usecPerCall
  const costOf = (script: string, items: number): number | undefined =>
    scriptCosts?.rows.find((row) => row.script === script && row.items === items)?.usecPerCall ?? undefined
  targets.push(
    target('`heartbeat` of a node with no tasks ≤ 8× EVALSHA of `return 1`', 8, costOf('heartbeat', 0), returnOne, (v, b) => `${v} µs vs ${b} µs`, 2),
    target('`stats` on an empty namespace ≤ 8× EVALSHA of `return 1`', 8, costOf('stats', 0), returnOne, (v, b) => `${v} µs vs ${b} µs`, 2),
  )
  const { small, large } = scalingEnds(nodeScaling)
  const many = large ? large.nodes.toLocaleString('en-US') : '1,000'
  const few = small ? small.nodes.toLocaleString('en-US') : '1'
  const nodesText = (n: string): string => `${n} node${n === '1' ? '' : 's'}`
  for (const [name, pick] of [
    ['`heartbeat`', (row: NodeScalingRow) => row.heartbeatUs],
    ['`enqueue` of one task', (row: NodeScalingRow) => row.enqueueUs],
    ['`complete` of one task', (row: NodeScalingRow) => row.completeUs],
  ] as const) {
    targets.push(
      target(`${name} with ${nodesText(many)} ≤ 1.5× with ${nodesText(few)}`, 1.5, large && pick(large), small && pick(small), (v, b) => `${v} µs vs ${b} µs per call`),
    )
  }
  const rate = nodeScaling?.sizes.rate ?? 200
  const e2eFailure = [large, small].flatMap((row) => row?.failures.filter((f) => f.startsWith('end to end')).map((f) => `${nodesText(row.nodes.toLocaleString('en-US'))}, ${oneLine(f)}`) ?? [])[0]
  targets.push(
    target(`end to end at ${rate} tasks/s with ${nodesText(many)} ≤ 2× with ${nodesText(few)}`, 2, large?.e2e?.cpuUsPerTask, small?.e2e?.cpuUsPerTask,
      (v, b) => `${v} µs vs ${b} µs Redis CPU per task`, 1, e2eFailure),
    target('whole life in batches (enqueue + drain), events on ≤ 0.5× Bee-Queue', 0.5, lifeOf('taskmill'), lifeOf('beequeue'), (v, b) => `${v} µs vs ${b} µs per task`),
  )
  const latency = (system: string): Measurement | undefined => find(runs, system, 'latency')
  const latencyRate = report.sizes.rate.toLocaleString('en-US')
  targets.push(
    target(`end to end at ${latencyRate} tasks/s, single enqueues ≤ 0.5× Bee-Queue`, 0.5, latency('taskmill')?.cpuUsPerTask, latency('beequeue')?.cpuUsPerTask,
      (v, b) => `${v} µs vs ${b} µs per task`),
    target(`p99 enqueue → handler start at ${latencyRate} tasks/s ≤ Bee-Queue's`, 1, latency('taskmill')?.latency?.p99Ms, latency('beequeue')?.latency?.p99Ms,
      (v, b) => `${v} ms vs ${b} ms`, 2),
    target('chain, Redis CPU per step ≤ 0.3× BullMQ', 0.3, find(runs, 'taskmill', 'chain')?.cpuUsPerTask, find(runs, 'bullmq', 'chain')?.cpuUsPerTask,
      (v, b) => `${v} µs vs ${b} µs`),
    target('fan-in, Redis CPU per task ≤ 0.2× BullMQ', 0.2, find(runs, 'taskmill', 'fanin')?.cpuUsPerTask, find(runs, 'bullmq', 'fanin')?.cpuUsPerTask,
      (v, b) => `${v} µs vs ${b} µs`),
    target('memory per waiting task, events on ≤ Bee-Queue', 1, find(runs, 'taskmill', 'enqueue')?.memoryBytesPerTask, find(runs, 'beequeue', 'enqueue')?.memoryBytesPerTask,
      (v, b) => `${v} B vs ${b} B`, 0),
  )
  const spread = cheapestRun(report.cluster, 'cluster', 3)
  targets.push(
    evenSpreadTarget(spread),
    target('Redis CPU per task over all 3 shards with P = 3 ≤ 1.2× with P = 1', 1.2, spread?.cpuUsPerTask, cheapestRun(report.cluster, 'cluster', 1)?.cpuUsPerTask,
      (v, b) => `${v} µs vs ${b} µs per task`),
  )
  return targets
}

/** The issue's balance target: every shard's CPU within ±15% of an even share. */
function evenSpreadTarget(run: ClusterRun | undefined): Target {
  const text = "P = 3 on 3 shards: each shard's Redis CPU within ±15% of a third of the total"
  const deviation = run?.maxShareDeviation
  if (deviation === undefined || !run?.shards) {
    return { target: text, ratio: null, limit: 0.15, detail: 'no figure: a run it needs failed or did not run', pass: null }
  }
  return {
    target: text,
    ratio: deviation,
    limit: 0.15,
    measured: `±${fixed(deviation * 100, 1)}%`,
    detail: `shares ${run.shards.map((shard) => percent(shard.share)).join(' / ')} of ${fixed(run.cpuUsPerTask, 1)} µs per task`,
    pass: deviation <= 0.15,
  }
}

/**
 * The round of `partitions` on `topology` with the least Redis CPU per task: the one the tables
 * show. Rounds differ by what else the machine was doing; the cheapest had the least of it.
 */
export function cheapestRun(table: ClusterTable | undefined, topology: Topology, partitions: number): ClusterRun | undefined {
  const ok = (table?.runs ?? []).filter((run) => run.topology === topology && run.partitions === partitions && run.ok && run.cpuUsPerTask !== undefined)
  return ok.sort((a, b) => (a.cpuUsPerTask as number) - (b.cpuUsPerTask as number))[0]
}

// ---- markdown ----

export function fixed(value: number | undefined | null, digits: number): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A failure as one short line: the first line of the message, without Redis's script location. */
export function oneLine(text: string): string {
  const first = (text.split('\n')[0] ?? '').replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, '').trim()
  return first.length > 240 ? `${first.slice(0, 239)}…` : first
}

export function percent(value: number | undefined | null): string {
  return value === undefined || value === null || !Number.isFinite(value) ? '–' : `${fixed(value * 100, 1)}%`
}

export function times(value: number | null): string {
  if (value === null) return '–'
  return `${value < 0.095 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : fixed(value, 0)}×`
}

/** A markdown table; columns are right-aligned except the first, or as `left` says. */
export function table(header: string[], rows: string[][], left: readonly number[] = [0]): string {
  const align = header.map((_, i) => (left.includes(i) ? '---' : '---:'))
  return [header, align, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n')
}

interface Column {
  title: string
  digits: number
  pick: (m: Measurement) => number | undefined
}

function scenarioTable(runs: readonly RunResult[], scenario: ScenarioName, columns: Column[]): string {
  const inScenario = runs.filter((run) => run.scenario === scenario)
  const bull = find(runs, 'bullmq', scenario)
  const bee = find(runs, 'beequeue', scenario)
  const header = ['system']
  for (const column of columns) {
    header.push(column.title)
    if (inScenario.some((run) => run.system === 'bullmq')) header.push('×BullMQ')
    if (inScenario.some((run) => run.system === 'beequeue')) header.push('×Bee')
  }
  const rows: string[][] = []
  const failures: string[] = []
  for (const run of inScenario) {
    const m = run.ok ? run.measurement : undefined
    if (!m) {
      failures.push(`- **${LABELS[run.system] ?? run.system}: FAILED** — ${oneLine(run.failure ?? 'no figures')}`)
      continue
    }
    const row = [LABELS[run.system] ?? run.system]
    for (const column of columns) {
      const value = column.pick(m)
      row.push(fixed(value, column.digits))
      if (inScenario.some((r) => r.system === 'bullmq')) row.push(times(ratio(value, bull ? column.pick(bull) : undefined)))
      if (inScenario.some((r) => r.system === 'beequeue')) row.push(times(ratio(value, bee ? column.pick(bee) : undefined)))
    }
    rows.push(row)
  }
  return [rows.length > 0 ? table(header, rows) : '', ...failures].filter(Boolean).join('\n\n')
}

/** Commands taskmill's clients send themselves, not from inside a script. */
const CLIENT_COMMANDS = new Set(['xread', 'xrevrange', 'ssubscribe', 'sunsubscribe', 'subscribe', 'unsubscribe', 'ping', 'client', 'hello', 'select', 'script', 'quit', 'info'])

const THROUGHPUT: Column = { title: 'tasks/s', digits: 0, pick: (m) => m.tasksPerSec }
const CPU: Column = { title: 'Redis CPU µs/task', digits: 1, pick: (m) => m.cpuUsPerTask }
const COMMANDS: Column = { title: 'cmds/task', digits: 2, pick: (m) => m.commandsPerTask }
const MEMORY: Column = { title: 'memory B/task', digits: 0, pick: (m) => m.memoryBytesPerTask }
const P50: Column = { title: 'p50 ms', digits: 2, pick: (m) => m.latency?.p50Ms }
const P99: Column = { title: 'p99 ms', digits: 2, pick: (m) => m.latency?.p99Ms }

function commandTable(commands: readonly CommandCost[]): string {
  return table(
    ['command', 'calls/task', 'µs/call', 'µs/task'],
    commands.map((c) => [`\`${c.name}\``, fixed(c.callsPerTask, 3), fixed(c.usecPerCall, 1), fixed(c.usecPerTask, 2)]),
  )
}

export function toMarkdown(report: Report): string {
  const { environment: env, sizes, runs } = report
  const out: string[] = []
  out.push(`# taskmill benchmark${env.quick ? ' (quick)' : ''}`)
  out.push(
    `${env.date} · taskmill ${env.revision} · ${machine(env)} · Node ${env.node} · redis-server ${env.redis} (\`--save '' --appendonly no\`, a fresh server per system and scenario) · ` +
      `load ${env.load} · the whole run took ${duration(env.durationSeconds)}\n\n` +
      `${sizes.tasks.toLocaleString('en-US')} tasks for enqueue/drain/e2e/weighted, batches of ${sizes.batch.toLocaleString('en-US')}; ` +
      `latency: ${sizes.latencyTasks.toLocaleString('en-US')} tasks at ${sizes.rate.toLocaleString('en-US')}/s; ` +
      `fan-in: ${sizes.fanIns} × (1 waiting on ${sizes.fanInWidth.toLocaleString('en-US')}); chain: ${sizes.chains} × ${sizes.chainLength}; ` +
      `one worker process, concurrency ${sizes.concurrency}; no-op handlers, ~100 B payloads. ` +
      `taskmill runs with the library's defaults (events on), completed tasks kept; "taskmill, events off (tuned)" is the same with the event stream off. ` +
      `Ratios are to the same run's BullMQ (×BullMQ) and Bee-Queue (×Bee) figures. ` +
      `Redis CPU is used_cpu_user + used_cpu_sys; cmds/task counts INFO commandstats, which in Redis 7 includes commands run inside scripts.`,
  )
  const sections: [ScenarioName, Column[]][] = [
    ['enqueue', [THROUGHPUT, CPU, COMMANDS, MEMORY]],
    ['drain', [THROUGHPUT, CPU, COMMANDS]],
    ['e2e', [THROUGHPUT, CPU, COMMANDS]],
    ['latency', [P50, P99, CPU, COMMANDS]],
    ['fanin', [THROUGHPUT, CPU, COMMANDS]],
    ['chain', [THROUGHPUT, CPU, COMMANDS]],
    ['weighted', [THROUGHPUT, CPU, COMMANDS]],
  ]
  for (const [scenario, columns] of sections) {
    if (!runs.some((run) => run.scenario === scenario)) continue
    out.push(`## ${SCENARIO_TITLES[scenario]}`)
    out.push(scenarioTable(runs, scenario, columns))
    const shares = find(runs, 'taskmill', scenario)?.shares
    if (shares) {
      out.push(
        table(
          ['node', 'weight', 'expected share', 'measured share', 'completed'],
          shares.map((s) => [s.node, String(s.weight), `${(s.expectedShare * 100).toFixed(1)}%`, `${(s.share * 100).toFixed(1)}%`, s.completed.toLocaleString('en-US')]),
        ),
      )
    }
  }
  if (report.wholeLife.length > 0) {
    out.push('## Whole life: Redis CPU per task, enqueue + drain')
    out.push(
      table(
        ['system', 'enqueue µs', 'drain µs', 'whole life µs', '×BullMQ', '×Bee'],
        report.wholeLife.map((w) => [LABELS[w.system] ?? w.system, fixed(w.enqueueUs, 1), fixed(w.drainUs, 1), fixed(w.totalUs, 1), times(w.ratioBullmq), times(w.ratioBee)]),
      ),
    )
  }
  if (report.scriptCosts) {
    out.push('## Redis CPU per call of every script')
    out.push(scriptCostMarkdown(report.scriptCosts))
  }
  if (report.nodeScaling) {
    out.push('## Node scaling')
    out.push(nodeScalingMarkdown(report.nodeScaling))
  }
  if (report.cluster) {
    out.push('## Scaling out: one namespace over the shards of a Redis Cluster')
    out.push(clusterMarkdown(report.cluster, env, true))
  }
  if (report.boundedCalls) {
    out.push(`## ${BOUNDED_CALLS_TITLE}`)
    out.push(boundedCallsMarkdown(report.boundedCalls))
  }
  out.push('## Targets')
  out.push(targetsMarkdown(report.targets))
  const taskmillE2e = runs.find((run) => run.system === 'taskmill' && run.scenario === 'e2e' && run.ok)?.measurement
  if (taskmillE2e) {
    out.push("## Where taskmill's Redis time goes (INFO commandstats, e2e run)")
    out.push('µs per call of `evalsha` includes the commands the script calls, which are also listed on their own.')
    out.push(commandTable(taskmillE2e.commands))
  }
  for (const run of report.profiles) {
    if (!run.ok) {
      out.push(`Per-script profile of taskmill ${run.scenario} failed: ${oneLine(run.failure ?? 'unknown')}`)
      continue
    }
    if (!run.profile) continue
    const scripts = run.profile.filter((c) => c.name.startsWith('eval'))
    const commands = run.profile.filter((c) => !c.name.startsWith('eval'))
    out.push(`## Per-script profile: ${LABELS[run.system] ?? run.system}, ${run.scenario}`)
    out.push(
      'A separate run with every command logged (SLOWLOG at 0 µs), so absolute times are a little higher than above. ' +
        "A script's time includes the commands it calls; those are listed below it (the busiest 8).",
    )
    out.push(commandTable(scripts))
    out.push(commandTable(commands.slice(0, 8)))
    const scriptUs = scripts.reduce((sum, c) => sum + c.usecPerTask, 0)
    const calledUs = commands.filter((c) => !CLIENT_COMMANDS.has(c.name)).reduce((sum, c) => sum + c.usecPerTask, 0)
    out.push(
      `Scripts: ${fixed(scriptUs, 1)} µs/task, of which ${fixed(calledUs, 1)} µs in the commands they call and ` +
        `${fixed(scriptUs - calledUs, 1)} µs (${fixed((100 * (scriptUs - calledUs)) / scriptUs, 0)}%) in the Lua itself (argument checks, record encoding, loops).`,
    )
  }
  return `${out.join('\n\n')}\n`
}

export function machine(env: Pick<Environment, 'cpus' | 'memory' | 'os'>): string {
  return `${env.cpus}, ${env.memory}, ${env.os}`
}

export function duration(seconds: number): string {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
}

/**
 * What table (a) says in place of a figure when a case failed: the error's `TM_` code when it
 * has one, else the start of its first line (the footnote below the table has the whole line).
 */
export function briefFailure(failure: string): string {
  const line = oneLine(failure)
  const code = /\bTM_[A-Z_]+\b/.exec(line)?.[0]
  const brief = code ?? (line.length > 40 ? `${line.slice(0, 39)}…` : line)
  return (brief || 'unknown error').replace(/\|/g, '\\|')
}

/** Table (a), with its footnotes. */
export function scriptCostMarkdown(costs: ScriptCostTable): string {
  const rows: string[][] = [['EVALSHA of `return 1`', 'no keys, no arguments', fixed(costs.returnOne.usecPerCall, 2), '1.0×', '']]
  const failures: string[] = []
  for (const row of costs.rows) {
    const perItem = row.items > 1 && row.usecPerCall !== null ? fixed(row.usecPerCall / row.items, 1) : ''
    rows.push([`\`${row.script}\``, row.call, row.failure ? `failed: ${briefFailure(row.failure)}` : fixed(row.usecPerCall, 1), times(row.ratio), perItem])
    if (row.failure) failures.push(`- \`${row.script}\`, ${row.call}: ${oneLine(row.failure)}`)
  }
  const notes = costs.notes.map((note) => `- ${note}`)
  return [
    table(['script', 'one call', 'Redis µs per call', '× `return 1`', 'µs per item'], rows, [0, 1]),
    [...notes, ...failures].join('\n'),
  ]
    .filter(Boolean)
    .join('\n\n')
}

/** Table (b), with its footnotes. */
export function nodeScalingMarkdown(scaling: NodeScalingTable): string {
  const first = [...scaling.rows].sort((a, b) => a.nodes - b.nodes)[0]
  const relative = (value: number | null | undefined, base: number | null | undefined): string =>
    value === null || value === undefined || base === null || base === undefined ? '' : ` (${times(value / base)})`
  const rows = scaling.rows.map((row) => [
    row.nodes.toLocaleString('en-US'),
    `${fixed(row.heartbeatUs, 1)}${relative(row.heartbeatUs, first?.heartbeatUs)}`,
    `${fixed(row.enqueueUs, 1)}${relative(row.enqueueUs, first?.enqueueUs)}`,
    `${fixed(row.completeUs, 1)}${relative(row.completeUs, first?.completeUs)}`,
    `${fixed(row.e2e?.cpuUsPerTask, 1)}${relative(row.e2e?.cpuUsPerTask, first?.e2e?.cpuUsPerTask)}`,
    fixed(row.e2e?.p99Ms, 2),
  ])
  const failures = scaling.rows.flatMap((row) => row.failures.map((failure) => `- ${row.nodes.toLocaleString('en-US')} node${row.nodes === 1 ? '' : 's'}, ${oneLine(failure)}`))
  return [
    table(
      [
        'registered nodes',
        '`heartbeat` µs per call',
        '`enqueue` µs per call',
        '`complete` µs per call',
        `end to end at ${scaling.sizes.rate}/s, µs per task`,
        'p99 enqueue → start, ms',
      ],
      rows,
    ),
    [...scaling.notes.map((note) => `- ${note}`), ...failures].join('\n'),
  ].join('\n\n')
}

const TOPOLOGY_LABELS: Record<Topology, string> = {
  cluster: '3-primary cluster',
  standalone: 'one redis-server',
}

/**
 * The scaling-out table (the cheapest round of each topology and partition count), what it
 * means, the model with the measured figure, and what to size for; with `detail`, also each
 * shard's commands and every round (latest.md).
 */
export function clusterMarkdown(cluster: ClusterTable, env: Environment, detail: boolean): string {
  const { sizes, shards } = cluster
  const out: string[] = []
  const cores = Number(/^(\d+) ×/.exec(env.cpus)?.[1] ?? NaN)
  out.push(
    `One namespace as ${sizes.partitionCounts.map((p) => `P = ${p}`).join(' and as ')} partitions: on a fresh ${shards}-primary Redis Cluster on loopback (no replicas, persistence off), ` +
      `and for comparison on one fresh redis-server holding every partition. ${sizes.tasks.toLocaleString('en-US')} tasks through the Scheduler and Worker: ` +
      `the producer enqueues in batches, split by partition so that each call carries about ${sizes.batch.toLocaleString('en-US')} tasks of one partition, while one worker process ` +
      `(one node, capacity ${sizes.concurrency} over all partitions) runs them; library defaults (events on), completed tasks kept; every task verified to run once. ` +
      `Redis CPU is used_cpu_user + used_cpu_sys of each primary from INFO, from the first enqueue until stats count all completed, idle shards included. ` +
      `Shards are listed by the partition they hold (shard 1 holds partition 0); with P = 1 shards 2 and 3 hold none. ` +
      `${sizes.rounds > 1 ? `Each row is the cheapest of ${sizes.rounds} rounds, taken in turn. ` : ''}` +
      `${Number.isFinite(cores) && cores < shards + 2 ? `This machine has ${cores} cores for ${shards} redis-servers, the producer and the worker, so throughput cannot scale here: tasks/s is what ${cores} cores give.` : ''}`,
  )
  const rows: string[][] = []
  const failures: string[] = []
  for (const topology of ['cluster', 'standalone'] as const) {
    const base = cheapestRun(cluster, topology, sizes.partitionCounts[0] ?? 1)
    for (const partitions of sizes.partitionCounts) {
      const run = cheapestRun(cluster, topology, partitions)
      if (!run) {
        const failed = cluster.runs.find((r) => r.topology === topology && r.partitions === partitions && !r.ok)
        failures.push(`- **${TOPOLOGY_LABELS[topology]}, P = ${partitions}: ${failed ? `FAILED** — ${oneLine(failed.failure ?? 'no figures')}` : 'not run**'}`)
        continue
      }
      const shardCells = Array.from({ length: shards }, (_, i) => {
        const shard = run.shards?.[i]
        return shard ? `${fixed(shard.cpuUsPerTask, 1)} (${percent(shard.share)})` : ''
      })
      rows.push([
        TOPOLOGY_LABELS[topology],
        String(partitions),
        fixed(run.tasksPerSec, 0),
        fixed(run.cpuUsPerTask, 1),
        fixed(run.scriptCallsPerTask, 3),
        ...shardCells,
        topology === 'cluster' && partitions >= shards ? `±${fixed((run.maxShareDeviation ?? NaN) * 100, 1)}%` : '–',
        times(base?.cpuUsPerTask ? (run.cpuUsPerTask as number) / base.cpuUsPerTask : null),
      ])
    }
  }
  out.push(
    [
      table(
        ['servers', 'P', 'tasks/s', 'Redis µs per task, all shards', 'script calls per task', ...Array.from({ length: shards }, (_, i) => `shard ${i + 1}: µs per task (share)`),
          'furthest shard from a third', `× P = ${sizes.partitionCounts[0] ?? 1}`],
        rows,
        [0],
      ),
      failures.join('\n'),
    ]
      .filter(Boolean)
      .join('\n\n'),
  )
  out.push(...clusterModel(cluster))
  if (detail) out.push(...clusterDetail(cluster))
  return out.join('\n\n')
}

/** Whole shards: how many a rate needs at `usPerTask` with each shard kept under `budgetUs` per second. */
function shardsFor(rate: number, usPerTask: number, budgetUs: number): number {
  return Math.max(1, Math.ceil((rate * usPerTask) / budgetUs))
}

/** The model (per-shard ceiling = 1,000,000 / µs per task, times the shards) with the measured figure, and what to size for. */
function clusterModel(cluster: ClusterTable): string[] {
  const spread = cheapestRun(cluster, 'cluster', 3)
  const single = cheapestRun(cluster, 'cluster', 1)
  const holding = spread?.shards?.filter((shard) => shard.partitions.length > 0) ?? []
  if (!spread || holding.length === 0) return []
  // The busiest shard saturates first. Holding k of the P partitions it gets k/P of the tasks,
  // so a task of its own costs it its µs per task of the namespace × P ÷ k.
  const busiest = holding.reduce((a, b) => (b.cpuUsPerTask > a.cpuUsPerTask ? b : a))
  const perOwnTask = (busiest.cpuUsPerTask * spread.partitions) / busiest.partitions.length
  const perShard = 1_000_000 / perOwnTask
  const shardCount = cluster.shards
  const singleShard = single?.shards?.find((shard) => shard.partitions.length > 0)
  const onOne = cheapestRun(cluster, 'standalone', 3)
  const onOneBase = cheapestRun(cluster, 'standalone', 1)
  const budget = 500_000
  const model =
    `**Model.** Redis runs a shard's scripts on one core, so a shard schedules at most 1,000,000 ÷ c tasks per second, c being the Redis µs a task costs the shard that holds its partition; ` +
    `with the partitions spread evenly, S shards schedule S times that. Measured with P = 3: the busiest shard spent ${fixed(busiest.cpuUsPerTask, 1)} µs per task of the namespace ` +
    `and holds ${busiest.partitions.length} of its ${spread.partitions} partitions, so c = ${fixed(perOwnTask, 1)} µs: about ${fixed(perShard, 0)} tasks/s per shard, ` +
    `${fixed(perShard * shardCount, 0)} tasks/s for the ${shardCount} shards` +
    (singleShard
      ? `. With P = 1 the namespace stays on one shard (c = ${fixed(singleShard.cpuUsPerTask, 1)} µs): about ${fixed(1_000_000 / singleShard.cpuUsPerTask, 0)} tasks/s, however many shards the cluster has.`
      : '.') +
    (onOne?.cpuUsPerTask && onOneBase?.cpuUsPerTask && single?.cpuUsPerTask
      ? ` Spreading by itself, on one redis-server (more calls with fewer tasks each, no second server): P = 3 cost ${times(onOne.cpuUsPerTask / onOneBase.cpuUsPerTask)} P = 1; ` +
        `on the cluster, ${times(spread.cpuUsPerTask! / single.cpuUsPerTask)}.`
      : '')
  const sizing =
    `**What to size for.** The per-task figure with partitions, c = ${fixed(perOwnTask, 1)} µs here, not the P = 1 figure; and keep each shard under about half a core ` +
    `(${budget.toLocaleString('en-US')} µs of Redis CPU per second), so that bursts, housekeeping, replication and a failover's catch-up fit: S ≥ peak tasks/s × c ÷ ${budget.toLocaleString('en-US')}. ` +
    `At the measured c, 10,000 tasks/s needs ${shardsFor(10_000, perOwnTask, budget)} shards and 50,000 tasks/s ${shardsFor(50_000, perOwnTask, budget)}; take P a multiple of S, so that every shard holds as many partitions. ` +
    'These are no-op tasks with ~100 B payloads and no dependencies: larger payloads and results, retries and dependencies cost more, so measure your own tasks the same way.'
  return [model, sizing]
}

/** latest.md only: each shard's commands in the rows shown, and every round. */
function clusterDetail(cluster: ClusterTable): string[] {
  const out: string[] = []
  for (const partitions of cluster.sizes.partitionCounts) {
    const run = cheapestRun(cluster, 'cluster', partitions)
    if (!run?.shards) continue
    out.push(`### Commands on each shard, 3-primary cluster, P = ${partitions}`)
    out.push(
      "INFO commandstats over the window, per task of the namespace; µs per call is wall time inside Redis, which grows when a server waits for a core, so read the calls. `evalsha` includes the commands the scripts call, which are also listed on their own.",
    )
    out.push(
      table(
        ['shard', 'partitions', 'command', 'calls/task', 'µs/call', 'µs/task'],
        run.shards.flatMap((shard, i) =>
          shard.commands.map((c, j) => [
            j === 0 ? `shard ${i + 1}` : '',
            j === 0 ? shard.partitions.join(', ') || 'none' : '',
            `\`${c.name}\``,
            fixed(c.callsPerTask, 4),
            fixed(c.usecPerCall, 1),
            fixed(c.usecPerTask, 2),
          ]),
        ),
        [0, 1, 2],
      ),
    )
  }
  out.push('### Every round')
  out.push(
    table(
      ['servers', 'P', 'round', 'tasks/s', 'Redis µs per task', 'script calls per task', 'commands per task', 'per shard: µs per task (of which kernel)'],
      cluster.runs.map((run) => [
        TOPOLOGY_LABELS[run.topology],
        String(run.partitions),
        String(run.round),
        run.ok ? fixed(run.tasksPerSec, 0) : 'failed',
        run.ok ? fixed(run.cpuUsPerTask, 1) : oneLine(run.failure ?? ''),
        fixed(run.scriptCallsPerTask, 3),
        fixed(run.commandsPerTask, 2),
        (run.shards ?? []).map((shard) => `${fixed(shard.cpuUsPerTask, 1)} (${fixed(shard.sysUsPerTask, 1)})`).join(' · '),
      ]),
      [0, 7],
    ),
  )
  return out
}

export const BOUNDED_CALLS_TITLE = 'Longest script calls of a large enqueue and drain'

/** The longest calls, SLOWLOG's wall times with Redis CPU beside them, and what each figure is. */
export function boundedCallsMarkdown(run: BoundedCallsRun): string {
  const number = (value: number): string => value.toLocaleString('en-US')
  const intro =
    `Redis runs one script at a time, so the longest call is what every other client may wait. ${number(run.tasks)} tasks of ~100 B enqueued in batches of ${number(run.batch)}, ` +
    'each split into calls as `Scheduler.enqueueBatch` splits it, with no worker; then drained by ' +
    `${run.workers} worker processes of capacity ${run.capacity} (library defaults: events on, 10,000 completed tasks kept); one fresh redis-server. ` +
    "Wall times are Redis' own (SLOWLOG, every call of 0.5 ms or more; INFO latencystats for EVALSHA's percentiles) and include the time Redis was descheduled, " +
    "so on a busy machine a call of a few ms of work can show tens. Beside them, Redis CPU: each enqueue call's own (calls sent one at a time, the main thread's CPU read just before and after each); " +
    "the drain's calls overlap, so there only the phase's Redis CPU divided by its script calls."
  if (!run.ok) return `${intro}\n\n**FAILED** — ${oneLine(run.failure)}`
  const rows = (
    [
      [`enqueue, batches of ${number(run.batch)}`, run.enqueue],
      [`drain, ${run.workers} workers of capacity ${run.capacity}`, run.drain],
    ] as const
  ).map(([name, phase]) => {
    const wall = phase.longest[0]
    const cpu = phase.longestCpu?.[0]
    const over = phase.longest
      .filter((entry) => entry.over1ms > 0)
      .map((entry) => `${entry.script} ${number(entry.over1ms)} / ${number(entry.over5ms)} / ${number(entry.over10ms)}`)
      .join('; ')
    return [
      name,
      number(phase.calls),
      fixed(phase.p50Ms, 2),
      fixed(phase.p99Ms, 2),
      fixed(phase.p999Ms, 2),
      wall ? `${fixed(wall.maxMs, 2)} (${wall.script})` : '–',
      cpu ? `${fixed(cpu.maxMs, 2)} (${cpu.script})` : '–',
      fixed(phase.calls > 0 ? phase.cpuMs / phase.calls : undefined, 2),
      over || 'none',
      fixed(phase.seconds, 1),
    ]
  })
  return [
    intro,
    table(
      ['phase', 'script calls', 'p50 ms', 'p99 ms', 'p99.9 ms', 'longest call, ms wall (SLOWLOG)', 'longest call, ms Redis CPU', 'Redis CPU per script call, ms',
        'calls over 1 / 5 / 10 ms wall (by script)', 'seconds'],
      rows,
      [0, 5, 6, 8],
    ),
  ].join('\n\n')
}

export function targetsMarkdown(targets: readonly Target[]): string {
  return table(
    ['target', 'measured', 'figures', 'result'],
    targets.map((t) => [t.target, t.ratio === null ? '–' : (t.measured ?? times(t.ratio)), t.detail, t.pass === null ? 'no figure' : t.pass ? 'met' : '**missed**']),
    [0, 2, 3],
  )
}
