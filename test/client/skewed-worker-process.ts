/**
 * A worker node whose process clock runs a minute ahead of the Redis server's, for the test
 * that due times are waited for on the server clock. Reports each task it completes over IPC.
 */
import { Worker } from '../../client/index.js'

const SKEW_MS = 60_000
const realNow = Date.now.bind(Date)
Date.now = () => realNow() + SKEW_MS

const [url = '', namespace = ''] = process.argv.slice(2)
await Worker.start({
  connection: url,
  namespace,
  nodeId: 'skewed',
  heartbeatIntervalMs: 1000,
  handler: async (task) => {
    process.send?.({ ran: task.id })
  },
})
process.send?.({ ready: true })
