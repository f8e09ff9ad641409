/**
 * Table (b) of the report: what taskmill costs Redis as the number of registered worker nodes
 * grows (1, 10, 100, 1,000 by default). For each size:
 *
 *   per call   on one redis-server, one namespace per size, rounds taken in turn across sizes so
 *              that noise from the machine falls on every size alike; the nodes are registered with the register-node script directly (no Worker
 *              objects), then Redis CPU per call (INFO commandstats, best round) of `heartbeat`
 *              of a node with no tasks (cycling through every node), `enqueue` of one task
 *              (dispatched to a node with a free slot) and `complete` of one task (enqueued,
 *              then started with `start` on the node it was assigned to, unmeasured).
 *   end to end real Worker objects, capacity 4 each, hosted in a few child processes (many per
 *              process), library defaults (events on, heartbeat every second); the producer
 *              enqueues single tasks at a fixed rate (200/s by default) and the figure is the
 *              server's whole CPU (used_cpu_user + used_cpu_sys) over the window divided by
 *              the tasks, so idle nodes' heartbeats count too; a fresh redis-server per size.
 *
 * Both parts are bounded: the per-call rounds stop early when a size has used its time budget;
 * the end-to-end part is skipped when the size's per-call figures already show that Redis would
 * need more than one core for it (its scripts run on one thread), and an end-to-end run that has
 * not finished some time after its last enqueue counts as failed ("did not keep up").
 */
import { CALL_LIMITS } from '../client/call-limits.js'
import type { Redis } from 'ioredis'
import { complete, enqueue, heartbeat, init, registerNode, start, type EnqueueArgs } from '../loader/generated/scripts.js'
import type { ScriptRunner } from '../loader/runner.js'
import { bestOf, measureWindow, Namespace, openRunner, pipelined, type ScriptCounters } from './call-cost.js'
import { makeTask } from './payload.js'
import { diff, RedisServer, sleep } from './redis-server.js'
import { enqueueAtRate, percentile } from './scenarios.js'
import type { Producer } from './systems/types.js'
import { WorkerProcess } from './worker-process.js'

export interface NodeScalingSizes {
  nodeCounts: number[]
  /** Calls per measured round of the per-call part. */
  calls: number
  rounds: number
  /** A size stops starting new per-call rounds after this long (at least one round runs). */
  roundBudgetMs: number
  /** Tasks of the end-to-end part, per size. */
  e2eTasks: number
  /** Offered rate of the end-to-end part, tasks/s, one enqueue call per task. */
  rate: number
  /** Capacity of each Worker in the end-to-end part. */
  capacity: number
  /** Child processes hosting the Workers (fewer when there are fewer nodes). */
  processes: number
  /** How long after its last enqueue an end-to-end run may take to finish. */
  drainTimeoutMs: number
  /** How long the Workers of a size may take to start (and to stop). */
  startTimeoutMs: number
}

export const NODE_SCALING_QUICK: NodeScalingSizes = {
  nodeCounts: [1, 10, 100, 1000],
  calls: 500,
  rounds: 5,
  roundBudgetMs: 10_000,
  e2eTasks: 400,
  rate: 200,
  capacity: 4,
  processes: 2,
  drainTimeoutMs: 20_000,
  startTimeoutMs: 60_000,
}

export const NODE_SCALING_FULL: NodeScalingSizes = {
  ...NODE_SCALING_QUICK,
  calls: 2000,
  rounds: 5,
  roundBudgetMs: 30_000,
  e2eTasks: 2000,
  drainTimeoutMs: 60_000,
  startTimeoutMs: 120_000,
}

export interface EndToEnd {
  tasks: number
  /** Redis CPU over the window ÷ tasks, µs. */
  cpuUsPerTask: number
  tasksPerSec: number
  /** Enqueue call to handler start. */
  p50Ms: number
  p99Ms: number
}

export interface NodeScalingRow {
  nodes: number
  /** Redis µs per call; null when that part failed. */
  heartbeatUs: number | null
  enqueueUs: number | null
  completeUs: number | null
  e2e: EndToEnd | null
  /** Per-call rounds that ran (fewer than asked when the time budget ran out). */
  rounds: number
  failures: string[]
}

export interface NodeScalingTable {
  sizes: NodeScalingSizes
  rows: NodeScalingRow[]
  notes: string[]
}

export interface NodeScalingHooks {
  log(line: string): void
  counter(prefix: string, done: number, total: number): void
  /** The benchmark's taskmill producer (library defaults, completed tasks kept), for the end-to-end part. */
  openProducer(url: string): Promise<Producer>
}

