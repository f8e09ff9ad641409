/**
 * Schedules through the scripts: each firing enqueues one task, however many maintain calls run
 * at once; the missed-firing policies, pause and resume, the chain flag, the due time that wakes
 * the timer node, and refusals that write nothing. Schedules are created with a start in the
 * past, so that the server clock has already passed the firings a test is about.
 */
import { describe, expect, it } from 'vitest'
import { createRunner } from '../../client/connection.js'
import { refillScheduleIn, toUpsertArgs, type ScheduleInput } from '../../client/schedules.js'
import {
  BadArgumentError,
  PayloadTooLargeError,
  ScheduleChangedError,
  ScheduleExistsError,
  UnknownScheduleError,
} from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, serverNow, type Bench } from '../scripts/harness.js'

function create(bench: Bench, input: ScheduleInput<string>, revision = 0) {
  return s.upsertSchedule(bench.runner, bench.ns, toUpsertArgs(input, revision))
}

/** The ids of the tasks a schedule fired, sorted by fire time. */
async function firedTasks(bench: Bench, scheduleId: string): Promise<string[]> {
  const ids = (await bench.client.hkeys(bench.ns.key('task'))) as string[]
  return ids
    .filter((id) => id.startsWith(`${scheduleId}:`) && /^\d+$/.test(id.slice(scheduleId.length + 1)))
    .sort((a, b) => Number(a.slice(scheduleId.length + 1)) - Number(b.slice(scheduleId.length + 1)))
}

const at = (scheduleId: string, times: number[]) => times.map((t) => `${scheduleId}:${t}`)

