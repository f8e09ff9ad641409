import { describe, expect, it } from 'vitest'
import { BadArgumentError, NotInitializedError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import type { KeyName } from '../../loader/keys.js'
import { dumpNamespace, randomNamespace, targets } from '../support/context.js'
import { drainNode, openBench, type Bench } from './harness.js'

type State = s.ListTasksArgs['state']
type Order = 'newest' | 'oldest'

/** Every page of a listing, followed cursor by cursor to the end. */
async function pages(bench: Bench, args: Omit<s.ListTasksArgs, 'cursor'>): Promise<s.ListTasksReply['tasks'][]> {
  const all: s.ListTasksReply['tasks'][] = []
  let cursor = ''
  do {
    const page = await s.listTasks(bench.runner, bench.ns, { ...args, cursor })
    expect(page.tasks.length).toBeLessThanOrEqual(args.limit ?? 100)
    all.push(page.tasks)
    cursor = page.cursor
    if (all.length > 500) throw new Error('the listing does not end')
  } while (cursor !== '')
  return all
}

async function listedIds(bench: Bench, args: Omit<s.ListTasksArgs, 'cursor'>): Promise<string[]> {
  return (await pages(bench, args)).flat().map(([id]) => id)
}

/** The ids of an index in the listing's order, kept when their task is in the state (and queue). */
async function expectedIds(bench: Bench, index: KeyName, state: State, order: Order, queue?: string): Promise<string[]> {
  const ids = await bench.client.zrange(bench.ns.key(index), '0', '-1')
  if (order === 'newest') ids.reverse()
  const kept: string[] = []
  for (const id of ids) {
    const task = await bench.task(id)
    if (task.state === state && (queue === undefined || task.queue === queue)) kept.push(id)
  }
  return kept
}

const ORDERS: Order[] = ['newest', 'oldest']

describe.each(targets)('list-tasks on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it.each(ORDERS)('pages through completed tasks finished in the same millisecond, %s first, each once and in order', async (order) => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 100)
      await bench.enqueue(...Array.from({ length: 37 }, (_, i) => ({ id: `c${String(i).padStart(2, '0')}` })))
      await drainNode(bench, 'n1')
      const expected = await expectedIds(bench, 'done', 'completed', order)
      expect(expected).toHaveLength(37)
      const listed = await pages(bench, { state: 'completed', order, limit: 5 })
      expect(listed.length).toBeGreaterThanOrEqual(8)
      expect(listed.flat().map(([id]) => id)).toEqual(expected)
      const [id, state, queue, priority, attempts, enqueuedAt, , finishedAt, node] = listed[0]?.[0] ?? []
      const task = await bench.task(id as string)
      expect([state, queue, priority, attempts, enqueuedAt, finishedAt, node]).toEqual([
        'completed', 'default', 0, 1, task.enqueuedAt, task.finishedAt, 'n1',
      ])
    })

    it.each(ORDERS)('tells states that share an index apart, %s first', async (order) => {
      const bench = await openBench(target)
      const later = Date.now() + 3_600_000
      // Delayed tasks with equal due times, so the cursor must step through ties.
      await bench.enqueue(...Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, runAt: later + (i % 3) })))
      await bench.enqueue({ id: 'r1', backoffMs: 600_000 }, { id: 'r2', backoffMs: 600_000 }, { id: 'x1' }, { id: 'x2' })
      await bench.register('n1', 1, 100)
      for (const [id, token] of await bench.start('n1')) {
        await bench.fail('n1', id, token, 'boom', id.startsWith('r'))
      }
      await bench.enqueue({ id: 'k1', runAt: later }, { id: 'k2', runAt: later })
      await s.cancel(bench.runner, bench.ns, { id: 'k1' })
      await s.cancel(bench.runner, bench.ns, { id: 'k2' })
      await bench.enqueue({ id: 'a1' }, { id: 'a2' }, { id: 'a3' })
      await bench.start('n1', 1)

      const cases: [State, KeyName, number][] = [
        ['delayed', 'delayed', 12], ['retrying', 'delayed', 2], ['dead', 'dead', 2], ['canceled', 'dead', 2],
        ['running', 'leases', 1], ['assigned', 'leases', 2],
      ]
      for (const [state, index, count] of cases) {
        const expected = await expectedIds(bench, index, state, order)
        expect(expected, state).toHaveLength(count)
        expect(await listedIds(bench, { state, order, limit: 2 }), state).toEqual(expected)
      }
    })

    it('lists ready tasks in dispatch order (oldest: the next to run) and filters by queue', async () => {
      const bench = await openBench(target)
      await bench.enqueue(
        ...Array.from({ length: 30 }, (_, i) => ({ id: `q${i}`, priority: i % 4, queue: i % 10 === 0 ? 'rare' : 'common' })),
      )
      const oldest = await expectedIds(bench, 'ready', 'ready', 'oldest')
      expect(oldest.slice(0, 3)).toEqual(['q3', 'q7', 'q11'])
      expect(await listedIds(bench, { state: 'ready', order: 'oldest', limit: 4 })).toEqual(oldest)
      expect(await listedIds(bench, { state: 'ready', limit: 4 })).toEqual(oldest.slice().reverse())
      const rare = await expectedIds(bench, 'ready', 'ready', 'oldest', 'rare')
      expect(rare).toHaveLength(3)
      // With limit 1 a call looks at 4 entries at most: some pages before the last come back
      // empty, with a cursor to go on.
      const rarePages = await pages(bench, { state: 'ready', order: 'oldest', limit: 1, queue: 'rare' })
      expect(rarePages.slice(0, -1).some((page) => page.length === 0)).toBe(true)
      expect(rarePages.flat().map(([id]) => id)).toEqual(rare)
      expect(await listedIds(bench, { state: 'ready', queue: 'absent' })).toEqual([])
    })

    it('goes on after the cursor task left its index, without repeating or skipping equals in score', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 100)
      await bench.enqueue(...Array.from({ length: 20 }, (_, i) => ({ id: `c${String(i).padStart(2, '0')}` })))
      await drainNode(bench, 'n1')
      for (const order of ORDERS) {
        const expected = await expectedIds(bench, 'done', 'completed', order)
        const first = await s.listTasks(bench.runner, bench.ns, { state: 'completed', order, limit: 6 })
        const gone = first.tasks.at(-1)?.[0] as string
        expect(first.cursor).toMatch(new RegExp(`/${gone}$`))
        const score = await bench.client.zscore(bench.ns.key('done'), gone)
        // As if retention had removed it between the two pages.
        await bench.client.zrem(bench.ns.key('done'), gone)
        let cursor = first.cursor
        const after: string[] = []
        while (cursor !== '') {
          const page = await s.listTasks(bench.runner, bench.ns, { state: 'completed', order, limit: 6, cursor })
          after.push(...page.tasks.map(([id]) => id))
          cursor = page.cursor
        }
        expect([...first.tasks.map(([id]) => id), ...after]).toEqual(expected)
        await bench.client.zadd(bench.ns.key('done'), score as string, gone)
      }
    })

    it('lists waiting tasks once each, from the dependency lists', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'parent', runAt: Date.now() + 3_600_000 })
      await bench.enqueue(
        ...Array.from({ length: 40 }, (_, i) => ({ id: `w${i}`, dependsOn: ['parent'], queue: i < 5 ? 'five' : 'default' })),
      )
      await bench.enqueue({ id: 'free' })
      const waiting = Array.from({ length: 40 }, (_, i) => `w${i}`)
      const listed = await listedIds(bench, { state: 'waiting', limit: 1000 })
      expect(listed.slice().sort()).toEqual(waiting.slice().sort())
      const five = await listedIds(bench, { state: 'waiting', queue: 'five', order: 'oldest' })
      expect(five.slice().sort()).toEqual(['w0', 'w1', 'w2', 'w3', 'w4'])
    })

    const BAD: [string, string[]][] = [
      ['state', ['pending', '', 'READY']],
      ['order', ['up', 'NEWEST']],
      ['limit', ['0', '1001', 'x', '1.5']],
      ['queue', ['a b', 'x'.repeat(129)]],
      ['cursor', ['zzz', '12', '12/', '/a', '12/a b', '1.5/a', 'x'.repeat(201)]],
    ]
    const ARG_NAMES = ['state', 'order', 'cursor', 'limit', 'queue']
    it.each(BAD.flatMap(([name, values]) => values.map((value) => ({ name, value }))))(
      'refuses $name = $value with TM_BAD_ARGUMENT naming it and writes nothing',
      async ({ name, value }) => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 100)
        await bench.enqueue({ id: 'a' }, { id: 'b' })
        await drainNode(bench, 'n1')
        const before = await dumpNamespace(bench.client, bench.ns)
        const argv = ['completed', 'newest', '', '10', '']
        argv[ARG_NAMES.indexOf(name)] = value
        const keys = s.listTasksScript.keys.map((key) => bench.ns.key(key.name as KeyName))
        const call = bench.client.call('evalsha_ro', s.listTasksScript.sha, keys.length, ...keys, ...argv)
        await expect(call).rejects.toThrow(new RegExp(`^TM_BAD_ARGUMENT ${name}: `))
        expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      },
    )

    it('refuses a waiting cursor that is not an HSCAN cursor, and a namespace never initialised', async () => {
      const bench = await openBench(target)
      const refused = s.listTasks(bench.runner, bench.ns, { state: 'waiting', cursor: '12/a' })
      await expect(refused).rejects.toBeInstanceOf(BadArgumentError)
      await expect(refused).rejects.toThrow(/^TM_BAD_ARGUMENT cursor: expected an HSCAN cursor/)
      await expect(s.listTasks(bench.runner, randomNamespace(), { state: 'ready' })).rejects.toBeInstanceOf(NotInitializedError)
    })
  })
})
