/**
 * The reference model of the model-based tests: what taskmill promises, written small and apart
 * from the Lua. It holds each task's state, dependencies, attempts and holder, and each node's
 * weight, capacity and queues; it is checked against the real scripts after every step.
 *
 * Three things the model cannot know in advance, and how it deals with each:
 * - **The instant of a call.** A script reads the server clock once (`now`). The model knows it
 *   lies between the server time read after the previous step and the one read after this step,
 *   and pins it exactly from anything the call stamped (heartbeat's `now`, a retry time, an
 *   assignedAt/startedAt/finishedAt/enqueuedAt or lastSeenAt that changed): all of one call's
 *   stamps must be the same instant inside that window. Every deadline the model keeps (lease
 *   expiry, run-at and retry times, a node's silence) is then exact.
 * - **Housekeeping.** A call that does housekeeping (every state-changing script but `start`,
 *   and `cancel` of a running or finished task) promotes due tasks, recovers expired leases and
 *   drops silent nodes, all at its one `now`. An event whose deadline is certainly past must
 *   happen and one certainly ahead must not; one whose deadline falls inside an unpinned window
 *   is read from the result, and the events that happened must fit a single instant.
 * - **Which node gets a task.** Dispatch is checked, not predicted: a task leaves `ready` only
 *   for a registered node that serves its queue and was seen within a third of the node
 *   timeout, with a fresh token, never past the node's capacity; no ready task is left behind
 *   while such a node has a free slot; and a task is never passed over for a later one (lower
 *   priority, or a later batch) that went to a node serving it.
 *
 * Everything else is predicted exactly and compared after every step with `get-task` of every
 * task and with `stats`: state, attempts, lost attempts, unmet dependencies, token, holder,
 * cancel flag, timestamps, result, error and reason; counts per state; each node's weight,
 * capacity, in-flight, completed, failed, queues and last heartbeat. The invariants of
 * invariants.ts are checked first, on the observation alone.
 *
 * The rules follow the scripts' documented behaviour, including the choices of issue 8: a
 * task recovered from a node before it started comes back with nothing counted; a running one
 * counts a lost attempt (not a handler attempt) and dies at the tenth; a node gets no new task
 * once silent for a third of the node timeout.
 */
import type { GetTaskReply, HeartbeatReply, MaintainReply, StartReply, StatsReply } from '../../loader/generated/scripts.js'
import { TaskmillScriptError } from '../../loader/errors.js'
import { checkInvariants } from './invariants.js'
import { ModelMismatch, TASK_STATES, type Observation, type Op, type Outcome, type RunConfig, type TaskSpec, type TaskState } from './types.js'

const FINISHED: ReadonlySet<TaskState> = new Set(['completed', 'dead', 'canceled'])
const HELD: ReadonlySet<TaskState> = new Set(['assigned', 'running'])
/** A running task lost this many times dies (lib/lifecycle MAX_LOST). */
const MAX_LOST = 10

type ErrorExpectation = { kind: 'none' } | { kind: 'message'; text: string } | { kind: 'lost'; node: string }

export interface ModelTask {
  readonly spec: TaskSpec
  /** Enqueue call that created it: tasks of an earlier batch come first at equal priority. */
  readonly batch: number
  state: TaskState
  unmet: number
  /** Dependencies counted in `unmet` and not yet settled. */
  readonly pendingParents: Set<string>
  attempts: number
  lost: number
  /** The last node it was assigned to (kept after it leaves the node). */
  node: string | undefined
  token: number
  cancelRequested: boolean
  /** Due time while delayed or retrying, lease expiry while assigned or running. */
  deadline: number
  result: string | undefined
  error: ErrorExpectation
  /** The reason a finished task gives, or its start when it ends in a detail. */
  reason: { text: string; prefix: boolean } | undefined
  enqueuedAt: number
  runAt: number
  assignedAt: number | undefined
  startedAt: number | undefined
  finishedAt: number | undefined
}

export interface ModelNode {
  readonly id: string
  weight: number
  capacity: number
  queues: string[]
  seenAt: number
  completed: number
  failed: number
}

function mismatch(message: string): never {
  throw new ModelMismatch(message)
}

/** The instant of one call, between two server-time readings until something pins it. */
class Step {
  private pinned: { at: number; by: string } | undefined
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {}

  /** The earliest and latest the call's `now` can be. */
  get bounds(): [number, number] {
    return this.pinned ? [this.pinned.at, this.pinned.at] : [this.lo, this.hi]
  }

  /** A time the call stamped: its `now`. Returns it. */
  stamp(value: number | undefined, by: string): number {
    if (value === undefined) mismatch(`${by} is missing: the call should have stamped it`)
    if (this.pinned) {
      if (this.pinned.at !== value) {
        mismatch(`one call, two instants: ${this.pinned.by} = ${this.pinned.at} but ${by} = ${value}`)
      }
      return value
    }
    if (value < this.lo || value > this.hi) {
      mismatch(`${by} = ${value} lies outside the call's time window [${this.lo}, ${this.hi}]`)
    }
    this.pinned = { at: value, by }
    return value
  }

