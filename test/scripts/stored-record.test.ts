import { describe, expect, it } from 'vitest'
import * as s from '../../loader/generated/scripts.js'
import { targets } from '../support/context.js'
import { openBench } from './harness.js'

/** The stored MessagePack record of a task, decoded by Redis's own cmsgpack. */
async function rawRecord(client: { eval: (...args: (string | number)[]) => Promise<unknown> }, key: string, id: string) {
  return (await client.eval("return cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))", 1, key, id)) as unknown[]
}

describe.each(targets)('stored records on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a stored record spells state, backoff and dependency rule in codes that each mean one word', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'f', backoff: 'fixed', onDependencyFailure: 'fail' })
      await bench.enqueue({ id: 'r', backoff: 'exponential', onDependencyFailure: 'run' })
      const codes = new Map<string, Set<string>>()
      for (const id of ['f', 'r']) {
        const record = await rawRecord(bench.client as never, bench.ns.key('task'), id)
        const task = await s.getTask(bench.runner, bench.ns, { id })
        const words = [task?.state, id === 'f' ? 'fixed' : 'exponential', id === 'f' ? 'fail' : 'run']
        // Record fields 1, 6 and 10: state, backoff, onDependencyFailure.
        ;[record[0], record[5], record[9]].forEach((code, i) => {
          const meanings = codes.get(String(code)) ?? new Set<string>()
          meanings.add(words[i] as string)
          codes.set(String(code), meanings)
        })
      }
      for (const [code, meanings] of codes) expect([code, [...meanings]]).toEqual([code, [[...meanings][0]]])
    })
  })
})
