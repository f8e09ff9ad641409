import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Scheduler, type ListedTask, type ListTasksOptions } from '../../client/index.js'
import { partitionOf } from '../../loader/routing.js'
import { connectionTargets } from '../support/connections.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

let url = redisInfo.url

async function scheduler(partitions: number): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('l').name, partitions })
  open.push(s)
  return s
}

async function everyPage(s: Scheduler, options: Omit<ListTasksOptions, 'cursor'>): Promise<ListedTask[][]> {
  const pages: ListedTask[][] = []
  let cursor = ''
  do {
    const page = await s.listTasks({ ...options, cursor })
    // A waiting page may hold more (one HSCAN of a small hash is whole).
    if (options.state !== 'waiting') expect(page.tasks.length).toBeLessThanOrEqual(options.limit ?? 100)
    pages.push(page.tasks)
    cursor = page.cursor
    if (pages.length > 200) throw new Error('the listing does not end')
  } while (cursor !== '')
  return pages
}

describe.each(connectionTargets)('Scheduler.listTasks on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  it.each(['newest', 'oldest'] as const)('walks the partitions in turn, each task once, %s first within each', async (order) => {
    const s = await scheduler(3)
    const base = Date.now() + 3_600_000
    const ids = Array.from({ length: 45 }, (_, i) => `t-${i}`)
    for (const [i, id] of ids.entries()) await s.enqueue({ id, runAt: base + i, queue: i % 5 === 0 ? 'fifth' : 'default' })
    const listed = (await everyPage(s, { state: 'delayed', order, limit: 7 })).flat()
    expect(listed.map((t) => t.id).sort()).toEqual(ids.slice().sort())
    listed.forEach((t) => expect(t.partition).toBe(partitionOf(t.id, 3)))
    expect(listed.map((t) => t.partition)).toEqual(listed.map((t) => t.partition).sort())
    for (const p of [0, 1, 2]) {
      const runAts = listed.filter((t) => t.partition === p).map((t) => t.runAt)
      const sorted = runAts.slice().sort((a, b) => a - b)
      expect(runAts).toEqual(order === 'oldest' ? sorted : sorted.reverse())
    }
    const fifth = (await everyPage(s, { state: 'delayed', order, queue: 'fifth', limit: 2 })).flat()
    expect(fifth.map((t) => t.id).sort()).toEqual(ids.filter((_, i) => i % 5 === 0).sort())
    expect(fifth.every((t) => t.queue === 'fifth' && t.state === 'delayed')).toBe(true)
  })

  it('goes on to the next partition after a page that ended one', async () => {
    const s = await scheduler(3)
    const firsts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => `root-${name}`)
    const roots = [0, 1, 2].map((p) => firsts.find((id) => partitionOf(id, 3) === p) as string)
    const waiting: string[] = []
    for (const root of roots) {
      const children = Array.from({ length: 4 }, (_, i) => `${root}-child-${i}`)
      waiting.push(...children)
      await s.enqueueBatch([{ id: root, runAt: Date.now() + 3_600_000 }, ...children.map((id) => ({ id, dependsOn: [root] }))])
    }
    const pages = await everyPage(s, { state: 'waiting', limit: 2 })
    expect(pages.flat().map((t) => t.id).sort()).toEqual(waiting.sort())
    expect(pages.map((page) => page.map((t) => t.partition)[0])).toEqual([0, 1, 2])
  })

  it('gives one partition\'s pages as the script does, and refuses a cursor it did not make', async () => {
    const s = await scheduler(1)
    for (let i = 0; i < 5; i++) await s.enqueue({ id: `t-${i}`, runAt: Date.now() + 60_000 + i })
    const first = await s.listTasks({ state: 'delayed', order: 'oldest', limit: 2 })
    expect(first.tasks.map((t) => t.id)).toEqual(['t-0', 't-1'])
    expect(first.cursor).toMatch(/^0:\d+\/t-1$/)
    expect((await s.listTasks({ state: 'ready' })).tasks).toEqual([])
    await expect(s.listTasks({ state: 'delayed', cursor: '1:' })).rejects.toThrow(/^cursor: /)
    await expect(s.listTasks({ state: 'delayed', cursor: 'junk' })).rejects.toThrow(/^cursor: /)
    await expect(s.listTasks({ state: 'delayed', cursor: '0:junk' })).rejects.toThrow(/^TM_BAD_ARGUMENT cursor: /)
  })
})
