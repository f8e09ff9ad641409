/**
 * A worker node in a process of its own, for tests that kill it. It tells its parent over IPC
 * when a handler starts, then keeps the task until it is killed.
 */
import { Worker } from '../../client/index.js'

const [url = '', namespace = '', nodeId = ''] = process.argv.slice(2)
await Worker.start({
  connection: url,
  namespace,
  nodeId,
  capacity: 1,
  heartbeatIntervalMs: 100,
  handler: async (task) => {
    process.send?.({ started: task.id })
    await new Promise(() => {})
  },
})
process.send?.({ ready: nodeId })
