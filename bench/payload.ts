/**
 * The benchmark's tasks: no-op jobs whose payload is about 100 bytes of JSON carrying the task's
 * own id (so the worker can record exactly which task ran) and the time it was enqueued (so the
 * worker can measure enqueue-to-start latency; both processes read the same system clock).
 */

export interface BenchTask {
  /** Unique within a run, 1 to 128 of `A-Z a-z 0-9 _ . : -` (valid as a taskmill id). */
  readonly id: string
  /** JSON of {@link TaskData}, about {@link PAYLOAD_BYTES} bytes. */
  readonly payload: string
}

export interface TaskData {
  id: string
  /** Enqueue time in ms since the epoch, with sub-ms precision; 0 when not measured. */
  t0: number
  pad: string
}

/** Target size of a payload, in bytes. */
export const PAYLOAD_BYTES = 100

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

export function taskData(id: string, t0 = 0): TaskData {
  const base = JSON.stringify({ id, t0, pad: '' }).length
  // t0 written with full precision is up to ~18 characters; keep room so sizes do not vary.
  const room = Math.max(0, PAYLOAD_BYTES - base - (t0 === 0 ? 17 : 0))
  return { id, t0, pad: 'x'.repeat(room) }
}

export function makeTask(id: string, t0 = 0): BenchTask {
  return { id, payload: JSON.stringify(taskData(id, t0)) }
}

/** Tasks `<prefix>-0 … <prefix>-(n-1)`. */
export function makeTasks(prefix: string, n: number): BenchTask[] {
  return Array.from({ length: n }, (_, i) => makeTask(`${prefix}-${i}`))
}

export function parseTaskData(payload: string | Buffer): TaskData {
  return JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')) as TaskData
}
