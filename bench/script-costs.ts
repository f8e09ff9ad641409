/**
 * Table (a) of the report: Redis CPU per call of every generated script, with one item and with
 * 100 items where a call carries items (tasks, results, dependencies, running tasks, nodes), next
 * to EVALSHA of a loaded `return 1` measured on the same server in the same run.
 *
 * Every script of the manifest must have a case: the bench refuses to measure the table while
 * one has none (scriptsWithoutFixture). Each case runs in rounds; each round prepares a fresh
 * namespace (library defaults: events on), then measures only the calls the row is about (see
 * call-cost.ts). Most cases pipeline their calls; a call that changes what it acts on for good
 * (cancel, complete, remove-task, retry-task, pause-schedule, ...) gets an item of its own per
 * call, prepared before the round. Calls that change a namespace-wide set (register-node,
 * deregister-node, pause-queue, resume-queue, set-rate-limit, remove-rate-limit) are measured
 * alone, between unmeasured calls that put the namespace back, so every call finds the same
 * state.
 */
import { readFileSync } from 'node:fs'
import { CALL_LIMITS } from '../client/call-limits.js'
import type { Redis } from 'ioredis'
import type { ScriptRunner } from '../loader/runner.js'
import type { ScriptCaller } from '../loader/script-caller.js'
import {
  ackRelay,
  addPartitions,
  allScripts,
  cancel,
  claimRelay,
  cleanTasks,
  complete,
  deliverOutcome,
  dependencyResults,
  deregisterNode,
  drainNode,
  enqueue,
  fail,
  getSchedule,
  getTask,
  heartbeat,
  init,
  listSchedules,
  listTasks,
  maintain,
  metrics,
  partitions,
  pauseQueue,
  pauseSchedule,
  postpone,
  refillSchedule,
  registerNode,
  release,
  removeRateLimit,
  removeSchedule,
  removeTask,
  reportProgress,
  resumeQueue,
  resumeSchedule,
  retryTask,
  setGroupConcurrency,
  setGroupWeight,
  setRateLimit,
  start,
  stats,
  taskGraph,
  upsertSchedule,
  watchDependency,
  type ClaimRelayReply,
  type DeliverOutcomeArgs,
  type EnqueueArgs,
  type InitArgs,
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

async function freshNamespace(f: Fixture, label: string, config: InitArgs = {}): Promise<Namespace> {
  const ns = f.namespace(label)
  await init(f.runner, ns, config)
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

/** `count` completed tasks (enqueued, started and completed on the node, which stays); their ids. */
async function completedTasks(f: Fixture, ns: Namespace, count: number): Promise<string[]> {
  await addNode(f, ns)
  await enqueueAll(f, ns, taskRows('t', count))
  const running = await startAll(f, ns, count)
  const perCall = CALL_LIMITS.completeResults
  await pipelined(f.runner, Math.ceil(count / perCall), (c, i) =>
    complete(c, ns, {
      nodeId: NODE,
      claim: 0,
      results: running.slice(i * perCall, (i + 1) * perCall).map(({ id, token }) => ({ id, token, result: RESULT })),
    }),
  )
  return running.map(({ id }) => id)
}

/** `count` interval schedules s0, s1, ... firing every minute, paused or not. */
async function schedules(f: Fixture, ns: Namespace, count: number, paused = false): Promise<void> {
  await pipelined(f.runner, count, (c, i) => upsertSchedule(c, ns, { id: `s${i}`, kind: 'interval', intervalMs: 60_000, paused }))
}

/**
 * A namespace of two partitions: `count` tasks of partition 0 completed, each with a waiting
 * dependent in partition 1, so that `count` outcomes wait in partition 0's outbox for relay.
 */
async function relayState(f: Fixture, count: number): Promise<{ a: Namespace; b: Namespace }> {
  const name = f.namespace('relay').name
  const a = new Namespace(name)
  const b = new Namespace(name, { index: 1, tag: `${name}/1` })
  for (const ns of [a, b]) await init(f.runner, ns, {})
  await addNode(f, a)
  const parents = taskRows('p', count)
  await enqueueAll(f, a, parents)
  const perWatch = 1000
  await pipelined(f.runner, Math.ceil(count / perWatch), (c, i) =>
    watchDependency(c, a, { partition: 1, ids: parents.slice(i * perWatch, (i + 1) * perWatch).map((p) => p.id) }),
  )
  await enqueueAll(f, b, taskRows('c', count).map((row, i) => ({ ...row, remoteDependsOn: [`0/${parents[i]!.id}`] })))
  const running = await startAll(f, a, count)
  const perCall = CALL_LIMITS.completeResults
  await pipelined(f.runner, Math.ceil(count / perCall), (c, i) =>
    complete(c, a, {
      nodeId: NODE,
      claim: 0,
      results: running.slice(i * perCall, (i + 1) * perCall).map(({ id, token }) => ({ id, token, result: RESULT })),
    }),
  )
  await heartbeat(f.runner, a, { nodeId: NODE })
  return { a, b }
}

/** Claims (unmeasured) every outcome the relay state holds. */
async function claimAll(f: Fixture, a: Namespace, count: number): Promise<ClaimRelayReply> {
  const claimed: ClaimRelayReply = []
  while (claimed.length < count) {
    const rows = await claimRelay(f.runner, a, { limit: 1000, leaseMs: 3_600_000 })
    if (rows.length === 0) throw new Error(`setup claimed ${claimed.length} of ${count} outcomes`)
    claimed.push(...rows)
  }
  return claimed
}

/** A claimed outcome as deliver-outcome takes it: claim-relay names the partition it goes to, deliver-outcome the one it comes from (0). */
function outcomeOf([, id, state, result]: ClaimRelayReply[number]): DeliverOutcomeArgs['outcomes'][number] {
  return { partition: 0, id, state, result }
}

/** Delivers (unmeasured) claimed outcomes to partition 1. */
async function deliverAll(f: Fixture, b: Namespace, claimed: ClaimRelayReply): Promise<void> {
  const perCall = 1000
  await pipelined(f.runner, Math.ceil(claimed.length / perCall), (c, i) => deliverOutcome(c, b, { outcomes: claimed.slice(i * perCall, (i + 1) * perCall).map(outcomeOf) }))
}

/** Each script's cases; every script of the manifest needs at least one (scriptsWithoutFixture). */
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
  'ack-relay': [1, BULK].map((k) => ({
    call: k === 1 ? '1 delivered outcome removed from the outbox' : `${k} delivered outcomes removed from the outbox`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const { a, b } = await relayState(f, calls * k)
      const claimed = await claimAll(f, a, calls * k)
      await deliverAll(f, b, claimed)
      return {
        kind: 'pipelined',
        call: async (c, i) => {
          const entries = claimed.slice(i * k, (i + 1) * k).map(([partition, id, , , token]) => ({ partition, id, token }))
          const removed = await ackRelay(c, a, { entries })
          if (removed !== k) throw new Error(`a measured ack-relay removed ${removed} outcomes, not ${k}`)
        },
      }
    },
  })),
  'claim-relay': [1, BULK].map((k) => ({
    call: k === 1 ? '1 outcome due for relay taken (limit 1)' : `${k} outcomes due for relay taken (limit ${k})`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const { a } = await relayState(f, calls * k)
      return {
        kind: 'pipelined',
        call: async (c) => {
          const rows = await claimRelay(c, a, { limit: k })
          if (rows.length !== k) throw new Error(`a measured claim-relay took ${rows.length} outcomes, not ${k}`)
        },
      }
    },
  })),
  'clean-tasks': [1, BULK].map((k) => ({
    call: k === 1 ? '1 completed task removed (limit 1)' : `${k} completed tasks removed (limit ${k})`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      // No count limit on completed tasks, so retention keeps every task the round cleans.
      const ns = await freshNamespace(f, 'clean', { keepCompletedCount: 0 })
      await completedTasks(f, ns, calls * k)
      return {
        kind: 'pipelined',
        call: async (c) => {
          const [removed] = await cleanTasks(c, ns, { state: 'completed', olderThanMs: 0, limit: k })
          if (removed !== k) throw new Error(`a measured clean-tasks removed ${removed} tasks, not ${k}`)
        },
      }
    },
  })),
  'deliver-outcome': [1, BULK].map((k) => ({
    call: k === 1 ? "1 outcome settling a waiting task's remote dependency" : `${k} outcomes, each settling a waiting task's remote dependency`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const { a, b } = await relayState(f, calls * k)
      const claimed = await claimAll(f, a, calls * k)
      return {
        kind: 'pipelined',
        call: async (c, i) => {
          const replies = await deliverOutcome(c, b, { outcomes: claimed.slice(i * k, (i + 1) * k).map(outcomeOf) })
          if (replies.length !== k || replies.some((reply) => reply !== 'settled')) throw new Error(`a measured deliver-outcome replied ${replies.join(',')}`)
        },
      }
    },
  })),
  'get-schedule': [
    {
      call: 'an interval schedule',
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'get-schedule')
        await schedules(f, ns, 1)
        return { kind: 'pipelined', call: (c) => getSchedule(c, ns, { id: 's0' }) }
      },
    },
  ],
  'list-schedules': [1, BULK].map((k) => ({
    call: k === 1 ? 'a page holding the only schedule' : `a page of ${k} schedules (limit ${k})`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'list-schedules')
      await schedules(f, ns, k)
      return {
        kind: 'pipelined',
        call: async (c) => {
          const page = await listSchedules(c, ns, { limit: k })
          if (page.schedules.length !== k) throw new Error(`a measured list-schedules listed ${page.schedules.length} schedules, not ${k}`)
        },
      }
    },
  })),
  'list-tasks': [1, BULK].map((k) => ({
    call: k === 1 ? 'a page of 1 of 100 ready tasks (limit 1)' : `a page of ${k} ready tasks (limit ${k})`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'list-tasks')
      await enqueueAll(f, ns, taskRows('t', BULK))
      return {
        kind: 'pipelined',
        call: async (c) => {
          const page = await listTasks(c, ns, { state: 'ready', limit: k })
          if (page.tasks.length !== k) throw new Error(`a measured list-tasks listed ${page.tasks.length} tasks, not ${k}`)
        },
      }
    },
  })),
  metrics: [
    {
      call: 'one idle node, no tasks',
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'metrics')
        await addNode(f, ns)
        return { kind: 'pipelined', call: (c) => metrics(c, ns) }
      },
    },
  ],
  'pause-queue': [
    {
      call: 'a queue paused (1 idle node, no tasks)',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'pause-queue')
        await addNode(f, ns)
        return {
          kind: 'one-by-one',
          call: (c) => pauseQueue(c, ns, { queue: 'q' }),
          after: () => resumeQueue(f.runner, ns, { queue: 'q' }),
        }
      },
    },
  ],
  'pause-schedule': [
    {
      call: 'an active interval schedule paused',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'pause-schedule')
        await schedules(f, ns, calls)
        return {
          kind: 'pipelined',
          call: async (c, i) => {
            if ((await pauseSchedule(c, ns, { id: `s${i}` })) !== 'paused') throw new Error('a measured pause-schedule paused nothing')
          },
        }
      },
    },
  ],
  postpone: [
    {
      call: 'a running task handed back for 1 s',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'postpone')
        await addNode(f, ns)
        await enqueueAll(f, ns, taskRows('t', calls))
        const running = await startAll(f, ns, calls)
        return { kind: 'pipelined', call: (c, i) => postpone(c, ns, { nodeId: NODE, id: running[i]!.id, token: running[i]!.token, delayMs: 1000 }) }
      },
    },
  ],
  'refill-schedule': [
    {
      call: 'a cron schedule with 4 times left given 16 more',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'refill')
        const first = Math.ceil(((await serverNow(f.admin)) + 3_600_000) / 60_000) * 60_000
        const minutes = (from: number, n: number): number[] => Array.from({ length: n }, (_, j) => first + (from + j) * 60_000)
        const horizon = minutes(0, 4).at(-1)!
        await pipelined(f.runner, calls, (c, i) =>
          upsertSchedule(c, ns, { id: `s${i}`, kind: 'cron', expression: '* * * * *', times: minutes(0, 4).join(',') }),
        )
        const more = minutes(4, 16).join(',')
        return {
          kind: 'pipelined',
          call: async (c, i) => {
            const reply = await refillSchedule(c, ns, { id: `s${i}`, revision: 1, horizon, times: more })
            if (reply.timesLeft !== 20) throw new Error(`a measured refill-schedule left ${reply.timesLeft} times, not 20`)
          },
        }
      },
    },
  ],
  'remove-rate-limit': [
    {
      call: "a queue's rate limit removed (1 idle node, no tasks)",
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'remove-rate-limit')
        await addNode(f, ns)
        return {
          kind: 'one-by-one',
          before: () => setRateLimit(f.runner, ns, { queue: 'q', max: 100, intervalMs: 1000 }),
          call: (c) => removeRateLimit(c, ns, { queue: 'q' }),
        }
      },
    },
  ],
  'remove-schedule': [
    {
      call: 'an active interval schedule removed',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'remove-schedule')
        await schedules(f, ns, calls)
        return { kind: 'pipelined', call: (c, i) => removeSchedule(c, ns, { id: `s${i}` }) }
      },
    },
  ],
  'remove-task': [
    {
      call: 'a completed task removed (1 idle node)',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'remove-task')
        const ids = await completedTasks(f, ns, calls)
        return { kind: 'pipelined', call: (c, i) => removeTask(c, ns, { id: ids[i]! }) }
      },
    },
  ],
  'report-progress': [
    {
      call: "a running task's progress replaced (~30 B of JSON)",
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'progress')
        await addNode(f, ns)
        await enqueueAll(f, ns, taskRows('t', 1))
        const [running] = await startAll(f, ns, 1)
        return {
          kind: 'pipelined',
          call: (c, i) => reportProgress(c, ns, { id: running!.id, token: running!.token, progress: `{"done":${i},"total":3000}` }),
        }
      },
    },
  ],
  'resume-queue': [
    {
      call: 'a paused queue resumed (1 idle node, no tasks)',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'resume-queue')
        await addNode(f, ns)
        return {
          kind: 'one-by-one',
          before: () => pauseQueue(f.runner, ns, { queue: 'q' }),
          call: (c) => resumeQueue(c, ns, { queue: 'q' }),
        }
      },
    },
  ],
  'resume-schedule': [
    {
      call: 'a paused interval schedule resumed',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'resume-schedule')
        await schedules(f, ns, calls, true)
        return {
          kind: 'pipelined',
          call: async (c, i) => {
            if ((await resumeSchedule(c, ns, { id: `s${i}` })) !== 'resumed') throw new Error('a measured resume-schedule resumed nothing')
          },
        }
      },
    },
  ],
  'retry-task': [
    {
      call: 'a dead task retried (no node registered)',
      items: 0,
      mode: 'pipelined',
      async prepare(f, calls) {
        const ns = await freshNamespace(f, 'retry')
        await addNode(f, ns)
        await enqueueAll(f, ns, taskRows('t', calls))
        const running = await startAll(f, ns, calls)
        await pipelined(f.runner, calls, (c, i) =>
          fail(c, ns, { nodeId: NODE, id: running[i]!.id, token: running[i]!.token, message: 'bench', retryable: false }),
        )
        await deregisterNode(f.runner, ns, { nodeId: NODE })
        return {
          kind: 'pipelined',
          call: async (c, i) => {
            if ((await retryTask(c, ns, { id: running[i]!.id })) !== 'ready') throw new Error('a measured retry-task did not make its task ready')
          },
        }
      },
    },
  ],
  'set-rate-limit': [
    {
      call: 'a queue limited to 100 per second (1 idle node, no tasks)',
      items: 0,
      mode: 'single',
      async prepare(f) {
        const ns = await freshNamespace(f, 'set-rate-limit')
        await addNode(f, ns)
        return {
          kind: 'one-by-one',
          call: (c) => setRateLimit(c, ns, { queue: 'q', max: 100, intervalMs: 1000 }),
          after: () => removeRateLimit(f.runner, ns, { queue: 'q' }),
        }
      },
    },
  ],
  'set-group-weight': [
    {
      call: "a group's weight set (a meta field; no tasks)",
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'set-group-weight')
        return { kind: 'pipelined', call: (c) => setGroupWeight(c, ns, { queue: 'q', group: 'tenant-a', weight: 3 }) }
      },
    },
  ],
  'set-group-concurrency': [
    {
      call: "a group's concurrency cap set (meta fields; nothing to dispatch)",
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'set-group-concurrency')
        return { kind: 'pipelined', call: (c) => setGroupConcurrency(c, ns, { queue: 'q', group: 'tenant-a', max: 5 }) }
      },
    },
  ],
  'task-graph': [1, BULK].map((k) => ({
    call: k === 1 ? 'a ready task with 1 waiting dependent' : `a ready task with ${k} waiting dependents (limit ${k})`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture): Promise<Plan> {
      const ns = await freshNamespace(f, 'task-graph')
      const [parent] = taskRows('p', 1)
      await enqueueAll(f, ns, [parent!, ...taskRows('c', k).map((row) => ({ ...row, dependsOn: [parent!.id] }))])
      return {
        kind: 'pipelined',
        call: async (c) => {
          const graph = await taskGraph(c, ns, { id: parent!.id, limit: k })
          if (graph?.children.length !== k) throw new Error(`a measured task-graph listed ${graph?.children.length} dependents, not ${k}`)
        },
      }
    },
  })),
  'upsert-schedule': [
    {
      call: 'an interval schedule created (every minute)',
      items: 0,
      mode: 'pipelined',
      async prepare(f) {
        const ns = await freshNamespace(f, 'upsert')
        return { kind: 'pipelined', call: (c, i) => upsertSchedule(c, ns, { id: `s${i}`, kind: 'interval', intervalMs: 60_000 }) }
      },
    },
  ],
  'watch-dependency': [1, BULK].map((k) => ({
    call: k === 1 ? 'another partition watches 1 pending task' : `another partition watches ${k} pending tasks`,
    items: k,
    mode: 'pipelined',
    async prepare(f: Fixture, calls: number): Promise<Plan> {
      const ns = await freshNamespace(f, 'watch')
      const parents = taskRows('p', calls * k)
      await enqueueAll(f, ns, parents)
      return {
        kind: 'pipelined',
        call: async (c, i) => {
          const replies = await watchDependency(c, ns, { partition: 1, ids: parents.slice(i * k, (i + 1) * k).map((p) => p.id) })
          if (replies.length !== k || replies.some((reply) => reply !== 'pending')) throw new Error(`a measured watch-dependency replied ${replies.join(',')}`)
        },
      }
    },
  })),
}

