/**
 * Issue 8, item 12: no script call holds Redis for long, whatever the batch or the backlog.
 * Redis runs one script at a time, so the longest call is what every other client of the server
 * may wait. Each test below makes a large batch or backlog on a redis-server of its own and
 * checks the longest script call:
 *
 * - enqueue: a graph of 20,000 tasks listed children first, with a fan-in of 1,000, split into
 *   calls as `Scheduler.enqueueBatch` splits it (client/enqueue-chunks.ts), each call through the
 *   generated `enqueue` wrapper;
 * - drain: two nodes run it all from this process as a Worker would (start, complete with a
 *   claim, heartbeat, maintain while more is due), while a node that holds 3,000 tasks goes
 *   silent and is dropped, 2,000 delayed tasks fall due at once, and retention sweeps all but
 *   1,000 completed tasks;
 * - fan-out: a task with 20,000 dependents dies, and they die after it.
 *
 * How long a call holds Redis is read two ways. SLOWLOG (every call of 0.5 ms or more) gives
 * Redis' wall time, which is what other clients wait, but counts the time Redis was descheduled
 * too: on this two-core machine, shared with other test runs (load average 10 to 12), calls of
 * 3 ms of work showed 10 to 170 ms there. So the bound is asserted on each call's CPU time,
 * Redis' main thread's as INFO reports it just before and after the call (nothing else talks to
 * this server meanwhile): no call may take more than 25 ms, where these calls take 1 to 9 ms.
 * SLOWLOG's figures are printed beside. With the limits before this work, every enqueue call
 * took 60 to 100 ms (5,000 tasks), dropping the silent node one call of about 50 ms, and settling
 * the fan-out calls of 10 to 15 ms (docs/reliability.md, "How each check was seen to fail").
 *
 * TASKMILL_BOUNDED_TASKS=200000 TASKMILL_FAULT_RECORD=1 also measures, without asserting, an
 * enqueue of that many tasks in batches of 1,000 and their drain by two worker processes
 * (bench/bounded-calls.ts), and writes the figures docs/reliability.md shows.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { BOUNDED_FULL, measurePhase, type BoundedCallsFigures } from '../../bench/bounded-calls.js'
import { createRunner } from '../../client/connection.js'
import { CALL_LIMITS } from '../../client/call-limits.js'
import { chunkEnqueueRows } from '../../client/enqueue-chunks.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import type { ScriptDefinition } from '../../loader/contract.js'
import type { ScriptRunner } from '../../loader/runner.js'
import type { Namespace } from '../../loader/keys.js'
import type { ScriptCaller } from '../../loader/script-caller.js'
import * as s from '../../loader/generated/scripts.js'
import { closeClients, openClient, randomNamespace } from '../support/context.js'
import { faultSkipReason, graph, random, runDescription, startServer } from './support/harness.js'

const BOUND_MS = 25
const TASKS = 20_000
const PAYLOAD = 'x'.repeat(100)
const SEED = Number(process.env.TASKMILL_FAULT_SEED ?? 0xb0d)
const RECORD_TASKS = process.env.TASKMILL_BOUNDED_TASKS === undefined ? undefined : Number(process.env.TASKMILL_BOUNDED_TASKS)

type Row = s.EnqueueArgs['tasks'][number]

/**
 * Calls the scripts one at a time and keeps each call's CPU time in Redis: the main thread's
 * user and system time from INFO, read just before and after the call.
 */
class MeteredCaller implements ScriptCaller {
  /** Per script, each call's CPU time in ms. */
  readonly cpuMs = new Map<string, number[]>()

  constructor(
    private readonly inner: ScriptCaller,
    private readonly admin: Redis,
  ) {}

  async call(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): Promise<unknown> {
    const before = await this.cpu()
    try {
      return await this.inner.call(definition, namespace, args)
    } finally {
      const spent = (await this.cpu()) - before
      this.cpuMs.set(definition.name, [...(this.cpuMs.get(definition.name) ?? []), spent])
    }
  }

  /** The longest call of each script, in ms of Redis CPU. */
  longest(): Record<string, number> {
    return Object.fromEntries([...this.cpuMs].map(([name, ms]) => [name, Math.round(Math.max(...ms) * 100) / 100]))
  }

