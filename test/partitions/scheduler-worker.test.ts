import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Scheduler, Worker, type TaskHandler } from '../../client/index.js'
import { partitionOf } from '../../loader/routing.js'
import { connectionTargets, until } from '../support/connections.js'
import { clusterClient, clusterInfo, clusterSkipReason, randomNamespace, redisInfo, serverClient } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})


let url = redisInfo.url

async function scheduler(partitions: number, namespace = randomNamespace('p').name): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace, partitions })
  open.push(s)
  return s
}

async function worker(
  s: Scheduler,
  handler: TaskHandler,
  options: { nodeId?: string; capacity?: number; weight?: number; partitions?: number[] } = {},
): Promise<Worker> {
  const w = await Worker.start({ connection: url, namespace: s.namespace, handler, heartbeatIntervalMs: 100, ...options })
  open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
  return w
}


describe.each(connectionTargets)('a partitioned namespace on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  it('routes each task to the partition of its id and runs them all', async () => {
    const s = await scheduler(3)
    expect(s.partitions.count).toBe(3)
    // Created with three partitions: no task was ever routed by one, so no lookup goes there.
    expect(s.partitions.history).toEqual([3])
    await worker(s, async (task) => `done ${task.id}`, { capacity: 6 })
    const ids = Array.from({ length: 90 }, (_, i) => `t-${i}`)
    for (const id of ids) await s.enqueue({ id })
    const stats = await until('90 completions', () => s.stats(), (st) => st.completed === 90)
    const expected = [0, 1, 2].map((p) => ids.filter((id) => partitionOf(id, 3) === p).length)
    expect(stats.partitions.map((st) => st.completed)).toEqual(expected)
    expect((await s.getTask('t-7'))?.state).toBe('completed')
    expect((await s.waitForResult('t-8', { timeoutMs: 5000 })).toString()).toBe('done t-8')
  })

  it('keeps a batch in the partition of its first task, and finds its other tasks by id', async () => {
    const s = await scheduler(4)
    const graph = [
      { id: 'root' },
      { id: 'left', dependsOn: ['root'] },
      { id: 'right', dependsOn: ['root'] },
      { id: 'join', dependsOn: ['left', 'right'] },
    ]
    await s.enqueueBatch(graph)
    const home = partitionOf('root', 4)
    const perPartition = (await s.stats()).partitions.map((st) => st.ready + st.waiting)
    expect(perPartition[home]).toBe(4)
    expect(perPartition.reduce((a, b) => a + b, 0)).toBe(4)
    await worker(s, async (task) => task.id)
    expect((await s.waitForResult('join', { timeoutMs: 10_000 })).toString()).toBe('join')
    expect((await s.dependencyResults('join')).map((d) => [d.id, d.result?.toString()])).toEqual([
      ['left', 'left'],
      ['right', 'right'],
    ])
    expect(await s.cancel('join')).toBe('finished')
  })

  it('routes by partitionKey: tasks of one key share a partition', async () => {
    const s = await scheduler(8)
    for (let i = 0; i < 20; i++) await s.enqueue({ id: `k-${i}`, partitionKey: 'customer-42' })
    const waiting = (await s.stats()).partitions.map((st) => st.ready)
    expect(waiting[partitionOf('customer-42', 8)]).toBe(20)
  })

  it('never runs more handlers at once than the capacity, and moves its slots to where the tasks are', async () => {
    const s = await scheduler(3)
    let running = 0
    let most = 0
    const w = await worker(
      s,
      async () => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, 20))
        running--
      },
      { capacity: 4 },
    )
    // Every task in one partition: the node's slots in the other two must move there.
    const batch = Array.from({ length: 200 }, (_, i) => ({ id: `one-${i}`, partitionKey: 'hot' }))
    for (let i = 0; i < batch.length; i += 50) await s.enqueueBatch(batch.slice(i, i + 50))
    await until('200 completions', () => s.stats(), (st) => st.completed === 200, 30_000)
    expect(most).toBeLessThanOrEqual(4)
    expect(most).toBe(4)
    expect(Object.values(w.slots).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4)
  })

  it('moves a slot only once the partition it leaves has finished the tasks it holds', async () => {
    const s = await scheduler(3)
    let running = 0
    let most = 0
    await worker(
      s,
      async (task) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, task.id.startsWith('slow') ? 400 : 5))
        running--
      },
      { capacity: 4 },
    )
    // Slow tasks hold slots in partitions 1 and 2 while partition 0 floods: its demand pulls
    // their slots, which must not be handed over before the slow tasks end.
    for (const key of ['two', 'six']) {
      const partition = s.partitions.route(key).partition
      expect(partition).not.toBe(s.partitions.route('hot').partition)
      for (let i = 0; i < 2; i++) await s.enqueue({ id: `slow-${key}-${i}`, partitionKey: key })
    }
    const flood = Array.from({ length: 150 }, (_, i) => ({ id: `fast-${i}`, partitionKey: 'hot' }))
    await s.enqueueBatch(flood)
    await until('every task to complete', () => s.stats(), (st) => st.completed === 154, 30_000)
    expect(most).toBeLessThanOrEqual(4)
  })

  it('merges the events of every partition, each naming its partition, in order within a partition', async () => {
    const s = await scheduler(3)
    const stop = new AbortController()
    const seen: { partition: number; type: string; task: string }[] = []
    const following = (async () => {
      for await (const event of s.events({ from: '0', signal: stop.signal })) {
        seen.push({ partition: event.partition, type: event.type, task: event.task })
      }
    })()
    await worker(s, async () => undefined)
    const ids = Array.from({ length: 12 }, (_, i) => `ev-${i}`)
    for (const id of ids) await s.enqueue({ id })
    await until('every completion event', async () => seen.filter((e) => e.type === 'completed').length, (n) => n === 12)
    stop.abort()
    await following
    for (const id of ids) {
      const mine = seen.filter((e) => e.task === id)
      expect(new Set(mine.map((e) => e.partition))).toEqual(new Set([partitionOf(id, 3)]))
      expect(mine.map((e) => e.type).filter((t) => t === 'enqueued' || t === 'completed')).toEqual(['enqueued', 'completed'])
    }
    expect(new Set(seen.map((e) => e.partition))).toEqual(new Set([0, 1, 2]))
  })

  it('a node given a list of partitions serves those alone', async () => {
    const s = await scheduler(3)
    const ran = new Set<string>()
    const w = await worker(s, async (task) => void ran.add(task.id), { partitions: [1, 2], capacity: 4 })
    expect(Object.keys(w.slots)).toEqual(['1', '2'])
    const ids = Array.from({ length: 30 }, (_, i) => `sub-${i}`)
    for (const id of ids) await s.enqueue({ id })
    const served = ids.filter((id) => partitionOf(id, 3) !== 0)
    await until('the served partitions to drain', () => s.stats(), (st) => st.completed === served.length)
    expect([...ran].sort()).toEqual([...served].sort())
    expect((await s.stats()).partitions[0]!.ready).toBe(ids.length - served.length)
    await expect(worker(s, async () => undefined, { partitions: [7] })).rejects.toThrow(/none of \[7\]/)
  })

  it('spreads a node over every partition: a raised count is served without a restart', async () => {
    const s = await scheduler(1)
    await worker(s, async () => undefined, { capacity: 4 })
    let next = 0
    const enqueued: string[] = []
    const produce = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const id = `r-${next++}`
        await s.enqueue({ id })
        enqueued.push(id)
      }
    }
    await produce(50)
    const raising = s.addPartitions(3)
    await produce(50)
    expect((await raising).count).toBe(3)
    await produce(100)
    const stats = await until('200 completions', () => s.stats(), (st) => st.completed === 200, 30_000)
    expect(stats.partitions).toHaveLength(3)
    // Tasks enqueued after the raise reached the new partitions, and none is stuck anywhere.
    expect(stats.partitions[1]!.completed + stats.partitions[2]!.completed).toBeGreaterThan(0)
    for (const st of stats.partitions) expect(st.ready + st.assigned + st.running + st.waiting).toBe(0)
    // Ids enqueued under one partition are still found after the raise, and enqueueing one
    // again is detected, though its id now routes to another partition.
    for (const id of enqueued.slice(0, 50)) {
      expect((await s.getTask(id))?.state).toBe('completed')
      expect(await s.enqueue({ id })).toEqual({ id, created: false })
    }
    expect((await s.stats()).completed).toBe(200)
    await expect(s.addPartitions(2)).rejects.toThrow(/cannot be lowered/)
  })
})

