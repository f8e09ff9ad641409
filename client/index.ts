/** taskmill's public API: the Scheduler and Worker, the script runner, keys and error classes. */
export { Scheduler, TaskFailedError, TaskNotFoundError, WaitTimeoutError, MAX_BATCH } from './scheduler.js'
export type {
  SchedulerOptions,
  SchedulerConfig,
  Strategy,
  TaskInput,
  TaskInfo,
  TaskState,
  EnqueueOutcome,
  RateLimit,
} from './scheduler.js'
export { chunkEnqueueRows, ENQUEUE_CALL_LIMITS } from './enqueue-chunks.js'
export type { EnqueueCallLimits, EnqueueChunkRow } from './enqueue-chunks.js'
export { CALL_LIMITS } from './call-limits.js'
export type { CallLimits } from './call-limits.js'
export { Worker, NonRetryableError, RateLimitedError } from './worker.js'
export type { WorkerOptions, TaskContext, TaskHandler, AbortReason } from './worker.js'
export type { TaskEvent, TaskEventType, EventOptions } from './events.js'
export type { ListTasksOptions, ListedTask, ListedState, TaskPage } from './list-tasks.js'
export type { ScheduleInput, ScheduleInfo, ScheduleTemplate, MissedFirings } from './schedules.js'
export { parseCron, cronTimesAfter } from './cron.js'
export type { Cron } from './cron.js'
export type { Connection } from './connection.js'
export { createRunner } from './connection.js'
export { ScriptRunner } from '../loader/runner.js'
export type { ScriptRunnerOptions, ReplicaWaitOptions } from '../loader/runner.js'
export { connect, connectCluster } from '../loader/connect.js'
export { Namespace, KEY_TYPES, keyPattern } from '../loader/keys.js'
export * from '../loader/errors.js'
export * from '../loader/generated/errors.js'
export * as scripts from '../loader/generated/scripts.js'
export type { ScriptDefinition } from '../loader/contract.js'
