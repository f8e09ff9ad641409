/**
 * Turns the runs into the report: one markdown table per scenario with every figure also as a
 * ratio to BullMQ's (and Bee-Queue's where it ran) from the same run, the whole-life sum, the
 * weighted shares, the targets with pass/miss, and where taskmill's Redis time goes.
 */
import type { CommandCost, Measurement, RunResult, Sizes } from './scenarios.js'
import type { ScenarioName } from './systems/types.js'

export interface Environment {
  date: string
  node: string
  redis: string
  cpus: string
  quick: boolean
  load: string
}

export interface Target {
  target: string
  /** The measured ratio (or value), null when a run it needs failed or did not run. */
  ratio: number | null
  limit: number
  /** 'max': passes when ratio ≤ limit; 'min': when ratio ≥ limit; 'below': when ratio < limit. */
  kind: 'max' | 'min' | 'below'
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
  targets: Target[]
}

const LABELS: Record<string, string> = {
  taskmill: 'taskmill',
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

function find(runs: readonly RunResult[], system: string, scenario: ScenarioName): Measurement | undefined {
  return runs.find((run) => run.system === system && run.scenario === scenario && run.ok)?.measurement
}

function ratio(value: number | undefined, base: number | undefined): number | null {
  if (value === undefined || base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0) return null
  return value / base
}

export function buildReport(environment: Environment, sizes: Sizes, runs: RunResult[], profiles: RunResult[]): Report {
  const wholeLife: Report['wholeLife'] = []
  const lifeOf = (system: string): number | undefined => {
    const enqueue = find(runs, system, 'enqueue')
    const drain = find(runs, system, 'drain')
    return enqueue && drain ? enqueue.cpuUsPerTask + drain.cpuUsPerTask : undefined
  }
  for (const system of ['taskmill', 'bullmq', 'beequeue', 'floor']) {
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

  const metric = (scenario: ScenarioName, pick: (m: Measurement) => number | undefined, base = 'bullmq') =>
    ratio(pickOf(find(runs, 'taskmill', scenario), pick), pickOf(find(runs, base, scenario), pick))
  const target = (text: string, value: number | null, kind: Target['kind'], limit: number, detail: string): Target => ({
    target: text,
    ratio: value,
    limit,
    kind,
    detail,
    pass: value === null ? null : kind === 'max' ? value <= limit : kind === 'min' ? value >= limit : value < limit,
  })
  const taskmillP99 = find(runs, 'taskmill', 'latency')?.latency?.p99Ms
  const beeP99 = find(runs, 'beequeue', 'latency')?.latency?.p99Ms
  const targets: Target[] = [
    target('whole-life Redis CPU per task (enqueue + drain, weighted dispatch on) ≤ 0.2× BullMQ', ratio(lifeOf('taskmill'), lifeOf('bullmq')), 'max', 0.2,
      'taskmill runs with strategy "weighted" in every scenario'),
    target('drain throughput ≥ 2× BullMQ', metric('drain', (m) => m.tasksPerSec), 'min', 2, 'tasks/s'),
    target('e2e throughput ≥ 2× BullMQ', metric('e2e', (m) => m.tasksPerSec), 'min', 2, 'tasks/s'),
    target('memory per waiting task ≤ 0.5× BullMQ', metric('enqueue', (m) => m.memoryBytesPerTask), 'max', 0.5, 'bytes per waiting task'),
    target('fan-in Redis CPU per task ≤ 0.2× BullMQ', metric('fanin', (m) => m.cpuUsPerTask), 'max', 0.2, 'µs per job of the graph'),
    target('chain Redis CPU per step ≤ 0.2× BullMQ', metric('chain', (m) => m.cpuUsPerTask), 'max', 0.2, 'µs per step'),
    target(`e2e p99 at ${sizes.rate.toLocaleString('en-US')} tasks/s under Bee-Queue's`, ratio(taskmillP99, beeP99), 'below', 1,
      taskmillP99 !== undefined && beeP99 !== undefined ? `taskmill ${fixed(taskmillP99, 2)} ms vs Bee-Queue ${fixed(beeP99, 2)} ms` : 'p99 ratio'),
  ]
  return { environment, sizes, runs, profiles, wholeLife, targets }
}

function pickOf(m: Measurement | undefined, pick: (m: Measurement) => number | undefined): number | undefined {
  return m ? pick(m) : undefined
}

// ---- markdown ----

function fixed(value: number | undefined | null, digits: number): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function times(value: number | null): string {
  if (value === null) return '–'
  return `${value < 0.095 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value.toFixed(1)}×`
}

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'))
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
      failures.push(`- **${LABELS[run.system] ?? run.system}: FAILED** — ${run.failure ?? 'no figures'}`)
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
const CLIENT_COMMANDS = new Set(['xread', 'ping', 'client', 'hello', 'select', 'script', 'quit', 'info'])

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
    `${env.date} · Node ${env.node} · redis-server ${env.redis} (\`--save '' --appendonly no\`, a fresh server per system and scenario) · ${env.cpus} · load ${env.load}\n\n` +
      `${sizes.tasks.toLocaleString('en-US')} tasks for enqueue/drain/e2e/weighted, batches of ${sizes.batch.toLocaleString('en-US')}; ` +
      `latency: ${sizes.latencyTasks.toLocaleString('en-US')} tasks at ${sizes.rate.toLocaleString('en-US')}/s; ` +
      `fan-in: ${sizes.fanIns} × (1 waiting on ${sizes.fanInWidth.toLocaleString('en-US')}); chain: ${sizes.chains} × ${sizes.chainLength}; ` +
      `one worker process, concurrency ${sizes.concurrency}; no-op handlers, ~100 B payloads. ` +
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
  out.push('## Targets (reported, not asserted)')
  out.push(
    table(
      ['target', 'measured', 'limit', 'result'],
      report.targets.map((t) => [
        `${t.target} (${t.detail})`,
        t.ratio === null ? 'no figure' : times(t.ratio),
        `${t.kind === 'max' ? '≤' : t.kind === 'min' ? '≥' : '<'} ${t.limit}×`,
        t.pass === null ? 'n/a' : t.pass ? 'pass' : '**miss**',
      ]),
    ),
  )
  const taskmillE2e = runs.find((run) => run.system === 'taskmill' && run.scenario === 'e2e' && run.ok)?.measurement
  if (taskmillE2e) {
    out.push("## Where taskmill's Redis time goes (INFO commandstats, e2e run)")
    out.push('µs per call of `evalsha` includes the commands the script calls, which are also listed on their own.')
    out.push(commandTable(taskmillE2e.commands))
  }
  for (const run of report.profiles) {
    if (!run.ok) {
      out.push(`Per-script profile of taskmill ${run.scenario} failed: ${run.failure ?? 'unknown'}`)
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
