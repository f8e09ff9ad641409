/**
 * The one interface every system under test implements, so each scenario is written once and
 * runs the same way against taskmill, BullMQ, Bee-Queue and the raw-ioredis floor.
 *
 * The producer side runs in the benchmark process; the worker side runs in a child process
 * (see worker-child.ts), which imports the same module and calls {@link SystemModule.startWorker}.
 */
import type { BenchTask, TaskData } from '../payload.js'

export type SystemName = 'taskmill' | 'taskmill-tuned' | 'bullmq' | 'beequeue' | 'floor'

export type ScenarioName = 'enqueue' | 'drain' | 'e2e' | 'latency' | 'fanin' | 'chain' | 'weighted'

export interface Counts {
  /** Tasks the system itself records as completed. */
  completed: number
  /** Tasks it holds that have not finished (waiting, ready, active, delayed, …). */
  unfinished: number
  /** Tasks it records as failed, dead or canceled. */
  failed: number
}

export interface NodeDetails {
  nodes: { id: string; weight: number; completed: number; failed: number }[]
}

export interface Producer {
  /** Adds the tasks with the system's bulk call (one call per batch). */
  enqueueBatch(tasks: readonly BenchTask[]): Promise<void>
  /** Adds one task with the system's single-task call. */
  enqueueOne(task: BenchTask): Promise<void>
  /** One task that runs once all `children` have completed (BullMQ: a flow). */
  fanIn?(parent: BenchTask, children: readonly BenchTask[]): Promise<void>
  /** `steps[i]` runs only after `steps[i - 1]` has completed (BullMQ: a nested flow). */
  chain?(steps: readonly BenchTask[]): Promise<void>
  /** The system's own counts; called while waiting for a run to finish, so keep it cheap. */
  counts(): Promise<Counts>
  /**
   * After a run, checks with the system's own records that each of `ids` completed, once.
   * Returns the problems found (empty when all is well). Not measured.
   */
  verify(ids: readonly string[]): Promise<string[]>
  /**
   * Per-node completion counters, read once all tasks completed and before the worker stops
   * (taskmill: checked against the task count, and the shares of weighted dispatch).
   */
  details?(): Promise<NodeDetails>
  close(): Promise<void>
}

export interface WorkerNode {
  id: string
  weight: number
}

export interface WorkerOptions {
  /** Tasks one node runs at once. */
  concurrency: number
  /** Nodes to run in this process (taskmill's weighted dispatch); others use one worker. */
  nodes: WorkerNode[]
}

export interface RunningWorker {
  /** Stops taking tasks and lets running ones finish. */
  stop(): Promise<void>
}

/** Called by every adapter's worker for each task it runs; the handler itself is a no-op. */
export type TaskObserver = (data: TaskData) => void

export interface SystemModule {
  readonly name: SystemName
  /** As printed in the report. */
  readonly label: string
  readonly scenarios: readonly ScenarioName[]
  openProducer(url: string): Promise<Producer>
  /** Script SHA1 to name, so a command log can be read per script. */
  scriptNames?(): Promise<Map<string, string>>
  startWorker(url: string, options: WorkerOptions, observe: TaskObserver): Promise<RunningWorker>
}
