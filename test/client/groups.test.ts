/**
 * Groups with a real Worker, on one Redis and on a cluster: tasks enqueued with `group` through
 * Scheduler.enqueueBatch, weights set with Scheduler.setGroupWeight, run by a Worker of one slot:
 * while both groups have work, their starts follow the weights 3:1 (within ±2 %), whatever the
 * order of the backlog. A bad weight is refused. A group's concurrency cap, set with
 * Scheduler.setGroupConcurrency, holds over two Workers and three partitions.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Scheduler, Worker } from '../../client/index.js'
import { BadArgumentError } from '../../loader/generated/errors.js'
import { connectionTargets, until } from '../support/connections.js'
import { randomNamespace } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

let url = ''

describe.each(connectionTargets)('groups with a Worker on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  it('weights 3 and 1: starts share 3:1 within ±2 % while both groups have work', { timeout: 60_000 }, async () => {
    const s = await Scheduler.open({ connection: url, namespace: randomNamespace('gr').name, config: { keepCompletedMs: 0 } })
    open.push(s)
    expect(await s.setGroupWeight('default', 'big', 3)).toEqual({ changed: true })
    expect(await s.setGroupWeight('default', 'big', 3)).toEqual({ changed: false })
    await expect(s.setGroupWeight('default', 'big', 0)).rejects.toBeInstanceOf(BadArgumentError)
    await s.enqueueBatch(Array.from({ length: 3000 }, (_, i) => ({ id: `big-${i}`, payload: 'big', group: 'big' })))
    await s.enqueueBatch(Array.from({ length: 300 }, (_, i) => ({ id: `small-${i}`, payload: 'small', group: 'small' })))
    const order: string[] = []
    const w = await Worker.start({
      connection: url,
      namespace: s.namespace,
      capacity: 1,
      handler: async (task) => {
        order.push(task.payload.toString())
        return ''
      },
    })
    open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
    await until('the small group to finish', async () => order.filter((g) => g === 'small').length, (n) => n === 300)
    const upTo = order.lastIndexOf('small') + 1
    const share = order.slice(0, upTo).filter((g) => g === 'big').length / upTo
    expect(share).toBeGreaterThanOrEqual(0.73)
    expect(share).toBeLessThanOrEqual(0.77)
  })

  it('a cap of 3 over three partitions and two Workers: never more than 3 of the group run at once, and the other group goes on', { timeout: 60_000 }, async () => {
    const s = await Scheduler.open({ connection: url, partitions: 3, namespace: randomNamespace('gc').name, config: { keepCompletedMs: 0 } })
    open.push(s)
    await expect(s.setGroupConcurrency('default', 'capped', 2)).rejects.toBeInstanceOf(RangeError)
    expect(await s.setGroupConcurrency('default', 'capped', 3)).toEqual({ changed: true, dispatched: 0 })
    // One by one, so that each task goes to the partition of its id (a batch goes to one).
    for (let i = 0; i < 60; i++) {
      await s.enqueue({ id: `capped-${i}`, payload: 'capped', group: 'capped' })
      await s.enqueue({ id: `free-${i}`, payload: 'free', group: 'free' })
    }
    let running = 0
    let most = 0
    let freeDone = 0
    const handler = async (task: { payload: Buffer }) => {
      const capped = task.payload.toString() === 'capped'
      if (capped) {
        running++
        most = Math.max(most, running)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      if (capped) running--
      else freeDone++
      return ''
    }
    for (let i = 0; i < 2; i++) {
      const w = await Worker.start({ connection: url, namespace: s.namespace, capacity: 10, handler })
      open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
    }
    await until('every task to complete', () => s.stats(), (stats) => stats.completed === 120, 40_000)
    expect(most).toBeGreaterThanOrEqual(2)
    expect(most).toBeLessThanOrEqual(3)
    expect(freeDone).toBe(60)
  })
})
