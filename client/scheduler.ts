/**
 * The producer's side: enqueue tasks and graphs, cancel, read tasks, wait for results, read
 * stats and events. Every decision is made by a script inside Redis; this class only encodes
 * arguments, calls the scripts and shapes their replies.
 */
import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { GetTaskReply, MetricsReply, StatsReply } from '../loader/generated/scripts.js'
import {
  cancel,
  cleanTasks,
  dependencyResults,
  enqueue,
  enqueueScript,
  getTask,
  maintain,
  metrics,
  pauseQueue,
  removeRateLimit,
  removeTask,
  resumeQueue,
  retryTask,
  setGroupConcurrency,
  setGroupWeight,
  setRateLimit,
  stats,
} from '../loader/generated/scripts.js'
import { TaskmillError } from '../loader/errors.js'
import { UnknownDependencyError } from '../loader/generated/errors.js'
import { remoteRef, watchRemoteDependencies } from './relay.js'
import { CALL_LIMITS } from './call-limits.js'
import { chunkEnqueueRows } from './enqueue-chunks.js'
import { open, type Connection, type Opened } from './connection.js'
import { followEvents, toTaskEvents, type EventOptions, type TaskEvent } from './events.js'
import { formatMetrics } from './metrics.js'
import { listTasksAcross, type ListTasksOptions, type TaskPage } from './list-tasks.js'
import { addUpStats, findTask, PartitionTable, raisePartitions, readPartitionTable } from './partitions.js'
import { partitionShares, rateLimitShares } from './rate-limits.js'
import { setUpNamespace } from './setup.js'
import { decodeJson, encodeBytes, encodeJson } from './payloads.js'
import type { Namespace } from '../loader/keys.js'
import { duplicateConnection, lastStreamId, readStream } from './streams.js'
import {
  getScheduleIn,
  listSchedulesIn,
  pauseScheduleIn,
  putSchedule,
  refillSchedules,
  removeScheduleIn,
  resumeScheduleIn,
  type ScheduleInfo,
  type ScheduleInput,
} from './schedules.js'

export type Strategy = 'round-robin' | 'weighted' | 'least-loaded' | 'random'

/** One answer for a change made on every partition: changed anywhere, and what they dispatched in all. */
function acrossPartitions(replies: { changed: number; dispatched: number }[]): { changed: boolean; dispatched: number } {
  return {
    changed: replies.some((reply) => reply.changed === 1),
    dispatched: replies.reduce((sum, reply) => sum + reply.dispatched, 0),
  }
}

/** A queue's rate limit: at most `max` task starts in any window of `intervalMs`. */
export interface RateLimit {
  /** Most starts in any window, 1 to 1,000,000 (per partition, see {@link Scheduler.setRateLimit}). */
  max: number
  /** The window in ms, 1 to 86,400,000. */
  intervalMs: number
}

export interface SchedulerOptions {
  /** Where Redis is; see {@link Connection}. */
  connection: Connection
  /** The scheduler's namespace: every key is `tm:{<namespace>}:…`. 1 to 64 of `A-Z a-z 0-9 _ . : -`. */
  namespace: string
  /**
   * When given, the namespace is (re)configured on open; the last configuration written wins.
   * When omitted, the namespace is created with defaults if it does not exist, and left as it is otherwise.
   */
  config?: SchedulerConfig
  /**
   * Open even when Redis runs with an evicting `maxmemory-policy` (`allkeys-lru`, `allkeys-lfu`,
   * `allkeys-random`), which can delete taskmill's keys and with them tasks; or when the policy
   * cannot be read (the ACL user may run neither INFO nor CONFIG GET). Without it, such a Redis
   * is refused with a RedisEvictionPolicyError. Default: false.
   */
  allowEvictingPolicy?: boolean
  /**
   * Spread the namespace over at least this many partitions, each a full key set with its own
   * hash tag, so that a Redis Cluster puts them on different shards. A namespace that has fewer
   * is raised to this count on open (tasks that exist stay where they are); one that has more
   * keeps its count, which never goes down. Default: the namespace's count, 1 for a new one.
   */
  partitions?: number
  /**
   * Make `enqueue` and `enqueueBatch` resolve only once this many replicas hold the tasks (Redis
   * `WAIT` after each enqueue call, on the same connection), so a failover to one of those
   * replicas keeps them. Fewer in time: the call rejects with a ReplicationTimeoutError whose
   * `reply` holds the statuses, because the tasks were written; enqueue the same ids again to
   * wait again. Not a write to disk and not consensus: see docs/reliability.md. Default: none.
   */
  waitForReplicas?: { replicas: number; timeoutMs: number }
  /**
   * Payloads and results are JSON: `enqueue` takes any value `JSON.stringify` accepts as a
   * task's `payload` and stores its JSON text, and `waitForResult` returns the result parsed
   * (undefined for an empty one). Give the types as `Scheduler.open<Payload, Result>`, and
   * start the workers with `json: true`. `getTask` still shows the stored bytes. Default: false
   * (a payload is a string or a Buffer, stored byte for byte, and a result is a Buffer).
   */
  json?: boolean
}

