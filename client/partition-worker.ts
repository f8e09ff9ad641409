/**
 * One partition's side of a worker node: the node registered in that partition, its tasks
 * there, its heartbeat there. The Worker (worker.ts) runs one of these per partition of the
 * namespace, on one connection, and moves the node's slots between them.
 *
 * In each partition the node waits on its own wake channel until dispatch assigns it work,
 * starts what it was assigned, runs the handler, and reports back. Completions that finish
 * close together go out as one batch, and the same call starts the node's next tasks, so a
 * busy node needs about one round trip per batch.
 *
 * Its heartbeat keeps its leases alive and tells it which tasks it no longer holds (lease lost:
 * the handler's signal aborts and its result is dropped) or that were canceled (the signal
 * aborts and the task ends canceled). A heartbeat also runs the partition's housekeeping when
 * something is due; when the script says more is pending, the worker keeps going. One node
 * of each partition holds its timer: the heartbeat tells that node alone when housekeeping
 * falls due next, and it wakes then.
 *
 * The worker reconciles with Redis, so that no task stays `running` on a node that does not run
 * it (the heartbeat would renew its lease for as long as the node lives):
 * - A completion or failure that Redis did not take for a passing reason (Redis unreachable or
 *   restarting, out of memory, a permission missing) is sent again with a growing pause, for
 *   as long as the node holds the task; the result is kept meanwhile.
 * - A completion refused for good (a result over the cap, say) fails that task, not retryable,
 *   with the refusal as its error; one bad result in a batch does not hold up the others,
 *   which are completed one by one.
 * - A task the heartbeat says the node runs and the worker does not (started by a call whose
 *   reply was lost, or by an earlier process with the same node id) is handed back with
 *   `release`, once two heartbeats in a row have said so: the second is sent after the first
 *   reply was read, so every call that could have started the task has been answered by then.
 *
 * A graceful stop drains the node first (`drain-node`: it is given nothing new, and a task it
 * hands back goes to another node), and keeps the heartbeat going while handlers finish, so
 * the node is not declared lost and its tasks are not run a second time elsewhere.
 */
import {
  complete,
  dependencyResults,
  deregisterNode,
  drainNode,
  fail,
  heartbeat,
  maintain,
  postpone,
  registerNode,
  release,
  reportProgress,
  start,
  type CompleteArgs,
  type StartReply,
} from '../loader/generated/scripts.js'
import { refillSchedules } from './schedules.js'
import { LeaseLostError, UnknownNodeError, UnknownTaskError } from '../loader/generated/errors.js'
import {
  ReplicationTimeoutError,
  RedisOutOfMemoryError,
  RedisPermissionError,
  RedisUnavailableError,
  ScriptLoadError,
} from '../loader/errors.js'
import type { Namespace } from '../loader/keys.js'
import type { ScriptRunner } from '../loader/runner.js'
import type { Connection } from './connection.js'
import { CALL_LIMITS } from './call-limits.js'
import { relayOnce } from './relay.js'
import { decodeJson, encodeBytes, encodeJson } from './payloads.js'
import type { Wakeups } from './wakeups.js'

/** A task as its handler gets it; `Data` is the payload's type with `json: true`. */
export interface TaskContext<Data = Buffer> {
  readonly id: string
  /** 1 for the first attempt; lost attempts (crashed nodes) are not counted. */
  readonly attempt: number
  /** The fencing token of this assignment. */
  readonly token: number
  /** The payload's bytes, as stored. */
  readonly payload: Buffer
  /** With `json: true` the payload parsed (undefined for an empty one); otherwise `payload` itself. */
  readonly data: Data
  readonly queue: string
  /** Results of the task's dependencies, by id (null for a dependency that did not complete), as stored. */
  dependencyResults(): Promise<Map<string, Buffer | null>>
  /**
   * Reports the task's progress: a string is sent as it is, anything else as its JSON text (a
   * number as its JSON, `0.5`), at most 4,096 bytes. It replaces the progress reported before,
   * is shown by `Scheduler.getTask` (`progress`, as sent) and goes on the event stream as a
   * `progress` event. Resolves once stored; a call Redis did not take for a passing reason is
   * sent again while the node holds the task. Rejects with `LeaseLostError` (or
   * `UnknownTaskError`) once the node no longer holds the task, with `BadArgumentError` for an
   * empty or oversize value and a TypeError for a value JSON cannot spell. A rejection nobody
   * awaits is not an unhandled one: the worker goes on either way.
   */
  progress(value: number | string | boolean | object | null): Promise<void>
}

