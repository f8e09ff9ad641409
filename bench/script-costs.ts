/**
 * Table (a) of the report: Redis CPU per call of every generated script, with one item and with
 * 100 items where a call carries items (tasks, results, dependencies, running tasks, nodes), next
 * to EVALSHA of a loaded `return 1` measured on the same server in the same run.
 *
 * Every script in `allScripts` gets a row, so a script added later shows up as "no fixture"
 * instead of silently missing. Each case runs in rounds; each round prepares a fresh namespace
 * (library defaults: events on), then measures only the calls the row is about (see
 * call-cost.ts). Most cases pipeline their calls; register-node and deregister-node change the
 * set of nodes, so each of their calls is measured alone between unmeasured setup calls, which
 * keeps the namespace at the same size for every call.
 */
import { CALL_LIMITS } from '../client/call-limits.js'
import type { Redis } from 'ioredis'
import type { ScriptRunner } from '../loader/runner.js'
import type { ScriptCaller } from '../loader/script-caller.js'
import {
  addPartitions,
  allScripts,
  cancel,
  complete,
  dependencyResults,
  deregisterNode,
  drainNode,
  enqueue,
  fail,
  getTask,
  heartbeat,
  init,
  maintain,
  partitions,
  registerNode,
  release,
  start,
  stats,
  type EnqueueArgs,
} from '../loader/generated/scripts.js'
import { bestOf, measureWindow, Namespace, openRunner, pipelined, returnOneCost, serverNow, type ScriptCounters } from './call-cost.js'
import { makeTask } from './payload.js'
import { RedisServer, sleep } from './redis-server.js'

export interface ScriptCostSizes {
  /** Calls per round for calls of one item (or none). */
  calls: number
  /** Calls per round for calls of 100 items. */
  bulkCalls: number
  /** Calls per round for the cases measured one call at a time. */
  singleCalls: number
  rounds: number
}

export const SCRIPT_COSTS_QUICK: ScriptCostSizes = { calls: 500, bulkCalls: 40, singleCalls: 100, rounds: 3 }
export const SCRIPT_COSTS_FULL: ScriptCostSizes = { calls: 3000, bulkCalls: 200, singleCalls: 400, rounds: 5 }

/** Items in the bulk rows. */
export const BULK = 100

export interface ScriptCostRow {
  script: string
  /** What one measured call does. */
  call: string
  /** Items one call carries; 0 for a call without items. */
  items: number
  /** Redis µs per call (best round); null when the case failed or has no fixture. */
  usecPerCall: number | null
  /** µs per call ÷ µs per call of `return 1`. */
  ratio: number | null
  /** Calls in the round that counted. */
  calls: number
  failure?: string
}

export interface ScriptCostTable {
  /** EVALSHA of a loaded `return 1`, same server, same run. */
  returnOne: { usecPerCall: number; calls: number }
  sizes: ScriptCostSizes
  rows: ScriptCostRow[]
  /** Footnotes: how rows were set up, and scripts without a fixture. */
  notes: string[]
}

interface Fixture {
  runner: ScriptRunner
  admin: Redis
  /** A namespace no other round has used. */
  namespace(label: string): Namespace
}

type Plan =
  | { kind: 'pipelined'; call: (caller: ScriptCaller, i: number) => Promise<unknown> }
  | {
      kind: 'one-by-one'
      /** Unmeasured, right before call i. */
      before?: (i: number) => Promise<unknown>
      call: (caller: ScriptCaller, i: number) => Promise<unknown>
      /** Unmeasured, right after call i. */
      after?: (i: number) => Promise<unknown>
    }

interface Case {
  call: string
  items: number
  /** 'single' cases are measured one call at a time. */
  mode: 'pipelined' | 'single'
  /** Prepares a fresh namespace for `calls` measured calls (unmeasured) and returns the plan. */
  prepare(f: Fixture, calls: number): Promise<Plan>
}

const NODE = 'n1'
/** Capacity of the fixture's node: every task enqueued in a round gets a slot. */
const BIG_CAPACITY = 100_000
const RESULT = '{"ok":true}'
/** How long before their due time delayed tasks are enqueued, at least, for maintain's bulk row. */
const DUE_MARGIN_MS = 1000

type TaskRow = EnqueueArgs['tasks'][number]

function taskRows(prefix: string, n: number): TaskRow[] {
  return Array.from({ length: n }, (_, i) => {
    const task = makeTask(`${prefix}-${i}`)
    return { id: task.id, payload: task.payload }
  })
}

async function freshNamespace(f: Fixture, label: string): Promise<Namespace> {
  const ns = f.namespace(label)
  await init(f.runner, ns, {})
  return ns
}

