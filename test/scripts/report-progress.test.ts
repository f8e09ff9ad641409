/**
 * report-progress: a running task's progress is kept on its record (get-task `progress`) and
 * sent on the event stream; a stale token, a task that does not run and an oversize value are
 * refused and write nothing.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError, LeaseLostError, UnknownTaskError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { toTaskEvents } from '../../client/events.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

/** The stored record as Redis's cmsgpack decodes it (up to its first nil). */
async function storedRecord(bench: Bench, id: string): Promise<unknown[]> {
  return (await bench.client.eval("return cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))", 1, bench.ns.key('task'), id)) as unknown[]
}

/** The MessagePack container of the stored record: an array16 (0xdc) and its length, or another type. */
async function storedShape(bench: Bench, id: string): Promise<{ type: number; length: number }> {
  const raw = (await bench.client.hgetBuffer(bench.ns.key('task'), id)) as Buffer
  return { type: raw[0] as number, length: raw.readUInt16BE(1) }
}

const report = (bench: Bench, id: string, token: number, progress: string) =>
  s.reportProgress(bench.runner, bench.ns, { id, token, progress })

async function startOne(bench: Bench, id: string): Promise<number> {
  const started = await bench.start('n1')
  const row = started.find(([startedId]) => startedId === id)
  if (!row) throw new Error(`${id} was not started`)
  return row[1]
}

async function refusedUnchanged(bench: Bench, call: () => Promise<unknown>, error: new (...args: never[]) => Error): Promise<void> {
  const before = await dumpNamespace(bench.client, bench.ns)
  await expect(call()).rejects.toBeInstanceOf(error)
  expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
}

describe.each(targets)('report-progress on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('stores the progress on the task, shown by get-task, and sends it on the event stream', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'a' })
      expect((await bench.task('a')).progress).toBeUndefined()
      const token = await startOne(bench, 'a')
      expect(await report(bench, 'a', token, '0.5')).toBe('ok')
      expect((await bench.task('a')).progress).toBe('0.5')
      expect(await report(bench, 'a', token, '{"done":3,"of":4}')).toBe('ok')
      expect((await bench.task('a')).progress).toBe('{"done":3,"of":4}')
      const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
      const events = entries.flatMap(([id, pairs]) => toTaskEvents({ id, pairs })).filter((e) => e.type === 'progress')
      expect(events.map((e) => [e.task, e.node, e.detail])).toEqual([
        ['a', 'n1', '0.5'],
        ['a', 'n1', '{"done":3,"of":4}'],
      ])
      // Kept on the finished task.
      await bench.complete('n1', [{ id: 'a', token, result: 'ok' }])
      expect(await bench.task('a')).toMatchObject({ state: 'completed', progress: '{"done":3,"of":4}' })
    })

    it('the record stays a MessagePack array with progress, and the next attempt starts without it', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'a', backoff: 'fixed', backoffMs: 1 })
      expect(await storedShape(bench, 'a')).toEqual({ type: 0xdc, length: 26 })
      const token = await startOne(bench, 'a')
      await report(bench, 'a', token, '42')
      expect(await storedShape(bench, 'a')).toEqual({ type: 0xdc, length: 28 })
      const stored = await storedRecord(bench, 'a')
      expect(stored[26]).toBe(0)
      expect(stored[27]).toBe('42')
      await bench.fail('n1', 'a', token, 'boom', true)
      expect(await bench.task('a')).toMatchObject({ state: 'retrying', progress: '42' })
      const deadline = Date.now() + 5000
      while ((await bench.task('a')).state === 'retrying' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5))
        await bench.maintain()
      }
      await startOne(bench, 'a')
      const again = await bench.task('a')
      expect(again.attempts).toBe(2)
      expect(again.progress).toBeUndefined()
    })

    it('refuses a stale token, a task not running and an unknown task, writing nothing', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'a' }, { id: 'b' })
      const token = await startOne(bench, 'a')
      await report(bench, 'a', token, '1')
      await refusedUnchanged(bench, () => report(bench, 'a', token + 1, '2'), LeaseLostError)
      await refusedUnchanged(bench, () => report(bench, 'a', token - 1 || 1000, '2'), LeaseLostError)
      // b is ready (the node's one slot is taken): not running.
      expect((await bench.task('b')).state).toBe('ready')
      await refusedUnchanged(bench, () => report(bench, 'b', 1, '2'), LeaseLostError)
      await refusedUnchanged(bench, () => report(bench, 'nope', 1, '2'), UnknownTaskError)
      await bench.complete('n1', [{ id: 'a', token }])
      await refusedUnchanged(bench, () => report(bench, 'a', token, '2'), LeaseLostError)
      expect((await bench.task('a')).progress).toBe('1')
    })

    it('takes 4,096 bytes and refuses more, or none, with TM_BAD_ARGUMENT', async () => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'a' })
      const token = await startOne(bench, 'a')
      // 2,048 two-byte characters: the cap counts bytes.
      expect(await report(bench, 'a', token, 'é'.repeat(2048))).toBe('ok')
      await refusedUnchanged(bench, () => report(bench, 'a', token, 'é'.repeat(2048) + 'x'), BadArgumentError)
      await refusedUnchanged(bench, () => report(bench, 'a', token, ''), BadArgumentError)
      await expect(report(bench, 'a', token, 'x'.repeat(4097))).rejects.toThrow(/progress/)
    })
  })
})
