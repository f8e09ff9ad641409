/**
 * A worker node: registers with a weight and a capacity, waits on its own wake channel until
 * dispatch assigns it work, starts what it was assigned, runs the handler, and reports back. Completions
 * that finish close together go out as one batch, and the same call starts the node's next
 * tasks, so a busy node needs about one round trip per batch.
 *
 * Its heartbeat keeps its leases alive and tells it which tasks it no longer holds (lease lost:
 * the handler's signal aborts and its result is dropped) or that were canceled (the signal
 * aborts and the task ends canceled). A heartbeat also runs the namespace's housekeeping when
 * something is due; when the script says more is pending, the worker keeps going. One node
 * of the namespace holds its timer: the heartbeat tells that node alone when housekeeping
 * falls due next, and it wakes then.
 *
 * A graceful stop drains the node first (`drain-node`: it is given nothing new, and a task it
 * hands back goes to another node), and keeps the heartbeat going while handlers finish, so
 * the node is not declared lost and its tasks are not run a second time elsewhere.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  complete,
  dependencyResults,
  deregisterNode,
  drainNode,
  fail,
  heartbeat,
  maintain,
  registerNode,
  release,
  start,
  type StartReply,
} from '../loader/generated/scripts.js'
import { LeaseLostError, UnknownNodeError } from '../loader/generated/errors.js'
import { open, type Connection, type Opened } from './connection.js'
import { subscribeToWakeups, type Wakeups } from './wakeups.js'

export interface TaskContext {
  readonly id: string
  /** 1 for the first attempt; lost attempts (crashed nodes) are not counted. */
  readonly attempt: number
  /** The fencing token of this assignment. */
  readonly token: number
  readonly payload: Buffer
  readonly queue: string
  /** Results of the task's dependencies, by id (null for a dependency that did not complete). */
  dependencyResults(): Promise<Map<string, Buffer | null>>
}

/** Returns the task's result (stored byte for byte), or throws to fail the attempt. */
export type TaskHandler = (task: TaskContext, signal: AbortSignal) => Promise<string | Buffer | void>

/** Throw this from a handler when retrying cannot help: the task dies at once. */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError'
}

/** Why a handler's signal aborted. */
export type AbortReason = 'canceled' | 'lease-lost' | 'timeout' | 'shutdown'

export interface WorkerOptions {
  /** Where Redis is. */
  connection: Connection
  /** The scheduler's namespace. */
  namespace: string
  handler: TaskHandler
  /** The node id, unique among live nodes. Default: `<hostname>-<pid>-<random>`. */
  nodeId?: string
  /** The node's share of tasks relative to other nodes. Default: 1. */
  weight?: number
  /** Most tasks the node holds at once. Default: 10. */
  capacity?: number
  /** Queues the node serves. Default: every queue. */
  queues?: string[]
  /** How often the node reports in, in ms; keep it well below the namespace's nodeTimeoutMs. Default: 1000. */
  heartbeatIntervalMs?: number
  /** Abort a handler after this many ms and fail the attempt with a timeout. Default: 0 (no limit). */
  taskTimeoutMs?: number
  /** Called with errors the worker recovers from by itself (a lost connection, a lost lease). Default: console.error. */
  onError?: (error: unknown) => void
}

interface RunningTask {
  readonly token: number
  readonly controller: AbortController
  /** Stops waiting for the handler (which may ignore its signal); set while it runs. */
  stopWaiting?: (reason: AbortReason) => void
}

interface PendingResult {
  id: string
  token: number
  result: string | Buffer
}

/** Completion calls a worker keeps in flight at once (see scheduleFlush). */
const MAX_FLUSHES_IN_FLIGHT = 2

/** Most housekeeping rounds one heartbeat runs back to back when the scripts report more. */
const MAX_MAINTENANCE_ROUNDS = 100

export class Worker {
  readonly nodeId: string
  private readonly options: WorkerOptions
  private readonly capacity: number
  private connection!: Opened
  private wakeups!: Wakeups
  private readonly running = new Map<string, RunningTask>()
  private pendingResults: PendingResult[] = []
  /** Completion calls in flight; stop() waits for them. */
  private readonly flushes = new Set<Promise<void>>()
  private heartbeatTimer: NodeJS.Timeout | undefined
  /** Set while this node holds the namespace's timer and something falls due. */
  private dueTimer: NodeJS.Timeout | undefined
  /** Server clock minus this process's clock, from the last heartbeat: due times are server times. */
  private clockOffset = 0
  private stopping = false
  private stopped = false
  /** A claim is running; `claimAgain` asks it to run once more when it ends. */
  private claiming: Promise<void> | undefined
  private claimAgain = false

  private constructor(options: WorkerOptions) {
    this.options = options
    this.capacity = options.capacity ?? 10
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  }

  /** Connects, registers the node and starts taking tasks. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const worker = new Worker(options)
    await worker.begin()
    return worker
  }

  /** Tasks this node is running now. */
  get inFlight(): number {
    return this.running.size
  }

