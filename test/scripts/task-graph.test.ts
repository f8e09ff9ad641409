import { describe, expect, it } from 'vitest'
import { BadArgumentError, NotInitializedError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, randomNamespace, targets } from '../support/context.js'
import { drainNode, openBench } from './harness.js'

describe.each(targets)('task-graph on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('lists a task’s dependencies with their states and its unsettled dependents; a finished dependent leaves the list', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a' }, { id: 'b' })
      await bench.enqueue({ id: 'c', dependsOn: ['a', 'b'] }, { id: 'd', dependsOn: ['c'] }, { id: 'e', dependsOn: ['c'] })
      expect(await s.taskGraph(bench.runner, bench.ns, { id: 'c' })).toEqual({
        state: 'waiting',
        parents: [['a', 'ready'], ['b', 'ready']],
        children: [['d', 'waiting'], ['e', 'waiting']],
        more: 0,
      })
      expect(await s.taskGraph(bench.runner, bench.ns, { id: 'c', limit: 1 })).toMatchObject({ children: [['d', 'waiting']], more: 1 })
      await bench.register('n1', 1, 100)
      await drainNode(bench, 'n1')
      // Every dependent finished: its edges are settled, its own deps entry still names its parents.
      expect(await s.taskGraph(bench.runner, bench.ns, { id: 'c' })).toEqual({
        state: 'completed',
        parents: [['a', 'completed'], ['b', 'completed']],
        children: [],
        more: 0,
      })
      expect(await s.taskGraph(bench.runner, bench.ns, { id: 'nobody' })).toBeNull()
    })

    it('refuses bad arguments with TM_BAD_ARGUMENT and an unknown namespace with TM_NOT_INITIALIZED, writing nothing', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'a' })
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(s.taskGraph(bench.runner, bench.ns, { id: 'a b' })).rejects.toBeInstanceOf(BadArgumentError)
      await expect(s.taskGraph(bench.runner, bench.ns, { id: 'a', limit: 0 })).rejects.toThrow(/^TM_BAD_ARGUMENT limit/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      await expect(s.taskGraph(bench.runner, randomNamespace(), { id: 'a' })).rejects.toBeInstanceOf(NotInitializedError)
    })
  })
})
