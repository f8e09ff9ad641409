/**
 * One worker node of the demo, run as its own process by demo.ts. Handlers sleep a little,
 * and a task whose payload asks for it fails its first attempts (or every attempt).
 */
import { Worker } from '../client/index.js'

const url = process.env.DEMO_REDIS_URL ?? ''
const namespace = process.env.DEMO_NAMESPACE ?? ''
const nodeId = process.env.DEMO_NODE_ID ?? ''
const weight = Number(process.env.DEMO_WEIGHT ?? '1')
const capacity = Number(process.env.DEMO_CAPACITY ?? '4')
const workMs = Number(process.env.DEMO_WORK_MS ?? '20')

interface DemoPayload {
  /** Fail this many attempts before succeeding. */
  failAttempts?: number
  /** Never succeed. */
  alwaysFail?: boolean
}

const worker = await Worker.start({
  connection: url,
  namespace,
  nodeId,
  weight,
  capacity,
  heartbeatIntervalMs: 500,
  handler: async (task, signal) => {
    const payload = JSON.parse(task.payload.toString('utf8') || '{}') as DemoPayload
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, workMs)
      signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(new Error(String(signal.reason)))
      })
    })
    if (payload.alwaysFail) throw new Error(`simulated permanent failure of ${task.id}`)
    if ((payload.failAttempts ?? 0) >= task.attempt) {
      throw new Error(`simulated failure of ${task.id}, attempt ${task.attempt}`)
    }
    return `${task.id} done by ${nodeId}`
  },
})

process.send?.({ ready: nodeId })
process.on('SIGTERM', () => {
  void worker.stop({ timeoutMs: 5000 }).then(() => process.exit(0))
})