/** Namespace prefix of the per-call part (one per size). The end-to-end part uses the taskmill adapter's namespace. */
const NAMESPACE = 'scale'
/** Calls per kind in the unmeasured warm-up round of each size. */
const WARM_UP_CALLS = 100
/**
 * In the per-call part nodes only heartbeat when measured, so they are kept from being dropped
 * as silent: dropping them is not what the rows measure.
 */
const PER_CALL_NODE_TIMEOUT_MS = 3_600_000
/** Worker's default heartbeat interval: each node calls heartbeat this often. */
const HEARTBEAT_INTERVAL_MS = 1_000
/** After the nodes registered, one heartbeat interval before the window opens. */
const SETTLE_MS = 1_000

function nodeId(i: number, total: number): string {
  return `n${String(i).padStart(String(total).length, '0')}`
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Why the end-to-end part cannot keep up, from the per-call figures: every node's heartbeat
 * each interval plus an enqueue and a complete per task already need more than the one thread
 * Redis runs scripts on. Undefined when it may keep up (or there are no figures to tell).
 */
function saturation(row: NodeScalingRow, sizes: NodeScalingSizes): string | undefined {
  if (row.heartbeatUs === null || row.enqueueUs === null || row.completeUs === null) return undefined
  const heartbeats = ((row.nodes * 1000) / HEARTBEAT_INTERVAL_MS) * row.heartbeatUs
  const tasks = sizes.rate * (row.enqueueUs + row.completeUs)
  const perSecond = heartbeats + tasks
  if (perSecond <= 1_000_000) return undefined
  return (
    `skipped: the per-call figures put Redis at ${(perSecond / 1_000_000).toFixed(1)} s of CPU per second ` +
    `(heartbeats ${(heartbeats / 1_000_000).toFixed(2)} s, ${sizes.rate} enqueues and completes ${(tasks / 1_000_000).toFixed(2)} s), ` +
    'more than its one script thread can give'
  )
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** One size's namespace in the per-call part, and what its rounds measured. */
interface PerCallSize {
  row: NodeScalingRow
  ns: Namespace
  ids: string[]
  capacity: number
  heartbeat: ScriptCounters[]
  enqueue: ScriptCounters[]
  complete: ScriptCounters[]
  /** Wall time its rounds took so far. */
  spentMs: number
  done: boolean
}

async function preparePerCall(runner: ScriptRunner, row: NodeScalingRow, sizes: NodeScalingSizes): Promise<PerCallSize> {
  const ns = new Namespace(`${NAMESPACE}-${row.nodes}`)
  await init(runner, ns, { nodeTimeoutMs: PER_CALL_NODE_TIMEOUT_MS })
  // Every task of a round finds a free slot, so each measured enqueue dispatches.
  const capacity = Math.max(4, Math.ceil(sizes.calls / row.nodes) + 1)
  const ids = Array.from({ length: row.nodes }, (_, i) => nodeId(i, row.nodes))
  await pipelined(runner, row.nodes, (c, i) => registerNode(c, ns, { nodeId: ids[i]!, capacity }))
  return { row, ns, ids, capacity, heartbeat: [], enqueue: [], complete: [], spentMs: 0, done: false }
}

/** One round of one size: heartbeats, single enqueues, then (after unmeasured starts) single completes. */
async function perCallRound(runner: ScriptRunner, admin: Redis, size: PerCallSize, round: number, calls: number): Promise<void> {
  const { ns, ids, capacity } = size
  const nodes = ids.length
  // Cycling through every node keeps each one alive, as its own Worker would.
  size.heartbeat.push(await measureWindow(admin, () => pipelined(runner, calls, (c, i) => heartbeat(c, ns, { nodeId: ids[i % nodes]! }))))

  const tasks: EnqueueArgs['tasks'] = Array.from({ length: calls }, (_, i) => {
    const task = makeTask(`r${round}-${i}`)
    return { id: task.id, payload: task.payload }
  })
  size.enqueue.push(
    await measureWindow(admin, () =>
      pipelined(runner, calls, async (c, i) => {
        const [status] = await enqueue(c, ns, { tasks: [tasks[i]!] })
        if (status !== 'created') throw new Error(`enqueue of ${tasks[i]!.id} replied ${status}`)
      }),
    ),
  )

  // Unmeasured: every node starts what it was assigned.
  // A start call takes at most CALL_LIMITS.startMax, so a node holding more starts in turns.
  const perStart = Math.min(capacity, CALL_LIMITS.startMax)
  const startedBy = await Promise.all(
    ids.slice(0, nodes).map(async (nodeId) => {
      const rows: Awaited<ReturnType<typeof start>> = []
      for (;;) {
        const batch = await start(runner, ns, { nodeId, max: perStart })
        rows.push(...batch)
        if (batch.length < perStart) return rows
      }
    }),
  )
  const running = new Map<string, { node: string; token: number }>()
  startedBy.forEach((rows, i) => {
    for (const [id, token] of rows) running.set(id, { node: ids[i]!, token })
  })
  if (running.size !== calls) throw new Error(`${running.size} of ${calls} enqueued tasks were assigned and started`)
  size.complete.push(
    await measureWindow(admin, () =>
      pipelined(runner, calls, (c, i) => {
        const id = tasks[i]!.id
        const held = running.get(id)!
        return complete(c, ns, { nodeId: held.node, claim: 0, results: [{ id, token: held.token, result: '' }] })
      }),
    ),
  )
}

/**
 * The per-call part for every size on one server, one namespace per size, the rounds taken in
 * turn across sizes (every other round in reverse order): whatever else the machine is doing
 * then falls on every size alike, and the best round of each is compared. A warm-up round per size comes first, unmeasured.
 */
async function perCall(rows: NodeScalingRow[], sizes: NodeScalingSizes, log: (line: string) => void): Promise<void> {
  const server = await RedisServer.start()
  const { runner, admin, close } = await openRunner(server.url)
  try {
    const prepared: PerCallSize[] = []
    for (const row of rows) {
      try {
        const size = await preparePerCall(runner, row, sizes)
        await perCallRound(runner, admin, size, -1, Math.min(sizes.calls, WARM_UP_CALLS))
        size.heartbeat = []
        size.enqueue = []
        size.complete = []
        prepared.push(size)
      } catch (error) {
        row.failures.push(`per call: ${describe(error)}`)
        log(`   ✗ ${plural(row.nodes, 'node')}, per call: ${describe(error)}`)
      }
    }
    for (let round = 0; round < sizes.rounds; round++) {
      // Every other round in reverse, so no size always comes right after another.
      for (const size of round % 2 === 0 ? prepared : [...prepared].reverse()) {
        if (size.done) continue
        if (round > 0 && size.spentMs > sizes.roundBudgetMs) {
          log(`   ${plural(size.row.nodes, 'node')}: time budget used after ${round} rounds`)
          size.done = true
          continue
        }
        const began = performance.now()
        try {
          await perCallRound(runner, admin, size, round, sizes.calls)
        } catch (error) {
          size.row.failures.push(`per call: ${describe(error)}`)
          log(`   ✗ ${plural(size.row.nodes, 'node')}, per call: ${describe(error)}`)
          size.done = true
        }
        size.spentMs += performance.now() - began
      }
      log(`   per call: round ${round + 1} of ${sizes.rounds} done`)
    }
    for (const size of prepared) {
      if (size.heartbeat.length === 0 || size.row.failures.length > 0) continue
      const row = size.row
      row.rounds = size.heartbeat.length
      row.heartbeatUs = bestOf(size.heartbeat).usecPerCall
      row.enqueueUs = bestOf(size.enqueue).usecPerCall
      row.completeUs = bestOf(size.complete).usecPerCall
      log(
        `   ✓ ${plural(row.nodes, 'node')}: heartbeat ${row.heartbeatUs.toFixed(1)} µs · enqueue ${row.enqueueUs.toFixed(1)} µs · ` +
          `complete ${row.completeUs.toFixed(1)} µs per call`,
      )
    }
  } finally {
    await close()
    await server.stop()
  }
}

async function endToEnd(nodes: number, sizes: NodeScalingSizes, hooks: NodeScalingHooks): Promise<EndToEnd> {
  const server = await RedisServer.start()
  const workers: WorkerProcess[] = []
  let producer: Producer | undefined
  try {
    producer = await hooks.openProducer(server.url)
    const specs = Array.from({ length: nodes }, (_, i) => ({ id: nodeId(i, nodes), weight: 1 }))
    const processes = Math.min(sizes.processes, nodes)
    for (let p = 0; p < processes; p++) {
      workers.push(
        await WorkerProcess.spawn({
          system: 'taskmill',
          url: server.url,
          worker: { concurrency: sizes.capacity, nodes: specs.filter((_, i) => i % processes === p) },
          expected: sizes.e2eTasks,
          recordOrder: false,
        }),
      )
    }
    // A child reports started once each of its Workers has registered its node.
    await withTimeout(Promise.all(workers.map((worker) => worker.go())), sizes.startTimeoutMs, `starting ${plural(nodes, 'Worker')}`)
    await sleep(SETTLE_MS)

    const handled = (): number => workers.reduce((sum, worker) => sum + worker.handled, 0)
    const before = await server.snapshot()
    const ids = await enqueueAtRate(producer, sizes.e2eTasks, sizes.rate)
    const deadline = Date.now() + sizes.drainTimeoutMs
    for (;;) {
      hooks.counter(`   ${plural(nodes, 'node')} · e2e:`, handled(), sizes.e2eTasks)
      if (handled() >= sizes.e2eTasks) {
        const counts = await producer.counts()
        if (counts.completed >= sizes.e2eTasks && counts.unfinished === 0) break
      }
      if (Date.now() > deadline) {
        const counts = await producer.counts()
        throw new Error(
          `did not keep up: ${counts.completed} of ${sizes.e2eTasks} tasks completed ${Math.round(sizes.drainTimeoutMs / 1000)} s after the last enqueue`,
        )
      }
      await sleep(50)
    }
    const delta = diff(before, await server.snapshot())

    const results = await withTimeout(Promise.all(workers.map((worker) => worker.stop())), sizes.startTimeoutMs, `stopping ${plural(nodes, 'Worker')}`)
    const duplicates = results.reduce((sum, r) => sum + r.duplicates, 0)
    const distinct = results.reduce((sum, r) => sum + r.distinct, 0)
    if (duplicates > 0 || distinct !== sizes.e2eTasks) {
      throw new Error(`verification failed: ${distinct} distinct tasks ran (${duplicates} more than once), expected ${sizes.e2eTasks}`)
    }
    const problems = await producer.verify(ids)
    if (problems.length > 0) throw new Error(`verification failed: ${problems.join('; ')}`)
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
    return {
      tasks: sizes.e2eTasks,
      cpuUsPerTask: delta.cpuUs / sizes.e2eTasks,
      tasksPerSec: sizes.e2eTasks / (delta.wallMs / 1000),
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
    }
  } finally {
    for (const worker of workers) worker.kill()
    await producer?.close().catch(() => undefined)
    await server.stop()
  }
}

export async function measureNodeScaling(sizes: NodeScalingSizes, hooks: NodeScalingHooks): Promise<NodeScalingTable> {
  const rows: NodeScalingRow[] = sizes.nodeCounts.map((nodes) => ({
    nodes,
    heartbeatUs: null,
    enqueueUs: null,
    completeUs: null,
    e2e: null,
    rounds: 0,
    failures: [],
  }))
  hooks.log(`per call (heartbeat, enqueue, complete), one namespace per size on one server, rounds in turn …`)
  await perCall(rows, sizes, hooks.log)

  for (const row of rows) {
    const skip = saturation(row, sizes)
    if (skip) {
      row.failures.push(`end to end: ${skip}`)
      hooks.log(`${plural(row.nodes, 'node')} · end to end ${skip}`)
      continue
    }
    hooks.log(`${plural(row.nodes, 'node')} · end to end, ${sizes.e2eTasks.toLocaleString('en-US')} tasks at ${sizes.rate}/s …`)
    try {
      row.e2e = await endToEnd(row.nodes, sizes, hooks)
      hooks.log(`   ✓ ${row.e2e.cpuUsPerTask.toFixed(1)} µs/task · p50 ${row.e2e.p50Ms.toFixed(2)} ms · p99 ${row.e2e.p99Ms.toFixed(2)} ms`)
    } catch (error) {
      row.failures.push(`end to end: ${describe(error)}`)
      hooks.log(`   ✗ end to end: ${describe(error)}`)
    }
  }
  return {
    sizes,
    rows,
    notes: [
      `Per call: one server, one namespace per size, best of up to ${sizes.rounds} rounds (taken in turn across sizes, after a warm-up round) ` +
        `of ${sizes.calls.toLocaleString('en-US')} pipelined calls, nodes registered with the register-node script ` +
        `(capacity enough for every task of a round, node timeout raised so that nodes that only heartbeat when measured are not dropped); ` +
        'heartbeat cycles through every node, none of which holds a task; enqueue is one task per call, dispatched; ' +
        'complete is one task per call, on the node that started it.',
      `End to end: ${sizes.e2eTasks.toLocaleString('en-US')} single enqueue calls at ${sizes.rate}/s through the Scheduler, Worker objects of capacity ${sizes.capacity} ` +
        `in up to ${sizes.processes} child processes, library defaults (events on, a heartbeat per node per second), completed tasks kept; ` +
        'Redis CPU of the whole server over the window ÷ tasks, so idle nodes’ heartbeats are included; latency is enqueue call to handler start.',
    ],
  }
}
