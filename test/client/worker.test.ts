import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NonRetryableError, Scheduler, TaskFailedError, Worker, type TaskHandler } from '../../client/index.js'
import { clusterInfo, clusterSkipReason, randomNamespace, redisInfo } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

/** The same Redis as a connection string: standalone, or the cluster by its seeds. */
const connections = [
  { name: 'standalone', url: redisInfo.url, skip: undefined },
  {
    name: 'cluster',
    url: `redis-cluster://${(clusterInfo?.nodes ?? []).map((n) => `${n.host}:${n.port}`).join(',')}`,
    skip: clusterSkipReason,
  },
]

let url = redisInfo.url

async function scheduler(config: Parameters<typeof Scheduler.open>[0]['config'] = {}): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('w').name, config })
  open.push(s)
  return s
}

async function worker(s: Scheduler, handler: TaskHandler, options: { nodeId?: string; capacity?: number } = {}): Promise<Worker> {
  const w = await Worker.start({
    connection: url,
    namespace: s.namespace,
    handler,
    heartbeatIntervalMs: 100,
    ...options,
  })
  open.push({ close: () => w.stop({ timeoutMs: 1000 }) })
  return w
}

describe.each(connections)('Worker and Scheduler on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  it('runs a graph across two nodes and returns results to waiters', async () => {
    const s = await scheduler()
    const ran: string[] = []
    const handler: TaskHandler = async (task) => {
      ran.push(task.id)
      if (task.id === 'sum') {
        const inputs = await task.dependencyResults()
        return [...inputs.values()].map((b) => Number(b?.toString())).reduce((a, b) => a + b, 0).toString()
      }
      return String(Number(task.payload.toString()) * 2)
    }
    await worker(s, handler, { nodeId: 'one', capacity: 3 })
    await worker(s, handler, { nodeId: 'two', capacity: 3 })
    const parts = Array.from({ length: 20 }, (_, i) => ({ id: `n${i}`, payload: String(i) }))
    await s.enqueueBatch([{ id: 'sum', dependsOn: parts.map((p) => p.id) }, ...parts])
    expect((await s.waitForResult('sum', { timeoutMs: 10_000 })).toString()).toBe(String(2 * 190))
    expect(ran.at(-1)).toBe('sum')
    expect(new Set(ran).size).toBe(21)
    const stats = await s.stats()
    expect(stats.nodes.map(({ id, completed }) => [id, completed > 0])).toEqual([
      ['one', true],
      ['two', true],
    ])
  })

  it('events() follows the event stream as an async iterator, from the start or from now', async () => {
    const s = await scheduler()
    await s.enqueue({ id: 'before' })
    const seen: string[] = []
    const live = (async () => {
      for await (const event of s.events({ idleTimeoutMs: 1500 })) {
        seen.push(`${event.type}:${event.task || event.node}`)
        if (event.type === 'completed' && event.task === 'after') return
      }
    })()
    await sleep(100)
    await worker(s, async () => 'ok', { nodeId: 'events-node' })
    await s.enqueue({ id: 'after' })
    await live
    expect(seen).not.toContain('enqueued:before')
    expect(seen).toEqual(expect.arrayContaining(['node-joined:events-node', 'enqueued:after', 'started:after', 'completed:after']))
    const history: string[] = []
    for await (const event of s.events({ from: '0', idleTimeoutMs: 50 })) history.push(`${event.type}:${event.task}`)
    expect(history.slice(0, 1)).toEqual(['enqueued:before'])
    expect(history.indexOf('enqueued:after')).toBeLessThan(history.indexOf('completed:after'))
  })

  it('retries a failing handler and reports a dead task to its waiter', async () => {
    const s = await scheduler()
    await worker(s, async (task) => {
      if (task.id === 'never') throw new NonRetryableError('cannot work')
      if (task.attempt < 2) throw new Error('transient')
      return 'ok'
    })
    await s.enqueueBatch([
      { id: 'flaky', backoff: { type: 'fixed', delayMs: 20 } },
      { id: 'never', maxAttempts: 5 },
    ])
    expect((await s.waitForResult('flaky', { timeoutMs: 10_000 })).toString()).toBe('ok')
    const failure = await s.waitForResult('never', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(TaskFailedError)
    expect((failure as TaskFailedError).task.reason).toBe('not retryable: cannot work')
  })

  it('cancel of a running task aborts the handler signal and ends the task canceled', async () => {
    const s = await scheduler()
    let aborted: unknown
    await worker(s, (_task, signal) => {
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = signal.reason
          reject(new Error('stopped'))
        })
      })
    })
    await s.enqueue({ id: 'long' })
    while ((await s.getTask('long'))?.state !== 'running') await sleep(10)
    expect(await s.cancel('long')).toBe('cancel-requested')
    await expect(s.waitForResult('long', { timeoutMs: 5000 })).rejects.toBeInstanceOf(TaskFailedError)
    expect(aborted).toBe('canceled')
    expect((await s.getTask('long'))?.state).toBe('canceled')
  })

  it('a delayed task is picked up when it falls due, without polling by the producer', async () => {
    const s = await scheduler()
    const startedAt: number[] = []
    await worker(s, async () => {
      startedAt.push(Date.now())
    }, { capacity: 1 })
    const enqueuedAt = Date.now()
    await s.enqueue({ id: 'later', delayMs: 300 })
    await s.waitForResult('later', { timeoutMs: 5000 })
    expect(startedAt[0]! - enqueuedAt).toBeGreaterThanOrEqual(290)
    expect(startedAt[0]! - enqueuedAt).toBeLessThan(1000)
  })

  it('graceful stop hands back tasks still running after the timeout; they run elsewhere', async () => {
    const s = await scheduler()
    const first = await Worker.start({
      connection: url,
      namespace: s.namespace,
      nodeId: 'leaving',
      heartbeatIntervalMs: 100,
      handler: (_t, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('x')))),
    })
    await s.enqueue({ id: 'handed-back' })
    while ((await s.getTask('handed-back'))?.state !== 'running') await sleep(10)
    await first.stop({ timeoutMs: 100 })
    const task = await s.getTask('handed-back')
    expect([task?.state, task?.attempts, task?.lostAttempts]).toEqual(['ready', 0, 0])
    await worker(s, async () => 'done', { nodeId: 'staying' })
    expect((await s.waitForResult('handed-back', { timeoutMs: 5000 })).toString()).toBe('done')
  })

  it('a handler past taskTimeoutMs fails its attempt with a timeout, and the retry runs', async () => {
    const s = await scheduler()
    const signals: unknown[] = []
    const w = await Worker.start({
      connection: url,
      namespace: s.namespace,
      heartbeatIntervalMs: 100,
      taskTimeoutMs: 50,
      handler: async (task, signal) => {
        if (task.attempt === 1) {
          signal.addEventListener('abort', () => signals.push(signal.reason))
          await new Promise(() => {})
        }
        return 'second time lucky'
      },
    })
    open.push({ close: () => w.stop({ timeoutMs: 500 }) })
    await s.enqueue({ id: 'slow', backoff: { type: 'fixed', delayMs: 10 } })
    expect((await s.waitForResult('slow', { timeoutMs: 5000 })).toString()).toBe('second time lucky')
    expect(signals).toEqual(['timeout'])
    expect((await s.getTask('slow'))?.attempts).toBe(2)
  })

  it('graceful stop lets running handlers finish and reports them completed', async () => {
    const s = await scheduler()
    const w = await Worker.start({
      connection: url,
      namespace: s.namespace,
      heartbeatIntervalMs: 100,
      handler: async () => {
        await sleep(200)
        return 'finished in time'
      },
    })
    await s.enqueue({ id: 'finishing' })
    while ((await s.getTask('finishing'))?.state !== 'running') await sleep(10)
    await w.stop({ timeoutMs: 5000 })
    const task = await s.getTask('finishing')
    expect([task?.state, task?.result?.toString()]).toEqual(['completed', 'finished in time'])
    expect((await s.stats()).nodes).toEqual([])
  })

  it('a worker process killed with SIGKILL mid-task loses no task: it completes on another node', async () => {
    const s = await scheduler({ nodeTimeoutMs: 500 })
    const child = fork(fileURLToPath(new URL('./worker-process.ts', import.meta.url)), [url, s.namespace, 'victim'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const messages: Record<string, string>[] = []
    child.on('message', (m) => messages.push(m as Record<string, string>))
    while (!messages.some((m) => m.ready)) await sleep(20)
    await s.enqueue({ id: 'precious', maxAttempts: 1 })
    while (!messages.some((m) => m.started === 'precious')) await sleep(10)
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    await worker(s, async () => 'rescued', { nodeId: 'rescuer' })
    expect((await s.waitForResult('precious', { timeoutMs: 10_000 })).toString()).toBe('rescued')
    const task = await s.getTask('precious')
    expect([task?.node, task?.attempts, task?.lostAttempts]).toEqual(['rescuer', 1, 1])
  }, 20_000)
})
