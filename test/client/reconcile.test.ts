/**
 * A Worker reconciles with Redis, so no task stays `running` on a node that does not run it
 * (issue 8, item 2): a completion refused for good is turned into a failure of that task, one
 * refused for a while (Redis out of memory) is sent again until it gets through, and a task
 * Redis holds for the node that the Worker does not run is handed back.
 */
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRunner } from '../../client/connection.js'
import { LeaseLostError, RedisOutOfMemoryError, Scheduler, TaskFailedError, Worker, type TaskEvent, type TaskHandler } from '../../client/index.js'
import { deregisterNode, registerNode, start } from '../../loader/generated/scripts.js'
import { Namespace } from '../../loader/keys.js'
import { closeClients, randomNamespace, redisInfo, standaloneClient } from '../support/context.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

async function scheduler(url: string, config: Parameters<typeof Scheduler.open>[0]['config'] = {}): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('rc').name, config })
  open.push(s)
  return s
}

async function worker(
  url: string,
  s: Scheduler,
  handler: TaskHandler,
  options: { nodeId?: string; capacity?: number; heartbeatIntervalMs?: number; onError?: (e: unknown) => void } = {},
): Promise<Worker> {
  const w = await Worker.start({
    connection: url,
    namespace: s.namespace,
    handler,
    heartbeatIntervalMs: 100,
    onError: () => {},
    ...options,
  })
  open.push({ close: () => w.stop({ timeoutMs: 1000 }) })
  return w
}

async function history(s: Scheduler, task: string): Promise<string[]> {
  const events: TaskEvent[] = []
  for await (const event of s.events({ from: '0', idleTimeoutMs: 50 })) events.push(event)
  return events.filter((e) => e.task === task).map((e) => `${e.type}${e.node ? `@${e.node}` : ''}`)
}

