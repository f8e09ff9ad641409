/**
 * A worker node that dies at the worst moment for a task with dependents in another partition:
 * it registers in the parent's partition, starts and completes the parent exactly as the
 * Worker does (`start`, then `complete`), and is SIGKILLed by its own hand before anything
 * relays the outcome. With `claim` it first takes the outcome for relay (`claim-relay`), so it
 * dies half-way through a relay instead. Arguments: url, namespace, partition tag, partition
 * index, node id, then `claim` or `complete`.
 */
import { createRunner } from '../../client/connection.js'
import { connect, connectCluster } from '../../loader/connect.js'
import { claimRelay, complete, registerNode, start } from '../../loader/generated/scripts.js'
import { Namespace } from '../../loader/keys.js'

const [url = '', namespace = '', tag = '', index = '0', nodeId = '', mode = 'complete'] = process.argv.slice(2)
const redis = url.startsWith('redis-cluster://') ? connectCluster(url.slice('redis-cluster://'.length)) : connect(url)
const runner = createRunner(redis)
await runner.loadAll()
const partition = new Namespace(namespace, { index: Number(index), tag })
await registerNode(runner, partition, { nodeId, capacity: 10 })
const deadline = Date.now() + 10_000
let started = await start(runner, partition, { nodeId, max: 10 })
while (started.length === 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20))
  started = await start(runner, partition, { nodeId, max: 10 })
}
await complete(runner, partition, {
  nodeId,
  results: started.map(([id, token]) => ({ id, token, result: `result of ${id}` })),
})
if (mode === 'claim') await claimRelay(runner, partition, { limit: 100, leaseMs: 1000 })
process.send?.({ completed: started.map(([id]) => id) })
process.kill(process.pid, 'SIGKILL')
