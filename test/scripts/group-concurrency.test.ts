/**
 * Group concurrency caps (set-group-concurrency): nodes hold at most the cap of a group's tasks
 * at once (assigned or running), the group's other tasks wait ready while the other groups take
 * the slots, and a task of the group that finishes lets the next one go.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

const cap = (bench: Bench, group: string, max: number, queue = 'default') =>
  s.setGroupConcurrency(bench.runner, bench.ns, { queue, group, max })

async function backlog(bench: Bench, group: string, count: number) {
  await bench.enqueueMany(...Array.from({ length: count }, (_, i) => ({ id: `${group}-${i}`, group })))
}

/** How many tasks of the group are assigned or running. */
async function held(bench: Bench, group: string, count: number): Promise<number> {
  const states = await Promise.all(Array.from({ length: count }, async (_, i) => (await bench.task(`${group}-${i}`)).state))
  return states.filter((state) => state === 'assigned' || state === 'running').length
}

describe.each(targets)('group concurrency caps on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a group at its cap gets no more slots; the other group takes them, and a finished task lets the next one go', async () => {
      const bench = await openBench(target)
      expect(await cap(bench, 'a', 2)).toEqual({ changed: 1, max: 2, dispatched: 0 })
      await backlog(bench, 'a', 10)
      await backlog(bench, 'b', 10)
      await bench.register('n1', 1, 6)
      expect(await held(bench, 'a', 10)).toBe(2)
      expect(await held(bench, 'b', 10)).toBe(4)
      // Run everything to the end, a task at a time: a never holds more than 2.
      const ids = [...Array.from({ length: 10 }, (_, i) => `a-${i}`), ...Array.from({ length: 10 }, (_, i) => `b-${i}`)]
      for (;;) {
        await bench.start('n1')
        const tasks = await Promise.all(ids.map(async (id) => ({ id, task: await bench.task(id) })))
        const running = tasks.find(({ task }) => task.state === 'running')
        if (!running) break
        await bench.complete('n1', [{ id: running.id, token: running.task.token! }])
        expect(await held(bench, 'a', 10)).toBeLessThanOrEqual(2)
      }
      const st = await bench.stats()
      expect(st.completed).toBe(20)
      expect(await bench.client.hget(bench.ns.key('meta'), 'gi:default>a')).toBeNull()
    })

    it('a capped group\'s backlog ahead in ready does not keep another group waiting', async () => {
      const bench = await openBench(target)
      await cap(bench, 'a', 1)
      await backlog(bench, 'a', 300)
      await backlog(bench, 'b', 5)
      await bench.register('n1', 1, 10)
      expect(await held(bench, 'a', 300)).toBe(1)
      expect(await held(bench, 'b', 5)).toBe(5)
    })

    it('removing or raising a cap dispatches what it held back at once', async () => {
      const bench = await openBench(target)
      await cap(bench, 'a', 1)
      await backlog(bench, 'a', 5)
      await bench.register('n1', 1, 10)
      expect(await held(bench, 'a', 5)).toBe(1)
      expect(await cap(bench, 'a', 3)).toEqual({ changed: 1, max: 3, dispatched: 2 })
      expect(await held(bench, 'a', 5)).toBe(3)
      expect(await cap(bench, 'a', 0)).toEqual({ changed: 1, max: 0, dispatched: 2 })
      expect(await held(bench, 'a', 5)).toBe(5)
      const fields = await bench.client.hkeys(bench.ns.key('meta'))
      expect(fields.filter((f) => /^(gc|gi):/.test(f))).toEqual([])
      expect(await bench.client.hget(bench.ns.key('meta'), 'cappedGroups')).toBe('0')
    })

    it('tasks held before the cap was set do not count against it, and their finishing leaves no count below 0', async () => {
      const bench = await openBench(target)
      await backlog(bench, 'a', 4)
      await bench.register('n1', 1, 4)
      await cap(bench, 'a', 2)
      const started = await bench.start('n1')
      expect(started).toHaveLength(4)
      await bench.complete('n1', started.map(([id, token]) => ({ id, token })))
      expect(await bench.client.hget(bench.ns.key('meta'), 'gi:default>a')).toBeNull()
      await bench.enqueue(...Array.from({ length: 4 }, (_, i) => ({ id: `a-${4 + i}`, group: 'a' })))
      expect(await held(bench, 'a', 8)).toBe(2)
      expect(await bench.client.hget(bench.ns.key('meta'), 'gi:default>a')).toBe('2')
    })

    it('setting the cap a group has changes nothing; bad arguments are refused with nothing written', async () => {
      const bench = await openBench(target)
      await cap(bench, 'a', 2)
      await bench.enqueue({ id: 'a-0', group: 'a' })
      const before = await dumpNamespace(bench.client, bench.ns)
      expect(await cap(bench, 'a', 2)).toEqual({ changed: 0, max: 2, dispatched: 0 })
      expect(await cap(bench, 'b', 0)).toEqual({ changed: 0, max: 0, dispatched: 0 })
      await expect(cap(bench, 'a', -1)).rejects.toThrow(/max: expected an integer from 0 to 100000/)
      await expect(cap(bench, 'a', 100_001)).rejects.toBeInstanceOf(BadArgumentError)
      await expect(cap(bench, 'a b', 2)).rejects.toThrow(/group: expected 1 to 128 characters/)
      await expect(cap(bench, 'a', 2, 'q>1')).rejects.toThrow(/queue: expected 1 to 128 characters/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('a namespace whose groups have no cap counts nothing', async () => {
      const bench = await openBench(target)
      await backlog(bench, 'a', 3)
      await bench.register('n1', 1, 10)
      const started = await bench.start('n1')
      await bench.complete('n1', started.map(([id, token]) => ({ id, token })))
      const fields = await bench.client.hkeys(bench.ns.key('meta'))
      expect(fields.filter((f) => /^(gc|gi):|^cappedGroups$/.test(f))).toEqual([])
    })
  })
})
