/**
 * A graceful `Worker.stop()` (issue 8, item 5): the node keeps reporting in while it waits for
 * its handlers, so a handler longer than nodeTimeoutMs completes once, on that node, instead of
 * being declared lost and run again elsewhere; and a stopping node is given nothing, neither
 * new tasks nor the tasks it hands back.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, expect, it } from 'vitest'
import { Scheduler, Worker, type TaskEvent, type TaskHandler } from '../../client/index.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const url = redisInfo.url
const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

async function scheduler(config: Parameters<typeof Scheduler.open>[0]['config'] = {}): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('gs').name, config })
  open.push(s)
  return s
}

async function worker(s: Scheduler, nodeId: string, handler: TaskHandler, capacity = 10): Promise<Worker> {
  const w = await Worker.start({ connection: url, namespace: s.namespace, nodeId, handler, capacity, heartbeatIntervalMs: 100 })
  open.push({ close: () => w.stop({ timeoutMs: 1000 }) })
  return w
}

async function allEvents(s: Scheduler): Promise<TaskEvent[]> {
  const events: TaskEvent[] = []
  for await (const event of s.events({ from: '0', idleTimeoutMs: 50 })) events.push(event)
  return events
}

it('stop keeps heartbeating while a handler runs past nodeTimeoutMs: the task completes once, on that node', async () => {
  const s = await scheduler({ nodeTimeoutMs: 400 })
  const runs: string[] = []
  const slow = (node: string): TaskHandler => async () => {
    runs.push(node)
    await sleep(1500)
    return `done on ${node}`
  }
  const leaving = await worker(s, 'leaving', slow('leaving'))
  await s.enqueue({ id: 'long' })
  while ((await s.getTask('long'))?.state !== 'running') await sleep(10)
  // Another live node, which would take the task over if `leaving` were declared lost.
  await worker(s, 'other', slow('other'))
  await leaving.stop({ timeoutMs: 5000 })
  const task = await s.getTask('long')
  expect([task?.state, task?.node, task?.result?.toString(), task?.attempts, task?.lostAttempts]).toEqual([
    'completed',
    'leaving',
    'done on leaving',
    1,
    0,
  ])
  expect(runs).toEqual(['leaving'])
  const kinds = (await allEvents(s)).map((e) => e.type)
  expect(kinds).not.toContain('recovered')
  expect(kinds).not.toContain('node-lost')
  expect(kinds).toContain('node-left')
})

it('a stopping node gets no new task, and a task it hands back does not come back to it', async () => {
  const s = await scheduler()
  const leaving = await worker(s, 'leaving', (task, signal) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error(`aborted ${task.id}`)))),
  2)
  await s.enqueue({ id: 'held' })
  while ((await s.getTask('held'))?.state !== 'running') await sleep(10)
  const stopping = leaving.stop({ timeoutMs: 500 })
  await sleep(100)
  // `leaving` has a free slot, but it is on its way out.
  await s.enqueue({ id: 'newcomer' })
  await stopping
  const events = await allEvents(s)
  const of = (task: string) => events.filter((e) => e.task === task).map((e) => `${e.type}${e.node ? `@${e.node}` : ''}`)
  expect(of('held')).toEqual(['enqueued', 'assigned@leaving', 'started@leaving', 'released@leaving'])
  expect(of('newcomer')).toEqual(['enqueued'])
  expect([(await s.getTask('held'))?.state, (await s.getTask('newcomer'))?.state]).toEqual(['ready', 'ready'])
  await worker(s, 'staying', async (task) => `${task.id} ran`)
  expect((await s.waitForResult('held', { timeoutMs: 5000 })).toString()).toBe('held ran')
  expect((await s.waitForResult('newcomer', { timeoutMs: 5000 })).toString()).toBe('newcomer ran')
})
