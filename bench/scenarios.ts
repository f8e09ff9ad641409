/**
 * The scenarios, written once against the {@link SystemModule} interface. Each runs on a fresh
 * redis-server, measures between two INFO snapshots, and then verifies: every task ran exactly
 * once in the worker process, the system's own counts agree, and its records say each task
 * completed. A run whose verification fails returns the failure and no figures.
 *
 *   enqueue   N tasks in batches, no worker: enqueue cost, and memory per waiting task.
 *   drain     N tasks enqueued first (not measured), then one worker process drains them.
 *   e2e       the worker runs; the producer enqueues N tasks in batches as fast as it can.
 *   latency   the worker runs; the producer enqueues tasks one by one at a fixed rate;
 *             latency is enqueue call to handler start, measured in the worker process.
 *   fanin     graphs of one task waiting on `fanInWidth` tasks (BullMQ: a flow).
 *   chain     chains of `chainLength` tasks, each waiting on the one before (BullMQ: nested flow).
 *   weighted  three worker nodes of weights 5/3/1 (taskmill only), tasks offered in small batches
 *             below saturation: the share of tasks each node ran.
 */
import { makeTask, makeTasks, nowMs, type BenchTask } from './payload.js'
import { diff, RedisServer, sleep, type InfoDelta } from './redis-server.js'
import type { Producer, ScenarioName, SystemModule, WorkerNode, WorkerOptions } from './systems/types.js'
import type { ChildResult } from './worker-child.js'
import { WorkerProcess } from './worker-process.js'

export interface Sizes {
  /** Tasks in enqueue, drain, e2e and weighted. */
  tasks: number
  /** Tasks per bulk enqueue call. */
  batch: number
  /** Tasks in the latency run. */
  latencyTasks: number
  /** Offered rate of the latency run, tasks/s. */
  rate: number
  fanIns: number
  fanInWidth: number
  chains: number
  chainLength: number
  /** Tasks one worker node runs at once. */
  concurrency: number
  /** Tasks per batch in the weighted run, offered at `weightedRate` tasks/s (below saturation). */
  weightedBatch: number
  weightedRate: number
}

export const QUICK: Sizes = {
  tasks: 2_000,
  batch: 1_000,
  latencyTasks: 2_000,
  rate: 1_000,
  fanIns: 1,
  fanInWidth: 1_000,
  chains: 1,
  chainLength: 200,
  concurrency: 50,
  weightedBatch: 20,
  weightedRate: 2_000,
}

export const FULL: Sizes = { ...QUICK, tasks: 20_000, latencyTasks: 10_000, fanIns: 5, chains: 5 }

export const WEIGHTED_NODES: readonly WorkerNode[] = [
  { id: 'n1', weight: 5 },
  { id: 'n2', weight: 3 },
  { id: 'n3', weight: 1 },
]

export interface CommandCost {
  /** A Redis command, or for EVALSHA of a known script, `evalsha <script>`. */
  name: string
  calls: number
  callsPerTask: number
  usecPerCall: number
  usecPerTask: number
}

export interface Measurement {
  /** Tasks the figures are divided by (for chains: steps; for fan-in: every job of the graph). */
  tasks: number
  wallMs: number
  tasksPerSec: number
  /** Redis CPU (used_cpu_user + used_cpu_sys) per task, µs. */
  cpuUsPerTask: number
  /** Commands counted in INFO commandstats per task; Redis 7 counts the commands scripts call too. */
  commandsPerTask: number
  /** Script calls (EVAL, EVALSHA and their _RO forms) per task. */
  scriptCallsPerTask: number
  /** used_memory added per waiting task, less the script cache and client buffers (enqueue only). */
  memoryBytesPerTask?: number
  /** Raw used_memory delta per waiting task (enqueue only). */
  rawMemoryBytesPerTask?: number
  latency?: { p50Ms: number; p99Ms: number; maxMs: number; samples: number }
  shares?: { node: string; weight: number; expectedShare: number; share: number; completed: number }[]
  /** INFO commandstats, busiest first: µs per call includes commands a script calls. */
  commands: CommandCost[]
}

export interface RunResult {
  system: string
  scenario: ScenarioName
  ok: boolean
  failure?: string
  measurement?: Measurement
  /** With --profile: per script, from a separate run that logs every command (not the figures above). */
  profile?: CommandCost[]
}

export interface RunContext {
  sizes: Sizes
  /** Called with a counter while the run waits for its worker. */
  onProgress?: (done: number, total: number) => void
  /** Log every command of the measured window and return a per-script profile instead of figures. */
  profile?: boolean
}

/** How long a run may take before it counts as failed: generous, so only a hang trips it. */
function deadlineMs(tasks: number): number {
  return 60_000 + tasks * 5
}