  get now(): number {
    if (!this.pinned) mismatch('the model needs the call\'s time here, but nothing the call stamped pins it')
    return this.pinned.at
  }
}

function orderKey(task: ModelTask): [number, number] {
  return [-task.spec.priority, task.batch]
}

/** -1 when a comes strictly before b in ready order as far as the model can tell, 1 after, 0 when unknown. */
function compareOrder(a: ModelTask, b: ModelTask): number {
  const [pa, ba] = orderKey(a)
  const [pb, bb] = orderKey(b)
  if (pa !== pb) return pa < pb ? -1 : 1
  if (ba !== bb) return ba < bb ? -1 : 1
  return 0
}

function serves(node: ModelNode, queue: string): boolean {
  return node.queues.length === 0 || node.queues.includes(queue)
}

function errorCode(error: unknown): string {
  if (error instanceof TaskmillScriptError) return error.code
  return `not a taskmill error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`
}

function describeOp(op: Op): string {
  const { kind, ...rest } = op
  return `${kind} ${JSON.stringify(rest)}`
}

export class Model {
  readonly tasks = new Map<string, ModelTask>()
  readonly nodes = new Map<string, ModelNode>()
  /** A server time no later than the next call's `now`. */
  timeLo: number
  /** The last observation, for the checks that compare two in a row. */
  last: Observation | undefined
  private batches = 0
  private nextTaskNumber = 1
  /** A log of the steps so far, printed with a mismatch. */
  readonly history: string[] = []

  constructor(
    readonly config: RunConfig,
    startTime: number,
  ) {
    this.timeLo = startTime
  }

  /** A server time read after the last step: the next call's `now` is no earlier. */
  advanceClock(serverTime: number): void {
    this.timeLo = Math.max(this.timeLo, serverTime)
  }

  /** A task id never used in this run. */
  freshTaskId(): string {
    return `t${this.nextTaskNumber++}`
  }

  held(nodeId: string, state?: 'assigned' | 'running'): ModelTask[] {
    return [...this.tasks.values()]
      .filter((t) => t.node === nodeId && (state ? t.state === state : HELD.has(t.state)))
      .sort((a, b) => (a.spec.id < b.spec.id ? -1 : a.spec.id > b.spec.id ? 1 : 0))
  }

  inflight(nodeId: string): number {
    return this.held(nodeId).length
  }

  /**
   * The next deadline of a kind still ahead of the clock, as the first server time at which it
   * has passed: a lease running out, a node falling silent (`grace`: too silent to get new
   * tasks; `node`: to stay registered), a delayed or retrying task coming due.
   */
  nextDeadline(kind: 'lease' | 'node' | 'grace' | 'delay'): number | undefined {
    let best: number | undefined
    const consider = (at: number): void => {
      if (at > this.timeLo && (best === undefined || at < best)) best = at
    }
    if (kind === 'node' || kind === 'grace') {
      const after = kind === 'node' ? this.config.nodeTimeoutMs : this.config.nodeTimeoutMs / 3
      for (const node of this.nodes.values()) consider(Math.floor(node.seenAt + after) + 1)
    } else {
      const states: ReadonlySet<TaskState> = kind === 'lease' ? HELD : new Set(['delayed', 'retrying'])
      for (const task of this.tasks.values()) if (states.has(task.state)) consider(task.deadline)
    }
    return best
  }

  /**
   * Judges one step: the real system ran `op` with `outcome` and now looks like `obs`. Updates
   * the model, or throws a ModelMismatch that says what differs.
   */
  apply(op: Op, outcome: Outcome, obs: Observation): void {
    const label = describeOp(op)
    this.history.push(`${label} -> ${outcome.ok ? JSON.stringify(outcome.value, replyReplacer) : errorCode(outcome.error)}`)
    try {
      const specs = new Map(op.kind === 'enqueue' ? op.tasks.map((t) => [t.id, t]) : [])
      const known = new Set([...this.tasks.keys(), ...(outcome.ok ? specs.keys() : [])])
      checkInvariants(this.last, obs, known, (id) => (this.tasks.get(id)?.spec ?? specs.get(id))?.onDependencyFailure ?? 'fail')
      const step = new Step(this.timeLo, obs.time)
      this.pinFromChanges(step, op, obs)
      this.perform(op, outcome, obs, step)
      this.compare(obs)
    } catch (error) {
      if (error instanceof ModelMismatch) {
        error.message = `after step ${this.history.length} (${label}): ${error.message}\nsteps:\n  ${this.history.join('\n  ')}`
      }
      throw error
    }
    this.timeLo = obs.time
    this.last = obs
  }

  /** Every stamp that changed was made by this call: they all pin its `now`. */
  private pinFromChanges(step: Step, op: Op, obs: Observation): void {
    for (const [id, o] of obs.tasks) {
      if (o === null) continue
      const task = this.tasks.get(id)
      if (!task) {
        if (op.kind === 'enqueue') step.stamp(o.enqueuedAt, `${id}.enqueuedAt`)
        continue
      }
      for (const field of ['assignedAt', 'startedAt', 'finishedAt'] as const) {
        if (o[field] !== task[field]) step.stamp(o[field], `${id}.${field}`)
      }
    }
    for (const { id, lastSeenAt } of obs.stats.nodes) {
      const node = this.nodes.get(id)
      const joins = !node && op.kind === 'register' && op.node === id
      if (joins || (node && node.seenAt !== lastSeenAt)) step.stamp(lastSeenAt, `node ${id} lastSeenAt`)
    }
  }

