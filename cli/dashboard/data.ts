/**
 * What the dashboard shows, read from Redis: the namespaces, their counts and nodes, sampled
 * throughput, task pages, one task's record, events and dependency graph. Everything here only
 * reads, except the three actions at the end, which call the Scheduler's own operations.
 *
 * The shapes the page reads are built here and nowhere else, so a change in what the client
 * library returns (stats' node rows, throughput counters) is one edit in this file.
 */
import { Cluster, type Redis } from 'ioredis'
import { Scheduler, type TaskInfo } from '../../client/scheduler.js'
import { findTask, type PartitionTable } from '../../client/partitions.js'
import type { ListedState, TaskPage } from '../../client/list-tasks.js'
import { toTaskEvents, type TaskEvent } from '../../client/events.js'
import { formatNamespacesMetrics } from '../../client/metrics.js'
import { partitions as partitionsScript, taskGraph } from '../../loader/generated/scripts.js'
import type { ScriptRunner } from '../../loader/runner.js'
import { Namespace } from '../../loader/keys.js'

export const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

/** At most this many discovered namespaces are sampled and shown, the first by name; --namespace names any number. */
export const MAX_SHOWN = 50

/** How often the server samples every namespace's stats, and how many samples it keeps (5 minutes). */
export const SAMPLE_MS = 1000
export const SAMPLES_KEPT = 300

type Stats = Awaited<ReturnType<Scheduler['stats']>>
type StatsNode = Stats['nodes'][number]

export interface NodeView {
  id: string
  weight: number
  capacity: number
  inflight: number
  completed: number
  failed: number
  lastSeenAt: number
  queues: string
  stale: boolean
}

/** The one place that reads a node of `stats()`; `stale` is judged by the stats script on the Redis server's clock. */
export function nodeView(node: StatsNode): NodeView {
  const { id, weight, capacity, inflight, completed, failed, lastSeenAt, queues, stale } = node
  return { id, weight, capacity, inflight, completed, failed, lastSeenAt, queues, stale: stale === 1 }
}

/**
 * The counters the throughput chart follows: the namespace's totals of tasks completed and of
 * attempts failed, which only grow (a node that leaves takes nothing with it).
 */
export function throughputCounters(stats: Stats): { completed: number; failed: number } {
  return { completed: stats.completedTotal, failed: stats.failedTotal }
}

export interface Sample {
  at: number
  completed: number
  failed: number
}

/** Per-second rates between consecutive samples; a counter that went down (a node left) counts as 0. */
export function rates(samples: readonly Sample[]): { at: number; completed: number; failed: number }[] {
  const out = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Sample
    const b = samples[i] as Sample
    const seconds = Math.max((b.at - a.at) / 1000, 0.001)
    out.push({
      at: b.at,
      completed: Math.max(0, b.completed - a.completed) / seconds,
      failed: Math.max(0, b.failed - a.failed) / seconds,
    })
  }
  return out
}

/** Bytes from Redis as the page shows them: text when they are printable UTF-8, else hex. */
export function shownBytes(value: Buffer | string | undefined | null): { encoding: 'text' | 'hex'; value: string; bytes: number } | null {
  if (value === undefined || value === null) return null
  const bytes = typeof value === 'string' ? Buffer.from(value) : value
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    // Tab, newline and carriage return are fine; other control characters are not text.
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return { encoding: 'text', value: text, bytes: bytes.length }
  } catch {
    // Not UTF-8: shown as hex.
  }
  return { encoding: 'hex', value: bytes.toString('hex'), bytes: bytes.length }
}

export interface ProgressView {
  /** `json` when the reported text parses as JSON (then `value` is it laid out), else `text`. */
  kind: 'json' | 'text'
  value: string
  bytes: number
}

/** A task's progress as getTask gives it (the text the handler reported), for the page. */
export function progressView(progress: string | undefined): ProgressView | null {
  if (progress === undefined) return null
  const bytes = Buffer.byteLength(progress)
  try {
    return { kind: 'json', value: JSON.stringify(JSON.parse(progress), null, 2), bytes }
  } catch {
    return { kind: 'text', value: progress, bytes }
  }
}