/**
 * Returns the task's result, or throws to fail the attempt. The result is a string (stored as
 * UTF-8) or a Buffer, stored byte for byte, or nothing; anything else fails the task, not
 * retryable. With `json: true`, any value `JSON.stringify` accepts, stored as its JSON text.
 */
export type TaskHandler<Data = Buffer, Result = string | Buffer | void> = (task: TaskContext<Data>, signal: AbortSignal) => Promise<Result>

/** Throw this from a handler when retrying cannot help: the task dies at once. */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError'
}

/**
 * Throw this from a handler when the remote service it calls said "rate limited, retry after":
 * the task goes back to wait `retryAfterMs` (on the Redis server's clock) and runs again then,
 * and the attempt it was on is not counted.
 */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError'
  /** How long the task waits before it is ready again, in ms: 0 to 86,400,000. */
  readonly retryAfterMs: number
  constructor(retryAfterMs: number, message = `rate limited: retry after ${retryAfterMs} ms`) {
    super(message)
    if (!Number.isInteger(retryAfterMs) || retryAfterMs < 0 || retryAfterMs > 86_400_000) {
      throw new RangeError(`retryAfterMs must be an integer from 0 to 86400000, got ${retryAfterMs}`)
    }
    this.retryAfterMs = retryAfterMs
  }
}

/** Why a handler's signal aborted. */
export type AbortReason = 'canceled' | 'lease-lost' | 'timeout' | 'shutdown'