async function addNode(f: Fixture, ns: Namespace, nodeId = NODE, capacity = BIG_CAPACITY): Promise<void> {
  await registerNode(f.runner, ns, { nodeId, capacity })
}

async function enqueueAll(f: Fixture, ns: Namespace, rows: readonly TaskRow[]): Promise<void> {
  const perCall = CALL_LIMITS.enqueueTasks
  const replies = await pipelined(f.runner, Math.ceil(rows.length / perCall), (caller, i) =>
    enqueue(caller, ns, { tasks: rows.slice(i * perCall, (i + 1) * perCall) }),
  )
  const created = replies.flat().filter((status) => status === 'created').length
  if (created !== rows.length) throw new Error(`setup enqueued ${created} of ${rows.length} tasks`)
}

/** Starts `count` tasks already assigned to the node and returns their ids and tokens. */
async function startAll(f: Fixture, ns: Namespace, count: number, nodeId = NODE): Promise<{ id: string; token: number }[]> {
  const started: { id: string; token: number }[] = []
  while (started.length < count) {
    const rows = await start(f.runner, ns, { nodeId, max: Math.min(CALL_LIMITS.startMax, count - started.length) })
    if (rows.length === 0) throw new Error(`setup started ${started.length} of ${count} tasks`)
    for (const [id, token] of rows) started.push({ id, token })
  }
  return started
}