  private perform(op: Op, outcome: Outcome, obs: Observation, step: Step): void {
    switch (op.kind) {
      case 'enqueue':
        return this.enqueue(op.tasks, outcome, obs, step)
      case 'register':
        return this.register(op, outcome, obs, step)
      case 'heartbeat':
        return this.heartbeat(op.node, outcome, obs, step)
      case 'deregister':
        return this.deregister(op.node, outcome, obs, step)
      case 'drain':
        return this.drain(op.node, outcome, obs, step)
      case 'start':
        return this.start(op.node, op.max, outcome, obs, step)
      case 'complete':
        return this.complete(op, outcome, obs, step)
      case 'fail':
        return this.fail(op, outcome, obs, step)
      case 'release':
        return this.release(op, outcome, obs, step)
      case 'cancel':
        return this.cancel(op.id, outcome, obs, step)
      case 'maintain':
        return this.maintain(outcome, obs, step)
    }
  }

  // The operations ------------------------------------------------------------------------------

  private enqueue(specs: TaskSpec[], outcome: Outcome, obs: Observation, step: Step): void {
    const unknown = specs
      .filter((spec) => !this.tasks.has(spec.id))
      .flatMap((spec) => spec.dependsOn.filter((d) => !this.tasks.has(d) && !specs.some((other) => other.id === d)))
    if (unknown.length > 0) return expectRefusal(outcome, 'TM_UNKNOWN_DEPENDENCY')
    const reply = expectOk(outcome) as string[]
    const expected = specs.map((spec) => (this.tasks.has(spec.id) ? 'exists' : 'created'))
    sameJson(reply, expected, 'enqueue reply')
    const batch = ++this.batches
    const created = specs.filter((spec) => !this.tasks.has(spec.id))
    const finished: ModelTask[] = []
    // The batch lists parents before children, which is all the model needs of its order.
    for (const spec of created) {
      const o = observed(obs, spec.id)
      const enqueuedAt = step.stamp(o.enqueuedAt, `${spec.id}.enqueuedAt`)
      const task: ModelTask = {
        spec, batch, state: 'waiting', unmet: 0, pendingParents: new Set(), attempts: 0, lost: 0,
        node: undefined, token: 0, cancelRequested: false, deadline: NaN, result: undefined,
        error: { kind: 'none' }, reason: undefined, enqueuedAt, runAt: enqueuedAt + spec.delayMs,
        assignedAt: undefined, startedAt: undefined, finishedAt: undefined,
      }
      let parentFailed = false
      for (const parentId of spec.dependsOn) {
        const parent = this.tasks.get(parentId)!
        if (parent.state === 'completed') continue
        if (parent.state === 'dead' || parent.state === 'canceled') {
          if (spec.onDependencyFailure === 'fail') parentFailed = true
          continue
        }
        task.unmet++
        task.pendingParents.add(parentId)
      }
      this.tasks.set(spec.id, task)
      if (parentFailed) {
        this.finish(task, 'dead', { text: 'dependency failed', prefix: false }, step, obs)
        finished.push(task)
      } else if (task.unmet === 0) {
        this.makeRunnable(task, step)
      }
    }
    this.settleDependents(finished, step, obs)
    this.afterChange(obs, step)
  }

  private register(op: Extract<Op, { kind: 'register' }>, outcome: Outcome, obs: Observation, step: Step): void {
    const reply = expectOk(outcome)
    const existing = this.nodes.get(op.node)
    sameJson(reply, existing ? 'updated' : 'joined', 'register-node reply')
    const node = existing ?? { id: op.node, weight: 0, capacity: 0, queues: [], seenAt: 0, completed: 0, failed: 0 }
    node.weight = op.weight
    node.capacity = op.capacity
    node.queues = [...op.queues]
    node.seenAt = step.stamp(observedNode(obs, op.node).lastSeenAt, `node ${op.node} lastSeenAt`)
    this.nodes.set(op.node, node)
    this.afterChange(obs, step)
  }

  private heartbeat(nodeId: string, outcome: Outcome, obs: Observation, step: Step): void {
    const node = this.nodes.get(nodeId)
    if (!node) return expectRefusal(outcome, 'TM_UNKNOWN_NODE')
    const reply = expectOk(outcome) as HeartbeatReply
    const now = step.stamp(reply.now, 'heartbeat now')
    node.seenAt = now
    const running = this.held(nodeId, 'running')
    const assigned = this.held(nodeId, 'assigned')
    sameJson(reply.running, running.map((t) => t.spec.id), `heartbeat of ${nodeId}: running`)
    sameJson(reply.tokens, running.map((t) => t.token), `heartbeat of ${nodeId}: tokens`)
    sameJson(reply.cancel, running.filter((t) => t.cancelRequested).map((t) => t.spec.id), `heartbeat of ${nodeId}: cancel`)
    sameJson(reply.assigned, assigned.length, `heartbeat of ${nodeId}: assigned`)
    for (const task of [...running, ...assigned]) task.deadline = now + task.spec.leaseMs
    this.afterChange(obs, step)
  }

