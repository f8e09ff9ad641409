/**
 * Groups with a real Worker, on one Redis and on a cluster: tasks enqueued with `group` through
 * Scheduler.enqueueBatch, weights set with Scheduler.setGroupWeight, run by a Worker of one slot:
 * while both groups have work, their starts follow the weights 3:1 (within ±2 %), whatever the
 * order of the backlog. A bad weight is refused.
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
})
