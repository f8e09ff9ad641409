/**
 * The operator's scripts: retry-task, remove-task and clean-tasks. After each one the stats must
 * equal the truth (every task's own state, counted) and the indexes must hold what the states
 * say; a refused call writes nothing.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError, InvalidStateError, UnknownTaskError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

/**
 * The stats agree with the tasks that exist, and ready/dead/done hold exactly their tasks, but
 * for the finished tasks still `held` by dependents (lib/lifecycle), which no index holds yet.
 */
async function expectStatsTrue(bench: Bench, ids: string[], held: string[] = []): Promise<void> {
  const tally: Record<string, number> = Object.fromEntries(STATES.map((state) => [state, 0]))
  const byState: Record<string, string[]> = Object.fromEntries(STATES.map((state) => [state, []]))
  for (const id of ids) {
    const task = await s.getTask(bench.runner, bench.ns, { id })
    if (!task) continue
    tally[task.state] = (tally[task.state] ?? 0) + 1
    if (!held.includes(id)) byState[task.state]?.push(id)
  }
  const stats = await bench.stats()
  expect(Object.fromEntries(STATES.map((state) => [state, stats[state]]))).toEqual(tally)
  const members = async (key: 'ready' | 'dead' | 'done'): Promise<string[]> =>
    ((await bench.client.zrange(bench.ns.key(key), '0', '-1')) as string[]).sort()
  expect(await members('ready')).toEqual([...(byState.ready ?? [])].sort())
  expect(await members('done')).toEqual([...(byState.completed ?? [])].sort())
  expect(await members('dead')).toEqual([...(byState.dead ?? []), ...(byState.canceled ?? [])].sort())
}

async function expectRefusedUnchanged(bench: Bench, call: () => Promise<unknown>, error: new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  const before = await dumpNamespace(bench.client, bench.ns)
  const refusal = expect(call()).rejects
  await refusal.toBeInstanceOf(error)
  if (message) await expect(call()).rejects.toThrow(message)
  expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
}

/** Starts and fails the task for good on node n1: it ends dead. */
async function kill(bench: Bench, id: string): Promise<void> {
  const started = await bench.start('n1')
  const entry = started.find((row) => row[0] === id)
  if (!entry) throw new Error(`${id} was not started`)
  expect((await bench.fail('n1', id, entry[1], 'boom', false))[0]).toBe('dead')
}