  private deregister(nodeId: string, outcome: Outcome, obs: Observation, step: Step): void {
    if (!this.nodes.has(nodeId)) return expectRefusal(outcome, 'TM_UNKNOWN_NODE')
    const held = this.held(nodeId)
    sameJson(expectOk(outcome), held.length, `deregister-node ${nodeId} reply (tasks handed back)`)
    const finished = held.flatMap((task) => this.handBack(task, step, obs) ?? [])
    this.nodes.delete(nodeId)
    this.settleDependents(finished, step, obs)
    this.afterChange(obs, step)
  }

  /** Graceful stop: no new tasks (capacity 0), the assigned ones back to ready, the running ones kept. */
  private drain(nodeId: string, outcome: Outcome, obs: Observation, step: Step): void {
    const node = this.nodes.get(nodeId)
    if (!node) return expectRefusal(outcome, 'TM_UNKNOWN_NODE')
    const assigned = this.held(nodeId, 'assigned')
    sameJson(expectOk(outcome), assigned.length, `drain-node ${nodeId} reply (tasks handed back)`)
    node.seenAt = step.stamp(observedNode(obs, nodeId).lastSeenAt, `node ${nodeId} lastSeenAt`)
    node.capacity = 0
    const finished = assigned.flatMap((task) => this.handBack(task, step, obs) ?? [])
    this.settleDependents(finished, step, obs)
    this.afterChange(obs, step)
  }

  private start(nodeId: string, max: number, outcome: Outcome, obs: Observation, step: Step): void {
    const node = this.nodes.get(nodeId)
    if (!node) return expectRefusal(outcome, 'TM_UNKNOWN_NODE')
    const reply = expectOk(outcome) as StartReply
    node.seenAt = step.stamp(observedNode(obs, nodeId).lastSeenAt, `node ${nodeId} lastSeenAt`)
    const rows = this.claimAssigned(node, max, obs, step)
    checkRows(reply, rows, `start on ${nodeId}`)
    // start does no housekeeping and no dispatch.
  }

  private complete(op: Extract<Op, { kind: 'complete' }>, outcome: Outcome, obs: Observation, step: Step): void {
    for (const item of op.results) {
      const refusal = this.holdRefusal(op.node, item.id, item.token, ['running'])
      if (refusal) return expectRefusal(outcome, refusal)
    }
    const reply = expectOk(outcome) as StartReply
    const finished: ModelTask[] = []
    for (const item of op.results) {
      const task = this.tasks.get(item.id)!
      task.result = item.result
      task.error = { kind: 'none' }
      this.finish(task, 'completed', undefined, step, obs)
      finished.push(task)
    }
    const node = this.nodes.get(op.node)
    if (node) node.completed += op.results.length
    this.settleDependents(finished, step, obs)
    this.housekeeping(obs, step)
    let claimed: ModelTask[] = []
    let direct: { node: string; budget: number } | undefined
    const stillThere = this.nodes.get(op.node)
    if (op.claim > 0 && stillThere) {
      claimed = this.claimAssigned(stillThere, op.claim, obs, step)
      direct = { node: op.node, budget: op.claim - claimed.length }
    }
    const directStarted = this.dispatch(obs, step, direct)
    checkRows(reply.slice(0, claimed.length), claimed, `complete on ${op.node}: tasks claimed`)
    const rest = reply.slice(claimed.length)
    checkRows(
      [...rest].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
      [...directStarted].sort((a, b) => (a.spec.id < b.spec.id ? -1 : 1)),
      `complete on ${op.node}: tasks started as they were assigned`,
    )
  }

  private fail(op: Extract<Op, { kind: 'fail' }>, outcome: Outcome, obs: Observation, step: Step): void {
    const refusal = this.holdRefusal(op.node, op.id, op.token, ['running'])
    if (refusal) return expectRefusal(outcome, refusal)
    const reply = expectOk(outcome) as [string, number]
    const task = this.tasks.get(op.id)!
    const node = this.nodes.get(op.node)
    if (node) node.failed++
    task.error = { kind: 'message', text: op.message }
    const finished: ModelTask[] = []
    if (task.cancelRequested) {
      sameJson(reply, ['canceled', 0], `fail ${op.id} reply`)
      this.finish(task, 'canceled', { text: 'canceled', prefix: false }, step, obs)
      finished.push(task)
    } else if (!op.retryable) {
      sameJson(reply, ['dead', 0], `fail ${op.id} reply`)
      this.finish(task, 'dead', { text: `not retryable: ${op.message}`, prefix: false }, step, obs)
      finished.push(task)
    } else if (task.attempts >= task.spec.maxAttempts) {
      sameJson(reply, ['dead', 0], `fail ${op.id} reply`)
      const reason = `attempts exhausted (${task.attempts} of ${task.spec.maxAttempts})`
      this.finish(task, 'dead', { text: reason, prefix: false }, step, obs)
      finished.push(task)
    } else {
      const { backoff, backoffMs, backoffCapMs } = task.spec
      const wait = Math.min(backoff === 'exponential' ? backoffMs * 2 ** (task.attempts - 1) : backoffMs, backoffCapMs)
      if (reply[0] !== 'retrying') mismatch(`fail ${op.id} replied ${JSON.stringify(reply)}, the model expects a retry`)
      const now = step.stamp(reply[1] - wait, `fail ${op.id}: retryAt - backoff ${wait}`)
      task.state = 'retrying'
      task.deadline = now + wait
    }
    this.settleDependents(finished, step, obs)
    this.afterChange(obs, step)
  }