export interface SchedulerConfig {
  /** How ready tasks are spread over worker nodes. Default: `'weighted'`. */
  strategy?: Strategy
  /** Largest payload accepted, in bytes. Default: 1048576 (1 MiB). */
  payloadCap?: number
  /** Largest result accepted, in bytes. Default: 1048576 (1 MiB). */
  resultCap?: number
  /** How long completed tasks are kept, in ms; 0 keeps them until the count limit. Default: 86400000 (one day). */
  keepCompletedMs?: number
  /** How many completed tasks are kept at most; 0 means no count limit. Default: 10000. */
  keepCompletedCount?: number
  /** How long dead and canceled tasks are kept, in ms. Default: 604800000 (seven days). */
  keepDeadMs?: number
  /** How many dead and canceled tasks are kept at most; 0 means no count limit. Default: 10000. */
  keepDeadCount?: number
  /** Approximate length of the event stream; 0 turns events off. Default: 10000. */
  eventsMaxLen?: number
  /** A node silent for this long is dropped and its tasks go back to ready, in ms. Default: 15000. */
  nodeTimeoutMs?: number
}

export interface TaskInput<Payload = string | Buffer> {
  /** The task id, 1 to 128 of `A-Z a-z 0-9 _ . : -`. Default: a random UUID. */
  id?: string
  /**
   * Handed to the handler byte for byte: a string (stored as UTF-8) or a Buffer; anything else
   * is refused with a TypeError. With `json: true`, any value `JSON.stringify` accepts, stored as
   * its JSON text. Default: empty.
   */
  payload?: Payload
  /** Higher runs first, from -1000 to 1000; FIFO within one priority. Default: 0. */
  priority?: number
  /** Run no earlier than this many ms from now (server clock). Default: 0. */
  delayMs?: number
  /** Run no earlier than this time (server clock). Wins over `delayMs`. */
  runAt?: Date | number
  /** Ids of tasks that must complete first: existing tasks, or tasks of the same batch. Default: none. */
  dependsOn?: string[]
  /** Handler attempts before the task dies; lost attempts (crashed nodes) do not count. Default: 3. */
  maxAttempts?: number
  /** Wait before retries. Default: exponential from 1000 ms, capped at one hour. */
  backoff?: { type: 'fixed' | 'exponential'; delayMs?: number; maxDelayMs?: number }
  /** How long a node may hold the task without a heartbeat, in ms. Default: 30000. */
  leaseMs?: number
  /** Only nodes serving this queue (or every queue) run the task. Default: `'default'`. */
  queue?: string
  /**
   * Routes the task to the partition of this key instead of its id's (see the README's
   * "Scaling out"); tasks of one key share a partition. In a batch only the first task's
   * routing key counts: the whole batch goes to one partition. Default: the id.
   */
  partitionKey?: string
  /** When a dependency dies or is canceled: fail with "dependency failed", or run anyway. Default: `'fail'`. */
  onDependencyFailure?: 'fail' | 'run'
  /**
   * The task's group (a tenant, a customer), 1 to 128 of `A-Z a-z 0-9 _ . : -`. Within a queue,
   * dispatch shares the free slots between the groups with ready tasks by their weights
   * ({@link Scheduler.setGroupWeight}); priority still orders the tasks of one group. Default: none.
   */
  group?: string
}

export interface EnqueueOutcome {
  readonly id: string
  /** False when a task with this id existed already; nothing was changed then. */
  readonly created: boolean
}

export type TaskState =
  | 'waiting'
  | 'delayed'
  | 'ready'
  | 'assigned'
  | 'running'
  | 'retrying'
  | 'completed'
  | 'dead'
  | 'canceled'

export type TaskInfo = Omit<GetTaskReply & object, 'state'> & { state: TaskState }

/**
 * The most tasks one enqueue call takes (with at most 1,000 dependency ids in all): a batch
 * within it is atomic. {@link Scheduler.enqueueBatch} sends a larger one as several calls.
 */
export const MAX_BATCH = CALL_LIMITS.enqueueTasks

export class TaskFailedError extends TaskmillError {
  constructor(readonly task: TaskInfo) {
    super(`task ${task.id} ended ${task.state}: ${task.reason ?? task.error ?? 'no reason recorded'}`)
  }
}