/** Tasks enqueued before the enqueue scenario's window opens. */
const WARM_UP_TASKS = 100
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])
const PROFILE_LOG_ENTRIES = 2_000_000

class VerificationError extends Error {}

function check(condition: boolean, message: string): void {
  if (!condition) throw new VerificationError(message)
}

export async function runScenario(system: SystemModule, scenario: ScenarioName, context: RunContext): Promise<RunResult> {
  const server = await RedisServer.start()
  let producer: Producer | undefined
  let worker: WorkerProcess | undefined
  try {
    producer = await system.openProducer(server.url)
    const run: Run = { system, server, producer, context, setWorker: (w) => (worker = w) }
    const outcome = await SCENARIOS[scenario](run)
    const measurement = outcome && context.profile ? undefined : outcome?.measurement
    return {
      system: system.name,
      scenario,
      ok: true,
      measurement,
      profile: context.profile ? outcome?.profile : undefined,
    }
  } catch (error) {
    const failure = error instanceof VerificationError ? `verification failed: ${error.message}` : describe(error)
    return { system: system.name, scenario, ok: false, failure }
  } finally {
    worker?.kill()
    await producer?.close().catch(() => undefined)
    await server.stop()
  }
}

interface Run {
  system: SystemModule
  server: RedisServer
  producer: Producer
  context: RunContext
  setWorker(worker: WorkerProcess): void
}

interface NodeCount {
  id: string
  completed: number
}

interface Outcome {
  measurement: Measurement
  profile?: CommandCost[]
}

const SCENARIOS: Record<ScenarioName, (run: Run) => Promise<Outcome>> = {
  async enqueue(run) {
    const { tasks, batch } = run.context.sizes
    const all = makeTasks('t', tasks)
    // A small batch first, not measured: loads the system's scripts and warms the producer's
    // code, so the window holds the steady per-task cost and memory only.
    const warmUp = makeTasks('w', WARM_UP_TASKS)
    await run.producer.enqueueBatch(warmUp)
    const window = await Window.open(run)
    await enqueueInBatches(run.producer, all, batch)
    const measured = await window.close(tasks)
    const counts = await run.producer.counts()
    const waiting = tasks + warmUp.length
    check(counts.unfinished === waiting && counts.completed === 0 && counts.failed === 0,
      `after enqueuing ${waiting} the system counts ${counts.unfinished} waiting, ${counts.completed} completed, ${counts.failed} failed`)
    measured.measurement.memoryBytesPerTask = measured.delta.dataMemory / tasks
    measured.measurement.rawMemoryBytesPerTask = measured.delta.usedMemory / tasks
    return measured
  },

  async drain(run) {
    const { tasks, batch } = run.context.sizes
    const all = makeTasks('t', tasks)
    await enqueueInBatches(run.producer, all, batch)
    const before = await run.producer.counts()
    check(before.unfinished === tasks, `after enqueuing ${tasks} the system counts ${before.unfinished} waiting`)
    const worker = await spawnWorker(run, tasks, singleNode(run), false)
    const window = await Window.open(run)
    await worker.go()
    return finish(run, worker, window, all.map((task) => task.id))
  },

  async e2e(run) {
    const { tasks, batch } = run.context.sizes
    const all = makeTasks('t', tasks)
    const worker = await spawnWorker(run, tasks, singleNode(run), false)
    await worker.go()
    const window = await Window.open(run)
    await enqueueInBatches(run.producer, all, batch)
    return finish(run, worker, window, all.map((task) => task.id))
  },

  async latency(run) {
    const { latencyTasks: tasks, rate } = run.context.sizes
    const worker = await spawnWorker(run, tasks, singleNode(run), false)
    await worker.go()
    const window = await Window.open(run)
    const ids = await enqueueAtRate(run.producer, tasks, rate)
    return finish(run, worker, window, ids, (result) => {
      check(result.latencies.length === tasks, `${result.latencies.length} of ${tasks} tasks reported a latency`)
      const sorted = [...result.latencies].sort((a, b) => a - b)
      return {
        latency: {
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          maxMs: sorted[sorted.length - 1] ?? NaN,
          samples: sorted.length,
        },
      }
    })
  },

  async fanin(run) {
    const { fanIns, fanInWidth } = run.context.sizes
    const fanIn = run.producer.fanIn?.bind(run.producer)
    if (!fanIn) throw new Error(`${run.system.label} has no fan-in`)
    const graphs = Array.from({ length: fanIns }, (_, g) => ({
      parent: makeTask(`f${g}-parent`),
      children: makeTasks(`f${g}-child`, fanInWidth),
    }))
    const ids = graphs.flatMap((graph) => [...graph.children.map((task) => task.id), graph.parent.id])
    const worker = await spawnWorker(run, ids.length, singleNode(run), true)
    await worker.go()
    const window = await Window.open(run)
    for (const graph of graphs) await fanIn(graph.parent, graph.children)
    return finish(run, worker, window, ids, (result) => {
      const position = positions(result.order)
      for (const graph of graphs) {
        const lastChild = Math.max(...graph.children.map((task) => position.get(task.id) ?? Infinity))
        check((position.get(graph.parent.id) ?? -1) > lastChild, `${graph.parent.id} ran before all its children had`)
      }
    })
  },

  async chain(run) {
    const { chains, chainLength } = run.context.sizes
    const chainOf = run.producer.chain?.bind(run.producer)
    if (!chainOf) throw new Error(`${run.system.label} has no chains`)
    const all = Array.from({ length: chains }, (_, c) => makeTasks(`c${c}-step`, chainLength))
    const ids = all.flat().map((task) => task.id)
    const worker = await spawnWorker(run, ids.length, singleNode(run), true)
    await worker.go()
    const window = await Window.open(run)
    for (const steps of all) await chainOf(steps)
    return finish(run, worker, window, ids, (result) => {
      const position = positions(result.order)
      for (const steps of all) {
        steps.forEach((step, i) => {
          if (i > 0) check((position.get(step.id) ?? -1) > (position.get(steps[i - 1]!.id) ?? Infinity), `${step.id} ran before ${steps[i - 1]!.id}`)
        })
      }
    })
  },

  async weighted(run) {
    const { tasks, concurrency, weightedBatch, weightedRate } = run.context.sizes
    const all = makeTasks('t', tasks)
    const worker = await spawnWorker(run, tasks, { concurrency, nodes: [...WEIGHTED_NODES] }, false)
    await worker.go()
    const window = await Window.open(run)
    // Below saturation, so that every node has a free slot when a task is dispatched: with a
    // backlog, slots rather than weights decide (a full node is not eligible).
    await enqueueBatchesAtRate(run.producer, all, weightedBatch, weightedRate)
    return finish(run, worker, window, all.map((task) => task.id), (_, nodes) => {
      const totalWeight = WEIGHTED_NODES.reduce((sum, node) => sum + node.weight, 0)
      return {
        shares: WEIGHTED_NODES.map((spec) => {
          const completed = nodes?.find((node) => node.id === spec.id)?.completed ?? 0
          return { node: spec.id, weight: spec.weight, expectedShare: spec.weight / totalWeight, share: completed / tasks, completed }
        }),
      }
    })
  },
}