  private release(op: Extract<Op, { kind: 'release' }>, outcome: Outcome, obs: Observation, step: Step): void {
    const refusal = this.holdRefusal(op.node, op.id, op.token, ['running', 'assigned'])
    if (refusal) return expectRefusal(outcome, refusal)
    sameJson(expectOk(outcome), 'released', `release ${op.id} reply`)
    const finished = this.handBack(this.tasks.get(op.id)!, step, obs)
    this.settleDependents(finished ? [finished] : [], step, obs)
    this.afterChange(obs, step)
  }

  private cancel(id: string, outcome: Outcome, obs: Observation, step: Step): void {
    const task = this.tasks.get(id)
    if (!task) return expectRefusal(outcome, 'TM_UNKNOWN_TASK')
    const reply = expectOk(outcome)
    if (FINISHED.has(task.state)) return sameJson(reply, 'finished', `cancel ${id} reply`)
    if (task.state === 'running') {
      // Only the flag changes: no housekeeping, no dispatch.
      task.cancelRequested = true
      return sameJson(reply, 'cancel-requested', `cancel ${id} reply`)
    }
    sameJson(reply, 'canceled', `cancel ${id} reply`)
    this.finish(task, 'canceled', { text: 'canceled', prefix: false }, step, obs)
    this.settleDependents([task], step, obs)
    this.afterChange(obs, step)
  }

  private maintain(outcome: Outcome, obs: Observation, step: Step): void {
    const reply = expectOk(outcome) as MaintainReply
    // maintain runs housekeeping whether or not something is due: the same events either way.
    const fired = this.housekeeping(obs, step)
    sameJson(reply.promoted, fired.promoted, 'maintain reply: promoted')
    sameJson(reply.nodesLost, fired.nodesLost, 'maintain reply: nodesLost')
    if (reply.recovered < fired.leasesMin || reply.recovered > fired.leasesMax) {
      mismatch(`maintain reply: recovered ${reply.recovered}, the model expects ${fired.leasesMin}..${fired.leasesMax}`)
    }
    this.dispatch(obs, step, undefined)
  }

  // The rules they share -------------------------------------------------------------------------

  /** The error code a completion, failure or hand-back must get, or undefined when it holds. */
  private holdRefusal(nodeId: string, id: string, token: number, allowed: TaskState[]): string | undefined {
    const task = this.tasks.get(id)
    if (!task) return 'TM_UNKNOWN_TASK'
    if (task.node !== nodeId || task.token !== token || !allowed.includes(task.state)) return 'TM_LEASE_LOST'
    return undefined
  }

  /** Housekeeping when due, then dispatch: what every state-changing call ends with. */
  private afterChange(obs: Observation, step: Step): void {
    this.housekeeping(obs, step)
    this.dispatch(obs, step, undefined)
  }

  /** Waiting -> delayed or ready, by its run-at time. */
  private makeRunnable(task: ModelTask, step: Step): void {
    if (task.runAt > step.now) {
      task.state = 'delayed'
      task.deadline = task.runAt
    } else {
      task.state = 'ready'
      task.deadline = NaN
    }
  }

  private finish(task: ModelTask, state: 'completed' | 'dead' | 'canceled', reason: ModelTask['reason'], step: Step, obs: Observation): void {
    task.state = state
    task.reason = reason
    task.deadline = NaN
    task.finishedAt = step.stamp(observed(obs, task.spec.id).finishedAt, `${task.spec.id}.finishedAt`)
  }

  /**
   * A node gives the task back: ready again, neither an attempt nor a loss counted; a task whose
   * cancel was requested ends canceled instead. Returns it when it finished.
   */
  private handBack(task: ModelTask, step: Step, obs: Observation): ModelTask | undefined {
    if (task.state === 'running') task.attempts--
    if (task.cancelRequested) {
      this.finish(task, 'canceled', { text: 'canceled', prefix: false }, step, obs)
      return task
    }
    task.state = 'ready'
    task.deadline = NaN
    return undefined
  }

  /** Dependents of finished tasks: a completed parent counts down, a failed one kills or counts down. */
  private settleDependents(finished: ModelTask[], step: Step, obs: Observation): void {
    const queue = [...finished]
    while (queue.length > 0) {
      const parent = queue.shift()!
      const parentId = parent.spec.id
      for (const child of this.tasks.values()) {
        if (!child.pendingParents.delete(parentId)) continue
        if (child.state !== 'waiting') continue
        if (parent.state === 'completed' || child.spec.onDependencyFailure === 'run') {
          child.unmet--
          if (child.unmet <= 0) this.makeRunnable(child, step)
        } else {
          this.finish(child, 'dead', { text: 'dependency failed', prefix: false }, step, obs)
          queue.push(child)
        }
      }
    }
  }

