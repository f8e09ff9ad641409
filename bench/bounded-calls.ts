/**
 * The longest call (issue 8, item 12): Redis runs one script at a time, so the longest call is
 * what every other client of that Redis may have to wait. Measured while N tasks are enqueued in
 * batches with no worker, then drained by worker processes, on a fresh redis-server:
 *
 * - **enqueue**: each batch goes out as `Scheduler.enqueueBatch` sends it, split into calls of
 *   at most the script's limits, parents first (client/enqueue-chunks.ts), each through the
 *   generated `enqueue` wrapper;
 * - **drain**: worker processes (`Worker`, the benchmark's taskmill worker) run the tasks with
 *   the library's defaults: events on, 10,000 completed tasks kept, so retention sweeps run
 *   throughout.
 *
 * Times are Redis' own: SLOWLOG records every call of 0.5 ms or more with its duration, and
 * INFO latencystats gives the percentiles of EVALSHA. Both are wall time inside Redis, so on a
 * machine where the workers share the cores with Redis a call that was descheduled counts long.
 * Redis CPU is read beside them: over each phase, `used_cpu_user + used_cpu_sys` of the server;
 * and for each enqueue call, sent one at a time, the main thread's CPU from INFO just before and
 * after it, which is the work the call did, descheduling left out. The drain's calls come from
 * worker processes at once, so no call's own CPU can be told apart there.
 *
 *   npx tsx bench/bounded-calls.ts [--tasks=200000] [--batch=1000] [--workers=2] [--capacity=50] [--json=FILE]
 *
 * prints the figures as a table and writes them as JSON to FILE (default
 * bench/results/bounded-calls.json). `npm run bench -- --scenarios=bounded` runs it as a part of
 * the benchmark report.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Redis } from 'ioredis'
import { createRunner } from '../client/connection.js'
import { chunkEnqueueRows } from '../client/enqueue-chunks.js'
import { connect } from '../loader/connect.js'
import type { ScriptDefinition } from '../loader/contract.js'
import { Namespace } from '../loader/keys.js'
import type { ScriptCaller } from '../loader/script-caller.js'
import * as s from '../loader/generated/scripts.js'
import { makeTasks } from './payload.js'
import { RedisServer, sleep } from './redis-server.js'
import { boundedCallsMarkdown } from './report.js'
import { NAMESPACE } from './systems/taskmill.js'
import { WorkerProcess } from './worker-process.js'

export interface BoundedCallsSizes {
  /** Tasks enqueued, then drained. */
  tasks: number
  /** Tasks per enqueueBatch. */
  batch: number
  /** Worker processes, one node each. */
  workers: number
  /** Tasks one node runs at once. */
  capacity: number
}

export const BOUNDED_FULL: BoundedCallsSizes = { tasks: 200_000, batch: 1000, workers: 2, capacity: 50 }
export const BOUNDED_QUICK: BoundedCallsSizes = { ...BOUNDED_FULL, tasks: 20_000 }

/** One script's longest calls in a phase. */
export interface LongestCall {
  script: string
  maxMs: number
  over1ms: number
  over5ms: number
  over10ms: number
}

/** What Redis recorded during one phase. */
export interface PhaseFigures {
  /** EVALSHA and EVALSHA_RO calls. */
  calls: number
  /** EVALSHA latency percentiles from INFO latencystats, in ms. */
  p50Ms: number
  p99Ms: number
  p999Ms: number
  /** Per script, longest first. */
  longest: LongestCall[]
  /** Redis CPU over the phase (`used_cpu_user + used_cpu_sys` of the server), in ms. */
  cpuMs: number
  /**
   * Per script, its longest call in ms of Redis CPU, longest first: only where the calls were
   * sent one at a time and metered (the enqueue), absent where they overlap (the drain).
   */
  longestCpu?: { script: string; maxMs: number }[]
  seconds: number
}

export interface BoundedCallsFigures extends BoundedCallsSizes {
  enqueue: PhaseFigures
  drain: PhaseFigures
}

/** What the benchmark report keeps of this part: the figures, or why there are none. */
export type BoundedCallsRun = (BoundedCallsFigures & { ok: true }) | (BoundedCallsSizes & { ok: false; failure: string })

