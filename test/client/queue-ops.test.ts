/**
 * Scheduler.pauseQueue / resumeQueue over a namespace of three partitions, and a handler's
 * task.progress(), with a real Worker, on one Redis and on a cluster.
 */
import type { Cluster, Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LeaseLostError, Scheduler, Worker, type TaskContext, type TaskHandler } from '../../client/index.js'
import { partitionOf } from '../../loader/routing.js'
import { connectionTargets, until } from '../support/connections.js'
import { clusterClient, randomNamespace, redisInfo, standaloneClient } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

let url = redisInfo.url
let raw: () => Redis | Cluster = () => standaloneClient()

async function scheduler(partitions = 1): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('q').name, partitions })
  open.push(s)
  return s
}

async function worker(s: Scheduler, handler: TaskHandler, capacity = 4): Promise<Worker> {
  const w = await Worker.start({ connection: url, namespace: s.namespace, handler, heartbeatIntervalMs: 100, capacity })
  open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
  return w
}

describe.each(connectionTargets)('queue operations and progress on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
    raw = target.name === 'cluster' ? clusterClient : standaloneClient
  })

  it('pauseQueue holds a queue on every partition while others run; a running task finishes; resumeQueue runs the rest', async () => {
    const s = await scheduler(3)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    const started: string[] = []
    await worker(s, async (task) => {
      started.push(task.id)
      if (task.id === 'long') await held
      return task.id
    })
    await s.enqueue({ id: 'long', queue: 'slow' })
    await until('long to start', async () => started, (ids) => ids.includes('long'))
    expect(await s.pauseQueue('slow')).toEqual({ changed: true })
    expect(await s.pauseQueue('slow')).toEqual({ changed: false })
    for (const partition of s.partitions.all) expect(await raw().hget(partition.key('meta'), 'pausedQueues')).toBe('slow')
    const slow = Array.from({ length: 12 }, (_, i) => `slow-${i}`)
    expect(new Set(slow.map((id) => partitionOf(id, 3))).size).toBe(3)
    for (const id of slow) await s.enqueue({ id, queue: 'slow' })
    // The running task of the paused queue completes.
    release()
    expect((await s.waitForResult('long', { timeoutMs: 10_000 })).toString()).toBe('long')
    // Another queue keeps running, before and after the paused queue's tasks were enqueued.
    for (const id of ['fast-1', 'fast-2']) {
      await s.enqueue({ id, queue: 'fast' })
      expect((await s.waitForResult(id, { timeoutMs: 10_000 })).toString()).toBe(id)
    }
    for (const id of slow) expect((await s.getTask(id))?.state).toBe('ready')
    expect(started.filter((id) => id.startsWith('slow-'))).toEqual([])
    const resumed = await s.resumeQueue('slow')
    expect(resumed.changed).toBe(true)
    expect(resumed.dispatched).toBeGreaterThan(0)
    for (const partition of s.partitions.all) expect(await raw().hget(partition.key('meta'), 'pausedQueues')).toBeNull()
    for (const id of slow) expect((await s.waitForResult(id, { timeoutMs: 10_000 })).toString()).toBe(id)
    expect(await s.resumeQueue('slow')).toEqual({ changed: false, dispatched: 0 })
  })

  it('a partition added while a queue is paused starts paused, and resumeQueue reaches it', async () => {
    const s = await scheduler(1)
    const started: string[] = []
    await worker(s, async (task) => {
      started.push(task.id)
      return task.id
    })
    await s.pauseQueue('slow')
    await s.addPartitions(3)
    expect(s.partitions.count).toBe(3)
    for (const partition of s.partitions.all) expect(await raw().hget(partition.key('meta'), 'pausedQueues')).toBe('slow')
    const ids = Array.from({ length: 12 }, (_, i) => `later-${i}`)
    expect(new Set(ids.map((id) => partitionOf(id, 3)))).toEqual(new Set([0, 1, 2]))
    for (const id of ids) await s.enqueue({ id, queue: 'slow' })
    await s.enqueue({ id: 'other' })
    await s.waitForResult('other', { timeoutMs: 10_000 })
    for (const id of ids) expect((await s.getTask(id))?.state).toBe('ready')
    expect((await s.resumeQueue('slow')).changed).toBe(true)
    for (const id of ids) expect((await s.waitForResult(id, { timeoutMs: 10_000 })).toString()).toBe(id)
  })

  it('task.progress is stored, shown by getTask and sent as progress events', async () => {
    const s = await scheduler()
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    await worker(s, async (task) => {
      await task.progress(0.25)
      await task.progress('half')
      await task.progress({ done: 3, of: 4 })
      await held
      return 'ok'
    })
    const events: [string, string, string][] = []
    const following = (async () => {
      for await (const event of s.events({ from: '0', idleTimeoutMs: 3000 })) {
        if (event.type === 'progress') events.push([event.task, event.node === '' ? '' : 'node', event.detail])
        if (events.length === 3) return
      }
    })()
    await s.enqueue({ id: 'p' })
    await until('the third report', async () => (await s.getTask('p'))?.progress, (progress) => progress === '{"done":3,"of":4}', 10_000)
    expect((await s.getTask('p'))?.state).toBe('running')
    await following
    expect(events).toEqual([
      ['p', 'node', '0.25'],
      ['p', 'node', 'half'],
      ['p', 'node', '{"done":3,"of":4}'],
    ])
    release()
    await s.waitForResult('p', { timeoutMs: 10_000 })
  })

  it('a report after the task left the node rejects with LeaseLostError, and the worker goes on', async () => {
    const s = await scheduler()
    const contexts = new Map<string, TaskContext>()
    await worker(s, async (task) => {
      contexts.set(task.id, task)
      return 'ok'
    })
    await s.enqueue({ id: 'a' })
    await s.waitForResult('a', { timeoutMs: 10_000 })
    const late = contexts.get('a')!
    await expect(late.progress(1)).rejects.toBeInstanceOf(LeaseLostError)
    // Not awaited: refused all the same, and no unhandled rejection (vitest fails the run on one).
    void late.progress(2)
    await s.enqueue({ id: 'b' })
    expect((await s.waitForResult('b', { timeoutMs: 10_000 })).toString()).toBe('ok')
    expect((await s.getTask('a'))?.progress).toBeUndefined()
  })
})