  /**
   * Due tasks become ready, expired leases and silent nodes give their tasks back, all at the
   * call's one instant. Returns what fired, for maintain's reply.
   */
  private housekeeping(obs: Observation, step: Step): { promoted: number; nodesLost: number; leasesMin: number; leasesMax: number } {
    const [lo, hi] = step.bounds
    interface Item {
      /** The event fires when now >= threshold. */
      threshold: number
      /** Whether the result shows it fired. */
      observed: boolean
      what: string
      fired?: boolean
    }
    const nodeItems = new Map<ModelNode, Item>()
    for (const node of this.nodes.values()) {
      nodeItems.set(node, {
        threshold: node.seenAt + this.config.nodeTimeoutMs + 1,
        observed: !obs.stats.nodes.some((row) => row.id === node.id),
        what: `node ${node.id} silent since ${node.seenAt}`,
      })
    }
    const taskItems = new Map<ModelTask, Item>()
    for (const task of this.tasks.values()) {
      const o = obs.tasks.get(task.spec.id) ?? undefined
      if (task.state === 'delayed' || task.state === 'retrying') {
        const moved = o !== undefined && o.state !== task.state
        taskItems.set(task, { threshold: task.deadline, observed: moved, what: `${task.spec.id} due at ${task.deadline}` })
      } else if (HELD.has(task.state)) {
        const taken = o !== undefined && (o.state !== task.state || o.token !== task.token || o.lostAttempts > task.lost)
        taskItems.set(task, { threshold: task.deadline, observed: taken, what: `${task.spec.id} lease until ${task.deadline}` })
      }
    }
    // An event fires when now >= its threshold: certainly when the threshold is at or before the
    // window, certainly not when after it, and otherwise as observed. (A call does housekeeping
    // only when something is due; when nothing is, nothing fires either way.)
    for (const item of [...nodeItems.values(), ...taskItems.values()]) {
      item.fired = item.threshold <= lo ? true : item.threshold > hi ? false : item.observed
    }
    const silentNodes = [...nodeItems].filter(([, i]) => i.fired).map(([node]) => node)
    const silent = new Set(silentNodes.map((n) => n.id))
    const promoted: ModelTask[] = []
    const recovered = new Set<ModelTask>()
    let leasesMin = 0
    let leasesMax = 0
    for (const [task, item] of taskItems) {
      if (!HELD.has(task.state)) {
        if (item.fired) promoted.push(task)
      } else if (task.node !== undefined && silent.has(task.node)) {
        // Recovered with its node either way; whether its lease ran out too is not visible.
        recovered.add(task)
        if (task.deadline <= lo) leasesMin++
        if (task.deadline <= hi) leasesMax++
        taskItems.delete(task)
      } else if (item.fired) {
        recovered.add(task)
        leasesMin++
        leasesMax++
      }
    }
    // All of it happened at one instant: some now in [lo, hi] fires exactly these events.
    const constraints = [...nodeItems.values(), ...taskItems.values()]
    let earliest = lo
    let latest = hi
    for (const c of constraints) {
      if (c.fired) earliest = Math.max(earliest, c.threshold)
      else latest = Math.min(latest, c.threshold - 1)
    }
    if (earliest > latest) {
      const fired = constraints.filter((c) => c.fired).map((c) => c.what)
      const notFired = constraints.filter((c) => !c.fired).map((c) => c.what)
      mismatch(
        `housekeeping in [${lo}, ${hi}] fired [${fired.join('; ')}] but not [${notFired.join('; ')}]: no single instant does that`,
      )
    }

    for (const task of promoted) {
      task.state = 'ready'
      task.deadline = NaN
    }
    const finished: ModelTask[] = []
    for (const task of recovered) {
      const holder = task.node!
      if (task.state === 'assigned') {
        // It never ran: back to ready with nothing counted against it.
        task.state = 'ready'
        task.deadline = NaN
        continue
      }
      task.attempts--
      task.lost++
      task.error = { kind: 'lost', node: holder }
      if (task.cancelRequested) {
        this.finish(task, 'canceled', { text: 'canceled', prefix: false }, step, obs)
        finished.push(task)
      } else if (task.lost >= MAX_LOST) {
        this.finish(task, 'dead', { text: `lost ${MAX_LOST} times: `, prefix: true }, step, obs)
        finished.push(task)
      } else {
        task.state = 'ready'
        task.deadline = NaN
      }
    }
    for (const node of silentNodes) this.nodes.delete(node.id)
    this.settleDependents(finished, step, obs)
    return { promoted: promoted.length, nodesLost: silentNodes.length, leasesMin, leasesMax }
  }

  /** Starts up to `max` of the node's assigned tasks, in task-id order. */
  private claimAssigned(node: ModelNode, max: number, obs: Observation, step: Step): ModelTask[] {
    const started = this.held(node.id, 'assigned').slice(0, max)
    for (const task of started) this.startTask(task, obs, step)
    return started
  }