/** {@link Scheduler.waitForResult} found no task of that id (never enqueued, or swept by retention). */
export class TaskNotFoundError extends TaskmillError {
  constructor(
    readonly id: string,
    readonly namespace: string,
  ) {
    super(`no task "${id}" in namespace ${namespace}`)
  }
}

/** {@link Scheduler.waitForResult} gave up: the task had not ended when its `timeoutMs` passed. */
export class WaitTimeoutError extends TaskmillError {
  readonly id: string
  /** The task's state at the last read. */
  readonly state: TaskState

  constructor(
    readonly task: TaskInfo,
    readonly timeoutMs: number,
  ) {
    super(`task ${task.id} is still ${task.state} after ${timeoutMs} ms`)
    this.id = task.id
    this.state = task.state
  }
}

/** How long a Scheduler routes by the partition table it read before it reads it again. */
const TABLE_REFRESH_MS = 5000

/**
 * `Payload` is what `enqueue` takes as a task's payload and `Result` what `waitForResult`
 * returns: strings or Buffers and a Buffer, or with `json: true` the types given to `open`.
 */
export class Scheduler<Payload = string | Buffer, Result = Buffer> {
  private tableReadAt = Date.now()
  private tableRead: Promise<void> | undefined

  private constructor(
    private readonly connection: Opened,
    private table: PartitionTable,
    private readonly json: boolean,
  ) {}

  /** Connects, loads the scripts and creates (or configures) the namespace and its partitions. */
  static open(options: SchedulerOptions & { json?: false }): Promise<Scheduler>
  /** The same, with payloads and results as JSON values of the types given. */
  static open<Payload, Result = unknown>(options: SchedulerOptions & { json: true }): Promise<Scheduler<Payload, Result>>
  static async open(options: SchedulerOptions): Promise<Scheduler<unknown, unknown>> {
    const connection = await open(options.connection, options.namespace, {
      allowEvictingPolicy: options.allowEvictingPolicy,
      waitForReplicas: options.waitForReplicas && { ...options.waitForReplicas, scripts: [enqueueScript] },
    })
    try {
      const { table } = await setUpNamespace(connection.runner, connection.namespace.name, options)
      return new Scheduler(connection, table, options.json === true)
    } catch (error) {
      await connection.close()
      throw error
    }
  }

  get namespace(): string {
    return this.connection.namespace.name
  }

  /** The namespace's partitions, as last read (every few seconds, and after {@link addPartitions}). */
  get partitions(): PartitionTable {
    this.refreshTable()
    return this.table
  }

  /**
   * Raises the partition count. Tasks that exist stay where they are; new ones spread over every
   * partition. Workers pick the new partitions up within a few seconds. Lowering is refused.
   */
  async addPartitions(count: number): Promise<PartitionTable> {
    this.table = await raisePartitions(this.connection.runner, this.namespace, count)
    this.tableReadAt = Date.now()
    return this.table
  }

  /** Reads the table again in the background once it is a few seconds old; routing goes on meanwhile. */
  private refreshTable(): void {
    if (this.tableRead || Date.now() - this.tableReadAt < TABLE_REFRESH_MS) return
    this.tableRead = readPartitionTable(this.connection.runner, this.namespace)
      .then((table) => {
        this.table = table
        this.tableReadAt = Date.now()
      })
      .catch(() => undefined)
      .finally(() => {
        this.tableRead = undefined
      })
  }

  private locate(id: string): Promise<{ partition: Namespace; task: TaskInfo } | undefined> {
    return findTask(this.connection.runner, this.partitions, id) as Promise<{ partition: Namespace; task: TaskInfo } | undefined>
  }

  /** Adds one task. */
  async enqueue(task: TaskInput<Payload>): Promise<EnqueueOutcome> {
    const [outcome] = await this.enqueueBatch([task])
    return outcome as EnqueueOutcome
  }

