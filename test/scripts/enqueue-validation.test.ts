import { describe, expect, it } from 'vitest'
import {
  BadArgumentError,
  DependencyCycleError,
  DuplicateTaskError,
  NotInitializedError,
  PayloadTooLargeError,
  SchemaMismatchError,
  SelfDependencyError,
  UnknownDependencyError,
} from '../../loader/generated/errors.js'
import { enqueueScript } from '../../loader/generated/scripts.js'
import * as s from '../../loader/generated/scripts.js'
import { dumpNamespace, randomNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

const FIELDS = enqueueScript.group?.fields.map((f) => f.name) ?? []

/** A valid task as raw ARGV, in the declared field order. */
function validRow(id: string): string[] {
  const row: Record<string, string> = {
    id,
    payload: 'hello',
    priority: '0',
    delayMs: '0',
    runAt: '0',
    dependsOn: '',
    maxAttempts: '3',
    backoff: 'fixed',
    backoffMs: '10',
    backoffCapMs: '100',
    leaseMs: '1000',
    queue: 'default',
    onDependencyFailure: 'fail',
    remoteDependsOn: '',
  }
  return FIELDS.map((name) => row[name] as string)
}

function rawEnqueue(bench: Bench, argv: string[], keyCount = enqueueScript.keys.length): Promise<unknown> {
  const keys = enqueueScript.keys.slice(0, keyCount).map((k) => bench.ns.key(k.name as never))
  return bench.client.call('evalsha', enqueueScript.sha, keys.length, ...keys, ...argv)
}

const INTEGER_FIELDS: Record<string, string[]> = {
  priority: ['1001', '-1001'],
  delayMs: ['-1'],
  runAt: ['-5'],
  maxAttempts: ['0', '1001'],
  backoffMs: ['-1', '86400001'],
  backoffCapMs: ['-1'],
  leaseMs: ['99'],
}
const NOT_INTEGERS = ['abc', 'nan', 'inf', '-inf', '0x10', '1e3', '1.5', ' 1', '+1', '1 ', '--1']
const BAD_IDS = ['a b', 'a{b}', 'a>b', 'a,b', 'x'.repeat(129), 'a\u0000b', 'é']

const cases: { field: string; value: string }[] = []
for (const [field, outOfRange] of Object.entries(INTEGER_FIELDS)) {
  for (const value of [...NOT_INTEGERS, ...outOfRange]) cases.push({ field, value })
}
for (const value of [...BAD_IDS, '']) cases.push({ field: 'id', value })
for (const value of BAD_IDS) cases.push({ field: 'queue', value })
for (const value of ['a,,b', ',', 'a b', 'x'.repeat(129), 'ok,a>b']) cases.push({ field: 'dependsOn', value })
// The same id twice: an existing task, a task of the batch, and a repeat after other ids.
for (const value of ['existing,existing', 'first-of-batch,first-of-batch', 'queued,existing,queued']) {
  cases.push({ field: 'dependsOn', value })
}
for (const value of ['linear', 'FIXED', ' fixed']) cases.push({ field: 'backoff', value })
for (const value of ['ignore', 'RUN']) cases.push({ field: 'onDependencyFailure', value })
// References to tasks of other partitions: malformed, and the same one twice.
for (const value of ['x', '/x', '01/x', '10000/x', '1/', '1/a b', '1/a/b', '1/x,,2/y', '1/x,2/y,1/x']) {
  cases.push({ field: 'remoteDependsOn', value })
}

describe.each(targets)('enqueue argument validation on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it.each(cases)('rejects $field = $value with TM_BAD_ARGUMENT and writes nothing', async ({ field, value }) => {
      const bench = await openBench(target)
      await bench.register('n1', 1, 1)
      await bench.enqueue({ id: 'existing', payload: 'x' }, { id: 'queued', payload: 'y' })
      const before = await dumpNamespace(bench.client, bench.ns)
      const row = validRow('fresh')
      row[FIELDS.indexOf(field)] = value
      // The bad task is second, so a script that wrote the first before checking the second would show.
      const argv = [...validRow('first-of-batch'), ...row]
      await expect(rawEnqueue(bench, argv)).rejects.toThrow(new RegExp(`^TM_BAD_ARGUMENT tasks\\[2\\]\\.${field}(\\[\\d+\\])?: `))
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('rejects a missing field, no tasks at all, and a wrong number of keys', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'existing' })
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(rawEnqueue(bench, [...validRow('a'), ...validRow('b').slice(0, -1)])).rejects.toThrow(
        /^TM_BAD_ARGUMENT tasks: /,
      )
      await expect(rawEnqueue(bench, [])).rejects.toThrow(/^TM_BAD_ARGUMENT tasks: /)
      await expect(rawEnqueue(bench, validRow('a'), enqueueScript.keys.length - 1)).rejects.toThrow(
        /^TM_BAD_ARGUMENT keys: /,
      )
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('maps semantic rejections to typed errors and writes nothing', async () => {
      const bench = await openBench(target, { payloadCap: 8 })
      await bench.enqueue({ id: 'existing' })
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(bench.enqueue({ id: 'a b' })).rejects.toBeInstanceOf(BadArgumentError)
      await expect(bench.enqueue({ id: 'x' }, { id: 'x' })).rejects.toBeInstanceOf(DuplicateTaskError)
      await expect(bench.enqueue({ id: 'big', payload: '123456789' })).rejects.toBeInstanceOf(PayloadTooLargeError)
      await expect(bench.enqueue({ id: 'me', dependsOn: ['me'] })).rejects.toBeInstanceOf(SelfDependencyError)
      const unknown = bench.enqueue({ id: 'child', dependsOn: ['existing', 'ghost'] })
      await expect(unknown).rejects.toBeInstanceOf(UnknownDependencyError)
      await expect(unknown).rejects.toThrow(/"child".*"ghost"/)
      const cycle = bench.enqueue(
        { id: 'a', dependsOn: ['c'] },
        { id: 'b', dependsOn: ['a'] },
        { id: 'c', dependsOn: ['b'] },
        { id: 'd', dependsOn: ['existing'] },
      )
      await expect(cycle).rejects.toBeInstanceOf(DependencyCycleError)
      await expect(cycle).rejects.toThrow(/cycle: ([abc]) <- [abc] <- [abc] <- \1/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('refuses a dependsOn that names the same id twice, naming the field, and writes nothing', async () => {
      const bench = await openBench(target)
      await bench.enqueue({ id: 'existing' })
      const before = await dumpNamespace(bench.client, bench.ns)
      const twice = bench.enqueue({ id: 'ok' }, { id: 'child', dependsOn: ['existing', 'ok', 'existing'] })
      await expect(twice).rejects.toBeInstanceOf(BadArgumentError)
      await expect(twice).rejects.toThrow(/^TM_BAD_ARGUMENT tasks\[2\]\.dependsOn\[3\]: "existing" is also tasks\[2\]\.dependsOn\[1\]/)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })

    it('refuses a namespace that was never initialised or holds another schema version', async () => {
      const bench = await openBench(target)
      const bare = randomNamespace()
      await expect(s.enqueue(bench.runner, bare, { tasks: [{ id: 'a', payload: '' }] })).rejects.toBeInstanceOf(
        NotInitializedError,
      )
      expect(await bench.client.exists(...bare.allKeys())).toBe(0)
      await bench.client.hset(bench.ns.key('meta'), 'schema', '1')
      const before = await dumpNamespace(bench.client, bench.ns)
      await expect(bench.enqueue({ id: 'a' })).rejects.toBeInstanceOf(SchemaMismatchError)
      await expect(bench.task('a')).rejects.toBeInstanceOf(SchemaMismatchError)
      await expect(s.init(bench.runner, bench.ns, {})).rejects.toBeInstanceOf(SchemaMismatchError)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
    })
  })
})
