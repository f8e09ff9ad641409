/**
 * Groups (enqueue's `group`, set-group-weight): within a queue, dispatch shares the slots between
 * the groups with ready tasks by their weights, whatever each group's backlog; a group that gets
 * work is served within one round of the groups; priority comes first within a group. Starts are
 * counted in the order a node of one slot gets them (complete with a claim starts the next task
 * in the same call), so the order is the order of assignment.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { toTaskEvents } from '../../client/events.js'
import { drainNode, openBench, type Bench } from './harness.js'

const weigh = (bench: Bench, queue: string, group: string, weight: number) =>
  s.setGroupWeight(bench.runner, bench.ns, { queue, group, weight })

/** Enqueues `count` tasks of a group, ids "<group>-<n>", in calls of 200. */
async function backlog(bench: Bench, group: string, count: number, extra: Partial<s.EnqueueArgs['tasks'][number]> = {}) {
  for (let from = 0; from < count; from += 200) {
    const tasks = []
    for (let i = from; i < Math.min(count, from + 200); i++) tasks.push({ id: `${group}-${i}`, payload: '', group, ...extra })
    await s.enqueue(bench.runner, bench.ns, { tasks })
  }
}

const groupOf = (id: string) => id.slice(0, id.lastIndexOf('-'))

/**
 * A node of one slot runs tasks one at a time; returns the ids in the order they started, until
 * `stop` says so or nothing is left. `before` runs before each completion.
 */
async function runOneByOne(bench: Bench, nodeId: string, stop: (order: string[]) => boolean, before?: (order: string[]) => Promise<void>) {
  await bench.register(nodeId, 1, 1)
  const order: string[] = []
  let current = (await bench.start(nodeId))[0]
  // Completions are not heartbeats: a node that sends none for a third of nodeTimeoutMs gets no
  // more work, as a Worker's would not.
  let heartbeatAt = Date.now()
  while (current && !stop([...order, current[0]])) {
    order.push(current[0])
    if (Date.now() - heartbeatAt > 1000) {
      await s.heartbeat(bench.runner, bench.ns, { nodeId })
      heartbeatAt = Date.now()
    }
    await before?.(order)
    const next = await bench.complete(nodeId, [{ id: current[0], token: current[1] }], 1)
    current = next[0]
  }
  if (current) order.push(current[0])
  return order
}