  /**
   * Adds tasks, e.g. a whole dependency graph whose tasks refer to each other in any order. A
   * batch of up to {@link MAX_BATCH} tasks naming at most 1,000 dependencies in all is one atomic
   * call: a cycle, an unknown dependency or a bad argument rejects it and writes nothing. A
   * larger batch goes out as several such calls, parents first, so that no call holds Redis for
   * long. A cycle, an id listed twice or a task depending on itself still rejects the whole
   * batch before anything is sent; any other error leaves the calls before it enqueued. Sending
   * the same batch again is safe: tasks that got in come back with `created: false`.
   */
  async enqueueBatch(tasks: readonly TaskInput<Payload>[]): Promise<EnqueueOutcome[]> {
    if (tasks.length === 0) return []
    const rows = tasks.map((task, index) => toEnqueueRow(task, encodePayload(task.payload, index, this.json)))
    const first = rows[0] as (typeof rows)[number]
    const [partition, ...earlier] = this.partitions.candidates(tasks[0]?.partitionKey ?? first.id) as [Namespace, ...Namespace[]]
    const existing = await this.existingElsewhere(earlier, rows)
    const fresh = rows.filter((row) => !existing.has(row.id))
    // Every chunk goes to the same partition, so a later chunk's parents there are local.
    const sent = new Set(fresh.map((row) => row.id))
    const created = new Set<string>()
    for (const chunk of fresh.length === 0 ? [] : chunkEnqueueRows(fresh)) {
      const statuses = await this.enqueueWithDependencies(partition, chunk, sent)
      chunk.forEach((row, i) => {
        if (statuses[i] === 'created') created.add(row.id)
      })
    }
    return rows.map((row) => ({ id: row.id, created: created.has(row.id) }))
  }

  /**
   * Enqueues rows in `partition`, where each dependency outside the batch may live in another
   * partition. A dependency whose id routes to `partition` is taken to be there, at no cost;
   * any other is looked for. Those found elsewhere are watched in their partitions first (an
   * unknown one is refused there, before anything is written) and named in `remoteDependsOn`,
   * so their outcomes are relayed here. When the script finds a dependency taken to be local
   * missing (a task routed by another key), every dependency is looked for and the call is
   * sent once more.
   */
  private async enqueueWithDependencies(
    partition: Namespace,
    rows: readonly EnqueueRow[],
    inBatch: ReadonlySet<string>,
  ): Promise<('created' | 'exists')[]> {
    const runner = this.connection.runner
    const outside = [...new Set(rows.flatMap((row) => row.dependsOn.filter((id) => !inBatch.has(id))))]
    let lookEverywhere = false
    for (;;) {
      const placed = await this.placeDependencies(partition, outside, lookEverywhere)
      const refs = new Set<string>()
      const split = rows.map((row) => {
        const local = row.dependsOn.filter((id) => inBatch.has(id) || placed.get(id) === partition.partition)
        const remote = row.dependsOn.filter((id) => !local.includes(id)).map((id) => remoteRef(placed.get(id) as number, id))
        remote.forEach((ref) => refs.add(ref))
        return { ...row, dependsOn: local, remoteDependsOn: remote }
      })
      if (refs.size > 0) await watchRemoteDependencies(runner, this.table.all, partition.partition, refs)
      try {
        return await enqueue(runner, partition, { tasks: split })
      } catch (error) {
        if (lookEverywhere || !(error instanceof UnknownDependencyError)) throw error
        lookEverywhere = true
      }
    }
  }

  /** The partition of each dependency id; with `lookEverywhere` false, ids routed to `partition` are assumed there. */
  private async placeDependencies(partition: Namespace, ids: readonly string[], lookEverywhere: boolean): Promise<Map<string, number>> {
    const placed = new Map<string, number>()
    await Promise.all(
      ids.map(async (id) => {
        if (!lookEverywhere && this.table.route(id).partition === partition.partition) {
          placed.set(id, partition.partition)
          return
        }
        const found = await findTask(this.connection.runner, this.table, id)
        if (!found) {
          throw new UnknownDependencyError(
            `a task depends on "${id}", which is in no partition of namespace ${this.namespace} nor in the batch`,
            { script: enqueueScript.name, version: enqueueScript.version, sha: enqueueScript.sha },
          )
        }
        placed.set(id, found.partition.partition)
      }),
    )
    return placed
  }

  /**
   * The ids of the batch that exist in the partitions its routing key had under earlier counts.
   * A raised count moves no task, so without this look an id enqueued again after a raise could
   * be created a second time in its new partition. Only keys whose partition changed pay for it:
   * one read per task and earlier partition.
   */
  private async existingElsewhere(earlier: readonly Namespace[], rows: readonly { id: string }[]): Promise<Set<string>> {
    if (earlier.length === 0) return new Set()
    const runner = this.connection.runner
    const found = await Promise.all(
      earlier.flatMap((partition) => rows.map(async (row) => ((await getTask(runner, partition, { id: row.id })) ? row.id : undefined))),
    )
    return new Set(found.filter((id): id is string => id !== undefined))
  }

  /** Cancels a task; a running one is told at its node's next heartbeat (its AbortSignal fires). */
  async cancel(id: string): Promise<'canceled' | 'cancel-requested' | 'finished'> {
    const found = await this.locate(id)
    // The id's own partition answers with the usual unknown-task error.
    return cancel(this.connection.runner, found?.partition ?? this.partitions.route(id), { id })
  }

