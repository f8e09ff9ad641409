/**
 * Issue 8, item 7: a ready task must reach an idle node that serves its queue, however many
 * ready tasks of queues no free node serves wait ahead of it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

async function backlog(bench: Bench, queue: string, count: number, priority = 0): Promise<void> {
  await bench.enqueueMany(...Array.from({ length: count }, (_, i) => ({ id: `${queue}-${i}`, queue, priority })))
}

describe.each(targets)('queue starvation on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a task enqueued behind 500 tasks of an unserved queue goes to the idle node of its queue at once', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await bench.register('b-node', 1, 4, ['B'])
      await backlog(bench, 'A', 500)
      await bench.enqueue({ id: 'b1', queue: 'B' })
      const task = await bench.task('b1')
      expect([task.state, task.node]).toEqual(['assigned', 'b-node'])
    })

    it('ready-by-queue is kept only once the namespace uses a queue other than default', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await bench.enqueue(...Array.from({ length: 10 }, (_, i) => ({ id: `d${i}` })))
      expect(await bench.client.exists(bench.ns.key('ready-by-queue'))).toBe(0)
      await bench.enqueue({ id: 'x1', queue: 'x' })
      expect(await bench.client.zcard(bench.ns.key('ready-by-queue'))).toBe(1)
    })

    it('a node that registers finds the task of its queue behind 500 others', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'A', 500)
      await bench.enqueue({ id: 'b1', queue: 'B' })
      await bench.register('b-node', 1, 4, ['B'])
      const task = await bench.task('b1')
      expect([task.state, task.node]).toEqual(['assigned', 'b-node'])
    })

    it('a full node that completes a task gets the next task of its queue, in priority order', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await bench.register('b-node', 1, 1, ['B', 'C'])
      await backlog(bench, 'A', 300)
      await bench.enqueue({ id: 'b1', queue: 'B' })
      await backlog(bench, 'A2', 300)
      await bench.enqueue({ id: 'b2', queue: 'B' }, { id: 'c-urgent', queue: 'C', priority: 5 }, { id: 'b3', queue: 'B' })
      const order: string[] = []
      for (let i = 0; i < 4; i++) {
        const started = await bench.start('b-node')
        expect(started).toHaveLength(1)
        const [[id, token]] = started as [s.StartReply[number]]
        order.push(id)
        await bench.complete('b-node', [{ id, token }])
      }
      expect(order).toEqual(['b1', 'c-urgent', 'b2', 'b3'])
    })

    it('with the window full of other nodes, the one node of the queue still gets the task', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      for (let i = 0; i < 40; i++) await bench.register(`x${String(i).padStart(2, '0')}`, 1, 2, ['X'])
      await bench.register('z-node', 1, 2, ['B'])
      await backlog(bench, 'A', 500)
      await bench.enqueue({ id: 'b1', queue: 'B' })
      expect((await bench.task('b1')).node).toBe('z-node')
      await s.heartbeat(bench.runner, bench.ns, { nodeId: 'z-node' })
      expect((await bench.task('A-0')).state).toBe('ready')
    })

    it('ready-by-queue holds exactly the tasks of ready, whatever moved them', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      const consistent = async (): Promise<void> => {
        const flat = await bench.client.zrange(bench.ns.key('ready'), '0', '-1', 'WITHSCORES')
        const expected: string[] = []
        for (let i = 0; i < flat.length; i += 2) {
          const id = flat[i] as string
          const queue = (await bench.task(id)).queue
          expected.push(`${queue}>${String(Number(flat[i + 1])).padStart(16, '0')}>${id}`)
        }
        expect(await bench.client.zrange(bench.ns.key('ready-by-queue'), '0', '-1')).toEqual(expected.sort())
      }
      await bench.enqueue(
        ...Array.from({ length: 8 }, (_, i) => ({ id: `q1-${i}`, queue: 'q1', priority: i % 3, leaseMs: 100 })),
        ...Array.from({ length: 4 }, (_, i) => ({ id: `q2-${i}`, queue: 'q2', priority: -i })),
        { id: 'later', queue: 'q2', delayMs: 50 },
      )
      await consistent()
      await s.cancel(bench.runner, bench.ns, { id: 'q2-1' })
      await consistent()
      await bench.register('n', 1, 3, ['q1'])
      await consistent()
      await sleep(150)
      await bench.maintain()
      await consistent()
      const started = await bench.start('n')
      await s.release(bench.runner, bench.ns, { nodeId: 'n', id: started[0]![0], token: started[0]![1] })
      await consistent()
      await bench.register('m', 1, 100)
      expect(await bench.client.exists(bench.ns.key('ready'), bench.ns.key('ready-by-queue'))).toBe(0)
    })
  })
})
