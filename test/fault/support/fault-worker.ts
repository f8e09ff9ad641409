/**
 * A worker node in a process of its own, for the fault tests that kill, pause and restart
 * things under it. It tells its parent over IPC, as they happen: `ready` once the Worker has
 * started, `run` when a handler starts (task id and fencing token), `done` when it returns, and
 * every error its `onError` receives (name and message), so the parent can count handler runs
 * per task and errors that reached user code. A handler sleeps a random time within the range
 * it is given, then returns `<node>/<token>`, so a stored result says which assignment made it.
 * On a `stop` message it stops gracefully and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from '../../../client/index.js'

export interface FaultWorkerOptions {
  url: string
  namespace: string
  nodeId: string
  capacity: number
  heartbeatIntervalMs: number
  /** The handler's run time is drawn uniformly from this range, in ms. */
  minMs: number
  maxMs: number
}

export type FaultWorkerMessage =
  | { ready: string }
  | { run: [id: string, token: number] }
  | { done: [id: string, token: number] }
  | { error: { name: string; message: string } }
  | { startFailed: string }

const options = JSON.parse(process.argv[2] ?? '{}') as FaultWorkerOptions
const send = (message: FaultWorkerMessage): void => {
  process.send?.(message)
}

try {
  const worker = await Worker.start({
    connection: options.url,
    namespace: options.namespace,
    nodeId: options.nodeId,
    capacity: options.capacity,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    onError: (error) => {
      const { name, message } = error instanceof Error ? error : { name: typeof error, message: String(error) }
      send({ error: { name, message } })
    },
    handler: async (task, signal) => {
      send({ run: [task.id, task.token] })
      const ms = options.minMs + Math.random() * (options.maxMs - options.minMs)
      await sleep(ms, undefined, { signal })
      send({ done: [task.id, task.token] })
      return `${options.nodeId}/${task.token}`
    },
  })
  process.on('message', (message: { stop?: number }) => {
    if (message.stop !== undefined) void worker.stop({ timeoutMs: message.stop }).then(() => process.exit(0))
  })
  send({ ready: options.nodeId })
} catch (error) {
  send({ startFailed: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  process.exit(1)
}