export interface NamespaceView {
  name: string
  partitions: number
  counts: Record<(typeof STATES)[number], number>
  strategy: string
  /** The queues paused on the namespace (pause-queue), by name. */
  pausedQueues: string[]
  nodes: (NodeView & { share: number; promised: number })[]
  throughput: { at: number; completed: number; failed: number }[]
  error?: string
}

interface Watched {
  scheduler: Scheduler
  nodeTimeoutMs: number
  samples: Sample[]
}

/**
 * The namespaces whose partition 0 has a meta key, found with SCAN on every primary (each
 * primary holds its own slots). Partitions 1, 2, … have a meta too, under a tag with a `/`,
 * which cannot occur in a namespace: those are left out.
 */
export async function discoverNamespaces(redis: Redis | Cluster): Promise<string[]> {
  const pattern = /^tm:\{([^/{}]+)\}:meta$/
  const names = new Set<string>()
  // A cluster client knows its primaries once it has connected and read the slot map.
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping()
  const primaries = redis instanceof Cluster ? redis.nodes('master') : [redis]
  for (const node of primaries) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', 'tm:{*}:meta', 'COUNT', 1000)
      for (const key of keys) {
        const name = pattern.exec(key)?.[1]
        if (name !== undefined) names.add(name)
      }
      cursor = next
    } while (cursor !== '0')
  }
  return [...names].sort()
}

