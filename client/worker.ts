/**
 * A worker node: one process's share of the namespace's work. It registers in every partition
 * of the namespace (one connection, one wake-up subscriber), runs what any of them assigns it,
 * and keeps its capacity a total over all of them: the node's slots are split between the
 * partitions, and moved to where tasks wait (see `rebalance`). The work inside each partition
 * (claims, completions, heartbeats, reconciliation) is client/partition-worker.ts.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { completeScript } from '../loader/generated/scripts.js'
import { NotInitializedError } from '../loader/generated/errors.js'
import { open, type Opened } from './connection.js'
import { PartitionWorker, type PartitionLoad, type RunOptions, type WorkerOptions } from './partition-worker.js'
import { readPartitionTable, type PartitionTable } from './partitions.js'
import { setUpNamespace } from './setup.js'
import { subscribeToWakeups, type Wakeups } from './wakeups.js'

export { NonRetryableError, RateLimitedError } from './partition-worker.js'
export type { AbortReason, TaskContext, TaskHandler, WorkerOptions } from './partition-worker.js'

/**
 * Heartbeat rounds between two reads of the partition table, to pick up a raised count. Every
 * node reads it, so with a thousand nodes a read every round would be a thousand calls a second
 * for a table that changes a few times in a namespace's life.
 */
const TABLE_READ_EVERY = 20

/** What `handleSignals` listens for: Ctrl-C, and what process managers send to stop a process. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const

interface Slots {
  readonly worker: PartitionWorker
  /** The most tasks this partition may hold for the node: its slots, or more while it still holds tasks from before they were lowered. */
  reserved: number
  load?: PartitionLoad
}

export class Worker {
  readonly nodeId: string
  private readonly options: RunOptions
  private readonly capacity: number
  private connection!: Opened
  private wakeups!: Wakeups
  private readonly parts: Slots[] = []
  /** The partition table as last read. */
  private table!: PartitionTable
  private heartbeatTimer: NodeJS.Timeout | undefined
  private beating: Promise<void> | undefined
  private rounds = 0
  private stopping = false
  private stopped: Promise<void> | undefined
  /** Set while `handleSignals` listens; `signalled` once a signal has started the stop. */
  private onSignal: ((signal: NodeJS.Signals) => void) | undefined
  private signalled = false

  private constructor(options: RunOptions) {
    this.options = options
    this.capacity = options.capacity ?? 10
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  }

  /** Connects, registers the node in every partition and starts taking tasks. */
  static start(options: WorkerOptions & { json?: false }): Promise<Worker>
  /** The same, with payloads and results as JSON values of the types given (`task.data` is the payload). */
  static start<Payload, Result = unknown>(options: WorkerOptions<Payload, Result> & { json: true }): Promise<Worker>
  static async start(options: RunOptions): Promise<Worker> {
    const worker = new Worker(options)
    await worker.begin()
    if (options.handleSignals) worker.listenForSignals()
    return worker
  }