  private async begin(): Promise<void> {
    this.connection = await open(this.options.connection, this.options.namespace)
    // Subscribe before registering, so a wake-up caused by registration is not missed.
    this.wakeups = await subscribeToWakeups(this.connection.redis, this.connection.namespace, this.nodeId, {
      onWork: () => void this.claim(),
      onDue: () => void this.beat(),
    })
    await this.register()
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatIntervalMs ?? 1000)
    await this.claim()
    await this.beat()
  }

  private async register(): Promise<void> {
    await registerNode(this.connection.runner, this.connection.namespace, {
      nodeId: this.nodeId,
      weight: this.options.weight,
      capacity: this.capacity,
      queues: this.options.queues ?? [],
    })
  }

  private report(error: unknown): void {
    ;(this.options.onError ?? ((e: unknown) => console.error(`taskmill worker ${this.nodeId}:`, e)))(error)
  }

  /** The Redis server's clock as this process best knows it, so a skewed local clock cannot make the worker wake too early or too late. */
  private serverNow(): number {
    return Date.now() + this.clockOffset
  }

  /** Starts what dispatch assigned to this node; wake-ups that arrive meanwhile run it once more. */
  private claim(): Promise<void> {
    if (this.claiming) {
      this.claimAgain = true
      return this.claiming
    }
    this.claiming = (async () => {
      do {
        this.claimAgain = false
        await this.claimOnce()
      } while (this.claimAgain && !this.stopping)
    })().finally(() => {
      this.claiming = undefined
    })
    return this.claiming
  }

  private async claimOnce(): Promise<void> {
    if (this.stopping) return
    try {
      const started = await start(this.connection.runner, this.connection.namespace, {
        nodeId: this.nodeId,
        max: this.capacity,
      })
      this.run(started)
    } catch (error) {
      if (error instanceof UnknownNodeError) return this.reRegister()
      this.report(error)
    }
  }

  private run(started: StartReply): void {
    for (const [id, token, attempt, payload, queue] of started) {
      const controller = new AbortController()
      const entry: RunningTask = { token, controller }
      this.running.set(id, entry)
      // execute() settles every outcome itself and never rejects.
      void this.execute({ id, token, attempt, payload, queue }, entry)
    }
  }

  private async execute(
    task: { id: string; token: number; attempt: number; payload: Buffer; queue: string },
    entry: RunningTask,
  ): Promise<void> {
    const controller = entry.controller
    const { runner, namespace } = this.connection
    const context: TaskContext = {
      ...task,
      dependencyResults: async () => {
        const rows = await dependencyResults(runner, namespace, { id: task.id })
        return new Map(rows.map(([id, , result]) => [id, result]))
      },
    }
    const timeoutMs = this.options.taskTimeoutMs ?? 0
    const timer = timeoutMs > 0 ? setTimeout(() => abortTask(entry, 'timeout'), timeoutMs) : undefined
    let outcome: { ok: true; result: string | Buffer } | { ok: false; message: string; retryable: boolean }
    try {
      // Only this worker aborts a task (abortTask), so it can stop waiting directly instead of
      // listening on every signal: a listener per task is measurable at thousands of tasks/s.
      const result = await new Promise<string | Buffer | void>((resolve, reject) => {
        entry.stopWaiting = (reason) => reject(new Error(reason))
        Promise.resolve(this.options.handler(context, controller.signal)).then(resolve, reject)
      })
      outcome = { ok: true, result: result ?? '' }
    } catch (error) {
      const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined
      outcome = {
        ok: false,
        message: reason === 'timeout' ? `timed out after ${timeoutMs} ms` : describe(error),
        retryable: !(error instanceof NonRetryableError),
      }
    } finally {
      if (timer) clearTimeout(timer)
    }
    const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined
    // The task was taken away (lease lost) or handed back: whatever the handler produced is not wanted.
    if (reason === 'lease-lost' || reason === 'shutdown') {
      this.running.delete(task.id)
      return
    }
    if (outcome.ok) {
      this.pendingResults.push({ id: task.id, token: task.token, result: outcome.result })
      this.scheduleFlush()
      return
    }
    try {
      await fail(runner, namespace, {
        nodeId: this.nodeId,
        id: task.id,
        token: task.token,
        message: reason === 'canceled' ? 'canceled while running' : outcome.message,
        retryable: outcome.retryable,
      })
    } catch (error) {
      if (!(error instanceof LeaseLostError)) this.report(error)
    } finally {
      this.running.delete(task.id)
    }
  }

  /**
   * Completions that finish close together go out as one call. Up to two calls are in flight
   * at once, each carrying at most half the node's capacity, so while one batch's reply
   * travels the other half of the slots is already being reported and refilled: a node of
   * quick tasks is not left idle for a round trip per batch.
   */
  private scheduleFlush(): void {
    if (this.flushes.size >= MAX_FLUSHES_IN_FLIGHT || this.scheduled) return
    this.scheduled = true
    const flush: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        this.scheduled = false
        return this.flush()
      })
      .finally(() => {
        this.flushes.delete(flush)
        if (this.pendingResults.length > 0) this.scheduleFlush()
      })
    this.flushes.add(flush)
  }

  private scheduled = false

  private async waitForFlushes(): Promise<void> {
    while (this.flushes.size > 0) await Promise.all([...this.flushes])
  }

  /** Sends the completions gathered so far in one call, which also starts the node's next tasks. */
  private async flush(): Promise<void> {
    const batch = this.pendingResults.splice(0, Math.max(1, Math.ceil(this.capacity / MAX_FLUSHES_IN_FLIGHT)))
    if (this.pendingResults.length > 0) this.scheduleFlush()
    if (batch.length === 0) return
    const { runner, namespace } = this.connection
    try {
      const started = await complete(runner, namespace, {
        nodeId: this.nodeId,
        claim: this.stopping ? 0 : this.capacity,
        results: batch,
      })
      for (const item of batch) this.running.delete(item.id)
      this.run(started)
    } catch (error) {
      if (error instanceof LeaseLostError && batch.length > 1) {
        // One stale task rejects the whole atomic batch: complete them one by one instead.
        for (const item of batch) {
          await complete(runner, namespace, { nodeId: this.nodeId, claim: 0, results: [item] }).catch((e: unknown) => {
            if (!(e instanceof LeaseLostError)) this.report(e)
          })
          this.running.delete(item.id)
        }
        await this.claim()
        return
      }
      if (!(error instanceof LeaseLostError)) this.report(error)
      for (const item of batch) this.running.delete(item.id)
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return
    const { runner, namespace } = this.connection
    try {
      const reply = await heartbeat(runner, namespace, { nodeId: this.nodeId })
      this.clockOffset = reply.now - Date.now()
      this.setDueTimer(reply.nextDueAt)
      const held = new Map(reply.running.map((id, i) => [id, reply.tokens[i]]))
      // Replies on one connection come back in order, so every task in `running` now was
      // started before this heartbeat ran: one missing from the reply, or held under another
      // token, was taken back (lease expired, node dropped) and its result is not wanted.
      for (const [id, task] of this.running) {
        if (held.get(id) !== task.token) abortTask(task, 'lease-lost')
      }
      for (const id of reply.cancel) {
        const task = this.running.get(id)
        if (task) abortTask(task, 'canceled')
      }
      if (reply.assigned > 0) await this.claim()
      let more = reply.more
      for (let round = 0; more === 1 && round < MAX_MAINTENANCE_ROUNDS && !this.stopping; round++) {
        more = (await maintain(runner, namespace, { limit: 1000 })).more
      }
    } catch (error) {
      if (error instanceof UnknownNodeError) return this.reRegister()
      if (!this.stopping) this.report(error)
    }
  }

  /** The timer node sleeps until the next due time (a server time) and then reports in. */
  private setDueTimer(dueAt: number): void {
    clearTimeout(this.dueTimer)
    this.dueTimer = undefined
    if (dueAt <= 0 || this.stopping) return
    const interval = this.options.heartbeatIntervalMs ?? 1000
    const wait = dueAt - this.serverNow()
    // The regular heartbeat comes sooner: it will run the housekeeping then.
    if (wait >= interval) return
    this.dueTimer = setTimeout(() => void this.beat(), Math.max(1, wait))
  }

  private async reRegister(): Promise<void> {
    // Dropped for silence (e.g. a long pause): whatever it held went back to ready, so every
    // task it still runs has lost its lease.
    for (const task of this.running.values()) abortTask(task, 'lease-lost')
    if (this.stopping) return
    await this.register().catch((error: unknown) => this.report(error))
  }

  /**
   * Stops taking tasks: the node is drained (given nothing new; its tasks not yet started go
   * to other nodes), running handlers get up to `timeoutMs` (default 30,000) to finish while
   * the heartbeat goes on, what is still running then is handed back (it runs again elsewhere
   * without using an attempt), and the node leaves the rotation.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    clearTimeout(this.dueTimer)
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    await this.wakeups.close()
    const { runner, namespace } = this.connection
    // A start in flight may still bring tasks; they are waited for like the others.
    await this.claiming
    await drainNode(runner, namespace, { nodeId: this.nodeId }).catch((error: unknown) => {
      if (!(error instanceof UnknownNodeError)) this.report(error)
    })
    // `running` holds a task until Redis has its outcome, so this also waits for completions.
    // It polls: waiting on the handlers' promises would spin once they have all returned and
    // their results wait for a flush, which needs the event loop.
    while (this.running.size > 0 && Date.now() < deadline) await sleep(10)
    await this.waitForFlushes()
    clearInterval(this.heartbeatTimer)
    this.stopped = true
    for (const [id, task] of this.running) {
      abortTask(task, 'shutdown')
      await release(runner, namespace, { nodeId: this.nodeId, id, token: task.token }).catch(() => undefined)
    }
    this.running.clear()
    await deregisterNode(runner, namespace, { nodeId: this.nodeId }).catch((error: unknown) => {
      if (!(error instanceof UnknownNodeError)) this.report(error)
    })
    await this.connection.close()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}

/** Fires the handler's signal and stops waiting for a handler that ignores it. */
function abortTask(task: RunningTask, reason: AbortReason): void {
  if (task.controller.signal.aborted) return
  task.controller.abort(reason)
  task.stopWaiting?.(reason)
}