describe.each(targets)('group fairness on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    const big = 100_000

    it(`weights 3 and 1, backlogs of ${big.toLocaleString('en')} and 1,000: starts share 3:1 within ±2% while both have work`, { timeout: 300_000 }, async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      expect(await weigh(bench, 'default', 'big', 3)).toEqual({ changed: 1, weight: 3 })
      await backlog(bench, 'big', big)
      await backlog(bench, 'small', 1000)
      const order = await runOneByOne(bench, 'n1', (o) => o.filter((id) => groupOf(id) === 'small').length === 1000)
      const small = order.filter((id) => groupOf(id) === 'small').length
      expect(small).toBe(1000)
      const share = (order.length - small) / order.length
      expect(share).toBeGreaterThanOrEqual(0.75 - 0.02)
      expect(share).toBeLessThanOrEqual(0.75 + 0.02)
      // And at every point, not just overall: no run of the big group longer than its weight.
      let run = 0
      for (const id of order) {
        run = groupOf(id) === 'big' ? run + 1 : 0
        expect(run).toBeLessThanOrEqual(3)
      }
    })

    it('a node of 20 slots, started and completed in batches: the shares hold within ±2% while both have work', { timeout: 120_000 }, async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await weigh(bench, 'default', 'big', 3)
      await backlog(bench, 'big', 20_000)
      await backlog(bench, 'small', 1000)
      await bench.register('n1', 1, 20)
      let bigStarts = 0
      let smallStarts = 0
      while (smallStarts < 1000) {
        const started = await bench.start('n1')
        expect(started.length).toBeGreaterThan(0)
        for (const [id] of started) groupOf(id) === 'small' ? smallStarts++ : bigStarts++
        await bench.complete('n1', started.map(([id, token]) => ({ id, token })))
      }
      // The last batch may hold up to 19 more of the big group after the small one's last task.
      const share = bigStarts / (bigStarts + smallStarts)
      expect(share).toBeGreaterThanOrEqual(0.75 - 0.02)
      expect(share).toBeLessThanOrEqual(0.75 + 0.02)
    })

    it('a group with 10 tasks enqueued behind a backlog gets its first task started within one round of the groups', { timeout: 120_000 }, async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'a', 3000)
      await backlog(bench, 'b', 3000)
      let added = -1
      const order = await runOneByOne(
        bench,
        'n1',
        (o) => added >= 0 && o.length > added + 30,
        async (o) => {
          if (o.length === 500) {
            await backlog(bench, 'c', 10)
            added = o.length
          }
        },
      )
      // The start after `added` is the next assignment; three groups have work.
      const first = order.findIndex((id, i) => i >= added && groupOf(id) === 'c')
      expect(first).toBeGreaterThanOrEqual(added)
      expect(first - added).toBeLessThan(3)
      // It joined at the queue's time: its ten tasks take their turns with the others, no burst.
      const after = order.slice(added).map(groupOf)
      for (let i = 0; i + 1 < after.length; i++) expect(after[i] === 'c' && after[i + 1] === 'c').toBe(false)
    })

    it('a group with 10 tasks enqueued while a backlog holds every slot gets the next slot that comes free', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'a', 1000)
      await bench.register('n1', 1, 10)
      await backlog(bench, 'c', 10)
      expect((await bench.task('c-0')).state).toBe('ready')
      // Ten slots, all taken by a: one comes free, and c (joining at the queue's time) gets it.
      const started = await bench.start('n1')
      await bench.complete('n1', [{ id: started[0]![0], token: started[0]![1] }])
      expect((await bench.task('c-0')).state).toBe('assigned')
    })

    it('150 groups of 2 or 3 tasks, one slot at a time: every round of starts gives each group one, and every task starts once', { timeout: 60_000 }, async () => {
      // More groups than a call keeps turns of in Lua (16), so the turns are read again as they go.
      const bench = await openBench(target, { eventsMaxLen: 0 })
      for (let g = 0; g < 150; g++) await backlog(bench, `g${String(g).padStart(3, '0')}`, g % 2 === 0 ? 3 : 2)
      const order = await runOneByOne(bench, 'n1', () => false)
      expect(order).toHaveLength(375)
      expect(new Set(order).size).toBe(375)
      expect(new Set(order.slice(0, 150).map(groupOf)).size).toBe(150)
      expect(new Set(order.slice(150, 300).map(groupOf)).size).toBe(150)
      expect(new Set(order.slice(300).map(groupOf)).size).toBe(75)
    })

    it('150 groups of 2 or 3 tasks, 40 slots a call: every round of assignments gives each group one', { timeout: 60_000 }, async () => {
      const bench = await openBench(target)
      // Enqueued group by group, so the order of ready is not the order of the turns.
      for (let g = 0; g < 150; g++) await backlog(bench, `g${String(g).padStart(3, '0')}`, g % 2 === 0 ? 3 : 2)
      await bench.register('n1', 1, 40)
      await drainNode(bench, 'n1')
      const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
      const order = entries.flatMap(([id, pairs]) => toTaskEvents({ id, pairs })).filter((e) => e.type === 'assigned').map((e) => e.task)
      expect(order).toHaveLength(375)
      expect(new Set(order).size).toBe(375)
      expect(new Set(order.slice(0, 150).map(groupOf)).size).toBe(150)
      expect(new Set(order.slice(150, 300).map(groupOf)).size).toBe(150)
      expect(new Set(order.slice(300).map(groupOf)).size).toBe(75)
    })

    it('a group whose ready tasks were all canceled leaves the turns, and the others go on', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'x', 5)
      await backlog(bench, 'y', 5)
      for (let i = 0; i < 5; i++) expect(await s.cancel(bench.runner, bench.ns, { id: `x-${i}` })).toBe('canceled')
      const order = await runOneByOne(bench, 'n1', () => false)
      expect(order).toEqual(['y-0', 'y-1', 'y-2', 'y-3', 'y-4'])
      expect(await bench.client.hget(bench.ns.key('meta'), 'gp:default>x')).toBeNull()
    })

    it('a paused queue with groups starts nothing; resumed, its groups take turns', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await s.pauseQueue(bench.runner, bench.ns, { queue: 'default' })
      await backlog(bench, 'x', 4)
      await backlog(bench, 'y', 2)
      await bench.register('n1', 1, 4)
      expect(await bench.start('n1')).toEqual([])
      await s.resumeQueue(bench.runner, bench.ns, { queue: 'default' })
      const started = (await bench.start('n1')).map(([id]) => id).sort()
      expect(started).toEqual(['x-0', 'x-1', 'y-0', 'y-1'])
    })

    it('weights default to equal: two groups alternate', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'x', 300)
      await backlog(bench, 'y', 50)
      const order = await runOneByOne(bench, 'n1', (o) => o.length > 100)
      const groups = order.slice(0, 100).map(groupOf)
      for (let i = 0; i + 1 < groups.length; i += 2) expect(new Set([groups[i], groups[i + 1]])).toEqual(new Set(['x', 'y']))
    })

    it('a call that passes over several tasks of a group still gives out the group\'s tasks in order', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await weigh(bench, 'default', 'acme', 3)
      await bench.enqueue(...Array.from({ length: 6 }, (_, i) => ({ id: `acme-${i}`, group: 'acme' })), { id: 'beta-0', group: 'beta' }, { id: 'beta-1', group: 'beta' })
      await bench.register('n1', 1, 4)
      const states = await Promise.all(['acme-0', 'acme-1', 'acme-2', 'acme-3', 'beta-0', 'beta-1'].map(async (id) => (await bench.task(id)).state))
      expect(states).toEqual(['assigned', 'assigned', 'assigned', 'ready', 'assigned', 'ready'])
    })

    it('a weight set back to 1 leaves the other groups\' weights in force', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await weigh(bench, 'default', 'x', 2)
      await weigh(bench, 'default', 'y', 2)
      expect(await weigh(bench, 'default', 'x', 1)).toEqual({ changed: 1, weight: 1 })
      await backlog(bench, 'x', 100)
      await backlog(bench, 'y', 100)
      const order = await runOneByOne(bench, 'n1', (o) => o.length > 90)
      const ys = order.slice(0, 90).filter((id) => groupOf(id) === 'y').length
      expect(ys).toBe(60)
    })

    it('priority comes first within a group, then enqueue order', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await s.enqueue(bench.runner, bench.ns, {
        tasks: [
          { id: 'g-0', payload: '', group: 'g', priority: 0 },
          { id: 'g-1', payload: '', group: 'g', priority: 5 },
          { id: 'g-2', payload: '', group: 'g', priority: 0 },
          { id: 'g-3', payload: '', group: 'g', priority: 5 },
          { id: 'h-0', payload: '', group: 'h', priority: -5 },
          { id: 'h-1', payload: '', group: 'h', priority: 9 },
        ],
      })
      const order = await runOneByOne(bench, 'n1', () => false)
      expect(order.filter((id) => groupOf(id) === 'g')).toEqual(['g-1', 'g-3', 'g-0', 'g-2'])
      expect(order.filter((id) => groupOf(id) === 'h')).toEqual(['h-1', 'h-0'])
    })

    it('a call that gives out several tasks still starts a group\'s best task before its later ones', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      // g is served once first, so its pass is ahead of h's when h joins.
      await bench.enqueue({ id: 'g-0', group: 'g' })
      await bench.register('n0', 1, 1)
      await bench.enqueue({ id: 'g-1', group: 'g', priority: 9 }, { id: 'h-0', group: 'h', priority: 8 }, { id: 'g-2', group: 'g', priority: 0 })
      // One call gives out two slots: h's turn (its pass is behind), then g's, which must take
      // g-1, the best of g, though the walk through ready meets g-2 when g's turn comes.
      await bench.register('n1', 1, 2)
      const states = await Promise.all(['g-1', 'h-0', 'g-2'].map(async (id) => (await bench.task(id)).state))
      expect(states).toEqual(['assigned', 'assigned', 'ready'])
    })

    it('groups of different queues take turns apart; a task without a group runs in its place in ready', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await backlog(bench, 'p', 4, { queue: 'q1' })
      await backlog(bench, 'r', 4, { queue: 'q2' })
      await bench.enqueue({ id: 'plain' })
      const order = await runOneByOne(bench, 'n1', () => false)
      expect(order).toHaveLength(9)
      expect(order.filter((id) => groupOf(id) === 'p')).toEqual(['p-0', 'p-1', 'p-2', 'p-3'])
      expect(order[8]).toBe('plain')
    })

    it('a task of another queue behind a paused backlog of grouped tasks larger than the skip limit still goes to a node', async () => {
      const bench = await openBench(target, { eventsMaxLen: 0 })
      await s.pauseQueue(bench.runner, bench.ns, { queue: 'q1' })
      await bench.enqueueMany(...Array.from({ length: 150 }, (_, i) => ({ id: `p-${i}`, queue: 'q1', group: `g${i % 3}` })))
      await bench.enqueue({ id: 'other', queue: 'q2' })
      await bench.register('n1', 1, 10)
      expect((await bench.task('other')).state).toBe('assigned')
      expect((await bench.task('p-0')).state).toBe('ready')
    })

    it('get-task shows a task\'s group, and nothing for a task without one', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'with', group: 'acme' }, { id: 'without' })
      expect((await bench.task('with')).group).toBe('acme')
      expect(await bench.task('without')).not.toHaveProperty('group')
    })

    it('a bad group name or weight is refused and nothing is written', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'keep', group: 'g' })
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(bench.enqueue({ id: 'n1', group: 'a>b' })).rejects.toThrow(/tasks\[1\]\.group: expected empty or 1 to 128 characters/)
      await expect(bench.enqueue({ id: 'n2', group: 'x'.repeat(129) })).rejects.toThrow(BadArgumentError)
      await expect(weigh(bench, 'default', 'g', 0)).rejects.toThrow(/weight: expected an integer from 1 to 1000/)
      await expect(weigh(bench, 'default', 'g', 1001)).rejects.toThrow(BadArgumentError)
      await expect(weigh(bench, 'default', 'g h', 2)).rejects.toThrow(/group: expected 1 to 128 characters/)
      await expect(weigh(bench, 'a>b', 'g', 2)).rejects.toThrow(/queue: expected 1 to 128 characters/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      expect(await weigh(bench, 'default', 'g', 1)).toEqual({ changed: 0, weight: 1 })
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('a namespace without groups keeps no group index and no group fields', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a', queue: 'q1' }, { id: 'b' })
      await bench.register('n1', 1, 10)
      expect(await bench.client.hget(bench.ns.key('meta'), 'groups')).toBeNull()
      const members = await bench.client.zrange(bench.ns.key('ready-by-queue'), '0', '-1')
      expect(members.filter((m) => m.startsWith('\u0001') || m.startsWith('\u0002'))).toEqual([])
      const fields = await bench.client.hkeys(bench.ns.key('meta'))
      expect(fields.filter((f) => /^(gp|gw|gvt):/.test(f))).toEqual([])
    })
  })
})