/** Calls of at least this long are recorded. */
const SLOW_US = 500
const SLOWLOG_ENTRIES = 100_000

const scriptBySha = new Map(s.allScripts.map((script) => [script.sha, script.name]))

/**
 * Runs `body` with Redis' statistics reset, then reads what Redis recorded of the script calls
 * it made meanwhile. The slow log keeps the last 100,000 entries of 0.5 ms or more.
 */
export async function measurePhase(admin: Redis, body: () => Promise<void>): Promise<PhaseFigures> {
  await admin.config('SET', 'slowlog-log-slower-than', String(SLOW_US))
  await admin.config('SET', 'slowlog-max-len', String(SLOWLOG_ENTRIES))
  await admin.slowlog('RESET')
  await admin.config('RESETSTAT')
  const cpuBefore = await serverCpuMs(admin)
  const began = performance.now()
  await body()
  const seconds = (performance.now() - began) / 1000
  const cpuMs = (await serverCpuMs(admin)) - cpuBefore
  const entries = (await admin.slowlog('GET', SLOWLOG_ENTRIES)) as [number, number, number, string[]][]
  const perScript = new Map<string, number[]>()
  for (const [, , micros, args] of entries) {
    const [command = '', sha = ''] = args
    // Commands a script runs are logged too when slow; the call itself is what others wait for.
    if (!/^evalsha/i.test(command)) continue
    const name = scriptBySha.get(sha) ?? `unknown ${sha.slice(0, 8)}`
    perScript.set(name, [...(perScript.get(name) ?? []), micros / 1000])
  }
  const longest = [...perScript]
    .map(([script, ms]) => ({
      script,
      maxMs: round(Math.max(...ms)),
      over1ms: ms.filter((m) => m > 1).length,
      over5ms: ms.filter((m) => m > 5).length,
      over10ms: ms.filter((m) => m > 10).length,
    }))
    .sort((a, b) => b.maxMs - a.maxMs)
  const stats = await admin.info('commandstats')
  const calls = [...stats.matchAll(/^cmdstat_evalsha(?:_ro)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
  const latency = /^latency_percentiles_usec_evalsha:p50=([\d.]+),p99=([\d.]+),p99\.9=([\d.]+)/m.exec(await admin.info('latencystats'))
  return {
    calls,
    p50Ms: round(Number(latency?.[1] ?? 0) / 1000),
    p99Ms: round(Number(latency?.[2] ?? 0) / 1000),
    p999Ms: round(Number(latency?.[3] ?? 0) / 1000),
    longest,
    cpuMs: round(cpuMs),
    seconds: round(seconds),
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

/** Fields of INFO cpu, in seconds, summed and turned into ms. */
async function cpuMsOf(admin: Redis, fields: readonly string[]): Promise<number> {
  const info = await admin.info('cpu')
  return fields.reduce((sum, field) => {
    const value = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1]
    if (value === undefined) throw new Error(`INFO cpu has no ${field}`)
    return sum + Number(value) * 1000
  }, 0)
}

/** The whole server's CPU, as the rest of the benchmark reads it. */
function serverCpuMs(admin: Redis): Promise<number> {
  return cpuMsOf(admin, ['used_cpu_user', 'used_cpu_sys'])
}

/**
 * Sends each call on its own and keeps its CPU time in Redis: the main thread's, which runs the
 * scripts, from INFO just before and after the call. Only exact while nothing else talks to the
 * server, so only for the enqueue.
 */
class MeteredCaller implements ScriptCaller {
  private readonly cpuMs = new Map<string, number>()

  constructor(
    private readonly inner: ScriptCaller,
    private readonly admin: Redis,
  ) {}

  async call(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): Promise<unknown> {
    const before = await this.mainThreadMs()
    try {
      return await this.inner.call(definition, namespace, args)
    } finally {
      const spent = (await this.mainThreadMs()) - before
      this.cpuMs.set(definition.name, Math.max(this.cpuMs.get(definition.name) ?? 0, spent))
    }
  }

  /** Each script's longest call, longest first. */
  longest(): { script: string; maxMs: number }[] {
    return [...this.cpuMs].map(([script, ms]) => ({ script, maxMs: round(ms) })).sort((a, b) => b.maxMs - a.maxMs)
  }

  private mainThreadMs(): Promise<number> {
    return cpuMsOf(this.admin, ['used_cpu_user_main_thread', 'used_cpu_sys_main_thread'])
  }
}

/** How long the drain may take before it counts as failed: generous, so only a hang trips it. */
function drainDeadlineMs(tasks: number): number {
  return 60_000 + tasks * 5
}

/** Enqueues `sizes.tasks` tasks in batches, then drains them with worker processes; see the module note. */
export async function measureBoundedCalls(sizes: BoundedCallsSizes, log: (line: string) => void = () => {}): Promise<BoundedCallsFigures> {
  const server = await RedisServer.start()
  const workers: WorkerProcess[] = []
  const client = connect(server.url)
  client.on('error', () => {})
  try {
    const runner = createRunner(client)
    await runner.loadAll()
    const ns = new Namespace(NAMESPACE)
    await s.init(runner, ns, {})
    const tasks = makeTasks('b', sizes.tasks)

    log(`enqueue: ${sizes.tasks.toLocaleString('en-US')} tasks in batches of ${sizes.batch.toLocaleString('en-US')}, no worker`)
    const metered = new MeteredCaller(runner, server.admin)
    const enqueue = await measurePhase(server.admin, async () => {
      for (let i = 0; i < tasks.length; i += sizes.batch) {
        for (const chunk of chunkEnqueueRows(tasks.slice(i, i + sizes.batch))) await s.enqueue(metered, ns, { tasks: chunk })
      }
    })
    enqueue.longestCpu = metered.longest()

    log(`drain: ${sizes.workers} worker processes of capacity ${sizes.capacity}`)
    const drain = await measurePhase(server.admin, async () => {
      for (let i = 0; i < sizes.workers; i++) {
        const worker = await WorkerProcess.spawn({
          system: 'taskmill',
          url: server.url,
          worker: { concurrency: sizes.capacity, nodes: [{ id: `node-${i}`, weight: 1 }] },
          expected: sizes.tasks,
          recordOrder: false,
        })
        workers.push(worker)
        await worker.go()
      }
      // Completed tasks beyond the 10,000 kept are swept, so "nothing left to run" is the end.
      const deadline = Date.now() + drainDeadlineMs(sizes.tasks)
      for (;;) {
        const stats = await s.stats(runner, ns)
        const left = stats.waiting + stats.delayed + stats.ready + stats.assigned + stats.running + stats.retrying
        if (left === 0) break
        if (Date.now() > deadline) throw new Error(`drain: ${left} tasks still to run after ${Math.round(drainDeadlineMs(sizes.tasks) / 1000)} s`)
        await sleep(200)
      }
    })
    const results = await Promise.all(workers.map((worker) => worker.stop()))
    const handled = results.reduce((sum, result) => sum + result.handled, 0)
    const duplicates = results.reduce((sum, result) => sum + result.duplicates, 0)
    if (handled !== sizes.tasks || duplicates > 0) {
      throw new Error(`drain: the worker processes ran ${handled} handler calls (${duplicates} repeated) for ${sizes.tasks} tasks`)
    }
    return { ...sizes, enqueue, drain }
  } finally {
    for (const worker of workers) worker.kill()
    client.disconnect()
    await server.stop()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      tasks: { type: 'string' },
      batch: { type: 'string' },
      workers: { type: 'string' },
      capacity: { type: 'string' },
      json: { type: 'string' },
    },
  })
  const sizes = { ...(values.quick ? BOUNDED_QUICK : BOUNDED_FULL) }
  for (const key of ['tasks', 'batch', 'workers', 'capacity'] as const) {
    const text = values[key]
    if (text === undefined) continue
    const value = Number(text)
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${key} must be a positive integer, got ${text}`)
    sizes[key] = value
  }
  const figures = await measureBoundedCalls(sizes, (line) => process.stderr.write(`${line}\n`))
  const out = values.json ?? fileURLToPath(new URL('./results/bounded-calls.json', import.meta.url))
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), ...figures }, null, 2)}\n`)
  process.stdout.write(`${boundedCallsMarkdown({ ok: true, ...figures })}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
}