  private startTask(task: ModelTask, obs: Observation, step: Step): void {
    for (const parentId of task.spec.dependsOn) {
      const parent = this.tasks.get(parentId)!
      const settled = task.spec.onDependencyFailure === 'run' ? FINISHED.has(parent.state) : parent.state === 'completed'
      if (!settled) mismatch(`${task.spec.id} starts while its dependency ${parentId} is ${parent.state}`)
    }
    task.state = 'running'
    task.attempts++
    task.startedAt = step.stamp(observed(obs, task.spec.id).startedAt, `${task.spec.id}.startedAt`)
    task.deadline = task.startedAt + task.spec.leaseMs
  }

  /**
   * Checks the assignments the call made against the rules of dispatch and takes them into the
   * model. `direct`: the node whose own call (complete with a claim) starts what it is given, up
   * to a budget. Returns the tasks started that way.
   */
  private dispatch(obs: Observation, step: Step, direct: { node: string; budget: number } | undefined): ModelTask[] {
    const ready = [...this.tasks.values()].filter((t) => t.state === 'ready')
    // A node not seen for a third of the node timeout gets no new task (lib/nodes).
    const grace = this.config.nodeTimeoutMs / 3
    const [lo, hi] = step.bounds
    const maybeLive = (node: ModelNode): boolean => node.seenAt >= lo - grace
    const surelyLive = (node: ModelNode): boolean => node.seenAt >= hi - grace
    const given = new Map<ModelTask, ModelNode>()
    for (const task of ready) {
      const o = observed(obs, task.spec.id)
      if (o.state === 'ready') continue
      if (o.state !== 'assigned' && o.state !== 'running') {
        mismatch(`${task.spec.id} was ready before dispatch and is now ${o.state}`)
      }
      const node = o.node === undefined ? undefined : this.nodes.get(o.node)
      if (!node) mismatch(`${task.spec.id} was dispatched to ${o.node}, which is not a registered node`)
      if (!serves(node, task.spec.queue)) mismatch(`${task.spec.id} (queue ${task.spec.queue}) went to ${node.id}, which serves ${node.queues.join(',')}`)
      if (!maybeLive(node)) mismatch(`${task.spec.id} went to ${node.id}, silent since ${node.seenAt} (grace ${grace} ms, now ${lo}..${hi})`)
      given.set(task, node)
    }
    const inflight = new Map([...this.nodes.keys()].map((id) => [id, this.inflight(id)]))
    for (const node of given.values()) inflight.set(node.id, (inflight.get(node.id) ?? 0) + 1)
    for (const node of new Set(given.values())) {
      if (inflight.get(node.id)! > node.capacity) {
        mismatch(`dispatch filled ${node.id} to ${inflight.get(node.id)} tasks, its capacity is ${node.capacity}`)
      }
    }
    for (const task of ready) {
      if (given.has(task)) continue
      for (const node of this.nodes.values()) {
        if (serves(node, task.spec.queue) && surelyLive(node) && inflight.get(node.id)! < node.capacity) {
          mismatch(`${task.spec.id} (queue ${task.spec.queue}) stayed ready while ${node.id} serves it with a free slot (seen at ${node.seenAt}, now ${lo}..${hi})`)
        }
      }
      for (const [later, node] of given) {
        if (compareOrder(task, later) < 0 && serves(node, task.spec.queue)) {
          mismatch(`dispatch passed over ${task.spec.id} (priority ${task.spec.priority}) for the later ${later.spec.id} (priority ${later.spec.priority}) on ${node.id}`)
        }
      }
    }
    const directStarted: ModelTask[] = []
    const toDirect = [...given].filter(([, node]) => node.id === direct?.node).map(([task]) => task)
    if (direct) {
      const started = toDirect.filter((t) => observed(obs, t.spec.id).state === 'running')
      const expected = Math.min(direct.budget, toDirect.length)
      if (started.length !== expected) {
        mismatch(`${direct.node} was given ${toDirect.length} tasks with a claim budget of ${direct.budget}: ${expected} should start at once, ${started.length} did`)
      }
      for (const s of started) {
        for (const waiting of toDirect) {
          if (!started.includes(waiting) && compareOrder(waiting, s) < 0) {
            mismatch(`${s.spec.id} started at once on ${direct.node} ahead of the earlier ${waiting.spec.id}`)
          }
        }
      }
    }
    for (const [task, node] of given) {
      const o = observed(obs, task.spec.id)
      if (o.state === 'running' && !toDirect.includes(task)) mismatch(`${task.spec.id} was dispatched straight to running on ${node.id}, which did not claim`)
      task.state = 'assigned'
      task.node = node.id
      task.token++
      task.assignedAt = step.stamp(o.assignedAt, `${task.spec.id}.assignedAt`)
      task.deadline = task.assignedAt + task.spec.leaseMs
      if (o.state === 'running') {
        this.startTask(task, obs, step)
        directStarted.push(task)
      }
    }
    return directStarted
  }

  // The comparison ------------------------------------------------------------------------------