/** `Payload` and `Result` are the handler's types: with `json: true`, the ones given to `Worker.start`. */
export interface WorkerOptions<Payload = Buffer, Result = string | Buffer | void> {
  /** Where Redis is. */
  connection: Connection
  /**
   * The scheduler's namespace. One that does not exist yet is created with the defaults, as
   * `Scheduler.open` without a config does; a Scheduler opened later with a config sets it.
   */
  namespace: string
  handler: TaskHandler<Payload, Result>
  /**
   * Payloads and results are JSON, as a Scheduler opened with `json: true` writes them: the
   * handler gets the payload parsed as `task.data`, and what it returns is stored as its JSON
   * text. A payload that is not JSON fails its task, not retryable. Default: false.
   */
  json?: boolean
  /** The node id, unique among live nodes. Default: `<hostname>-<pid>-<random>`. */
  nodeId?: string
  /** The node's share of tasks relative to other nodes. Default: 1. */
  weight?: number
  /** Most tasks the node holds at once. Default: 10. */
  capacity?: number
  /** Queues the node serves. Default: every queue. */
  queues?: string[]
  /**
   * Make each completion call return only once this many replicas hold it (Redis `WAIT`), so a
   * failover to one of them keeps it. Fewer in time: the completion stands on the primary (a
   * failover to a replica without it would run the task again), and `onError` gets a
   * ReplicationTimeoutError. See docs/reliability.md. Default: none.
   */
  waitForReplicas?: { replicas: number; timeoutMs: number }
  /**
   * Partitions of the namespace the node serves, by index; one not created yet is served once
   * it is. Default: every partition, those added later included.
   */
  partitions?: number[]
  /**
   * How often the node reports in, in ms. Keep it below a third of the namespace's nodeTimeoutMs:
   * a node not seen for that long gets no new tasks until it reports in again. Default: 1000.
   */
  heartbeatIntervalMs?: number
  /** Abort a handler after this many ms and fail the attempt with a timeout. Default: 0 (no limit). */
  taskTimeoutMs?: number
  /**
   * How long `stop()` lets running handlers finish before it hands their tasks back (they run
   * again elsewhere without using an attempt), in ms. Under a process manager, keep it a few
   * seconds below the time the manager waits before it kills the process. Default: 30000.
   */
  stopTimeoutMs?: number
  /**
   * Stop gracefully on SIGINT or SIGTERM, as a process manager or Ctrl-C asks: the first signal
   * calls `stop()`, and once the stop is done the Worker's listeners are removed, so the process
   * ends when nothing else holds it open (the Worker never calls `process.exit`). A second
   * signal during the stop ends the process at once, as it would without the listeners.
   * Default: false (signals are left to the application).
   */
  handleSignals?: boolean
  /**
   * Called with errors the worker recovers from by itself: a call that failed and is retried
   * (Redis unreachable, out of memory), a result Redis refused, a lost connection, and a
   * `LeaseLostError` when a result or failure arrived after the task was taken from this node
   * (it ran again elsewhere or was canceled; the late outcome was dropped). Default: console.error.
   */
  onError?: (error: unknown) => void
  /**
   * Open even when Redis runs with an evicting `maxmemory-policy` (`allkeys-lru`, `allkeys-lfu`,
   * `allkeys-random`), which can delete taskmill's keys and with them tasks; or when the policy
   * cannot be read (the ACL user may run neither INFO nor CONFIG GET). Without it, such a Redis
   * is refused with a RedisEvictionPolicyError. Default: false.
   */
  allowEvictingPolicy?: boolean
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

/** Outcomes one relay round carries. */
const RELAY_LIMIT = 100

/** Completion calls a worker keeps in flight at once (see scheduleFlush). */
const MAX_FLUSHES_IN_FLIGHT = 2

/** Most housekeeping rounds one heartbeat runs back to back when the scripts report more. */
const MAX_MAINTENANCE_ROUNDS = 100

/** The pause before a call that failed for a passing reason is sent again; it doubles up to the second value. */
const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 2000

/** A handler's error message is kept at most this long (the fail script takes 65,536 bytes). */
const MESSAGE_MAX_CHARS = 16_000

/** What one heartbeat in a partition saw: the node's tasks there, and the tasks waiting for a slot. */
export interface PartitionLoad {
  /** Tasks the partition has assigned to this node or has running on it. */
  inflight: number
  /** Ready tasks of the partition, waiting for a node with a free slot. */
  ready: number
  /** The node's capacity in the partition had been written before the heartbeat was sent. */
  capacityConfirmed: number
}

/**
 * The options as the Worker runs them, whatever the handler's types: a handler of any payload
 * type takes `never`, and its result is checked when it returns (see encodeResult).
 */
export type RunOptions = WorkerOptions<never, unknown>

export class PartitionWorker {
  private readonly connection: { runner: ScriptRunner; namespace: Namespace }
  /** The node's slots in this partition: the Worker moves them to where tasks wait. */
  private capacity: number
  /** Counts the capacity writes; a heartbeat sent after the last one confirms it (see PartitionLoad). */
  private capacityWrites = 0
  /** A capacity write is on its way: a heartbeat overlapping it proves nothing about the figure in force. */
  private capacityWriting = false
  private readonly running = new Map<string, RunningTask>()
  private pendingResults: PendingResult[] = []
  /** Completion calls in flight; stop() waits for them. */
  private readonly flushes = new Set<Promise<void>>()
  /** Set while this node holds the namespace's timer and something falls due. */
  private dueTimer: NodeJS.Timeout | undefined
  /** Server clock minus this process's clock, from the last heartbeat: due times are server times. */
  private clockOffset = 0
  private stopping = false
  private stopped = false
  /** A claim is running; `claimAgain` asks it to run once more when it ends. */
  private claiming: Promise<void> | undefined
  private claimAgain = false
  /** Set when stop() stops waiting: calls that are being retried give up. */
  private abandoned = false
  /** Tasks the last heartbeat said this node runs and the worker does not, with their tokens. */
  private strays = new Map<string, number>()
  /** Tasks being handed back by reconciliation. */
  private readonly releasing = new Set<string>()

  constructor(
    private readonly options: RunOptions,
    readonly nodeId: string,
    runner: ScriptRunner,
    readonly partition: Namespace,
    capacity: number,
    /** Every partition of the namespace, served or not: outcomes are relayed to any of them. */
    private readonly allPartitions: () => readonly Namespace[],
  ) {
    this.connection = { runner, namespace: partition }
    this.capacity = capacity
  }

  /** Tasks this node is running in this partition now. */
  get inFlight(): number {
    return this.running.size
  }

  get slots(): number {
    return this.capacity
  }