/** Each script's cases; a script missing here is reported as having no fixture. */
const CASES: Record<string, Case[]> = {
  'add-partitions': [
    {
      call: '1 partition added to an unpartitioned namespace',
      items: 0,
      mode: 'single',
      async prepare(f) {
        // A call raises the count for good, so each call gets a namespace of its own. The new
        // partition's keys are not initialised: the script only records the partition.
        const namespaces: Namespace[] = []
        return {
          kind: 'one-by-one',
          before: async (i) => (namespaces[i] = await freshNamespace(f, 'add-partitions')),
          call: (c, i) => addPartitions(c, namespaces[i]!, { count: 1, partitions: [{ salt: 0 }] }),
        }
      },
    },
  ],
  cancel: [
    {
      call: 'a ready task (no node registered)',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'cancel')
        const rows = taskRows('t', calls)
        await enqueueAll(f, ns, rows)
        return { kind: 'pipelined', call: (c, i) => cancel(c, ns, { id: rows[i]!.id }) }
      },
    },
  ],
  complete: [1, BULK].map((k) => ({
    call: k === 1 ? '1 result, no claim' : `${k} results, no claim`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const ns = await freshNamespace(f, 'complete')
      await addNode(f, ns)
      await enqueueAll(f, ns, taskRows('t', calls * k))
      const running = await startAll(f, ns, calls * k)
      return {
        kind: 'pipelined',
        call: (c, i) =>
          complete(c, ns, {
            nodeId: NODE,
            claim: 0,
            results: running.slice(i * k, (i + 1) * k).map(({ id, token }) => ({ id, token, result: RESULT })),
          }),
      }
    },
  })),
  'dependency-results': [1, BULK].map((k) => ({
    call: k === 1 ? 'a task with 1 dependency' : `a task with ${k} dependencies`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'deps')
      const parents = taskRows('p', k)
      const child = { ...taskRows('child', 1)[0]!, dependsOn: parents.map((p) => p.id) }
      await enqueueAll(f, ns, [...parents, child])
      return { kind: 'pipelined', call: (c) => dependencyResults(c, ns, { id: child.id }) }
    },
  })),
  'deregister-node': [
    {
      call: 'a node with no tasks leaves; 1 other node stays',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'deregister')
        await addNode(f, ns, 'n0', 10)
        return {
          kind: 'one-by-one',
          before: (i) => addNode(f, ns, `x${i}`, 10),
          call: (c, i) => deregisterNode(c, ns, { nodeId: `x${i}` }),
        }
      },
    },
  ],
  'drain-node': [
    {
      call: 'a node with no tasks starts draining; 1 other node stays',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'drain')
        await addNode(f, ns, 'n0', 10)
        return {
          kind: 'one-by-one',
          before: (i) => addNode(f, ns, `x${i}`, 10),
          call: (c, i) => drainNode(c, ns, { nodeId: `x${i}` }),
        }
      },
    },
  ],
  enqueue: [1, BULK].map((k) => ({
    call: k === 1 ? '1 task, dispatched to the one node' : `${k} tasks, dispatched to the one node`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const ns = await freshNamespace(f, 'enqueue')
      await addNode(f, ns)
      const rows = taskRows('t', calls * k)
      return {
        kind: 'pipelined',
        call: async (c, i) => {
          const replies = await enqueue(c, ns, { tasks: rows.slice(i * k, (i + 1) * k) })
          if (replies.some((status) => status !== 'created')) throw new Error('a measured enqueue did not create its task')
        },
      }
    },
  })),
  fail: [
    {
      call: 'a running task, retryable (retries after its backoff)',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'fail')
        await addNode(f, ns)
        await enqueueAll(f, ns, taskRows('t', calls))
        const running = await startAll(f, ns, calls)
        return {
          kind: 'pipelined',
          call: (c, i) => fail(c, ns, { nodeId: NODE, id: running[i]!.id, token: running[i]!.token, message: 'bench', retryable: true }),
        }
      },
    },
  ],
  'get-task': [
    {
      call: 'a ready task with a ~100 B payload',
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'get')
        const rows = taskRows('t', 1)
        await enqueueAll(f, ns, rows)
        return { kind: 'pipelined', call: (c) => getTask(c, ns, { id: rows[0]!.id }) }
      },
    },
  ],
  heartbeat: [0, BULK].map((k) => ({
    call: k === 0 ? 'a node with no tasks (the only node)' : `a node running ${k} tasks`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'heartbeat')
      await addNode(f, ns)
      if (k > 0) {
        await enqueueAll(f, ns, taskRows('t', k))
        await startAll(f, ns, k)
      }
      return { kind: 'pipelined', call: (c) => heartbeat(c, ns, { nodeId: NODE }) }
    },
  })),
  init: [
    {
      call: 'an existing namespace, the same configuration written again',
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'init')
        return { kind: 'pipelined', call: (c) => init(c, ns, {}) }
      },
    },
  ],
  maintain: [0, BULK].map((k) => ({
    call: k === 0 ? 'nothing due (one node, no tasks)' : `${k} due delayed tasks promoted (limit ${k}, no node)`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const ns = await freshNamespace(f, 'maintain')
      if (k === 0) {
        await addNode(f, ns)
        return { kind: 'pipelined', call: (c) => maintain(c, ns, {}) }
      }
      // All due at one instant after the setup, so no setup call finds any of them due.
      const margin = DUE_MARGIN_MS + calls * k * 0.05
      const runAt = (await serverNow(f.admin)) + margin
      await enqueueAll(f, ns, taskRows('t', calls * k).map((row) => ({ ...row, runAt })))
      const wait = runAt + 5 - (await serverNow(f.admin))
      if (wait > 0) await sleep(wait)
      return {
        kind: 'pipelined',
        call: async (c) => {
          const reply = await maintain(c, ns, { limit: k })
          if (reply.promoted !== k) throw new Error(`a measured maintain promoted ${reply.promoted} tasks, not ${k}`)
        },
      }
    },
  })),
  'register-node': [
    {
      call: 'a new node joins; 1 other node (no tasks waiting)',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'register')
        await addNode(f, ns, 'n0', 10)
        return {
          kind: 'one-by-one',
          call: (c, i) => registerNode(c, ns, { nodeId: `x${i}`, capacity: 10 }),
          after: (i) => deregisterNode(f.runner, ns, { nodeId: `x${i}` }),
        }
      },
    },
  ],
  release: [
    {
      call: 'a running task handed back (dispatched again to the node)',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'release')
        await addNode(f, ns)
        await enqueueAll(f, ns, taskRows('t', calls))
        const running = await startAll(f, ns, calls)
        return { kind: 'pipelined', call: (c, i) => release(c, ns, { nodeId: NODE, id: running[i]!.id, token: running[i]!.token }) }
      },
    },
  ],
  start: [1, BULK].map((k) => ({
    call: k === 1 ? '1 assigned task' : `${k} assigned tasks`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const ns = await freshNamespace(f, 'start')
      await addNode(f, ns)
      await enqueueAll(f, ns, taskRows('t', calls * k))
      return {
        kind: 'pipelined',
        call: async (c) => {
          const rows = await start(c, ns, { nodeId: NODE, max: k })
          if (rows.length !== k) throw new Error(`a measured start started ${rows.length} tasks, not ${k}`)
        },
      }
    },
  })),
  partitions: [1, BULK].map((k) => ({
    call: k === 1 ? 'an unpartitioned namespace' : `a namespace of ${k} partitions`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'partitions')
      if (k > 1) await addPartitions(f.runner, ns, { count: 1, partitions: Array.from({ length: k - 1 }, () => ({ salt: 0 })) })
      return { kind: 'pipelined', call: (c) => partitions(c, ns) }
    },
  })),
  stats: [0, BULK].map((k) => ({
    call: k === 0 ? 'an empty namespace' : `${k} nodes registered, no tasks`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'stats')
      for (let i = 0; i < k; i++) await addNode(f, ns, `n${i}`, 10)
      return { kind: 'pipelined', call: (c) => stats(c, ns) }
    },
  })),
}

