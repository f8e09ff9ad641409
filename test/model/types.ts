/** The vocabulary the model, the real system and the commands share. */
import type { GetTaskReply, StatsReply } from '../../loader/generated/scripts.js'

/** The task states, as `stats` names its counts. */
export type TaskState = Exclude<keyof StatsReply, 'strategy' | 'nodes' | 'completedTotal' | 'failedTotal' | 'pausedQueues' | 'now'>
export const TASK_STATES = [
  'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled',
] as const satisfies readonly TaskState[]
// Fails to compile when stats reports a state this list lacks.
const allStatesListed: Exclude<TaskState, (typeof TASK_STATES)[number]> extends never ? true : never = true
void allStatesListed

export interface TaskSpec {
  id: string
  priority: number
  queue: string
  dependsOn: string[]
  delayMs: number
  maxAttempts: number
  backoff: 'fixed' | 'exponential'
  backoffMs: number
  backoffCapMs: number
  leaseMs: number
  onDependencyFailure: 'fail' | 'run'
}

export interface RunConfig {
  strategy: 'round-robin' | 'weighted' | 'least-loaded' | 'random'
  nodeTimeoutMs: number
}

/** One step the model knows how to judge; the real system runs the same thing. */
export type Op =
  | { kind: 'enqueue'; tasks: TaskSpec[] }
  | { kind: 'register'; node: string; weight: number; capacity: number; queues: string[] }
  | { kind: 'heartbeat'; node: string }
  | { kind: 'deregister'; node: string }
  | { kind: 'drain'; node: string }
  | { kind: 'start'; node: string; max: number }
  | { kind: 'complete'; node: string; results: { id: string; token: number; result: string }[]; claim: number }
  | { kind: 'fail'; node: string; id: string; token: number; message: string; retryable: boolean }
  | { kind: 'release'; node: string; id: string; token: number }
  | { kind: 'cancel'; id: string }
  | { kind: 'maintain' }

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/** What the real system looks like after a step: every task, the stats, and the server time. */
export interface Observation {
  /** Server time (ms) read after the step. */
  time: number
  tasks: Map<string, GetTaskReply>
  stats: StatsReply
}

/** The model and the real system disagree, or a promise of the scheduler is broken. */
export class ModelMismatch extends Error {
  override name = 'ModelMismatch'
}