describe.each(targets)('schedules on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('fires each due time exactly once with several maintain callers at once', async () => {
      const bench = await openBench(target)
      const start = (await serverNow(bench)) - 4_500
      await create(bench, { id: 'every', everyMs: 1_000, startAt: start, missed: 'catch-up', catchUpCap: 100 })
      const runners = [bench.runner, ...(await Promise.all([1, 2].map(async () => {
        const runner = createRunner(target.client())
        await runner.loadAll()
        return runner
      })))]
      const replies = await Promise.all(runners.flatMap((runner) => [1, 2, 3].map(() => s.maintain(runner, bench.ns, {}))))
      expect(replies.reduce((sum, r) => sum + r.fired, 0)).toBe(5)
      expect(await firedTasks(bench, 'every')).toEqual(at('every', [0, 1, 2, 3, 4].map((k) => start + k * 1_000)))
      const schedule = await s.getSchedule(bench.runner, bench.ns, { id: 'every' })
      expect(schedule).toMatchObject({ firings: 5, nextAt: start + 5_000, lastTaskId: `every:${start + 4_000}` })
      // The next firing sets the namespace's due time, which wakes the timer node.
      const meta = await bench.client.hmget(bench.ns.key('meta'), 'dueAt', 'scheduleDueAt')
      expect(Number(meta[1])).toBe(start + 5_000)
      expect(Number(meta[0])).toBeLessThanOrEqual(start + 5_000)
      // Once it is due, one more round fires it, and only it.
      const deadline = Date.now() + 5_000
      while ((await serverNow(bench)) < start + 5_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      await Promise.all(runners.map((runner) => s.maintain(runner, bench.ns, {})))
      expect(await firedTasks(bench, 'every')).toHaveLength(6)
    })

    it('a cron schedule fires its stored times once each, and a refill appends after the horizon', async () => {
      const bench = await openBench(target)
      const now = await serverNow(bench)
      await create(bench, { id: 'cron', cron: '* * * * * *', startAt: now - 3_200, missed: 'catch-up', catchUpCap: 10 })
      const before = await s.getSchedule(bench.runner, bench.ns, { id: 'cron' })
      expect(before?.timesLeft).toBe(64)
      await Promise.all([bench.maintain(), bench.maintain(), bench.maintain()])
      const fired = await firedTasks(bench, 'cron')
      const second = Math.floor((now - 3_200) / 1000) * 1000 + 1000
      expect(fired.slice(0, 3)).toEqual(at('cron', [second, second + 1000, second + 2000]))
      expect(fired.length).toBeGreaterThanOrEqual(3)
      expect(fired.length).toBeLessThanOrEqual(5)
      const after = await s.getSchedule(bench.runner, bench.ns, { id: 'cron' })
      expect(after?.timesLeft).toBe(64 - fired.length)
      expect(await refillScheduleIn(bench.runner, bench.ns, 'cron')).toBe(true)
      const refilled = await s.getSchedule(bench.runner, bench.ns, { id: 'cron' })
      expect(refilled?.timesLeft).toBe(64)
      expect(refilled?.horizon).toBe((after?.horizon ?? 0) + fired.length * 1000)
      // A refill from a stale read is refused and changes nothing.
      await expectRefusedUnchanged(
        bench,
        () => s.refillSchedule(bench.runner, bench.ns, { id: 'cron', revision: 1, horizon: after?.horizon ?? 0, times: String((refilled?.horizon ?? 0) + 1000) }),
        ScheduleChangedError,
      )
    })

    it('a cron schedule without stored times is named by maintain, is not named again for a minute, and is due at its next time once refilled', async () => {
      const bench = await openBench(target)
      const now = await serverNow(bench)
      const args = { ...toUpsertArgs({ id: 'dry', cron: '* * * * * *', missed: 'once' }, 0), times: '' }
      expect((await s.upsertSchedule(bench.runner, bench.ns, args)).nextAt).toBe(0)
      const first = await bench.maintain()
      expect(first).toMatchObject({ fired: 0, refill: ['dry'] })
      // Asked once; the next call does not ask again before a minute has passed.
      expect(Number(await bench.client.zscore(bench.ns.key('schedule-due'), 'dry'))).toBeGreaterThanOrEqual(now + 60_000)
      expect((await bench.maintain()).refill).toEqual([])
      expect(await refillScheduleIn(bench.runner, bench.ns, 'dry')).toBe(true)
      const refilled = await s.getSchedule(bench.runner, bench.ns, { id: 'dry' })
      expect(refilled?.timesLeft).toBeGreaterThan(16)
      expect(Number(await bench.client.zscore(bench.ns.key('schedule-due'), 'dry'))).toBe(refilled?.nextAt)
      // Paused and resumed while dry, it is due at once again, so that maintain asks anew.
      const dry = await s.upsertSchedule(bench.runner, bench.ns, { ...args, id: 'dry2', paused: true })
      expect(dry.nextAt).toBe(0)
      expect(await bench.client.zscore(bench.ns.key('schedule-due'), 'dry2')).toBeNull()
      await s.resumeSchedule(bench.runner, bench.ns, { id: 'dry2' })
      expect((await bench.maintain()).refill).toEqual(['dry2'])
    })

    describe('missed firings, with the clock past four of them', () => {
      // Interval 10 s from 35 s ago: due at -35, -25, -15 and -5 s; the most recent is 5 s late.
      async function missed(input: Partial<ScheduleInput<string>>): Promise<{ bench: Bench; start: number; fired: string[] }> {
        const bench = await openBench(target)
        const start = (await serverNow(bench)) - 35_000
        await create(bench, { id: 'm', everyMs: 10_000, startAt: start, ...input })
        await bench.maintain()
        await bench.maintain()
        return { bench, start, fired: await firedTasks(bench, 'm') }
      }

      it('skip runs none when the most recent is later than the grace, and goes on at the next time', async () => {
        const { bench, start, fired } = await missed({ missed: 'skip', graceMs: 1_000 })
        expect(fired).toEqual([])
        expect(await s.getSchedule(bench.runner, bench.ns, { id: 'm' })).toMatchObject({ firings: 0, nextAt: start + 40_000 })
      })

      it('skip runs the most recent when it is within the grace', async () => {
        const { start, fired } = await missed({ missed: 'skip', graceMs: 60_000 })
        expect(fired).toEqual(at('m', [start + 30_000]))
      })

      it('once runs the most recent only', async () => {
        const { bench, start, fired } = await missed({ missed: 'once', graceMs: 0 })
        expect(fired).toEqual(at('m', [start + 30_000]))
        expect(await s.getSchedule(bench.runner, bench.ns, { id: 'm' })).toMatchObject({ firings: 1, nextAt: start + 40_000 })
      })

      it('catch-up runs the most recent up to its cap, oldest first', async () => {
        const { start, fired } = await missed({ missed: 'catch-up', catchUpCap: 3 })
        expect(fired).toEqual(at('m', [start + 10_000, start + 20_000, start + 30_000]))
      })

      it('catch-up over budget goes on in the next call without a gap or a repeat', async () => {
        const bench = await openBench(target)
        const start = (await serverNow(bench)) - 9_500
        await create(bench, { id: 'm', everyMs: 1_000, startAt: start, missed: 'catch-up', catchUpCap: 100 })
        const first = await bench.maintain(4)
        expect(first.fired).toBe(4)
        expect(first.more).toBe(1)
        await bench.maintain()
        expect(await firedTasks(bench, 'm')).toEqual(at('m', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => start + k * 1_000)))
      })
    })

    it('a paused schedule fires nothing; resumed, its missed firings follow its policy', async () => {
      const bench = await openBench(target)
      const start = (await serverNow(bench)) - 5_500
      await create(bench, { id: 'p', everyMs: 1_000, startAt: start, missed: 'once', paused: true })
      expect(await bench.client.zscore(bench.ns.key('schedule-due'), 'p')).toBeNull()
      await bench.maintain()
      expect(await firedTasks(bench, 'p')).toEqual([])
      expect(await s.resumeSchedule(bench.runner, bench.ns, { id: 'p' })).toBe('resumed')
      await bench.maintain()
      expect(await firedTasks(bench, 'p')).toEqual(at('p', [start + 5_000]))
      expect(await s.pauseSchedule(bench.runner, bench.ns, { id: 'p' })).toBe('paused')
      expect(await s.pauseSchedule(bench.runner, bench.ns, { id: 'p' })).toBe('unchanged')
      expect(await bench.client.zscore(bench.ns.key('schedule-due'), 'p')).toBeNull()
      expect(await bench.client.hget(bench.ns.key('meta'), 'scheduleDueAt')).toBeNull()
      const deadline = Date.now() + 5_000
      while ((await serverNow(bench)) < start + 6_100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      await bench.maintain()
      expect(await firedTasks(bench, 'p')).toHaveLength(1)
    })

    describe('paused past four firings, then resumed', () => {
      // Interval 10 s from 35 s ago, paused from the start: due at -35, -25, -15 and -5 s.
      const cases: [string, Partial<ScheduleInput<string>>, number[]][] = [
        ['skip runs none when the most recent is later than the grace', { missed: 'skip', graceMs: 1_000 }, []],
        ['skip runs the most recent when it is within the grace', { missed: 'skip', graceMs: 60_000 }, [30_000]],
        ['once runs the most recent only', { missed: 'once', graceMs: 0 }, [30_000]],
        ['catch-up runs the most recent up to its cap, oldest first', { missed: 'catch-up', catchUpCap: 3 }, [10_000, 20_000, 30_000]],
      ]
      it.each(cases)('%s', async (_title, input, offsets) => {
        const bench = await openBench(target)
        const start = (await serverNow(bench)) - 35_000
        await create(bench, { id: 'r', everyMs: 10_000, startAt: start, paused: true, ...input })
        await bench.maintain()
        expect(await firedTasks(bench, 'r')).toEqual([])
        expect(await s.resumeSchedule(bench.runner, bench.ns, { id: 'r' })).toBe('resumed')
        await bench.maintain()
        await bench.maintain()
        expect(await firedTasks(bench, 'r')).toEqual(at('r', offsets.map((offset) => start + offset)))
        expect(await s.getSchedule(bench.runner, bench.ns, { id: 'r' })).toMatchObject({ firings: offsets.length, nextAt: start + 40_000 })
      })
    })

    it('with the chain flag each firing waits for the previous one to finish', async () => {
      const bench = await openBench(target)
      const start = (await serverNow(bench)) - 2_500
      await create(bench, { id: 'c', everyMs: 1_000, startAt: start, missed: 'catch-up', chain: true })
      await bench.maintain()
      const [a, b, c] = await firedTasks(bench, 'c')
      expect([a, b, c].every((id) => id !== undefined)).toBe(true)
      expect((await bench.task(a as string)).state).toBe('ready')
      expect((await bench.task(b as string)).state).toBe('waiting')
      expect((await bench.task(c as string)).state).toBe('waiting')
      await bench.register('n1', 1, 10)
      const started = await bench.start('n1')
      expect(started.map((row) => row[0])).toEqual([a])
      await bench.fail('n1', a as string, started[0]?.[1] as number, 'boom', false)
      // The previous run's outcome does not matter: it finished, so the next one runs.
      expect((await bench.task(b as string)).state).not.toBe('waiting')
      expect((await bench.task(c as string)).state).toBe('waiting')
    })

    it('an update keeps the history and a stale revision is refused', async () => {
      const bench = await openBench(target)
      const start = (await serverNow(bench)) - 1_500
      const created = await create(bench, { id: 'u', everyMs: 1_000, startAt: start, missed: 'catch-up' })
      await bench.maintain()
      expect(await firedTasks(bench, 'u')).toHaveLength(2)
      const updated = await create(bench, { id: 'u', everyMs: 1_000, startAt: start, missed: 'catch-up' }, created.revision)
      expect(updated.revision).toBe(created.revision + 1)
      expect(updated.nextAt).toBe(start + 2_000)
      await expectRefusedUnchanged(bench, () => create(bench, { id: 'u', everyMs: 500 }, created.revision), ScheduleChangedError)
      expect(await s.removeSchedule(bench.runner, bench.ns, { id: 'u' })).toBe('removed')
      expect(await bench.client.zcard(bench.ns.key('schedule-due'))).toBe(0)
      expect(await firedTasks(bench, 'u')).toHaveLength(2)
    })

    it('refuses bad arguments with a TM_ code and writes nothing', async () => {
      const bench = await openBench(target, { payloadCap: 10 })
      await create(bench, { id: 'x', everyMs: 1_000 })
      const base = toUpsertArgs({ id: 'y', everyMs: 1_000 }, 0)
      const cron = toUpsertArgs({ id: 'y', cron: '* * * * *' }, 0)
      const cases: [Partial<typeof base>, new (...args: never[]) => Error, RegExp][] = [
        [{ intervalMs: 50 }, BadArgumentError, /intervalMs/],
        [{ kind: 'cron' }, BadArgumentError, /expression/],
        [{ ...cron, times: '3000,2000' }, BadArgumentError, /times\[2\]/],
        [{ ...cron, times: '12,x' }, BadArgumentError, /times\[2\]/],
        [{ ...cron, intervalMs: 1000 }, BadArgumentError, /intervalMs/],
        [{ id: 'i'.repeat(101) }, BadArgumentError, /id/],
        [{ startAt: 5_000, endAt: 4_000 }, BadArgumentError, /endAt/],
        [{ missed: 'sometimes' as 'skip' }, BadArgumentError, /missed/],
        [{ payload: 'x'.repeat(11) }, PayloadTooLargeError, /payload/],
        [{ id: 'x' }, ScheduleExistsError, /x/],
        [{ revision: 3 }, UnknownScheduleError, /y/],
      ]
      for (const [change, error, message] of cases) {
        await expectRefusedUnchanged(bench, () => s.upsertSchedule(bench.runner, bench.ns, { ...base, ...change }), error, message)
      }
      await expectRefusedUnchanged(bench, () => s.pauseSchedule(bench.runner, bench.ns, { id: 'nope' }), UnknownScheduleError)
      await expectRefusedUnchanged(bench, () => s.removeSchedule(bench.runner, bench.ns, { id: 'nope' }), UnknownScheduleError)
      await expectRefusedUnchanged(bench, () => s.resumeSchedule(bench.runner, bench.ns, { id: 'nope' }), UnknownScheduleError)
    })

    it('lists every schedule over its pages', async () => {
      const bench = await openBench(target)
      const ids = Array.from({ length: 25 }, (_, i) => `l${i}`)
      for (const id of ids) await create(bench, { id, everyMs: 60_000 })
      const seen = new Set<string>()
      let cursor = ''
      do {
        const page = await s.listSchedules(bench.runner, bench.ns, { cursor, limit: 10 })
        for (const schedule of page.schedules) seen.add(schedule.id)
        cursor = page.cursor
      } while (cursor !== '')
      expect([...seen].sort()).toEqual([...ids].sort())
    })
  })
})

async function expectRefusedUnchanged(bench: Bench, call: () => Promise<unknown>, error: new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  const before = await dumpNamespace(bench.client, bench.ns)
  await expect(call()).rejects.toBeInstanceOf(error)
  if (message) await expect(call()).rejects.toThrow(message)
  expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
}
