import { describe, expect, it } from 'vitest'
import { targets } from '../support/context.js'
import { assignmentOrder, drainNode, openBench } from './harness.js'

const tasks = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }))

function shares(order: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const node of order) counts[node] = (counts[node] ?? 0) + 1
  for (const node of Object.keys(counts)) counts[node] = (counts[node] as number) / order.length
  return counts
}

describe.each(targets)('dispatch on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('weighted: a=5, b=1, c=1 gives a a a b c a a, and repeats', async () => {
      const bench = await openBench(target, { strategy: 'weighted' })
      await bench.register('a', 5, 100)
      await bench.register('b', 1, 100)
      await bench.register('c', 1, 100)
      await bench.enqueue(...tasks(14))
      expect(await assignmentOrder(bench)).toEqual('aaabcaa'.repeat(2).split(''))
    })

    it('weighted: the sequence continues across calls, one task per call', async () => {
      const bench = await openBench(target, { strategy: 'weighted' })
      await bench.register('a', 5, 100)
      await bench.register('b', 1, 100)
      await bench.register('c', 1, 100)
      for (let i = 0; i < 7; i++) await bench.enqueue({ id: `one-${i}` })
      expect(await assignmentOrder(bench)).toEqual('aaabcaa'.split(''))
    })

    it('round-robin: nodes with free capacity in turn, skipping full ones', async () => {
      const bench = await openBench(target, { strategy: 'round-robin' })
      await bench.register('a', 5, 100)
      await bench.register('b', 1, 2)
      await bench.register('c', 1, 100)
      await bench.enqueue(...tasks(8))
      expect(await assignmentOrder(bench)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'c'])
    })

    it('weighted: a=5, b=3, c=1 gives a b a a b c a b a, and repeats', async () => {
      const bench = await openBench(target, { strategy: 'weighted' })
      await bench.register('a', 5, 100)
      await bench.register('b', 3, 100)
      await bench.register('c', 1, 100)
      await bench.enqueue(...tasks(18))
      expect(await assignmentOrder(bench)).toEqual('abaabcaba'.repeat(2).split(''))
    })

    it('weighted: at every prefix of 1,000 assignments each count is within 2% of 1,000 of its weighted share', async () => {
      const bench = await openBench(target, { strategy: 'weighted' })
      const weights = { a: 5, b: 3, c: 1, d: 7, e: 2 }
      const total = Object.values(weights).reduce((sum, w) => sum + w, 0)
      for (const [id, weight] of Object.entries(weights)) await bench.register(id, weight, 10_000)
      await bench.enqueueMany(...tasks(1000))
      const order = await assignmentOrder(bench)
      expect(order).toHaveLength(1000)
      const counts: Record<string, number> = {}
      let worst = 0
      order.forEach((node, i) => {
        counts[node] = (counts[node] ?? 0) + 1
        for (const [id, weight] of Object.entries(weights)) {
          worst = Math.max(worst, Math.abs((counts[id] ?? 0) - ((i + 1) * weight) / total))
        }
      })
      // ±2% of 1,000 is 20 tasks; stride scheduling keeps within about one.
      expect(worst).toBeLessThan(2)
    })

    it('least-loaded: lowest inflight/weight first, ties to the lowest id', async () => {
      const bench = await openBench(target, { strategy: 'least-loaded' })
      await bench.register('a', 2, 100)
      await bench.register('b', 1, 100)
      await bench.enqueue(...tasks(6))
      // loads (a/2, b/1): 0,0 -> a; .5,0 -> b; .5,1 -> a; 1,1 -> tie, a; 1.5,1 -> b; 1.5,2 -> a
      expect(await assignmentOrder(bench)).toEqual(['a', 'b', 'a', 'a', 'b', 'a'])
    })

    it('weighted shares over 10,000 tasks are within 2% of the weights', async () => {
      const bench = await openBench(target, { strategy: 'weighted', eventsMaxLen: 0 })
      await bench.register('a', 5, 100_000)
      await bench.register('b', 3, 100_000)
      await bench.register('c', 1, 100_000)
      for (let i = 0; i < 2; i++) await bench.enqueueMany(...tasks(5000, `b${i}-`))
      const stats = await bench.stats()
      const inflight = Object.fromEntries(stats.nodes.map(({ id, inflight: inflightCount }) => [id, inflightCount / 10_000]))
      expect(Math.abs((inflight.a ?? 0) - 5 / 9)).toBeLessThan(0.02)
      expect(Math.abs((inflight.b ?? 0) - 3 / 9)).toBeLessThan(0.02)
      expect(Math.abs((inflight.c ?? 0) - 1 / 9)).toBeLessThan(0.02)
    })

    it('random: weighted random shares follow the weights', async () => {
      const bench = await openBench(target, { strategy: 'random' })
      await bench.register('a', 3, 100_000)
      await bench.register('b', 1, 100_000)
      await bench.enqueueMany(...tasks(4000))
      const order = await assignmentOrder(bench)
      expect(order).toHaveLength(4000)
      const share = shares(order)
      expect(Math.abs((share.a ?? 0) - 0.75)).toBeLessThan(0.04)
      // Not a fixed rotation: some runs of three or more a's and some b-b pairs occur.
      expect(order.join('')).toMatch(/bb/)
    })

    it('never exceeds a node capacity, and completion frees a slot that is refilled', async () => {
      const bench = await openBench(target)
      await bench.register('n', 1, 3)
      await bench.enqueue(...tasks(10))
      let stats = await bench.stats()
      expect([stats.assigned, stats.ready]).toEqual([3, 7])
      const started = await bench.start('n')
      expect(started).toHaveLength(3)
      const [first] = started
      const next = await bench.complete('n', [{ id: first?.[0] as string, token: first?.[1] as number }], 5)
      expect(next).toHaveLength(1)
      stats = await bench.stats()
      expect([stats.running, stats.ready, stats.completed]).toEqual([3, 6, 1])
    })

    it('queues: a node only gets tasks of the queues it serves; a node with none serves all', async () => {
      const bench = await openBench(target, { strategy: 'round-robin' })
      await bench.register('mail', 1, 100, ['email'])
      await bench.enqueue({ id: 'e1', queue: 'email' }, { id: 'r1', queue: 'reports' })
      expect((await bench.task('e1')).node).toBe('mail')
      expect((await bench.task('r1')).state).toBe('ready')
      await bench.register('any', 1, 100)
      expect((await bench.task('r1')).node).toBe('any')
    })

    it('priority first, FIFO within a priority', async () => {
      const bench = await openBench(target)
      await bench.enqueue(
        { id: 'low', priority: -1 },
        { id: 'mid1' },
        { id: 'high', priority: 7 },
        { id: 'mid2' },
        { id: 'mid3' },
      )
      await bench.register('n', 1, 1)
      const order: string[] = []
      await drainNode(bench, 'n', (id) => order.push(id))
      expect(order).toEqual(['high', 'mid1', 'mid2', 'mid3', 'low'])
    })
  })
})