describe.skipIf(clusterSkipReason !== undefined)('partitions on the three-primary cluster', () => {
  it('puts three partitions on three different primaries and sixteen on every primary', async () => {
    url = connectionTargets[1]!.url
    for (const count of [3, 16]) {
      const s = await scheduler(count)
      const cluster = clusterClient()
      const slots = await cluster.cluster('SLOTS')
      const ownerOf = (slot: number) => slots.find(([start, end]) => slot >= start && slot <= end)?.[2]?.[2]
      const owners = await Promise.all(
        s.partitions.all.map(async (p) => ownerOf(Number(await cluster.cluster('KEYSLOT', p.key('meta'))))),
      )
      const perPrimary = new Map<string, number>()
      for (const owner of owners) perPrimary.set(owner as string, (perPrimary.get(owner as string) ?? 0) + 1)
      expect(perPrimary.size).toBe(3)
      for (const n of perPrimary.values()) expect(n).toBeGreaterThanOrEqual(Math.floor(count / 3))
      // And the partitions' keys are really there: each primary holds its partitions' meta.
      for (const [i, p] of s.partitions.all.entries()) {
        const node = clusterInfo!.nodes.find((n) => slots.some(([, , primary]) => primary?.[2] === owners[i] && primary?.[1] === n.port))!
        expect(await serverClient(node).exists(p.key('meta'))).toBe(1)
      }
    }
  })
})