  /**
   * Runs a dead or canceled task again under its id, with a fresh attempt budget; resolves to
   * its new state. Refused ({@link InvalidStateError}) for a task in another state, one whose
   * dependencies did not complete, and one that had dependents (they settled on its failure
   * already and stay as they are).
   */
  async retry(id: string): Promise<'ready' | 'delayed'> {
    const found = await this.locate(id)
    return retryTask(this.connection.runner, found?.partition ?? this.partitions.route(id), { id })
  }

  /**
   * Removes a finished task now instead of at its retention time; resolves to the state it had.
   * Refused ({@link InvalidStateError}) while it is unfinished or a dependent may still read it.
   */
  async remove(id: string): Promise<'completed' | 'dead' | 'canceled'> {
    const found = await this.locate(id)
    return removeTask(this.connection.runner, found?.partition ?? this.partitions.route(id), { id })
  }

  /**
   * Removes the finished tasks (of one state, or all three) that finished at least
   * `olderThanMs` ago, on every partition, in calls of at most `limit` tasks; resolves to how
   * many were removed. Tasks still held by their dependents are left for retention.
   */
  async clean(options: { state?: 'completed' | 'dead' | 'canceled'; olderThanMs: number; limit?: number }): Promise<number> {
    const runner = this.connection.runner
    const state = options.state ?? 'finished'
    let removed = 0
    for (const partition of this.partitions.all) {
      let skip = 0
      for (;;) {
        const [gone, passed, more] = await cleanTasks(runner, partition, { state, olderThanMs: options.olderThanMs, limit: options.limit, skip })
        removed += gone
        skip += passed
        if (more === 0) break
      }
    }
    return removed
  }

  /**
   * Pauses a queue on every partition of the namespace: none of its tasks is dispatched until
   * {@link resumeQueue}, they stay `ready`; its tasks already assigned or running finish as
   * usual, and other queues go on. `changed` is false when the queue was paused already. A
   * partition added later ({@link addPartitions}) starts with partition 0's queues paused; a
   * raise that runs at the same time as a pause may leave its new partitions out: pause again.
   */
  async pauseQueue(queue: string): Promise<{ changed: boolean }> {
    const runner = this.connection.runner
    const replies = await Promise.all((await this.freshTable()).all.map((partition) => pauseQueue(runner, partition, { queue })))
    return { changed: replies.some((reply) => reply.changed === 1) }
  }

  /**
   * Resumes a paused queue on every partition; its ready tasks go to free nodes at once
   * (`dispatched` counts the tasks those calls assigned). `changed` is false when it was not
   * paused.
   */
  async resumeQueue(queue: string): Promise<{ changed: boolean; dispatched: number }> {
    const runner = this.connection.runner
    const replies = await Promise.all((await this.freshTable()).all.map((partition) => resumeQueue(runner, partition, { queue })))
    return acrossPartitions(replies)
  }

  /**
   * Limits a queue to at most `max` task starts in any window of `intervalMs` on the Redis
   * server's clock (a sliding window: no burst goes over it, whatever the number of nodes).
   * Tasks over the limit wait `ready`, and dispatch resumes when the window lets the next one
   * start, with no polling. A start is the start of an attempt (dispatch reserves its place when it
   * gives the task to a node, and the node's start call moves it to then). With
   * several partitions the limit is shared out: partition i of P gets floor(max / P), plus one
   * for the first max mod P partitions, so all of them together never go over `max`; `max`
   * must then be at least P. Setting a limit again replaces it. `changed` is false when the
   * queue had this limit already; `dispatched` counts tasks a raised limit let start at once.
   */
  async setRateLimit(queue: string, limit: RateLimit): Promise<{ changed: boolean; dispatched: number }> {
    const runner = this.connection.runner
    const partitions = (await this.freshTable()).all
    const shares = rateLimitShares(limit.max, partitions.length)
    const replies = await Promise.all(
      partitions.map((partition, i) => setRateLimit(runner, partition, { queue, max: shares[i]!, intervalMs: limit.intervalMs })),
    )
    return acrossPartitions(replies)
  }

  /**
   * Removes a queue's rate limit on every partition; its ready tasks go to free nodes at once.
   * `changed` is false when it had none.
   */
  async removeRateLimit(queue: string): Promise<{ changed: boolean; dispatched: number }> {
    const runner = this.connection.runner
    const replies = await Promise.all((await this.freshTable()).all.map((partition) => removeRateLimit(runner, partition, { queue })))
    return acrossPartitions(replies)
  }