/**
 * The scripts of the manifest (loader/generated/manifest.json, which `npm run codegen` writes)
 * that have no case here. The bench refuses to measure table (a) while one is missing, and
 * test/readme/bench-tables.test.ts fails, so a new script cannot go unmeasured unnoticed.
 */
export function scriptsWithoutFixture(names: readonly string[] = manifestScriptNames()): string[] {
  return names.filter((name) => (CASES[name]?.length ?? 0) === 0)
}

/** Throws, naming them, when scripts of the manifest have no case in table (a). */
export function assertEveryScriptHasAFixture(): void {
  const missing = scriptsWithoutFixture([...new Set([...manifestScriptNames(), ...allScripts.map((script) => script.name)])])
  if (missing.length > 0) {
    throw new Error(`bench/script-costs.ts has no fixture for ${missing.join(', ')}: add a case for each before measuring table (a)`)
  }
}

function manifestScriptNames(): string[] {
  const manifest = JSON.parse(readFileSync(new URL('../loader/generated/manifest.json', import.meta.url), 'utf8')) as { scripts: { name: string }[] }
  return manifest.scripts.map((script) => script.name)
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
  assertEveryScriptHasAFixture()
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
      for (const scriptCase of CASES[script.name] ?? []) {
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
        `register-node, deregister-node, pause-queue, resume-queue, set-rate-limit and remove-rate-limit change a namespace-wide set, so each of their ${sizes.singleCalls.toLocaleString('en-US')} calls per round ` +
        'is measured alone, between unmeasured calls that put the namespace back; add-partitions raises a count for good, so each of its calls is measured alone, on a fresh namespace.',
      'The fixture node has a large capacity, so every enqueued task is dispatched to it; calls that only read or change nothing ' +
        '(get-task, dependency-results, stats, metrics, list-tasks, list-schedules, get-schedule, task-graph, heartbeat, maintain with nothing due, report-progress) are repeated on the same state; ' +
        'calls that change what they act on for good (cancel, complete, fail, release, postpone, remove-task, retry-task, upsert-, pause-, resume-, refill- and remove-schedule, clean-tasks, watch-dependency, the relay scripts) each get items of their own, prepared before the round.',
      `clean-tasks runs on a namespace without a count limit on completed tasks (init keepCompletedCount 0), so that retention keeps the tasks it cleans. ` +
        'The relay rows (claim-relay, deliver-outcome, ack-relay) use a namespace of two partitions: tasks of partition 0, each with a waiting dependent in partition 1, completed so that their outcomes wait in the outbox; ' +
        'deliver-outcome delivers outcomes claimed before the round, ack-relay removes outcomes claimed and delivered before it.',
    )
    return { returnOne, sizes, rows, notes }
  } finally {
    await close()
    await server.stop()
  }
}
