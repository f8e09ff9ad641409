/**
 * set-rate-limit, remove-rate-limit and postpone: a limited queue's assignments stay within the
 * limit in any window whoever calls, a held queue is dispatched by maintain alone once its window
 * opens (the namespace's due time says when), other queues go on, and a postponed task keeps its
 * attempt. The limits and logs are read from the meta fields themselves.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError, LeaseLostError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { toTaskEvents } from '../../client/events.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, serverNow, type Bench } from './harness.js'

const limit = (bench: Bench, queue: string, max: number, intervalMs: number) =>
  s.setRateLimit(bench.runner, bench.ns, { queue, max, intervalMs })
const unlimit = (bench: Bench, queue: string) => s.removeRateLimit(bench.runner, bench.ns, { queue })
const meta = (bench: Bench, field: string) => bench.client.hget(bench.ns.key('meta'), field)
const states = async (bench: Bench, ids: string[]) => Promise.all(ids.map(async (id) => (await bench.task(id)).state))
const count = (list: string[], state: string) => list.filter((x) => x === state).length

describe.each(targets)('rate limits on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('three nodes calling at once get no more than the limit of a queue; the rest waits ready', async () => {
      const bench = await openBench(target)
      expect(await limit(bench, 'api', 5, 60_000)).toEqual({ changed: 1, rateLimits: 'api=5/60000', dispatched: 0 })
      expect(await meta(bench, 'rateLimits')).toBe('api=5/60000')
      const ids = Array.from({ length: 20 }, (_, i) => `a${i}`)
      await bench.enqueueMany(...ids.map((id) => ({ id, queue: 'api' })))
      // Each node registers and then calls heartbeat, start and maintain, all at once.
      await Promise.all(
        ['n1', 'n2', 'n3'].map(async (node) => {
          await bench.register(node, 1, 10)
          await Promise.all([s.heartbeat(bench.runner, bench.ns, { nodeId: node }), bench.start(node), bench.maintain()])
        }),
      )
      const now = await states(bench, ids)
      expect(count(now, 'assigned') + count(now, 'running')).toBe(5)
      expect(count(now, 'ready')).toBe(15)
    })

    it('a held queue does not keep another queue waiting', async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 1, 60_000)
      await bench.register('n1', 1, 10)
      await bench.enqueue({ id: 'a1', queue: 'api' }, { id: 'a2', queue: 'api' }, { id: 'o1', queue: 'other' }, { id: 'd1' })
      expect(await states(bench, ['a1', 'a2', 'o1', 'd1'])).toEqual(['assigned', 'ready', 'assigned', 'assigned'])
    })

    it('a task of another queue behind a held backlog larger than the skip limit goes to a node that serves every queue', async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 1, 60_000)
      await bench.register('n1', 1, 1)
      // The queue's one start goes to the node, which is then full while the rest arrives.
      await bench.enqueue({ id: 'a0', queue: 'api' })
      const backlog = Array.from({ length: 150 }, (_, i) => ({ id: `a${i + 1}`, queue: 'api', priority: 10 }))
      await bench.enqueueMany(...backlog, { id: 'o1', queue: 'other' })
      expect((await bench.task('o1')).state).toBe('ready')
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      // The slot that comes free passes over 100 held tasks, then finds o1 through the index.
      await bench.complete('n1', [{ id: 'a0', token }])
      expect((await bench.task('o1')).state).toBe('assigned')
      expect((await bench.task('a1')).state).toBe('ready')
    })

    it('a held queue is dispatched by maintain alone once its window opens, at the due time the call left', async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 2, 1000)
      await bench.register('n1', 1, 10)
      const before = await serverNow(bench)
      await bench.enqueue({ id: 'a1', queue: 'api' }, { id: 'a2', queue: 'api' }, { id: 'a3', queue: 'api' })
      const after = await serverNow(bench)
      expect(await states(bench, ['a1', 'a2', 'a3'])).toEqual(['assigned', 'assigned', 'ready'])
      // The queue opens one interval after the assignments (logged at most a 10 ms grain later).
      const dueAt = Number(await meta(bench, 'dueAt'))
      expect(dueAt).toBeGreaterThanOrEqual(before + 1000)
      expect(dueAt).toBeLessThanOrEqual(after + 1000 + 10)
      // A round before then leaves it ready and the due time where it was.
      await bench.maintain()
      expect((await bench.task('a3')).state).toBe('ready')
      expect(Number(await meta(bench, 'dueAt'))).toBe(dueAt)
      const deadline = Date.now() + 5000
      while ((await serverNow(bench)) < dueAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      await bench.maintain()
      expect((await bench.task('a3')).state).toBe('assigned')
      expect((await bench.task('a3')).assignedAt).toBeGreaterThanOrEqual(dueAt)
    })

    it('a task started after its assignment holds its place in the window from its start', { timeout: 20_000 }, async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 2, 2000)
      await bench.register('n1', 1, 10)
      const waitFor = async (time: number) => {
        const deadline = Date.now() + 10_000
        while ((await serverNow(bench)) < time && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      }
      await bench.enqueue({ id: 'a1', queue: 'api' }, { id: 'a2', queue: 'api' }, { id: 'a3', queue: 'api' })
      const assignedAt = (await bench.task('a1')).assignedAt!
      // The node starts them a second after they were given to it.
      await waitFor(assignedAt + 1000)
      await bench.start('n1')
      const startedAt = (await bench.task('a1')).startedAt!
      // Two seconds after the assignments, but not after the starts: still held.
      await waitFor(assignedAt + 2000 + 20)
      await bench.maintain()
      expect((await bench.task('a3')).state).toBe('ready')
      await waitFor(startedAt + 2000 + 20)
      await bench.maintain()
      expect((await bench.task('a3')).state).toBe('assigned')
      expect((await bench.task('a3')).assignedAt).toBeGreaterThanOrEqual(startedAt + 2000)
    })

    it('assignments of a busy queue never go over the limit in any window of the interval', async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 10, 200)
      await bench.register('n1', 1, 100)
      const ids = Array.from({ length: 60 }, (_, i) => `a${i}`)
      await bench.enqueueMany(...ids.map((id) => ({ id, queue: 'api' })))
      // A caller that keeps asking: maintain as fast as it can for a little over a second.
      const end = Date.now() + 1200
      while (Date.now() < end) await bench.maintain()
      const assigned = (await Promise.all(ids.map((id) => bench.task(id))))
        .map((t) => t.assignedAt)
        .filter((at): at is number => at !== undefined)
        .sort((a, b) => a - b)
      expect(assigned.length).toBeGreaterThanOrEqual(50)
      for (let i = 0; i + 10 < assigned.length; i++) expect(assigned[i + 10]! - assigned[i]!).toBeGreaterThanOrEqual(200)
    })

    it('raising or removing a limit dispatches what it lets start at once; the log goes with the limit', async () => {
      const bench = await openBench(target)
      await limit(bench, 'api', 1, 60_000)
      await bench.register('n1', 1, 10)
      await bench.enqueue({ id: 'a1', queue: 'api' }, { id: 'a2', queue: 'api' }, { id: 'a3', queue: 'api' })
      expect(await meta(bench, 'rate:api')).not.toBeNull()
      expect(await limit(bench, 'api', 2, 60_000)).toEqual({ changed: 1, rateLimits: 'api=2/60000', dispatched: 1 })
      expect(await states(bench, ['a1', 'a2', 'a3'])).toEqual(['assigned', 'assigned', 'ready'])
      expect(await unlimit(bench, 'api')).toEqual({ changed: 1, rateLimits: '', dispatched: 1 })
      expect(await states(bench, ['a1', 'a2', 'a3'])).toEqual(['assigned', 'assigned', 'assigned'])
      expect(await meta(bench, 'rateLimits')).toBeNull()
      expect(await meta(bench, 'rate:api')).toBeNull()
    })

    it('limits are kept sorted in one field; setting the same limit or removing a missing one writes nothing', async () => {
      const bench = await openBench(target)
      await limit(bench, 'b', 3, 1000)
      expect(await limit(bench, 'a', 7, 500)).toMatchObject({ changed: 1, rateLimits: 'a=7/500,b=3/1000' })
      const before = await dumpNamespace(bench.client, bench.ns)
      expect(await limit(bench, 'b', 3, 1000)).toEqual({ changed: 0, rateLimits: 'a=7/500,b=3/1000', dispatched: 0 })
      expect(await unlimit(bench, 'c')).toEqual({ changed: 0, rateLimits: 'a=7/500,b=3/1000', dispatched: 0 })
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      expect(await unlimit(bench, 'a')).toMatchObject({ changed: 1, rateLimits: 'b=3/1000' })
    })

    it('refuses bad arguments with nothing written', async () => {
      const bench = await openBench(target)
      await limit(bench, 'a', 1, 1000)
      await bench.register('n1', 1, 10)
      await bench.enqueue({ id: 't1' })
      const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
      const before = await dumpNamespace(bench.client, bench.ns)
      for (const [queue, max, intervalMs] of [
        ['', 1, 1000],
        ['a,b', 1, 1000],
        ['a=b', 1, 1000],
        ['q', 0, 1000],
        ['q', 1_000_001, 1000],
        ['q', 1, 0],
        ['q', 1, 86_400_001],
        ['q', 1.5, 1000],
      ] as const) {
        await expect(limit(bench, queue, max, intervalMs)).rejects.toBeInstanceOf(BadArgumentError)
      }
      await expect(unlimit(bench, 'has space')).rejects.toBeInstanceOf(BadArgumentError)
      for (const delayMs of [-1, 86_400_001, 0.5]) {
        await expect(s.postpone(bench.runner, bench.ns, { nodeId: 'n1', id: 't1', token, delayMs })).rejects.toBeInstanceOf(
          BadArgumentError,
        )
      }
      await expect(s.postpone(bench.runner, bench.ns, { nodeId: 'n1', id: 't1', token: token + 1, delayMs: 0 })).rejects.toBeInstanceOf(
        LeaseLostError,
      )
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('a queue limit beyond the 100th is refused with nothing written', async () => {
      const bench = await openBench(target)
      for (let i = 0; i < 100; i++) await limit(bench, `q${i}`, 1, 1000)
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(limit(bench, 'one-more', 1, 1000)).rejects.toBeInstanceOf(BadArgumentError)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('postpone gives the attempt back and frees the slot; the task runs again after the delay', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 't1', maxAttempts: 1 }, { id: 't2' })
      const [[, token, attempt]] = (await bench.start('n1')) as [s.StartReply[number]]
      expect(attempt).toBe(1)
      const [outcome, runAt] = await s.postpone(bench.runner, bench.ns, { nodeId: 'n1', id: 't1', token, delayMs: 300 })
      expect(outcome).toBe('postponed')
      const t1 = await bench.task('t1')
      expect(t1).toMatchObject({ state: 'delayed', attempts: 0, runAt })
      // The freed slot took the next task.
      expect((await bench.task('t2')).state).toBe('assigned')
      expect(Number(await meta(bench, 'dueAt'))).toBeLessThanOrEqual(runAt)
      await bench.maintain()
      expect((await bench.task('t1')).state).toBe('delayed')
      const [[, token2]] = (await bench.start('n1')) as [s.StartReply[number]]
      await bench.complete('n1', [{ id: 't2', token: token2 }])
      const deadline = Date.now() + 5000
      while ((await serverNow(bench)) < runAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      await bench.maintain()
      // Its one attempt is still there to use.
      const started = await bench.start('n1')
      expect(started.map(([id, , n]) => [id, n])).toEqual([['t1', 1]])
      const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
      const postponed = entries.flatMap(([id, pairs]) => toTaskEvents({ id, pairs })).filter((e) => e.type === 'postponed')
      expect(postponed.map((e) => [e.task, e.node, e.detail])).toEqual([['t1', 'n1', `until ${runAt}`]])
    })
  })
})