async function runCase(f: Fixture, scriptCase: Case, sizes: ScriptCostSizes): Promise<ScriptCounters[]> {
  const calls = scriptCase.mode === 'single' ? sizes.singleCalls : scriptCase.items >= BULK ? sizes.bulkCalls : sizes.calls
  const rounds: ScriptCounters[] = []
  for (let round = 0; round < sizes.rounds; round++) {
    const plan = await scriptCase.prepare(f, calls)
    if (plan.kind === 'pipelined') {
      rounds.push(await measureWindow(f.admin, () => pipelined(f.runner, calls, plan.call)))
      continue
    }
    const total: ScriptCounters = { calls: 0, usec: 0 }
    for (let i = 0; i < calls; i++) {
      await plan.before?.(i)
      const one = await measureWindow(f.admin, () => plan.call(f.runner, i))
      total.calls += one.calls
      total.usec += one.usec
      await plan.after?.(i)
    }
    rounds.push(total)
  }
  return rounds
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Measures every script on one fresh redis-server; `log` gets one line per script. */
export async function measureScriptCosts(sizes: ScriptCostSizes, log: (line: string) => void): Promise<ScriptCostTable> {
  const server = await RedisServer.start()
  const { runner, admin, close } = await openRunner(server.url)
  try {
    let namespaces = 0
    const f: Fixture = { runner, admin, namespace: (label) => new Namespace(`cost-${label}-${++namespaces}`) }
    // Measured before and after the scripts and the best taken, so a slow moment of the machine
    // cannot inflate the baseline (which would flatter every ratio).
    const returnOneBefore = await returnOneCost(runner, admin, sizes.calls, sizes.rounds)
    log(`EVALSHA of return 1: ${returnOneBefore.usecPerCall.toFixed(2)} µs per call`)
    const rows: ScriptCostRow[] = []
    const notes: string[] = []
    for (const script of allScripts) {
      const cases = CASES[script.name]
      if (!cases) {
        rows.push({ script: script.name, call: '–', items: 0, usecPerCall: null, ratio: null, calls: 0, failure: 'no fixture' })
        notes.push(`\`${script.name}\` is not measured: bench/script-costs.ts has no fixture for it yet.`)
        log(`${script.name}: no fixture`)
        continue
      }
      for (const scriptCase of cases) {
        try {
          const cost = bestOf(await runCase(f, scriptCase, sizes))
          rows.push({
            script: script.name,
            call: scriptCase.call,
            items: scriptCase.items,
            usecPerCall: cost.usecPerCall,
            ratio: null,
            calls: cost.calls,
          })
          log(`${script.name} · ${scriptCase.call}: ${cost.usecPerCall.toFixed(1)} µs per call`)
        } catch (error) {
          rows.push({ script: script.name, call: scriptCase.call, items: scriptCase.items, usecPerCall: null, ratio: null, calls: 0, failure: describe(error) })
          log(`✗ ${script.name} · ${scriptCase.call}: ${describe(error)}`)
        }
      }
    }
    const returnOneAfter = await returnOneCost(runner, admin, sizes.calls, sizes.rounds)
    const returnOne = returnOneAfter.usecPerCall < returnOneBefore.usecPerCall ? returnOneAfter : returnOneBefore
    log(`EVALSHA of return 1, again: ${returnOneAfter.usecPerCall.toFixed(2)} µs per call`)
    for (const row of rows) row.ratio = row.usecPerCall === null ? null : row.usecPerCall / returnOne.usecPerCall
    notes.unshift(
      `\`return 1\`: the best of ${sizes.rounds} rounds before the scripts and ${sizes.rounds} after. Scripts: best of ${sizes.rounds} rounds; each round a fresh namespace with library defaults (events on), ` +
        `${sizes.calls.toLocaleString('en-US')} pipelined calls (${sizes.bulkCalls.toLocaleString('en-US')} for ${BULK}-item calls). ` +
        `register-node and deregister-node change the set of nodes, so each of their ${sizes.singleCalls.toLocaleString('en-US')} calls per round ` +
        'is measured alone, between unmeasured calls that put the namespace back to one node; add-partitions raises a count for good, so each of its calls is measured alone, on a fresh namespace.',
      'The fixture node has a large capacity, so every enqueued task is dispatched to it; calls that only read or change nothing ' +
        '(get-task, dependency-results, stats, heartbeat, maintain with nothing due) are repeated on the same state.',
    )
    return { returnOne, sizes, rows, notes }
  } finally {
    await close()
    await server.stop()
  }
}