  private async cpu(): Promise<number> {
    const info = await this.admin.info('cpu')
    const seconds = (field: string): number => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN)
    return (seconds('used_cpu_user_main_thread') + seconds('used_cpu_sys_main_thread')) * 1000
  }
}

describe.skipIf(faultSkipReason() !== undefined)(`no script call holds Redis over ${BOUND_MS} ms`, () => {
  let server: SpawnedRedis
  let admin: Redis
  let runner: ScriptRunner
  beforeAll(async () => {
    server = await startServer()
    admin = openClient(server.url)
    runner = createRunner(openClient(server.url))
    await runner.loadAll()
  })
  afterAll(async () => {
    await closeClients()
    await server?.stop()
  })

  /** Runs `body`, whose script calls go through the caller it is given, and checks every call. */
  async function expectBounded(what: string, body: (caller: ScriptCaller) => Promise<void>): Promise<void> {
    const metered = new MeteredCaller(runner, admin)
    const wall = await measurePhase(admin, () => body(metered))
    const longest = metered.longest()
    const slowlog = Object.fromEntries(wall.longest.map((entry) => [entry.script, entry.maxMs]))
    console.log(
      `[bounded] ${what}: longest call per script in ms of Redis CPU ${JSON.stringify(longest)}; ` +
        `SLOWLOG (wall) ${JSON.stringify(slowlog)}, ${wall.calls} calls, p50 ${wall.p50Ms} ms, p99 ${wall.p99Ms} ms`,
    )
    const over = Object.entries(longest).filter(([, ms]) => ms > BOUND_MS)
    expect(over, `${what}: calls over ${BOUND_MS} ms of Redis CPU`).toEqual([])
  }

  async function enqueueChunked(caller: ScriptCaller, ns: Namespace, rows: readonly Row[]): Promise<number> {
    let created = 0
    for (const chunk of chunkEnqueueRows(rows)) {
      created += (await s.enqueue(caller, ns, { tasks: chunk })).filter((status) => status === 'created').length
    }
    return created
  }

  async function unfinished(ns: Namespace): Promise<number> {
    const stats = await s.stats(runner, ns)
    return stats.waiting + stats.delayed + stats.ready + stats.assigned + stats.running + stats.retrying
  }

  it(`enqueue: a graph of ${TASKS.toLocaleString('en-US')} tasks, children listed first, in calls of the script's limits`, async () => {
    const ns = randomNamespace('bounded-enqueue')
    await s.init(runner, ns, {})
    const tasks: Row[] = graph('g', TASKS, SEED).map((task) => ({ id: task.id as string, payload: PAYLOAD, dependsOn: task.dependsOn ?? [] }))
    tasks.push({ id: 'join', payload: PAYLOAD, dependsOn: tasks.slice(0, CALL_LIMITS.enqueueDependencies).map((task) => task.id) })
    // Children before their parents: the split has to reorder the batch.
    const rows = tasks.reverse()
    let created = 0
    await expectBounded('enqueue', async (caller) => {
      created = await enqueueChunked(caller, ns, rows)
    })
    expect(created).toBe(TASKS + 1)
  }, 120_000)

  it('drain and housekeeping: a silent node of 3,000 tasks, 2,000 tasks falling due at once, sweeps', async () => {
    const ns = randomNamespace('bounded-drain')
    await s.init(runner, ns, { keepCompletedCount: 1000, nodeTimeoutMs: 1500 })
    const next = random(SEED)
    await enqueueChunked(runner, ns, Array.from({ length: TASKS }, (_, i) => ({ id: `d${i}`, payload: PAYLOAD, priority: Math.floor(next() * 3) })))
    // The ghost takes 3,000 tasks and never reports in again: silent after 0.5 s, dropped after 1.5 s.
    await s.registerNode(runner, ns, { nodeId: 'ghost', capacity: 3000 })
    while ((await s.maintain(runner, ns, {})).more === 1);
    expect((await s.stats(runner, ns)).assigned).toBe(3000)
    await enqueueChunked(runner, ns, Array.from({ length: 2000 }, (_, i) => ({ id: `late${i}`, payload: PAYLOAD, delayMs: 500 })))

    await expectBounded('drain', async (caller) => {
      const nodes = ['a', 'b'].map((id) => ({ id, running: [] as s.StartReply }))
      for (const node of nodes) await s.registerNode(caller, ns, { nodeId: node.id, capacity: 50 })
      let beatAt = 0
      while ((await unfinished(ns)) > 0) {
        if (Date.now() - beatAt > 200) {
          beatAt = Date.now()
          let more = 0
          for (const node of nodes) more |= (await s.heartbeat(caller, ns, { nodeId: node.id })).more
          while (more === 1) more = (await s.maintain(caller, ns, {})).more
        }
        for (const node of nodes) {
          if (node.running.length === 0) node.running = await s.start(caller, ns, { nodeId: node.id, max: 50 })
          const done = node.running.splice(0, 25)
          if (done.length === 0) continue
          const results = done.map(([id, token]) => ({ id, token, result: 'ok' }))
          node.running.push(...(await s.complete(caller, ns, { nodeId: node.id, claim: 50 - node.running.length, results })))
        }
      }
    })
    const stats = await s.stats(runner, ns)
    expect([stats.dead, stats.nodes.map(({ id }) => id).sort()]).toEqual([0, ['a', 'b']])
    // Retention keeps 1,000 completed tasks, and lets the count overshoot by a hundredth before it sweeps.
    expect(stats.completed).toBeGreaterThanOrEqual(1000)
    expect(stats.completed).toBeLessThanOrEqual(1010)
  }, 120_000)

  it(`fan-out: a task with ${TASKS.toLocaleString('en-US')} dependents dies, and so do they`, async () => {
    const ns = randomNamespace('bounded-fanout')
    await s.init(runner, ns, { keepDeadCount: 0 })
    const dependents = Array.from({ length: TASKS }, (_, i): Row => ({ id: `f${i}`, payload: PAYLOAD, dependsOn: ['root'] }))
    await enqueueChunked(runner, ns, [{ id: 'root', payload: PAYLOAD }, ...dependents])
    await s.registerNode(runner, ns, { nodeId: 'n', capacity: 1 })
    const [[, token]] = (await s.start(runner, ns, { nodeId: 'n' })) as [s.StartReply[number]]
    let rounds = 0
    await expectBounded('fan-out', async (caller) => {
      await s.fail(caller, ns, { nodeId: 'n', id: 'root', token, message: 'broken', retryable: false })
      for (let more = 1; more === 1; rounds++) more = (await s.maintain(caller, ns, {})).more
    })
    expect((await s.stats(runner, ns)).dead).toBe(TASKS + 1)
    expect(rounds).toBeGreaterThanOrEqual(TASKS / CALL_LIMITS.maintainLimit)
  }, 120_000)
})

