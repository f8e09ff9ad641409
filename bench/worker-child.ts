/**
 * Entry of the worker process: one per measured run, so the worker's CPU never competes with the
 * producer's event loop and the worker side is the same separate process for every system.
 *
 * The parent passes a {@link ChildSpec} as JSON in argv[2] and talks over the IPC channel:
 * the child says `ready` once loaded, starts the system's worker on `go` (then says `started`),
 * reports `progress` while it runs and `handled` as soon as it has run the expected number of
 * tasks, and on `stop` stops the worker and sends its `result`: how many tasks ran, how many ran
 * more than once, the enqueue-to-start latencies and, when asked, the order tasks ran in.
 */
import { nowMs, type TaskData } from './payload.js'
import { loadSystem } from './systems/index.js'
import type { RunningWorker, SystemName, WorkerOptions } from './systems/types.js'

export interface ChildSpec {
  system: SystemName
  url: string
  worker: WorkerOptions
  /** Tasks the run expects; `handled` is sent when this many distinct tasks have run. */
  expected: number
  /** Send the ids in the order they ran (graphs: checks that dependencies ran first). */
  recordOrder: boolean
}

export type ParentMessage = { type: 'go' } | { type: 'stop' }

export interface ChildResult {
  /** Handler calls. */
  handled: number
  /** Distinct task ids run. */
  distinct: number
  /** Handler calls for a task id that had run already. */
  duplicates: number
  /** Enqueue-to-handler-start, in ms, for tasks that carried an enqueue time. */
  latencies: number[]
  order: string[]
}

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'progress'; handled: number }
  | { type: 'handled'; handled: number }
  | { type: 'result'; result: ChildResult }
  | { type: 'error'; message: string }

const PROGRESS_INTERVAL_MS = 250

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve()
    process.send(message, undefined, undefined, () => resolve())
  })
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec
  const system = await loadSystem(spec.system)
  const seen = new Set<string>()
  const latencies: number[] = []
  const order: string[] = []
  let handled = 0
  let duplicates = 0
  let worker: RunningWorker | undefined
  let progress: NodeJS.Timeout | undefined

  const observe = (data: TaskData): void => {
    const now = nowMs()
    handled++
    if (data.t0 > 0) latencies.push(now - data.t0)
    if (spec.recordOrder) order.push(data.id)
    if (seen.has(data.id)) {
      duplicates++
      return
    }
    seen.add(data.id)
    if (seen.size === spec.expected) void send({ type: 'handled', handled })
  }

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'go') {
      void (async () => {
        worker = await system.startWorker(spec.url, spec.worker, observe)
        progress = setInterval(() => void send({ type: 'progress', handled }), PROGRESS_INTERVAL_MS)
        await send({ type: 'started' })
      })().catch(fatal)
    } else if (message.type === 'stop') {
      void (async () => {
        clearInterval(progress)
        await worker?.stop()
        await send({ type: 'result', result: { handled, distinct: seen.size, duplicates, latencies, order } })
        process.exit(0)
      })().catch(fatal)
    }
  })
  process.on('disconnect', () => process.exit(1))
  await send({ type: 'ready' })
}

function fatal(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  void send({ type: 'error', message }).finally(() => process.exit(1))
}

main().catch(fatal)