/** The measured window: INFO before and after, and the wall clock between. */
class Window {
  private constructor(
    private readonly run: Run,
    private readonly before: Awaited<ReturnType<RedisServer['snapshot']>>,
  ) {}

  static async open(run: Run): Promise<Window> {
    if (run.context.profile) await run.server.startCommandLog(PROFILE_LOG_ENTRIES)
    return new Window(run, await run.server.snapshot())
  }

  async close(tasks: number): Promise<{ measurement: Measurement; delta: InfoDelta; profile?: CommandCost[] }> {
    const after = await this.run.server.snapshot()
    const delta = diff(this.before, after)
    const profile = this.run.context.profile ? await this.readProfile(tasks) : undefined
    const commandCalls = delta.commands.reduce((sum, c) => sum + c.calls, 0)
    const scriptCalls = delta.commands.filter((c) => SCRIPT_COMMANDS.has(c.name)).reduce((sum, c) => sum + c.calls, 0)
    return {
      delta,
      profile,
      measurement: {
        tasks,
        wallMs: delta.wallMs,
        tasksPerSec: tasks / (delta.wallMs / 1000),
        cpuUsPerTask: delta.cpuUs / tasks,
        commandsPerTask: commandCalls / tasks,
        scriptCallsPerTask: scriptCalls / tasks,
        commands: delta.commands.slice(0, 12).map((c) => ({
          name: c.name,
          calls: c.calls,
          callsPerTask: c.calls / tasks,
          usecPerCall: c.usecPerCall,
          usecPerTask: c.usec / tasks,
        })),
      },
    }
  }

  private async readProfile(tasks: number): Promise<CommandCost[]> {
    const names = (await this.run.system.scriptNames?.()) ?? new Map<string, string>()
    const byName = new Map<string, { calls: number; usec: number }>()
    for (const entry of await this.run.server.readCommandLog()) {
      const command = (entry.args[0] ?? '?').toLowerCase()
      if (command === 'info' || command === 'config' || command === 'slowlog') continue
      const script = SCRIPT_COMMANDS.has(command) && command.startsWith('evalsha') ? names.get(entry.args[1] ?? '') : undefined
      const name = script ? `${command} ${script}` : command
      const row = byName.get(name) ?? { calls: 0, usec: 0 }
      row.calls++
      row.usec += entry.usec
      byName.set(name, row)
    }
    return [...byName.entries()]
      .map(([name, row]) => ({
        name,
        calls: row.calls,
        callsPerTask: row.calls / tasks,
        usecPerCall: row.usec / row.calls,
        usecPerTask: row.usec / tasks,
      }))
      .sort((a, b) => b.usecPerTask - a.usecPerTask)
  }
}