// A recording for docs/reliability.md, minutes long: run on demand, not in CI, and the skip says so.
describe.runIf(RECORD_TASKS !== undefined && faultSkipReason() === undefined)(
  'the longest calls of a large enqueue and drain (recorded on demand: set TASKMILL_BOUNDED_TASKS)',
  () => {
  it(`measures ${RECORD_TASKS} tasks enqueued in batches of ${BOUNDED_FULL.batch} and drained by two worker processes`, () => {
    // Run as the benchmark runs it: its worker processes load TypeScript through tsx.
    const json = join(mkdtempSync(join(tmpdir(), 'taskmill-bounded-')), 'figures.json')
    const entry = fileURLToPath(new URL('../../bench/bounded-calls.ts', import.meta.url))
    execFileSync(process.execPath, ['--import', 'tsx', entry, `--tasks=${RECORD_TASKS}`, `--json=${json}`], { stdio: 'inherit' })
    const { tasks, batch, enqueue, drain } = JSON.parse(readFileSync(json, 'utf8')) as BoundedCallsFigures
    console.log(`[bounded] ${JSON.stringify({ tasks, batch, enqueue, drain })}`)
    if (process.env.TASKMILL_FAULT_RECORD === '1') {
      const dir = fileURLToPath(new URL('./results/', import.meta.url))
      mkdirSync(dir, { recursive: true })
      writeFileSync(`${dir}bounded-calls.json`, `${JSON.stringify({ tasks, batch, enqueue, drain, run: runDescription() }, null, 2)}\n`)
    }
    expect(enqueue.calls).toBeGreaterThanOrEqual(tasks / CALL_LIMITS.enqueueTasks)
  }, 30 * 60_000)
  },
)