describe.each(targets)('task operations on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    describe('retry-task', () => {
      it('runs a dead task again with a fresh attempt budget; stats and indexes stay true', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'a', maxAttempts: 1 }, { id: 'b', delayMs: 60_000 })
        await kill(bench, 'a')
        await s.cancel(bench.runner, bench.ns, { id: 'b' })
        await expectStatsTrue(bench, ['a', 'b'])
        // The node's one slot is free again, so the retried task is dispatched to it at once.
        expect(await s.retryTask(bench.runner, bench.ns, { id: 'a' })).toBe('ready')
        const a = await bench.task('a')
        expect(a.state).toBe('assigned')
        expect(a.attempts).toBe(0)
        expect(a.error).toBeUndefined()
        expect(a.finishedAt).toBeUndefined()
        await expectStatsTrue(bench, ['a', 'b'])
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        await bench.complete('n1', [{ id: 'a', token, result: 'ok' }])
        expect((await bench.task('a')).state).toBe('completed')
        await expectStatsTrue(bench, ['a', 'b'])
        // A task canceled before its run-at time keeps its delay.
        expect(await s.retryTask(bench.runner, bench.ns, { id: 'b' })).toBe('delayed')
        await expectStatsTrue(bench, ['a', 'b'])
        const events = await bench.client.xrange(bench.ns.key('events'), '-', '+')
        const requeued = events.flatMap(([, fields]) => {
          const found: string[] = []
          for (let i = 0; i < fields.length; i += 8) if (fields[i + 1] === 'requeued') found.push(`${fields[i + 3]}:${fields[i + 7]}`)
          return found
        })
        expect(requeued).toEqual(['a:dead', 'b:canceled'])
      })

      it('refuses what is not dead or canceled, unknown ids and bad ids, writing nothing', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'done' }, { id: 'queued' })
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        await bench.complete('n1', [{ id: 'done', token }])
        for (const id of ['done', 'queued']) {
          await expectRefusedUnchanged(bench, () => s.retryTask(bench.runner, bench.ns, { id }), InvalidStateError, /only a dead or canceled task/)
        }
        await expectRefusedUnchanged(bench, () => s.retryTask(bench.runner, bench.ns, { id: 'nope' }), UnknownTaskError)
        await expectRefusedUnchanged(bench, () => s.retryTask(bench.runner, bench.ns, { id: 'a b' }), BadArgumentError)
      })

      it('retries a task whose dependencies completed; it reads their results again', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'parent' }, { id: 'child', dependsOn: ['parent'], maxAttempts: 1 })
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        await bench.complete('n1', [{ id: 'parent', token, result: 'input' }])
        await kill(bench, 'child')
        expect(await s.retryTask(bench.runner, bench.ns, { id: 'child' })).toBe('ready')
        expect((await bench.task('child')).state).toBe('assigned')
        expect(await s.dependencyResults(bench.runner, bench.ns, { id: 'child' })).toEqual([['parent', 'completed', Buffer.from('input'), null]])
        await expectStatsTrue(bench, ['parent', 'child'])
      })

      it('refuses a task whose dependency failed, and one whose dependents settled on its failure', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'parent', maxAttempts: 1 }, { id: 'child', dependsOn: ['parent'] })
        await kill(bench, 'parent')
        expect((await bench.task('child')).reason).toBe('dependency failed')
        await expectRefusedUnchanged(bench, () => s.retryTask(bench.runner, bench.ns, { id: 'child' }), InvalidStateError, /did not complete/)
        await expectRefusedUnchanged(bench, () => s.retryTask(bench.runner, bench.ns, { id: 'parent' }), InvalidStateError, /dependents/)
        await expectStatsTrue(bench, ['parent', 'child'])
      })
    })

    describe('remove-task', () => {
      it('removes finished tasks and counts them out', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'ok' }, { id: 'bad', maxAttempts: 1 }, { id: 'off', delayMs: 60_000 })
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        await bench.complete('n1', [{ id: 'ok', token }])
        await kill(bench, 'bad')
        await s.cancel(bench.runner, bench.ns, { id: 'off' })
        expect(await s.removeTask(bench.runner, bench.ns, { id: 'ok' })).toBe('completed')
        expect(await s.removeTask(bench.runner, bench.ns, { id: 'bad' })).toBe('dead')
        expect(await s.removeTask(bench.runner, bench.ns, { id: 'off' })).toBe('canceled')
        for (const id of ['ok', 'bad', 'off']) expect(await s.getTask(bench.runner, bench.ns, { id })).toBeNull()
        await expectStatsTrue(bench, ['ok', 'bad', 'off'])
        expect((await bench.stats()).completed + (await bench.stats()).dead + (await bench.stats()).canceled).toBe(0)
      })

      it('refuses an unfinished task, a held parent, unknown and bad ids, writing nothing', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'parent' }, { id: 'child', dependsOn: ['parent'] })
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        // Still running: not finished.
        await expectRefusedUnchanged(bench, () => s.removeTask(bench.runner, bench.ns, { id: 'parent' }), InvalidStateError, /only a finished task/)
        await bench.complete('n1', [{ id: 'parent', token }])
        // Completed, but its child may yet read its result.
        expect((await bench.task('child')).state).not.toBe('completed')
        await expectRefusedUnchanged(bench, () => s.removeTask(bench.runner, bench.ns, { id: 'parent' }), InvalidStateError, /still held/)
        await expectRefusedUnchanged(bench, () => s.removeTask(bench.runner, bench.ns, { id: 'nope' }), UnknownTaskError)
        await expectRefusedUnchanged(bench, () => s.removeTask(bench.runner, bench.ns, { id: '' }), BadArgumentError)
        await expectStatsTrue(bench, ['parent', 'child'], ['parent'])
      })
    })

    describe('clean-tasks', () => {
      it('removes finished tasks older than the cut, by state, in bounded calls', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 100)
        const ids = Array.from({ length: 12 }, (_, i) => `t${i}`)
        await bench.enqueue(...ids.map((id, i) => ({ id, maxAttempts: 1, delayMs: i >= 8 ? 60_000 : 0 })))
        const started = await bench.start('n1')
        // t0..t3 complete, t4..t7 die, t8..t11 are canceled.
        await bench.complete('n1', started.filter((row) => Number(row[0].slice(1)) < 4).map((row) => ({ id: row[0], token: row[1] })))
        for (const row of started.filter((r) => Number(r[0].slice(1)) >= 4)) await bench.fail('n1', row[0], row[1], 'boom', false)
        for (const id of ids.slice(8)) await s.cancel(bench.runner, bench.ns, { id })
        await expectStatsTrue(bench, ids)
        // Nothing finished a day ago.
        expect(await s.cleanTasks(bench.runner, bench.ns, { state: 'finished', olderThanMs: 86_400_000 })).toEqual([0, 0, 0])
        // Canceled only, two at a time: the dead tasks ahead of them in the dead index are passed over.
        let skip = 0
        let removed = 0
        for (let calls = 0; ; calls++) {
          expect(calls).toBeLessThan(10)
          const [gone, passed, more] = await s.cleanTasks(bench.runner, bench.ns, { state: 'canceled', olderThanMs: 0, limit: 2, skip })
          removed += gone
          skip += passed
          if (more === 0) break
        }
        expect(removed).toBe(4)
        for (const id of ids.slice(8)) expect(await s.getTask(bench.runner, bench.ns, { id })).toBeNull()
        await expectStatsTrue(bench, ids)
        expect((await bench.stats()).dead).toBe(4)
        expect(await s.cleanTasks(bench.runner, bench.ns, { state: 'finished', olderThanMs: 0, limit: 5 })).toEqual([5, 0, 1])
        expect(await s.cleanTasks(bench.runner, bench.ns, { state: 'finished', olderThanMs: 0, limit: 5 })).toEqual([3, 0, 0])
        await expectStatsTrue(bench, ids)
        const stats = await bench.stats()
        expect([stats.completed, stats.dead, stats.canceled]).toEqual([0, 0, 0])
      })

      it('leaves held tasks alone and refuses bad arguments, writing nothing', async () => {
        const bench = await openBench(target)
        await bench.register('n1', 1, 1)
        await bench.enqueue({ id: 'parent' }, { id: 'child', dependsOn: ['parent'] })
        const [[, token]] = (await bench.start('n1')) as [s.StartReply[number]]
        await bench.complete('n1', [{ id: 'parent', token }])
        expect(await s.cleanTasks(bench.runner, bench.ns, { state: 'finished', olderThanMs: 0 })).toEqual([0, 0, 0])
        expect((await bench.task('parent')).state).toBe('completed')
        const bad: s.CleanTasksArgs[] = [
          { state: 'finished', olderThanMs: -1 },
          { state: 'finished', olderThanMs: 0, limit: 0 },
          { state: 'finished', olderThanMs: 0, limit: 1001 },
          { state: 'running' as never, olderThanMs: 0 },
        ]
        for (const args of bad) {
          await expectRefusedUnchanged(bench, () => s.cleanTasks(bench.runner, bench.ns, args), BadArgumentError)
        }
        await expectStatsTrue(bench, ['parent', 'child'], ['parent'])
      })
    })
  })
})