function singleNode(run: Run): WorkerOptions {
  return { concurrency: run.context.sizes.concurrency, nodes: [{ id: 'n1', weight: 1 }] }
}

async function spawnWorker(run: Run, expected: number, options: WorkerOptions, recordOrder: boolean): Promise<WorkerProcess> {
  const worker = await WorkerProcess.spawn({ system: run.system.name, url: run.server.url, worker: options, expected, recordOrder })
  run.setWorker(worker)
  return worker
}

/**
 * Waits until the worker process has run every task and the system counts them all completed,
 * closes the window, stops the worker and verifies. `extra` adds scenario checks and figures.
 */
async function finish(
  run: Run,
  worker: WorkerProcess,
  window: Window,
  ids: readonly string[],
  extra?: (result: ChildResult, nodes: NodeCount[] | undefined) => Partial<Measurement> | void,
): Promise<Outcome> {
  const expected = ids.length
  const timeoutMs = deadlineMs(expected)
  const ticker = setInterval(() => run.context.onProgress?.(worker.handled, expected), 200)
  try {
    await worker.untilHandled(timeoutMs)
    // The handler has run; the completion reaches Redis a moment later. Poll the system's own counts.
    const deadline = Date.now() + 30_000
    for (;;) {
      const counts = await run.producer.counts()
      if (counts.completed >= expected && counts.unfinished === 0) break
      if (Date.now() > deadline) {
        throw new VerificationError(`all ${expected} tasks ran, but after 30 s the system counts ${counts.completed} completed, ${counts.unfinished} unfinished, ${counts.failed} failed`)
      }
      await sleep(2)
    }
  } finally {
    clearInterval(ticker)
  }
  const measured = await window.close(expected)
  // Read per-node counters before the worker stops: a stopping node leaves the rotation.
  const nodes = (await run.producer.details?.())?.nodes
  const result = await worker.stop()
  check(result.duplicates === 0, `${result.duplicates} tasks ran more than once`)
  check(result.distinct === expected && result.handled === expected, `the worker ran ${result.handled} handler calls for ${result.distinct} distinct tasks, expected ${expected}`)
  const counts = await run.producer.counts()
  check(counts.completed === expected && counts.unfinished === 0 && counts.failed === 0,
    `the system counts ${counts.completed} completed, ${counts.unfinished} unfinished, ${counts.failed} failed; expected ${expected} completed`)
  const problems = await run.producer.verify(ids)
  check(problems.length === 0, problems.join('; '))
  if (nodes) {
    const byNodes = nodes.reduce((sum, node) => sum + node.completed, 0)
    check(byNodes === expected, `the nodes' completed counters add up to ${byNodes}, expected ${expected}`)
  }
  return { measurement: { ...measured.measurement, ...extra?.(result, nodes) }, profile: measured.profile }
}

/** Enqueues `tasks` in batches of `batch`, paced so that `rate` tasks/s are offered. */
async function enqueueBatchesAtRate(producer: Producer, tasks: readonly BenchTask[], batch: number, rate: number): Promise<void> {
  const start = performance.now()
  for (let i = 0; i < tasks.length; i += batch) {
    const due = start + (i / rate) * 1000
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    await producer.enqueueBatch(tasks.slice(i, i + batch))
  }
}

async function enqueueInBatches(producer: Producer, tasks: readonly BenchTask[], batch: number): Promise<void> {
  for (let i = 0; i < tasks.length; i += batch) await producer.enqueueBatch(tasks.slice(i, i + batch))
}

/**
 * Enqueues `count` tasks one call each at `rate` per second. Each task is due at a fixed time
 * from the start; every timer tick sends whatever is due, so a late tick catches up rather than
 * lowering the rate. Each payload carries the time its enqueue call was made.
 */
export async function enqueueAtRate(producer: Producer, count: number, rate: number): Promise<string[]> {
  const ids: string[] = []
  const pending = new Set<Promise<void>>()
  let failure: unknown
  const start = performance.now()
  let sent = 0
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
    for (; sent < due; sent++) {
      const task = makeTask(`l-${sent}`, nowMs())
      ids.push(task.id)
      const call = producer.enqueueOne(task).catch((error: unknown) => void (failure ??= error))
      pending.add(call)
      void call.finally(() => pending.delete(call))
    }
    if (failure) throw failure
    await sleep(1)
  }
  await Promise.all(pending)
  if (failure) throw failure
  return ids
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

function positions(order: readonly string[]): Map<string, number> {
  return new Map(order.map((id, i) => [id, i]))
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