  private listenForSignals(): void {
    this.onSignal = (signal) => {
      if (this.signalled) {
        // Asked twice: the process goes now, as the signal's default action would have it.
        this.stopListening()
        process.kill(process.pid, signal)
        return
      }
      this.signalled = true
      this.stop().catch((error: unknown) => this.report(error))
    }
    for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal)
  }

  private stopListening(): void {
    if (this.onSignal === undefined) return
    for (const signal of STOP_SIGNALS) process.removeListener(signal, this.onSignal)
    this.onSignal = undefined
  }

  /** Tasks this node is running now, over all partitions. */
  get inFlight(): number {
    return this.parts.reduce((sum, part) => sum + part.worker.inFlight, 0)
  }

  /** The node's slots in each partition it serves, by partition index: they add up to its capacity. */
  get slots(): Record<number, number> {
    return Object.fromEntries(this.parts.map((part) => [part.worker.partition.partition, part.worker.slots]))
  }

  private async begin(): Promise<void> {
    this.connection = await open(this.options.connection, this.options.namespace, {
      allowEvictingPolicy: this.options.allowEvictingPolicy,
      waitForReplicas: this.options.waitForReplicas && { ...this.options.waitForReplicas, scripts: [completeScript] },
    })
    try {
      this.wakeups = await subscribeToWakeups(this.connection.redis, this.nodeId)
      this.table = await readPartitionTable(this.connection.runner, this.options.namespace).catch(async (error: unknown) => {
        // A worker may start before any producer: it creates the namespace with the defaults,
        // as Scheduler.open without a config does, and leaves one created meanwhile as it is.
        if (!(error instanceof NotInitializedError)) throw error
        return (await setUpNamespace(this.connection.runner, this.options.namespace)).table
      })
      await this.join(this.table)
    } catch (error) {
      await this.wakeups?.close()
      await this.connection.close()
      throw error
    }
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatIntervalMs ?? 1000)
  }

  /**
   * Registers in the partitions of the table the node serves and does not serve yet. At start
   * the slots are split evenly, the remainder going to partitions chosen by the node id so that
   * nodes with fewer slots than partitions cover different ones; a partition added later starts
   * with none and gets slots once tasks wait there.
   */
  private async join(table: PartitionTable): Promise<void> {
    const served = new Set(this.parts.map((part) => part.worker.partition.partition))
    const wanted = this.options.partitions
    const added = table.all.filter(
      (partition) => !served.has(partition.partition) && (wanted === undefined || wanted.includes(partition.partition)),
    )
    if (added.length === 0) {
      if (this.parts.length === 0) {
        throw new RangeError(
          `partitions: namespace ${table.namespace} has partitions 0 to ${table.count - 1}, none of ${JSON.stringify(wanted)}`,
        )
      }
      return
    }
    const shares =
      this.parts.length === 0 ? evenShares(this.capacity, added.length, offsetOf(this.nodeId)) : added.map(() => 0)
    const joined = added.map((partition, i) => {
      const worker = new PartitionWorker(this.options, this.nodeId, this.connection.runner, partition, shares[i] as number, () => this.table.all)
      return { worker, reserved: shares[i] as number }
    })
    await Promise.all(joined.map((part) => part.worker.begin(this.wakeups)))
    this.parts.push(...joined)
  }

  /** One heartbeat round: every partition reports in, then the slots follow the waiting tasks. */
  private beat(): Promise<void> {
    // Heartbeats go on while a stop waits for handlers, so the node is not declared lost.
    if (this.beating) return this.beating
    this.beating = (async () => {
      const loads = await Promise.all(this.parts.map((part) => part.worker.beat()))
      loads.forEach((load, i) => this.observe(this.parts[i] as Slots, load))
      if (this.parts.length > 1 && !this.stopping) await this.rebalance()
      if (++this.rounds % TABLE_READ_EVERY === 0 && !this.stopping) {
        const table = await readPartitionTable(this.connection.runner, this.options.namespace).catch(() => undefined)
        if (table) {
          this.table = table
          await this.join(table).catch((error: unknown) => this.report(error))
        }
      }
    })()
      // Called from a timer: whatever slips through is reported, never left unhandled.
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.beating = undefined
      })
    return this.beating
  }

  private observe(part: Slots, load: PartitionLoad | undefined): void {
    if (load === undefined) return
    part.load = load
    // The partition cannot assign beyond the slots in force, so what it holds now bounds what
    // it can hold from here on; a heartbeat sent before the last change proves nothing.
    if (load.capacityConfirmed === 1) part.reserved = Math.max(part.worker.slots, load.inflight)
  }

  /**
   * Moves slots to partitions where tasks wait and the node's slots are all taken, from
   * partitions where some sit idle. Capacity is never exceeded: slots are first taken away,
   * and only slots no partition may still fill (the node's capacity less every partition's
   * `reserved`) are given.
   */
  private async rebalance(): Promise<void> {
    const starving = this.parts.some(
      (part) => part.load !== undefined && part.load.ready > 0 && part.load.inflight >= part.worker.slots,
    )
    if (!starving) return
    const targets = slotTargets(
      this.capacity,
      this.parts.map((part) => (part.load ? part.load.inflight + part.load.ready : part.worker.slots)),
      offsetOf(this.nodeId) + this.rounds,
    )
    const lowered = this.parts.filter((part, i) => (targets[i] as number) < part.worker.slots)
    // A write that fails leaves the larger figure in force (setCapacity), so nothing is freed by it.
    await Promise.all(
      lowered.map((part) =>
        part.worker.setCapacity(targets[this.parts.indexOf(part)] as number).catch((error: unknown) => this.report(error)),
      ),
    )
    let spare = this.capacity - this.parts.reduce((sum, part) => sum + part.reserved, 0)
    for (const [i, part] of this.parts.entries()) {
      const wanted = (targets[i] as number) - part.worker.slots
      if (wanted <= 0 || spare <= 0) continue
      const given = Math.min(wanted, spare)
      spare -= given
      part.reserved += given
      await part.worker.setCapacity(part.worker.slots + given).catch((error: unknown) => this.report(error))
    }
  }

  private report(error: unknown): void {
    ;(this.options.onError ?? ((e: unknown) => console.error(`taskmill worker ${this.nodeId}:`, e)))(error)
  }

  /**
   * Stops taking tasks: the node is drained in every partition (given nothing new; its tasks
   * not yet started go to other nodes), running handlers get up to `timeoutMs` (default: the
   * `stopTimeoutMs` option, 30,000) to finish while the heartbeat goes on, what is still running
   * then is handed back (it runs again elsewhere without using an attempt), and the node leaves
   * the rotation. Calling it again returns the same stop.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopped ??= this.halt(options.timeoutMs ?? this.options.stopTimeoutMs)
    return this.stopped
  }

  private async halt(timeoutMs: number | undefined): Promise<void> {
    this.stopping = true
    try {
      await this.wakeups.close()
      await Promise.all(this.parts.map((part) => part.worker.stop({ timeoutMs })))
      clearInterval(this.heartbeatTimer)
      await this.beating
      await this.connection.close()
    } finally {
      this.stopListening()
    }
  }
}

/** `total` split over `count` parts as evenly as whole numbers allow, the remainder from `offset` on. */
function evenShares(total: number, count: number, offset: number): number[] {
  const shares = Array.from({ length: count }, () => Math.floor(total / count))
  for (let k = 0; k < total % count; k++) (shares as number[])[(offset + k) % count]! += 1
  return shares
}

/**
 * The node's slots per partition for the given demand (tasks held plus tasks waiting): each
 * partition gets its demand when the capacity covers all of it, the rest spread evenly so that
 * new tasks find a slot at once; otherwise the capacity is shared in proportion to demand.
 */
export function slotTargets(capacity: number, demand: readonly number[], offset: number): number[] {
  const total = demand.reduce((sum, d) => sum + d, 0)
  if (total <= capacity) {
    const rest = evenShares(capacity - total, demand.length, offset)
    return demand.map((d, i) => d + (rest[i] as number))
  }
  const exact = demand.map((d) => (capacity * d) / total)
  const targets = exact.map(Math.floor)
  let left = capacity - targets.reduce((sum, t) => sum + t, 0)
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (const [, i] of byRemainder) {
    if (left-- <= 0) break
    targets[i]! += 1
  }
  return targets
}

function offsetOf(nodeId: string): number {
  let hash = 0
  for (const char of nodeId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return hash
}