  /**
   * Sets a group's weight in a queue, 1 to 1,000 (every group has 1 until set): while several
   * groups of the queue have ready tasks, each gets a share of the queue's starts proportional
   * to its weight. Set on every partition. `changed` is false when the group had this weight.
   */
  async setGroupWeight(queue: string, group: string, weight: number): Promise<{ changed: boolean }> {
    const runner = this.connection.runner
    const replies = await Promise.all(
      (await this.freshTable()).all.map((partition) => setGroupWeight(runner, partition, { queue, group, weight })),
    )
    return { changed: replies.some((reply) => reply.changed === 1) }
  }

  /**
   * Caps how many tasks of a group of a queue nodes may hold at once (assigned or running), 1 to
   * 100,000; 0 removes the cap. A group at its cap is passed over, and its slots go to the other
   * groups, until one of its tasks finishes. With several partitions the cap is shared out as a
   * rate limit is ({@link Scheduler.setRateLimit}), so `max` must then be at least the number of
   * partitions. Tasks the group's nodes already hold when a cap is first set are not counted
   * against it. `changed` is false when the group had this cap; `dispatched` counts tasks a
   * raised or removed cap let go at once.
   */
  async setGroupConcurrency(queue: string, group: string, max: number): Promise<{ changed: boolean; dispatched: number }> {
    const runner = this.connection.runner
    const partitions = (await this.freshTable()).all
    const shares = max === 0 ? partitions.map(() => 0) : partitionShares(max, partitions.length, 'group concurrency max', 'one task')
    const replies = await Promise.all(
      partitions.map((partition, i) => setGroupConcurrency(runner, partition, { queue, group, max: shares[i]! })),
    )
    return acrossPartitions(replies)
  }

  /** The partition table read now, for operations that must reach every partition. */
  private async freshTable(): Promise<PartitionTable> {
    this.table = await readPartitionTable(this.connection.runner, this.namespace)
    this.tableReadAt = Date.now()
    return this.table
  }

  /** The task, or null when there is none (never enqueued, or swept by retention). */
  async getTask(id: string): Promise<TaskInfo | null> {
    return (await this.locate(id))?.task ?? null
  }

  /**
   * One page of the tasks in a state, newest or oldest first, optionally of one queue; pass the
   * page's `cursor` back for the next one (empty at the end). With several partitions the pages
   * walk partition 0 to its end, then partition 1, and so on, so the order holds within each
   * partition. A page may hold fewer tasks than `limit`, even none, before the end: each call
   * looks at a bounded number of entries (client/list-tasks.ts).
   */
  async listTasks(options: ListTasksOptions): Promise<TaskPage> {
    return listTasksAcross(this.connection.runner, this.partitions, options)
  }

  /** The state and result of each dependency of a task. */
  async dependencyResults(id: string): Promise<{ id: string; state: string; result: Buffer | null }[]> {
    const found = await this.locate(id)
    const rows = await dependencyResults(this.connection.runner, found?.partition ?? this.partitions.route(id), { id })
    return rows.map(([dependency, state, result]) => ({ id: dependency, state, result }))
  }

  /**
   * Waits until the task completes and returns its result; throws {@link TaskFailedError} when
   * it ends dead or canceled, {@link TaskNotFoundError} when there is no such task, and
   * {@link WaitTimeoutError} when `timeoutMs` passes first. Between reads of the task it blocks
   * on the event stream and reads again as soon as the task's final event arrives; it reads at
   * least every `pollMs` (default 1000) anyway, for a namespace with events off or a stream
   * trimmed past the event. So a wait costs about one blocking read and one task read per
   * `pollMs`, never a loop of calls.
   */
  async waitForResult(id: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<Result> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs
    const pollMs = Math.max(1, options.pollMs ?? 1000)
    const found = await this.locate(id)
    if (!found) throw new TaskNotFoundError(id, this.namespace)
    const partition = found.partition
    const key = partition.key('events')
    // A blocked XREAD holds its connection, so the wait reads on a connection of its own.
    const reader = duplicateConnection(this.connection.redis)
    try {
      // The stream position is taken before the task is read again, so a final event written
      // in between is still read.
      let lastId = await lastStreamId(reader, key)
      for (;;) {
        const task = (await getTask(this.connection.runner, partition, { id })) as TaskInfo | null
        if (!task) throw new TaskNotFoundError(id, this.namespace)
        if (task.state === 'completed') return this.decodeResult(id, task.result ?? Buffer.alloc(0))
        if (task.state === 'dead' || task.state === 'canceled') throw new TaskFailedError(task)
        const now = Date.now()
        if (now >= deadline) throw new WaitTimeoutError(task, options.timeoutMs ?? 0)
        lastId = await waitForFinalEvent(reader, key, lastId, id, Math.min(now + pollMs, deadline))
      }
    } finally {
      reader.disconnect()
    }
  }

