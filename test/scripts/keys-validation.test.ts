/**
 * Issue 8, item 9: KEYS must be exactly the declared keys of one namespace, in order. Every
 * wrong variant is refused with a TM_ code before any write, leaving both namespaces
 * byte-identical. A namespace key of the wrong type is refused by the calls that open a
 * session (init, register-node); the hot calls do not pay for TYPE checks (see lib/args).
 */
import { describe, expect, it } from 'vitest'
import type { ScriptDefinition } from '../../loader/contract.js'
import * as errors from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { Namespace, type KeyName } from '../../loader/keys.js'
import { dumpNamespace, targets } from '../support/context.js'
import { openBench, type Bench } from './harness.js'

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, mod 16384. */
function slotOf(key: string): number {
  const open = key.indexOf('{')
  const close = open === -1 ? -1 : key.indexOf('}', open + 1)
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key
  let crc = 0
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/** Another namespace whose keys are in the same cluster slot, so only the script can tell them apart. */
function neighbour(ns: Namespace): Namespace {
  const slot = slotOf(ns.key('meta'))
  for (let i = 0; ; i++) {
    const candidate = new Namespace(`${ns.name}-n${i}`)
    if (slotOf(candidate.key('meta')) === slot) return candidate
  }
}

function keysOf(script: ScriptDefinition, ns: Namespace): string[] {
  return script.keys.map((key) => ns.key(key.name as KeyName))
}

interface Call {
  script: ScriptDefinition
  argv: string[]
}

const CALLS: Record<string, Call> = {
  enqueue: { script: s.enqueueScript, argv: ['fresh', 'payload', '', '', '', '', '', '', '', '', '', '', '', '', ''] },
  heartbeat: { script: s.heartbeatScript, argv: ['n1', ''] },
  'register-node': { script: s.registerNodeScript, argv: ['n2', '1', '5', ''] },
  complete: { script: s.completeScript, argv: ['n1', '0', 'running', '1', 'r'] },
  cancel: { script: s.cancelScript, argv: ['queued'] },
  maintain: { script: s.maintainScript, argv: ['100'] },
  init: { script: s.initScript, argv: ['round-robin'] },
  'get-task': { script: s.getTaskScript, argv: ['queued'] },
  stats: { script: s.statsScript, argv: [] },
  'list-tasks': { script: s.listTasksScript, argv: ['delayed', 'oldest', '', '10', ''] },
  'watch-dependency': { script: s.watchDependencyScript, argv: ['1', 'queued'] },
  'claim-relay': { script: s.claimRelayScript, argv: ['10', ''] },
  'ack-relay': { script: s.ackRelayScript, argv: ['1', 'queued', '5'] },
  'deliver-outcome': { script: s.deliverOutcomeScript, argv: ['1', 'parent', 'completed', 'r'] },
  'retry-task': { script: s.retryTaskScript, argv: ['gone'] },
  'remove-task': { script: s.removeTaskScript, argv: ['gone'] },
  'clean-tasks': { script: s.cleanTasksScript, argv: ['finished', '0'] },
  'pause-queue': { script: s.pauseQueueScript, argv: ['slow'] },
  'resume-queue': { script: s.resumeQueueScript, argv: ['default'] },
  'report-progress': { script: s.reportProgressScript, argv: ['running', '1', '0.5'] },
  start: { script: s.startScript, argv: ['n1'] },
  'drain-node': { script: s.drainNodeScript, argv: ['n1'] },
  'deregister-node': { script: s.deregisterNodeScript, argv: ['n1'] },
  'dependency-results': { script: s.dependencyResultsScript, argv: ['queued'] },
  metrics: { script: s.metricsScript, argv: [] },
  'task-graph': { script: s.taskGraphScript, argv: ['queued'] },
  'upsert-schedule': { script: s.upsertScheduleScript, argv: ['fresh', '0', 'interval', '', '', '60000'] },
  'get-schedule': { script: s.getScheduleScript, argv: ['hourly'] },
  'list-schedules': { script: s.listSchedulesScript, argv: [] },
  'pause-schedule': { script: s.pauseScheduleScript, argv: ['hourly'] },
  'resume-schedule': { script: s.resumeScheduleScript, argv: ['hourly'] },
  'remove-schedule': { script: s.removeScheduleScript, argv: ['hourly'] },
  'set-rate-limit': { script: s.setRateLimitScript, argv: ['api', '5', '1000'] },
  'remove-rate-limit': { script: s.removeRateLimitScript, argv: ['api'] },
  'set-group-concurrency': { script: s.setGroupConcurrencyScript, argv: ['default', 'acme', '2'] },
}

type Variant = (keys: string[], ns: Namespace, other: Namespace, names: string[]) => string[]

const VARIANTS: Record<string, Variant> = {
  'two keys swapped': (keys) => (keys.length < 2 ? [...keys, ...keys] : [keys[1] as string, keys[0] as string, ...keys.slice(2)]),
  'the last two keys swapped': (keys) =>
    keys.length < 3 ? keys.slice().reverse().concat(keys) : [...keys.slice(0, -2), keys.at(-1) as string, keys.at(-2) as string],
  'one key of another namespace': (keys, _ns, other, names) =>
    keys.map((key, i) => (i === keys.length - 1 ? other.key(names[i] as KeyName) : key)),
  'every key but meta of another namespace': (keys, _ns, other, names) =>
    keys.map((key, i) => (i === 0 ? key : other.key(names[i] as KeyName))),
  // The variants below keep the key in the namespace's slot, where Redis Cluster lets it through.
  'the right name under the hash tag of another namespace': (keys, ns, other) =>
    keys.map((key, i) => (i === keys.length - 1 ? key.replace(`{${ns.name}}`, `{${other.name}}{${ns.name}}`) : key)),
  'the right name and hash tag with more around it': (keys, ns) =>
    keys.map((key, i) => (i === keys.length - 1 ? key.replace(`{${ns.name}}`, `{${ns.name}}x`) : key)),
  'a name in another case': (keys, ns) =>
    keys.map((key, i) => (i === keys.length - 1 ? ns.prefix + key.slice(ns.prefix.length).toUpperCase() : key)),
  'one key too few': (keys) => keys.slice(0, -1),
  'one key too many': (keys) => [...keys, keys[0] as string],
  'no keys': () => [],
  'meta not first': (keys) => [...keys.slice(1), keys[0] as string],
}

async function seeded(target: (typeof targets)[number]): Promise<{ bench: Bench; other: Namespace }> {
  const bench = await openBench(target)
  await bench.register('n1', 1, 10)
  await bench.enqueue({ id: 'running' }, { id: 'queued', delayMs: 60_000 }, { id: 'gone', delayMs: 60_000 })
  await bench.start('n1')
  // A finished task, for the scripts that act on one.
  await s.cancel(bench.runner, bench.ns, { id: 'gone' })
  await s.upsertSchedule(bench.runner, bench.ns, { id: 'hourly', kind: 'interval', intervalMs: 3_600_000 })
  const other = neighbour(bench.ns)
  await s.init(bench.runner, other, {})
  await s.registerNode(bench.runner, other, { nodeId: 'n1', weight: 1, capacity: 10, queues: [] })
  await s.enqueue(bench.runner, other, { tasks: [{ id: 'running', payload: '' }, { id: 'queued', payload: '', delayMs: 60_000 }] })
  return { bench, other }
}

async function evalsha(bench: Bench, script: ScriptDefinition, keys: string[], argv: string[]): Promise<unknown> {
  // On a cluster the call goes to the node of the first key; a key of another slot is refused
  // by Redis itself (CROSSSLOT), which is why the other namespace shares the slot.
  return bench.client.call(script.readOnly ? 'evalsha_ro' : 'evalsha', script.sha, keys.length, ...keys, ...argv)
}

describe.each(targets)('KEYS validation on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it.each(Object.keys(CALLS))('%s accepts exactly its declared keys', async (name) => {
      const { bench } = await seeded(target)
      const call = CALLS[name] as Call
      await expect(evalsha(bench, call.script, keysOf(call.script, bench.ns), call.argv)).resolves.toBeDefined()
    })

    it.each(Object.keys(CALLS).flatMap((name) => Object.keys(VARIANTS).map((variant) => ({ name, variant }))))(
      '$name refuses $variant with TM_BAD_ARGUMENT and writes nothing',
      async ({ name, variant }) => {
        const { bench, other } = await seeded(target)
        const call = CALLS[name] as Call
        const names = call.script.keys.map((key) => key.name)
        const keys = (VARIANTS[variant] as Variant)(keysOf(call.script, bench.ns), bench.ns, other, names)
        if (target.name === 'cluster' && keys.length === 0) return // ioredis cannot route a call without keys
        const before = [await dumpNamespace(bench.client, bench.ns), await dumpNamespace(bench.client, other)]
        await expect(evalsha(bench, call.script, keys, call.argv)).rejects.toThrow(/^TM_BAD_ARGUMENT keys(\[\d+\])?: /)
        expect([await dumpNamespace(bench.client, bench.ns), await dumpNamespace(bench.client, other)]).toEqual(before)
      },
    )

    it('names the position and the key expected', async () => {
      const { bench, other } = await seeded(target)
      const keys = keysOf(s.heartbeatScript, bench.ns)
      const at = s.heartbeatScript.keys.findIndex((key) => key.name === 'leases')
      keys[at] = other.key('leases')
      await expect(evalsha(bench, s.heartbeatScript, keys, ['n1'])).rejects.toThrow(
        `TM_BAD_ARGUMENT keys[${at + 1}]: expected "${bench.ns.key('leases')}", got "${other.key('leases')}"`,
      )
      const first = keysOf(s.heartbeatScript, bench.ns)
      first[0] = bench.ns.key('task')
      await expect(evalsha(bench, s.heartbeatScript, first, ['n1'])).rejects.toThrow(
        `TM_BAD_ARGUMENT keys[1]: expected a key ending in "meta", got "${bench.ns.key('task')}"`,
      )
      await expect(s.heartbeat(bench.runner, bench.ns, { nodeId: 'n1' })).resolves.toBeDefined()
    })

    it.each(['init', 'register-node'])('%s refuses a namespace key of the wrong type before any write', async (name) => {
      const { bench } = await seeded(target)
      await bench.client.del(bench.ns.key('free'))
      await bench.client.set(bench.ns.key('free'), 'written by hand')
      const before = await dumpNamespace(bench.client, bench.ns)
      const call = CALLS[name] as Call
      const refused = evalsha(bench, call.script, keysOf(call.script, bench.ns), call.argv)
      await expect(refused).rejects.toThrow(`TM_WRONG_TYPE keys[${call.script.keys.findIndex((k) => k.name === 'free') + 1}]: "${bench.ns.key('free')}" holds a string, expected a zset`)
      expect(await dumpNamespace(bench.client, bench.ns)).toEqual(before)
      const typed = name === 'init' ? s.init(bench.runner, bench.ns, {}) : s.registerNode(bench.runner, bench.ns, { nodeId: 'n9' })
      const WrongTypeError = (errors as Record<string, unknown>).WrongTypeError as new () => Error
      expect(WrongTypeError).toBeDefined()
      await expect(typed).rejects.toBeInstanceOf(WrongTypeError)
    })
  })
})
