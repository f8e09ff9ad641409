/**
 * A worker process as a process manager runs one: `handleSignals: true` and nothing else that
 * would stop it. It prints `ready`, `started <id>` and `finished <id>` on stdout, and
 * `exit <code>` when the process ends. A handler sleeps for as many ms as its payload says,
 * watching its signal.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from '../../client/index.js'

const [url = '', namespace = '', nodeId = '', stopTimeoutMs = '30000'] = process.argv.slice(2)
process.on('exit', (code) => console.log(`exit ${code}`))
await Worker.start({
  connection: url,
  namespace,
  nodeId,
  capacity: 1,
  heartbeatIntervalMs: 100,
  handleSignals: true,
  stopTimeoutMs: Number(stopTimeoutMs),
  handler: async (task, signal) => {
    console.log(`started ${task.id}`)
    await sleep(Number(task.payload.toString()), undefined, { signal })
    console.log(`finished ${task.id}`)
    return `done on ${nodeId}`
  },
})
console.log('ready')