  /** A result as `waitForResult` returns it: the bytes, or with `json` the value they spell. */
  private decodeResult(id: string, result: Buffer): Result {
    if (!this.json) return result as Result
    const decoded = decodeJson(result)
    if (!decoded.ok) throw new TypeError(`task ${id}: its result is ${decoded.why}: was it completed by a Worker started without json: true?`)
    return decoded.value as Result
  }

  /**
   * Counts per state, the completion and failure totals, the paused queues and the worker nodes
   * (each marked `stale: 1` when its last heartbeat is older than the node timeout, on the Redis
   * server clock), added up over the partitions; `partitions` gives each partition's own
   * figures, by index.
   */
  async stats(): Promise<NamespaceStats> {
    const runner = this.connection.runner
    const each = await Promise.all(this.partitions.all.map((partition) => stats(runner, partition)))
    return { ...addUpStats(each), partitions: each }
  }

  /**
   * The namespace's metrics in Prometheus text exposition format, added up over the partitions
   * (one read-only `metrics` call each): tasks by state and by queue, completions and failed
   * attempts as counters, paused queues, each node's tasks in flight, capacity and staleness,
   * and the age of the next ready task. Serve it at `/metrics` for a Prometheus scrape.
   */
  async metrics(): Promise<string> {
    return formatMetrics(this.namespace, await this.metricsReplies())
  }

  /**
   * The `metrics` script's reply of every partition, partition 0 first: what {@link metrics}
   * formats, for a caller that puts several namespaces in one text (`formatNamespacesMetrics`).
   */
  async metricsReplies(): Promise<MetricsReply[]> {
    const runner = this.connection.runner
    return Promise.all(this.partitions.all.map((partition) => metrics(runner, partition)))
  }

  /**
   * Follows the event streams of every partition, merged. Events of one partition come in the
   * order they happened; events of different partitions are interleaved as they arrive, with
   * no order between them. Each event names its `partition`, and its id is a position in that
   * partition's stream: resume a partitioned namespace with `fromByPartition`.
   */
  events(options: EventOptions & { fromByPartition?: Readonly<Record<number, string>> } = {}): AsyncGenerator<PartitionEvent> {
    const { redis } = this.connection
    const partitions = this.partitions.all
    if (partitions.length === 1) return tagged(followEvents(redis, partitions[0] as Namespace, options), 0)
    // A reader blocked on one stream ends only when its connection goes, so leaving the merged
    // iteration aborts them all.
    const stop = new AbortController()
    options.signal?.addEventListener('abort', () => stop.abort(), { once: true })
    const streams = partitions.map((partition) =>
      tagged(
        followEvents(redis, partition, {
          ...options,
          from: options.fromByPartition?.[partition.partition] ?? options.from,
          signal: stop.signal,
        }),
        partition.partition,
      ),
    )
    return merge(streams, stop)
  }

  /**
   * Runs housekeeping rounds until nothing is pending: due tasks promoted, expired leases and
   * silent nodes recovered, dependents settled, old tasks swept. Workers do this on their own;
   * call it when no worker runs, e.g. to settle a large failure cascade.
   */
  async maintain(options: { limit?: number; maxRounds?: number } = {}): Promise<number> {
    const maxRounds = options.maxRounds ?? 10_000
    const runner = this.connection.runner
    let rounds = 0
    for (const partition of this.partitions.all) {
      for (let round = 1; round <= maxRounds; round++) {
        rounds = Math.max(rounds, round)
        const report = await maintain(runner, partition, { limit: options.limit })
        if (report.refill.length > 0) await refillSchedules(runner, partition, report.refill)
        if (report.more === 0) break
      }
    }
    return rounds
  }

  async close(): Promise<void> {
    await this.connection.close()
  }

  // Repeating schedules (client/schedules.ts). A schedule lives in partition 0 and enqueues its
  // tasks there.

  /** Creates a repeating schedule; refused with ScheduleExistsError when the id exists. */
  async createSchedule(input: ScheduleInput<Payload>): Promise<{ revision: number; nextAt: number }> {
    return putSchedule(this.connection.runner, this.connection.namespace, this.scheduleInput(input), 0)
  }

  /**
   * Replaces a schedule's definition while it is still at `revision` (ScheduleChangedError
   * otherwise). It keeps its history: no time up to its last firing fires again.
   */
  async updateSchedule(revision: number, input: ScheduleInput<Payload>): Promise<{ revision: number; nextAt: number }> {
    return putSchedule(this.connection.runner, this.connection.namespace, this.scheduleInput(input), revision)
  }

