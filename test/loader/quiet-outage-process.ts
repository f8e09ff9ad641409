/**
 * A Scheduler and a Worker in a process of their own, opened from a URL (so taskmill owns every
 * connection, the Worker's doorbell and the event reader included), for the test that stops
 * their Redis underneath them and reads this process's stderr. It tells its parent over IPC
 * when a task has gone through, keeps running through the outage (heartbeats, doorbell reads,
 * an enqueue), and on `report` sends the names of the errors `onError` and the Scheduler saw.
 */
import { Scheduler, Worker } from '../../client/index.js'

const [url = '', namespace = ''] = process.argv.slice(2)
const onErrorNames: string[] = []
const callErrorNames: string[] = []
/** The class name, and for an error that is not taskmill's its message, so a failure says what leaked. */
const nameOf = (error: unknown): string =>
  error instanceof Error ? (error.name.startsWith('Redis') ? error.name : `${error.name}: ${error.message}`) : typeof error

const scheduler = await Scheduler.open({ connection: url, namespace, config: { nodeTimeoutMs: 60_000 } })
await Worker.start({
  connection: url,
  namespace,
  heartbeatIntervalMs: 50,
  handler: async () => 'done',
  onError: (error) => onErrorNames.push(nameOf(error)),
})
// A reader of the event stream on a connection of its own, blocked while Redis goes away.
const events = scheduler.events()
void events.next().catch((error: unknown) => callErrorNames.push(nameOf(error)))

await scheduler.enqueue({ id: 'before-outage' })
await scheduler.waitForResult('before-outage', { timeoutMs: 10_000 })
process.send?.({ ready: true })

process.on('message', (message: { outage?: boolean; report?: boolean }) => {
  if (message.outage) {
    void scheduler.enqueue({ id: 'during-outage' }).catch((error: unknown) => callErrorNames.push(nameOf(error)))
  }
  if (message.report) {
    process.send?.({ onErrorNames, callErrorNames }, () => process.exit(0))
  }
})