export class DashboardData {
  private readonly watched = new Map<string, Promise<Watched>>()
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> | undefined
  private listeners = new Set<(view: NamespaceView[]) => void>()
  private latest: NamespaceView[] = []
  /** How many discovered namespaces were left out of the last sample (past {@link MAX_SHOWN}). */
  hidden = 0

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly runner: ScriptRunner,
    /** The namespaces given with --namespace; empty to discover them. */
    private readonly fixed: readonly string[],
  ) {}

  start(): void {
    const tick = () => {
      this.sampling = this.sample()
        .then(() => undefined)
        .catch(() => undefined)
        .finally(() => {
          this.sampling = undefined
          if (this.timer !== undefined) this.timer = setTimeout(tick, SAMPLE_MS)
        })
    }
    this.timer = setTimeout(tick, 0)
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.sampling
    const entries = await Promise.allSettled(this.watched.values())
    await Promise.all(entries.map((entry) => (entry.status === 'fulfilled' ? entry.value.scheduler.close() : undefined)))
  }

  /** Called with every new overview, once per sample. */
  subscribe(listener: (view: NamespaceView[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  overview(): NamespaceView[] {
    return this.latest
  }

  /** Reads every namespace's stats once, keeps a sample, and tells the listeners. */
  async sample(): Promise<NamespaceView[]> {
    const names = await this.shownNames()
    const now = await serverNow(this.redis)
    const views: NamespaceView[] = []
    for (const name of names) {
      let watched: Watched
      try {
        watched = await this.watch(name)
      } catch (error) {
        views.push(emptyView(name, (error as Error).message))
        continue
      }
      try {
        const stats = await watched.scheduler.stats()
        watched.samples.push({ at: now, ...throughputCounters(stats) })
        if (watched.samples.length > SAMPLES_KEPT + 1) watched.samples.shift()
        views.push(namespaceView(name, watched, stats, now))
      } catch (error) {
        views.push(emptyView(name, (error as Error).message))
      }
    }
    this.latest = views
    for (const listener of this.listeners) listener(views)
    return views
  }

  /** The namespaces shown: those named with --namespace, else the first {@link MAX_SHOWN} found. */
  private async shownNames(): Promise<readonly string[]> {
    const found = this.fixed.length > 0 ? this.fixed : await discoverNamespaces(this.redis)
    const names = this.fixed.length > 0 ? found : found.slice(0, MAX_SHOWN)
    this.hidden = found.length - names.length
    return names
  }

  /**
   * Every shown namespace's metrics as one Prometheus text, read now (one `metrics` call per
   * partition); a namespace that cannot be opened or read is left out.
   */
  async metrics(): Promise<string> {
    const namespaces: { namespace: string; replies: Awaited<ReturnType<Scheduler['metricsReplies']>> }[] = []
    for (const name of await this.shownNames()) {
      try {
        const { scheduler } = await this.watch(name)
        namespaces.push({ namespace: name, replies: await scheduler.metricsReplies() })
      } catch {
        // Not shown in the text; the page shows its error.
      }
    }
    return formatNamespacesMetrics(namespaces)
  }

  /** The Scheduler of a namespace that exists; one is never opened for a namespace that does not (opening would create it). */
  private watch(name: string): Promise<Watched> {
    const known = this.watched.get(name)
    if (known) return known
    const opening = (async () => {
      // partitions fails with TM_NOT_INITIALIZED for a namespace that does not exist, before any Scheduler is opened.
      const reply = await partitionsScript(this.runner, new Namespace(name))
      const scheduler = await Scheduler.open({ connection: this.redis, namespace: name, allowEvictingPolicy: true })
      return { scheduler, nodeTimeoutMs: reply.nodeTimeoutMs, samples: [] }
    })()
    this.watched.set(name, opening)
    // A namespace that could not be opened is tried again at the next sample.
    opening.catch(() => this.watched.delete(name))
    return opening
  }

  async scheduler(name: string): Promise<Scheduler> {
    if (this.fixed.length > 0 && !this.fixed.includes(name)) throw new NotFound(`namespace ${JSON.stringify(name)} is not shown here`)
    try {
      return (await this.watch(name)).scheduler
    } catch (error) {
      throw new NotFound(`namespace ${JSON.stringify(name)}: ${(error as Error).message}`)
    }
  }

  async tasks(name: string, state: ListedState, cursor: string, limit: number, order: 'newest' | 'oldest'): Promise<TaskPage> {
    const scheduler = await this.scheduler(name)
    return scheduler.listTasks({ state, cursor, limit, order })
  }

  /** One task's page: its record, events (the last {@link EVENTS_SCANNED} of its partition's stream, filtered) and graph. */
  async task(name: string, id: string): Promise<TaskView | null> {
    const scheduler = await this.scheduler(name)
    const table = scheduler.partitions
    const found = await findTask(this.runner, table, id)
    if (!found) return null
    const task = found.task as TaskInfo & { progress?: string }
    return {
      namespace: name,
      partition: found.partition.partition,
      record: {
        id: task.id,
        state: task.state,
        queue: task.queue,
        priority: task.priority,
        attempts: task.attempts,
        lostAttempts: task.lostAttempts,
        maxAttempts: task.maxAttempts,
        unmetDependencies: task.unmetDependencies,
        dependsOn: [...task.dependsOn, ...(task.remoteDependsOn ?? [])],
        enqueuedAt: task.enqueuedAt,
        runAt: task.runAt,
        node: task.node ?? null,
        assignedAt: task.assignedAt ?? null,
        startedAt: task.startedAt ?? null,
        finishedAt: task.finishedAt ?? null,
        cancelRequested: task.cancelRequested === 1,
        error: task.error ?? null,
        reason: task.reason ?? null,
      },
      // Progress is shown when getTask reports it.
      progress: progressView(task.progress),
      payload: shownBytes(task.payload),
      result: shownBytes(task.result),
      events: await this.taskEvents(found.partition, id),
      graph: await taskGraphAround(this.runner, table, found.partition, id),
    }
  }

  private async taskEvents(partition: Namespace, id: string): Promise<TaskEvent[]> {
    const entries = (await this.redis.xrevrange(partition.key('events'), '+', '-', 'COUNT', EVENTS_SCANNED)) as [string, string[]][]
    const events: TaskEvent[] = []
    for (const [entryId, pairs] of entries.reverse()) {
      for (const event of toTaskEvents({ id: entryId, pairs })) if (event.task === id) events.push(event)
    }
    return events
  }
}

/** How many of the latest stream entries a task page looks through for the task's events. */
export const EVENTS_SCANNED = 5000

export class NotFound extends Error {}

export interface TaskView {
  namespace: string
  partition: number
  record: Record<string, unknown>
  progress: ProgressView | null
  payload: ReturnType<typeof shownBytes>
  result: ReturnType<typeof shownBytes>
  events: TaskEvent[]
  graph: Graph
}

export interface Graph {
  nodes: { id: string; state: string; level: number }[]
  edges: { from: string; to: string }[]
  /** Some neighbours were left out (too many, or further than {@link GRAPH_LEVELS}). */
  truncated: boolean
}

export const GRAPH_LEVELS = 3
export const GRAPH_NODES = 80
const GRAPH_FANOUT = 20

/**
 * The task, its dependencies and its dependents up to {@link GRAPH_LEVELS} levels each way, one
 * task-graph call per task drawn. Dependents come from unsettled edges, so a dependent that has
 * finished is not found from its parent (it lists its parents itself). A dependency of another
 * partition ("<p>/<id>") is followed in its partition; dependents in another partition appear
 * as one node "/<p>" each, not followed.
 */
export async function taskGraphAround(runner: ScriptRunner, table: PartitionTable, partition: Namespace, id: string): Promise<Graph> {
  const nodes = new Map<string, { id: string; state: string; level: number }>()
  const edges = new Map<string, { from: string; to: string }>()
  let truncated = false
  const root = await taskGraph(runner, partition, { id, limit: GRAPH_FANOUT })
  if (!root) return { nodes: [], edges: [], truncated }
  nodes.set(id, { id, state: root.state, level: 0 })
  type Step = { id: string; partition: Namespace; level: number; reply: NonNullable<typeof root> }
  const queue: Step[] = [{ id, partition, level: 0, reply: root }]
  while (queue.length > 0) {
    const step = queue.shift() as Step
    if (step.reply.more === 1) truncated = true
    const neighbours: [string, string, number][] = []
    if (step.level <= 0) for (const [parent, state] of step.reply.parents) neighbours.push([parent, state, step.level - 1])
    if (step.level >= 0) for (const [child, state] of step.reply.children) neighbours.push([child, state, step.level + 1])
    for (const [raw, state, level] of neighbours) {
      const remote = /^(\d+)\/(.+)$/.exec(raw)
      const shown = remote ? (remote[2] as string) : raw.startsWith('/') ? `partition ${raw.slice(1)}` : raw
      const edge = level < step.level ? { from: shown, to: step.id } : { from: step.id, to: shown }
      if (!nodes.has(shown)) {
        if (nodes.size >= GRAPH_NODES) {
          truncated = true
          continue
        }
        nodes.set(shown, { id: shown, state, level })
        if (Math.abs(level) < GRAPH_LEVELS && !raw.startsWith('/')) {
          const where = remote ? (table.all[Number(remote[1])] ?? partition) : step.partition
          const reply = await taskGraph(runner, where, { id: shown, limit: GRAPH_FANOUT })
          if (reply) {
            ;(nodes.get(shown) as { state: string }).state = reply.state
            queue.push({ id: shown, partition: where, level, reply })
          }
        } else if (Math.abs(level) >= GRAPH_LEVELS) {
          truncated = true
        }
      }
      edges.set(`${edge.from}>${edge.to}`, edge)
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()], truncated }
}

function emptyView(name: string, error: string): NamespaceView {
  return {
    name,
    partitions: 0,
    counts: Object.fromEntries(STATES.map((state) => [state, 0])) as NamespaceView['counts'],
    strategy: '',
    pausedQueues: [],
    nodes: [],
    throughput: [],
    error,
  }
}

function namespaceView(name: string, watched: Watched, stats: Stats, now: number): NamespaceView {
  const nodes = stats.nodes.map(nodeView)
  // Share of the tasks the nodes have taken (completed, failed or in flight), against the share
  // the weights promise among the nodes that are not stale.
  const taken = nodes.reduce((sum, node) => sum + node.completed + node.failed + node.inflight, 0)
  const weights = nodes.reduce((sum, node) => sum + (node.stale ? 0 : node.weight), 0)
  return {
    name,
    partitions: stats.partitions.length,
    counts: Object.fromEntries(STATES.map((state) => [state, stats[state]])) as NamespaceView['counts'],
    strategy: stats.strategy,
    pausedQueues: [...stats.pausedQueues].sort(),
    nodes: nodes.map((node) => ({
      ...node,
      share: taken === 0 ? 0 : (node.completed + node.failed + node.inflight) / taken,
      promised: weights === 0 || node.stale ? 0 : node.weight / weights,
    })),
    throughput: rates(watched.samples),
  }
}

async function serverNow(redis: Redis | Cluster): Promise<number> {
  const [seconds, micros] = await redis.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}