  /** Registers the node in the partition and starts taking its tasks. */
  async begin(wakeups: Wakeups): Promise<void> {
    // Subscribe before registering, so a wake-up caused by registration is not missed.
    await wakeups.add(this.partition, {
      onWork: () => void this.claim(),
      onDue: () => void this.beat(),
    })
    await this.register()
    await this.claim()
    await this.beat()
  }

  /**
   * Gives the node `capacity` slots in this partition. Lowered, the partition assigns nothing
   * new until the node holds fewer tasks than that; what it holds meanwhile is reported by the
   * next heartbeat, whose `capacityConfirmed` says the new figure was in force when it was sent.
   */
  async setCapacity(capacity: number): Promise<void> {
    if (capacity === this.capacity) return
    const previous = this.capacity
    this.capacity = capacity
    this.capacityWriting = true
    try {
      await this.register()
    } catch (error) {
      // The write may or may not have got through (a reply lost): the larger of the two
      // figures bounds what the partition may assign, so it stands until a write succeeds.
      this.capacity = Math.max(previous, capacity)
      throw error
    } finally {
      this.capacityWriting = false
      this.capacityWrites++
    }
    if (capacity > 0) void this.claim()
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

  /** A late outcome of a task this node no longer holds: worth telling, nothing to retry. */
  private reportLostLease(error: unknown): void {
    if (error instanceof LeaseLostError) this.report(error)
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
      // Everything assigned to the node starts, a call's worth at a time: a task assigned
      // before its slots were lowered must still start.
      const max = CALL_LIMITS.startMax
      for (;;) {
        const started = await start(this.connection.runner, this.connection.namespace, { nodeId: this.nodeId, max })
        this.run(started)
        if (started.length < max || this.stopping) break
      }
    } catch (error) {
      // A start whose reply was lost may have started tasks: the heartbeat hands them back.
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
    const json = this.options.json === true
    const timeoutMs = this.options.taskTimeoutMs ?? 0
    const timer = timeoutMs > 0 ? setTimeout(() => abortTask(entry, 'timeout'), timeoutMs) : undefined
    let outcome:
      | { ok: true; result: string | Buffer }
      | { ok: false; message: string; retryable: boolean; retryAfterMs?: number }
    try {
      const context: TaskContext<unknown> = {
        ...task,
        data: json ? decodePayload(task.payload) : task.payload,
        dependencyResults: async () => {
          const rows = await dependencyResults(runner, namespace, { id: task.id })
          return new Map(rows.map(([id, , result]) => [id, result]))
        },
        progress: (value) => {
          const sent = this.sendProgress(task.id, task.token, value)
          // A handler that does not await its report must not turn a refusal into an unhandled rejection.
          sent.catch(() => undefined)
          return sent
        },
      }
      // Only this worker aborts a task (abortTask), so it can stop waiting directly instead of
      // listening on every signal: a listener per task is measurable at thousands of tasks/s.
      const result = await new Promise<unknown>((resolve, reject) => {
        entry.stopWaiting = (reason) => reject(new Error(reason))
        // `data` has the type the handler was given (RunOptions).
        Promise.resolve(this.options.handler(context as TaskContext<never>, controller.signal)).then(resolve, reject)
      })
      outcome = { ok: true, result: encodeResult(result, json) }
    } catch (error) {
      const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined
      outcome = {
        ok: false,
        message: reason === 'timeout' ? `timed out after ${timeoutMs} ms` : describe(error),
        retryable: !(error instanceof NonRetryableError),
        ...(error instanceof RateLimitedError && reason === undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      }
    } finally {
      if (timer) clearTimeout(timer)
    }
    const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined
    // The task was taken away (lease lost) or handed back: whatever the handler produced is not wanted.
    if (reason === 'lease-lost' || reason === 'shutdown') {
      this.forget(task.id, entry)
      return
    }
    if (outcome.ok) {
      this.pendingResults.push({ id: task.id, token: task.token, result: outcome.result })
      this.scheduleFlush()
      return
    }
    if (outcome.retryAfterMs !== undefined) {
      try {
        await this.postponeTask(task.id, task.token, outcome.retryAfterMs)
      } finally {
        this.forget(task.id, entry)
      }
      return
    }
    try {
      await this.failTask(task.id, task.token, reason === 'canceled' ? 'canceled while running' : outcome.message, outcome.retryable)
    } finally {
      this.forget(task.id, entry)
    }
  }

  /** The worker's entry of a task it still holds under `token`, or undefined once it lost it. */
  private held(id: string, token: number): RunningTask | undefined {
    const entry = this.running.get(id)
    if (entry === undefined || entry.token !== token) return undefined
    if (entry.controller.signal.aborted && entry.controller.signal.reason === 'lease-lost') return undefined
    return entry
  }

  /**
   * Drops the worker's entry of a task, unless the entry is a newer one: a task the node lost
   * and then got again runs under a new entry while the old handler may still be returning.
   */
  private forget(id: string, entry: RunningTask | undefined): void {
    if (entry !== undefined && this.running.get(id) === entry) this.running.delete(id)
  }

  /** Drops the entries of completions Redis has taken (or that were not wanted any more). */
  private forgetResults(items: readonly PendingResult[]): void {
    for (const item of items) {
      const entry = this.running.get(item.id)
      if (entry?.token === item.token) this.running.delete(item.id)
    }
  }

  /** A handler's progress report; sent again after a passing failure while the node holds the task. */
  private async sendProgress(id: string, token: number, value: unknown): Promise<void> {
    const progress = typeof value === 'string' ? value : JSON.stringify(value)
    if (typeof progress !== 'string') throw new TypeError(`progress: ${typeof value} has no JSON spelling`)
    const { runner, namespace } = this.connection
    for (let pause = RETRY_FIRST_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      try {
        await reportProgress(runner, namespace, { id, token, progress })
        return
      } catch (error) {
        if (!isPassing(error) || this.abandoned || this.held(id, token) === undefined) throw error
        this.report(error)
      }
      await sleep(pause)
    }
  }

  /**
   * Records a failed attempt. A call refused for a passing reason is sent again while the node
   * holds the task; refused for good, the task is left to the heartbeat's reconciliation.
   */
  private async failTask(id: string, token: number, message: string, retryable: boolean): Promise<void> {
    const { runner, namespace } = this.connection
    const args = { nodeId: this.nodeId, id, token, message: clip(message), retryable }
    for (let pause = RETRY_FIRST_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      try {
        await fail(runner, namespace, args)
        return
      } catch (error) {
        if (isTaskGone(error)) return this.reportLostLease(error)
        this.report(error)
        if (!isPassing(error)) return
      }
      await sleep(pause)
      if (this.abandoned || this.held(id, token) === undefined) return
    }
  }

  /**
   * Hands a task back to wait `delayMs` without counting its attempt (RateLimitedError); sent
   * again after a passing failure while the node holds the task, as a failure is.
   */
  private async postponeTask(id: string, token: number, delayMs: number): Promise<void> {
    const { runner, namespace } = this.connection
    for (let pause = RETRY_FIRST_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      try {
        await postpone(runner, namespace, { nodeId: this.nodeId, id, token, delayMs })
        return
      } catch (error) {
        if (isTaskGone(error)) return this.reportLostLease(error)
        this.report(error)
        if (!isPassing(error)) return
      }
      await sleep(pause)
      if (this.abandoned || this.held(id, token) === undefined) return
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
    const half = Math.ceil(Math.max(this.capacity, this.running.size) / MAX_FLUSHES_IN_FLIGHT)
    const batch = this.pendingResults.splice(0, Math.min(CALL_LIMITS.completeResults, Math.max(1, half)))
    if (this.pendingResults.length > 0) this.scheduleFlush()
    if (batch.length === 0) return
    let started: StartReply
    try {
      started = await this.completeDurably({
        nodeId: this.nodeId,
        claim: this.stopping ? 0 : CALL_LIMITS.completeClaim,
        results: batch,
      })
    } catch (error) {
      await this.settleCompletions(batch, error)
      // The call that failed was also to start the node's next tasks.
      await this.claim()
      return
    }
    this.forgetResults(batch)
    this.run(started)
  }

  /**
   * Completions whose call failed with `error`. The call is atomic, so Redis took none of them.
   * Refused for a passing reason, they are sent again after a pause, for as long as the node
   * holds them; a refusal of a batch is sorted out one task at a time; a task whose lease is
   * gone is dropped; a task whose completion is refused for good fails, not retryable.
   */
  private async settleCompletions(items: readonly PendingResult[], error: unknown, resent = false): Promise<void> {
    let sent = items
    let failure = error
    for (let pause = RETRY_FIRST_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      const held = sent.filter((item) => this.held(item.id, item.token) !== undefined)
      // Lost while waiting: the result is not wanted.
      this.forgetResults(sent.filter((item) => !held.includes(item)))
      if (held.length === 0) return
      if (!isPassing(failure)) {
        if (sent.length > 1) {
          // One task spoils the atomic batch (a lost lease, a result over the cap): each alone.
          for (const item of held) await this.completeAlone(item, resent)
          return
        }
        const [item] = held as [PendingResult]
        if (!isTaskGone(failure)) {
          this.report(failure)
          await this.failTask(item.id, item.token, `result not accepted: ${describe(failure)}`, false)
        } else if (!resent) {
          this.reportLostLease(failure)
        }
        // Gone after a re-send: most likely the first send got through before its reply was
        // lost (a crash, a restart), and the task is completed; nothing to tell.
        this.forgetResults([item])
        return
      }
      this.report(failure)
      await sleep(pause)
      if (this.abandoned) return
      sent = held
      resent = true
      try {
        await this.completeDurably({ nodeId: this.nodeId, claim: 0, results: [...sent] })
        this.forgetResults(sent)
        return
      } catch (next) {
        failure = next
      }
    }
  }

  /**
   * `complete`, where a ReplicationTimeoutError is an outcome, not a failure: the completions
   * were recorded on the primary and the call started the node's next tasks, which its reply
   * carries. Sending it again would not wait again (the tasks are no longer held), so it is
   * reported and the reply used.
   */
  private async completeDurably(args: CompleteArgs): Promise<StartReply> {
    try {
      return await complete(this.connection.runner, this.connection.namespace, args)
    } catch (error) {
      if (!(error instanceof ReplicationTimeoutError)) throw error
      this.report(error)
      return error.reply as StartReply
    }
  }

  private async completeAlone(item: PendingResult, resent: boolean): Promise<void> {
    try {
      await this.completeDurably({ nodeId: this.nodeId, claim: 0, results: [item] })
      this.forgetResults([item])
    } catch (error) {
      await this.settleCompletions([item], error, resent)
    }
  }

  /** Reports in; returns what the heartbeat saw, or undefined when it failed. */
  async beat(): Promise<PartitionLoad | undefined> {
    if (this.stopped) return undefined
    const { runner, namespace } = this.connection
    // Strays seen by a heartbeat answered before this one was sent (see reconcile).
    const earlier = this.strays
    const capacityWrites = this.capacityWrites
    const writing = this.capacityWriting
    try {
      const reply = await heartbeat(runner, namespace, { nodeId: this.nodeId })
      const load: PartitionLoad = {
        inflight: reply.running.length + reply.assigned,
        ready: reply.ready,
        capacityConfirmed: !writing && !this.capacityWriting && capacityWrites === this.capacityWrites ? 1 : 0,
      }
      this.clockOffset = reply.now - Date.now()
      this.setDueTimer(reply.nextDueAt)
      const held = new Map(reply.running.map((id, i) => [id, reply.tokens[i]]))
      // Replies on one connection come back in order, so every task in `running` now was
      // started before this heartbeat ran: one missing from the reply, or held under another
      // token, was taken back (lease expired, node dropped) and its result is not wanted.
      for (const [id, task] of this.running) {
        if (held.get(id) !== task.token) abortTask(task, 'lease-lost')
      }
      this.reconcile(held, earlier)
      for (const id of reply.cancel) {
        const task = this.running.get(id)
        if (task) abortTask(task, 'canceled')
      }
      if (reply.assigned > 0) await this.claim()
      let more = reply.more
      for (let round = 0; more === 1 && round < MAX_MAINTENANCE_ROUNDS && !this.stopping; round++) {
        const report = await maintain(runner, namespace, {})
        more = report.more
        // Cron schedules whose stored fire times run low (client/schedules.ts).
        if (report.refill.length > 0) await refillSchedules(runner, namespace, report.refill)
      }
      if (reply.relay > 0) await this.relay()
      return load
    } catch (error) {
      if (error instanceof UnknownNodeError) await this.reRegister()
      else if (!this.stopping) this.report(error)
      return undefined
    }
  }

  /**
   * Carries the outcomes of this partition's finished tasks to the partitions where tasks wait
   * on them. Any node may do it, and several at once: a round holds what it took for a lease,
   * and an outcome delivered twice changes nothing (client/relay.ts).
   */
  private async relay(): Promise<void> {
    for (let round = 0; round < MAX_MAINTENANCE_ROUNDS && !this.stopped; round++) {
      const relayed = await relayOnce(this.connection.runner, this.allPartitions(), this.partition, { limit: RELAY_LIMIT })
      if (relayed < RELAY_LIMIT) return
    }
  }

  /**
   * Hands back the tasks Redis has this node run and the worker does not. A task the worker
   * started a moment ago may be in the reply before the call that started it has been answered,
   * so a task is handed back only when it was a stray already in the reply of an earlier
   * heartbeat, one answered before this one was sent: the call that started it, sent before
   * that earlier heartbeat ran, has been answered since.
   */
  private reconcile(held: ReadonlyMap<string, number | undefined>, earlier: ReadonlyMap<string, number>): void {
    const strays = new Map<string, number>()
    for (const [id, token] of held) {
      if (token === undefined || this.running.get(id)?.token === token) continue
      if (earlier.get(id) === token) void this.handBack(id, token)
      else strays.set(id, token)
    }
    this.strays = strays
  }

  private async handBack(id: string, token: number): Promise<void> {
    if (this.releasing.has(id)) return
    this.releasing.add(id)
    try {
      await release(this.connection.runner, this.connection.namespace, { nodeId: this.nodeId, id, token })
    } catch (error) {
      // Gone already (finished, taken back): nothing to hand back. Otherwise the next heartbeats try again.
      if (!isTaskGone(error)) this.report(error)
    } finally {
      this.releasing.delete(id)
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
    this.abandoned = true
    await this.waitForFlushes()
    this.stopped = true
    for (const [id, task] of this.running) {
      abortTask(task, 'shutdown')
      await release(runner, namespace, { nodeId: this.nodeId, id, token: task.token }).catch(() => undefined)
    }
    this.running.clear()
    await deregisterNode(runner, namespace, { nodeId: this.nodeId }).catch((error: unknown) => {
      if (!(error instanceof UnknownNodeError)) this.report(error)
    })
  }
}

/** A payload written as JSON (see payloads.ts); one that is not cannot become valid by retrying. */
function decodePayload(payload: Buffer): unknown {
  const decoded = decodeJson(payload)
  if (!decoded.ok) throw new NonRetryableError(`payload is ${decoded.why}: was it enqueued by a Scheduler opened without json: true?`)
  return decoded.value
}

/** A handler's return value as the complete script takes it; refused, the task fails, not retryable. */
function encodeResult(result: unknown, json: boolean): string | Buffer {
  const encoded = json
    ? encodeJson(result)
    : encodeBytes(result, 'return JSON.stringify(value) or Buffer.from(bytes), or start the Worker with json: true to return values as JSON')
  if (!encoded.ok) throw new NonRetryableError(`the handler's result: ${encoded.why}`)
  return encoded.bytes
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}

function clip(message: string): string {
  return message.length > MESSAGE_MAX_CHARS ? `${message.slice(0, MESSAGE_MAX_CHARS)}…` : message
}

/**
 * A failure that passes: Redis unreachable or restarting, out of memory, a permission an
 * operator can grant, a script cache emptied again and again (the runner's ScriptLoadError).
 * The same call can get through later; sending it again is safe, because a call that did get
 * through before its reply was lost now finds the task no longer held, and is dropped.
 */
function isPassing(error: unknown): boolean {
  return (
    error instanceof RedisUnavailableError ||
    error instanceof RedisOutOfMemoryError ||
    error instanceof RedisPermissionError ||
    error instanceof ScriptLoadError
  )
}

/** The node no longer holds the task under that token (or it no longer exists): its outcome is not wanted. */
function isTaskGone(error: unknown): boolean {
  return error instanceof LeaseLostError || error instanceof UnknownTaskError
}

/** Fires the handler's signal and stops waiting for a handler that ignores it. */
function abortTask(task: RunningTask, reason: AbortReason): void {
  if (task.controller.signal.aborted) return
  task.controller.abort(reason)
  task.stopWaiting?.(reason)
}