  /** 'unchanged' when it was paused already. */
  async pauseSchedule(id: string): Promise<'paused' | 'unchanged'> {
    return pauseScheduleIn(this.connection.runner, this.connection.namespace, id)
  }

  /** Firings missed while paused are treated by the schedule's missed-firing policy. */
  async resumeSchedule(id: string): Promise<'resumed' | 'unchanged'> {
    return resumeScheduleIn(this.connection.runner, this.connection.namespace, id)
  }

  /** The tasks it fired already stay. */
  async removeSchedule(id: string): Promise<'removed'> {
    return removeScheduleIn(this.connection.runner, this.connection.namespace, id)
  }

  async getSchedule(id: string): Promise<ScheduleInfo | null> {
    return getScheduleIn(this.connection.runner, this.connection.namespace, id)
  }

  /** One page; pass the reply's cursor back for the next, until it is empty. */
  async listSchedules(options: { cursor?: string; limit?: number } = {}): Promise<{ schedules: ScheduleInfo[]; cursor: string }> {
    return listSchedulesIn(this.connection.runner, this.connection.namespace, options)
  }

  private scheduleInput(input: ScheduleInput<Payload>): ScheduleInput<string | Buffer> {
    const task = input.task ?? {}
    const payload = task.payload === undefined ? undefined : encodePayload(task.payload, 0, this.json)
    return { ...input, task: { ...task, payload } }
  }
}

/** A task event and the partition whose stream holds it. */
export type PartitionEvent = TaskEvent & { readonly partition: number }

export type NamespaceStats = StatsReply & { partitions: StatsReply[] }

async function* tagged(events: AsyncGenerator<TaskEvent>, partition: number): AsyncGenerator<PartitionEvent> {
  for await (const event of events) yield { ...event, partition }
}

/** Yields from every generator as its items arrive; ends when all have ended. */
async function* merge<T>(generators: readonly AsyncGenerator<T>[], stop: AbortController): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>()
  const pull = (index: number) =>
    pending.set(index, (generators[index] as AsyncGenerator<T>).next().then((result) => ({ index, result })))
  generators.forEach((_, index) => pull(index))
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values())
      if (result.done) {
        pending.delete(index)
        continue
      }
      pull(index)
      yield result.value
    }
  } finally {
    stop.abort()
    await Promise.allSettled(pending.values())
  }
}

function isFinalEvent(event: TaskEvent): boolean {
  return event.type === 'completed' || event.type === 'dead' || event.type === 'canceled'
}

/**
 * Blocks on the event stream after `lastId` until the task's final event arrives or the clock
 * reaches `until`, and returns the position reached. An empty read has waited its full block
 * time, so this makes one call per event batch, never a busy loop.
 */
async function waitForFinalEvent(
  reader: Redis | Cluster,
  key: string,
  lastId: string,
  id: string,
  until: number,
): Promise<string> {
  let position = lastId
  for (;;) {
    const blockMs = Math.ceil(until - Date.now())
    // XREAD takes BLOCK 0 as "for ever".
    if (blockMs <= 0) return position
    for (const entry of await readStream(reader, key, position, blockMs)) {
      position = entry.id
      if (toTaskEvents(entry).some((event) => event.task === id && isFinalEvent(event))) return position
    }
  }
}

type EnqueueRow = ReturnType<typeof toEnqueueRow>

/** A task's payload as the enqueue script takes it (see payloads.ts), or a TypeError saying why not. */
function encodePayload(payload: unknown, index: number, json: boolean): string | Buffer {
  const encoded = json
    ? encodeJson(payload)
    : encodeBytes(payload, 'pass JSON.stringify(value) or Buffer.from(bytes), or open the Scheduler with json: true to enqueue values as JSON')
  if (!encoded.ok) throw new TypeError(`tasks[${index}].payload: ${encoded.why}`)
  return encoded.bytes
}

function toEnqueueRow(task: TaskInput<unknown>, payload: string | Buffer) {
  const runAt = task.runAt instanceof Date ? task.runAt.getTime() : task.runAt
  return {
    id: task.id ?? randomUUID(),
    payload,
    priority: task.priority,
    delayMs: task.delayMs,
    runAt,
    dependsOn: task.dependsOn ?? [],
    maxAttempts: task.maxAttempts,
    backoff: task.backoff?.type,
    backoffMs: task.backoff?.delayMs,
    backoffCapMs: task.backoff?.maxDelayMs,
    leaseMs: task.leaseMs,
    queue: task.queue,
    onDependencyFailure: task.onDependencyFailure,
    group: task.group,
  }
}