  private compare(obs: Observation): void {
    const counts = new Map<TaskState, number>(TASK_STATES.map((s) => [s, 0]))
    for (const task of this.tasks.values()) {
      counts.set(task.state, counts.get(task.state)! + 1)
      const id = task.spec.id
      const o = obs.tasks.get(id)
      if (o === null || o === undefined) mismatch(`${id} is gone: get-task found nothing`)
      const fields: [string, unknown, unknown][] = [
        ['state', o.state, task.state],
        ['attempts', o.attempts, task.attempts],
        ['lostAttempts', o.lostAttempts, task.lost],
        ['unmetDependencies', o.unmetDependencies, task.unmet],
        ['token', o.token ?? 0, task.token],
        ['node', o.node, task.node],
        ['cancelRequested', o.cancelRequested, task.cancelRequested ? 1 : 0],
        ['priority', o.priority, task.spec.priority],
        ['queue', o.queue, task.spec.queue],
        ['maxAttempts', o.maxAttempts, task.spec.maxAttempts],
        ['dependsOn', o.dependsOn, task.spec.dependsOn],
        ['enqueuedAt', o.enqueuedAt, task.enqueuedAt],
        ['runAt', o.runAt, task.runAt],
        ['assignedAt', o.assignedAt, task.assignedAt],
        ['startedAt', o.startedAt, task.startedAt],
        ['finishedAt', o.finishedAt, task.finishedAt],
        ['payload', o.payload.toString(), `p:${id}`],
        ['result', task.state === 'completed' ? o.result?.toString() : undefined, task.state === 'completed' ? task.result : undefined],
      ]
      for (const [name, real, model] of fields) {
        if (JSON.stringify(real) !== JSON.stringify(model)) {
          mismatch(`${id}.${name} is ${JSON.stringify(real)}, the model expects ${JSON.stringify(model)} (task is ${o.state}, model ${task.state})`)
        }
      }
      const error = o.error
      const expectedError = task.error
      const errorOk =
        expectedError.kind === 'none' ? error === undefined
        : expectedError.kind === 'message' ? error === expectedError.text
        : error === `lease expired on node ${expectedError.node}` || error === `node ${expectedError.node} stopped sending heartbeats`
      if (!errorOk) mismatch(`${id}.error is ${JSON.stringify(error)}, the model expects ${JSON.stringify(expectedError)}`)
      const reason = o.reason
      const expectedReason = task.reason
      const reasonOk =
        expectedReason === undefined ? reason === undefined
        : expectedReason.prefix ? reason?.startsWith(expectedReason.text) === true
        : reason === expectedReason.text
      if (!reasonOk) mismatch(`${id}.reason is ${JSON.stringify(reason)}, the model expects ${JSON.stringify(expectedReason)}`)
    }
    for (const state of TASK_STATES) {
      if (obs.stats[state] !== counts.get(state)) {
        mismatch(`stats counts ${obs.stats[state]} ${state}, the model ${counts.get(state)}`)
      }
    }
    const rows = obs.stats.nodes.map(({ id, weight, capacity, inflight, completed, failed, lastSeenAt, queues }) => ({
      id, weight, capacity, inflight, completed, failed, lastSeenAt, queues,
    }))
    const expected = [...this.nodes.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((n) => ({
        id: n.id, weight: n.weight, capacity: n.capacity, inflight: this.inflight(n.id), completed: n.completed,
        failed: n.failed, lastSeenAt: n.seenAt, queues: n.queues.join(','),
      }))
    sameJson(rows, expected, 'stats nodes')
  }
}

function observed(obs: Observation, id: string): NonNullable<GetTaskReply> {
  const o = obs.tasks.get(id)
  if (o === null || o === undefined) mismatch(`${id} is gone: get-task found nothing`)
  return o
}

function observedNode(obs: Observation, id: string): StatsReply['nodes'][number] {
  const row = obs.stats.nodes.find((r) => r.id === id)
  if (!row) mismatch(`node ${id} is not in stats`)
  return row
}

function expectOk(outcome: Outcome): unknown {
  if (!outcome.ok) mismatch(`the call was refused (${errorCode(outcome.error)}), the model expects it to succeed`)
  return outcome.value
}

function expectRefusal(outcome: Outcome, code: string): void {
  if (outcome.ok) mismatch(`the call succeeded (${JSON.stringify(outcome.value, replyReplacer)}), the model expects ${code}`)
  const actual = errorCode(outcome.error)
  if (actual !== code) mismatch(`the call was refused with ${actual}, the model expects ${code}`)
}

function sameJson(real: unknown, model: unknown, what: string): void {
  const a = JSON.stringify(real, replyReplacer)
  const b = JSON.stringify(model, replyReplacer)
  if (a !== b) mismatch(`${what} is ${a}, the model expects ${b}`)
}

/** Rows of start (and of complete's claim): id, token, attempt, payload, queue. */
function checkRows(reply: StartReply, tasks: ModelTask[], what: string): void {
  const ids = reply.map((row) => row[0])
  if (new Set(ids).size !== ids.length) mismatch(`${what}: a task is listed twice: ${ids.join(',')}`)
  sameJson(
    reply.map(([id, token, attempt, payload, queue]) => [id, token, attempt, payload.toString(), queue]),
    tasks.map((t) => [t.spec.id, t.token, t.attempts, `p:${t.spec.id}`, t.spec.queue]),
    what,
  )
}

/** Buffers print as text in replies and messages. */
function replyReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString()
  }
  return value
}