describe('Worker reconciliation on the shared Redis', () => {
  const url = redisInfo.url

  it('a result over the cap fails its task and lets the rest of its batch complete; nothing stays running', async () => {
    const s = await scheduler(url, { resultCap: 10 })
    const errors: unknown[] = []
    let arrived = 0
    let bothStarted!: () => void
    const barrier = new Promise<void>((resolve) => (bothStarted = resolve))
    // Both handlers return in the same tick, so their results go out in one complete call,
    // which the oversized result makes Redis refuse as a whole.
    await worker(
      url,
      s,
      async (task) => {
        if (++arrived === 2) bothStarted()
        await barrier
        return task.id === 'big' ? 'x'.repeat(100) : 'ok'
      },
      { capacity: 4, onError: (e) => errors.push(e) },
    )
    await s.enqueueBatch([{ id: 'good' }, { id: 'big' }])
    expect((await s.waitForResult('good', { timeoutMs: 5000 })).toString()).toBe('ok')
    const failure = await s.waitForResult('big', { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(TaskFailedError)
    const big = (failure as TaskFailedError).task
    expect(big.state).toBe('dead')
    expect(big.error).toMatch(/^result not accepted: TM_RESULT_TOO_LARGE results\[1\]: 100 bytes, the cap is 10/)
    expect(big.reason).toMatch(/^not retryable: result not accepted/)
    const stats = await s.stats()
    expect([stats.running, stats.assigned, stats.completed, stats.dead]).toEqual([0, 0, 1, 1])
    expect(await history(s, 'big')).not.toContain('released')
  })

  it('a task Redis holds for the node that the Worker does not run is handed back, and then runs', async () => {
    const s = await scheduler(url)
    // A worker process that started a task and was restarted under the same node id before
    // the node timed out: Redis still has the task running there, the new process knows nothing of it.
    const runner = createRunner(standaloneClient())
    const ns = new Namespace(s.namespace)
    await registerNode(runner, ns, { nodeId: 'restarted', capacity: 1 })
    await s.enqueue({ id: 'orphan' })
    const [[id, token] = []] = await start(runner, ns, { nodeId: 'restarted' })
    expect([id, token]).toEqual(['orphan', 1])
    const runs: number[] = []
    await worker(url, s, async (task) => {
      runs.push(task.token)
      return 'second life'
    }, { nodeId: 'restarted' })
    expect((await s.waitForResult('orphan', { timeoutMs: 5000 })).toString()).toBe('second life')
    // Handed back (no attempt used), assigned again, and run once by the new process.
    expect(runs).toEqual([2])
    const task = await s.getTask('orphan')
    expect([task?.attempts, task?.lostAttempts, task?.node]).toEqual([1, 0, 'restarted'])
    expect(await history(s, 'orphan')).toEqual([
      'enqueued',
      'assigned@restarted',
      'started@restarted',
      'released@restarted',
      'assigned@restarted',
      'started@restarted',
      'completed@restarted',
    ])
  })

  it('a result that arrives after the task was taken from the node reaches onError as a LeaseLostError', async () => {
    const s = await scheduler(url)
    const errors: unknown[] = []
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    let finish!: () => void
    const held = new Promise<void>((resolve) => (finish = resolve))
    const handler: TaskHandler = async () => {
      started()
      await held
      return 'late'
    }
    await worker(url, s, handler, { nodeId: 'slow', onError: (e) => errors.push(e), heartbeatIntervalMs: 60_000 })
    await s.enqueue({ id: 'job' })
    await running
    // Taken from the node while its handler runs: the node leaves, the task goes back to ready.
    const runner = createRunner(standaloneClient())
    await runner.loadAll()
    await deregisterNode(runner, new Namespace(s.namespace), { nodeId: 'slow' })
    expect((await s.getTask('job'))?.state).toBe('ready')
    finish()
    const deadline = Date.now() + 10_000
    while (errors.length === 0 && Date.now() < deadline) await sleep(20)
    expect(errors.map((e) => (e as Error).name)).toEqual(['LeaseLostError'])
  })
})

describe('Worker reconciliation while Redis refuses writes (private server)', () => {
  let redis: PrivateRedis
  let admin: Redis
  let url: string

  beforeAll(async () => {
    redis = await startPrivate('standalone')
    admin = redis.client() as Redis
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const server = redis.servers[0]!
    url = `redis://${server.host}:${server.port}`
  })
  afterAll(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()))
    await closeClients()
    await redis?.stop()
  })

  it('a completion refused for lack of memory is sent again until it gets through', async () => {
    const s = await scheduler(url)
    const errors: unknown[] = []
    let finish!: () => void
    const gate = new Promise<void>((resolve) => (finish = resolve))
    let runs = 0
    await worker(
      url,
      s,
      async () => {
        runs++
        await gate
        return 'kept'
      },
      { onError: (e) => errors.push(e) },
    )
    await s.enqueue({ id: 'patient' })
    while ((await s.getTask('patient'))?.state !== 'running') await sleep(10)
    await admin.config('SET', 'maxmemory', '1')
    try {
      finish()
      // The completion is refused (and retried) for a while.
      while (!errors.some((e) => e instanceof RedisOutOfMemoryError && /complete/.test(e.message))) await sleep(20)
      await sleep(300)
      expect((await s.getTask('patient'))?.state).toBe('running')
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    expect((await s.waitForResult('patient', { timeoutMs: 10_000 })).toString()).toBe('kept')
    const task = await s.getTask('patient')
    expect([task?.attempts, task?.lostAttempts, runs]).toEqual([1, 0, 1])
  })

  it('a progress report refused for lack of memory is sent again until it gets through', async () => {
    const s = await scheduler(url)
    const errors: unknown[] = []
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    let report!: () => void
    const gate = new Promise<void>((resolve) => (report = resolve))
    let reported = false
    await worker(
      url,
      s,
      async (task) => {
        started()
        await gate
        await task.progress({ step: 1 })
        reported = true
        return 'done'
      },
      { onError: (e) => errors.push(e) },
    )
    await s.enqueue({ id: 'reporter' })
    await running
    await admin.config('SET', 'maxmemory', '1')
    try {
      report()
      while (!errors.some((e) => e instanceof RedisOutOfMemoryError && /report-progress/.test(e.message))) await sleep(20)
      expect(reported).toBe(false)
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    expect((await s.waitForResult('reporter', { timeoutMs: 10_000 })).toString()).toBe('done')
    expect(reported).toBe(true)
    const task = await s.getTask('reporter')
    expect([task?.attempts, task?.progress]).toEqual([1, '{"step":1}'])
  })
})
