/**
 * Dependencies across partitions (scripts-lua/lib/outbox.lua, client/relay.ts): the partitions
 * of one namespace, each its own key set and hash tag, with children in one partition waiting on
 * parents in another. Everything goes through the generated wrappers and the relay module; on
 * the cluster the partitions sit in different slots, so every call is routed on its own.
 */
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { relayOnce, remoteRef, watchRemoteDependencies } from '../../client/relay.js'
import { subscribeToWakeups } from '../../client/wakeups.js'
import { createRunner } from '../../client/connection.js'
import { SchemaMismatchError, UnknownDependencyError } from '../../loader/generated/errors.js'
import * as s from '../../loader/generated/scripts.js'
import { Namespace } from '../../loader/keys.js'
import type { ScriptRunner } from '../../loader/runner.js'
import { dumpNamespace, randomNamespace, targets, type RedisTarget } from '../support/context.js'

interface Partitions {
  client: Redis | Cluster
  runner: ScriptRunner
  parts: Namespace[]
}

async function openPartitions(target: RedisTarget, count = 2, config: s.InitArgs = {}): Promise<Partitions> {
  const client = target.client()
  const runner = createRunner(client)
  await runner.loadAll()
  const name = randomNamespace('x').name
  const parts = Array.from({ length: count }, (_, index) =>
    index === 0 ? new Namespace(name) : new Namespace(name, { index, tag: `${name}/${index}` }),
  )
  for (const ns of parts) await s.init(runner, ns, config)
  return { client, runner, parts }
}

function enqueue(p: Partitions, ns: Namespace, ...tasks: (Partial<s.EnqueueArgs['tasks'][number]> & { id: string })[]) {
  return s.enqueue(p.runner, ns, { tasks: tasks.map((t) => ({ payload: '', ...t })) })
}

/** What a producer does for tasks of `ns` with parents in other partitions: watch, then enqueue. */
async function enqueueWithRemote(p: Partitions, ns: Namespace, ...tasks: (Partial<s.EnqueueArgs['tasks'][number]> & { id: string })[]) {
  const refs = tasks.flatMap((t) => t.remoteDependsOn ?? [])
  if (refs.length > 0) await watchRemoteDependencies(p.runner, p.parts, ns.partition, refs)
  return enqueue(p, ns, ...tasks)
}

async function task(p: Partitions, ns: Namespace, id: string): Promise<NonNullable<s.GetTaskReply>> {
  const found = await s.getTask(p.runner, ns, { id })
  if (!found) throw new Error(`no task ${id} in partition ${ns.partition}`)
  return found
}

/** Starts what `node` has been given in `ns` and completes it, each with result `result of <id>`. */
async function runAll(p: Partitions, ns: Namespace, node: string): Promise<string[]> {
  const started = await s.start(p.runner, ns, { nodeId: node, max: 100 })
  if (started.length > 0) {
    await s.complete(p.runner, ns, {
      nodeId: node,
      results: started.map(([id, token]) => ({ id, token, result: `result of ${id}` })),
    })
  }
  return started.map(([id]) => id)
}

async function failForGood(p: Partitions, ns: Namespace, node: string, id: string): Promise<void> {
  const started = await s.start(p.runner, ns, { nodeId: node, max: 100 })
  const entry = started.find(([startedId]) => startedId === id)
  if (!entry) throw new Error(`${id} was not started`)
  await s.fail(p.runner, ns, { nodeId: node, id, token: entry[1], message: 'broken', retryable: false })
}

/** Dumps of every partition's keys, for byte-identical comparisons. */
async function dumpAll(p: Partitions): Promise<Map<string, Buffer>[]> {
  return Promise.all(p.parts.map((ns) => dumpNamespace(p.client, ns)))
}

async function serverTime(p: Partitions, ns: Namespace): Promise<number> {
  // TIME on the shard of this partition (the one whose clock its scripts read).
  const reply = (await p.client.call('eval', 'return redis.call("TIME")', 1, ns.key('meta'))) as [string, string]
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000)
}

/** Polls `probe` until it returns a value that passes `done`, or fails after `limitMs`. */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, limitMs = 10_000): Promise<T> {
  const deadline = Date.now() + limitMs
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.each(targets)('dependencies across partitions on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it('a child waits for its remote parent and runs once the outcome is relayed, reading its result', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await enqueue(p, b, { id: 'local' })
      expect(await watchRemoteDependencies(p.runner, p.parts, 1, [remoteRef(0, 'x')])).toEqual(new Map([['0/x', 'pending']]))
      await enqueue(p, b, { id: 'child', dependsOn: ['local'], remoteDependsOn: ['0/x'] })
      const waiting = await task(p, b, 'child')
      expect([waiting.state, waiting.unmetDependencies, waiting.dependsOn, waiting.remoteDependsOn]).toEqual([
        'waiting', 2, ['local'], ['0/x'],
      ])
      expect(await s.dependencyResults(p.runner, b, { id: 'child' })).toEqual([
        ['local', 'ready', null, null],
        ['x', 'pending', null, 0],
      ])
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await s.registerNode(p.runner, b, { nodeId: 'n', weight: 1, capacity: 10 })
      expect(await runAll(p, b, 'n')).toEqual(['local'])
      expect(await runAll(p, a, 'n')).toEqual(['x'])
      // Finished in A, but nothing has travelled yet: B still waits.
      expect((await task(p, b, 'child')).unmetDependencies).toBe(1)
      expect((await s.heartbeat(p.runner, a, { nodeId: 'n' })).relay).toBe(1)
      expect(await relayOnce(p.runner, p.parts, a)).toBe(1)
      expect((await s.heartbeat(p.runner, a, { nodeId: 'n' })).relay).toBe(0)
      expect(await p.client.exists(a.key('outbox'), a.key('relay'))).toBe(0)
      expect(await runAll(p, b, 'n')).toEqual(['child'])
      const rows = await s.dependencyResults(p.runner, b, { id: 'child' })
      expect(rows.map(([id, state, result, partition]) => [id, state, result?.toString(), partition])).toEqual([
        ['local', 'completed', 'result of local', null],
        ['x', 'completed', 'result of x', 0],
      ])
      expect((await task(p, b, 'child')).state).toBe('completed')
      // The proxy is not a task of B: B counts its two tasks only.
      const stats = await s.stats(p.runner, b)
      expect([stats.completed, stats.waiting, stats.ready]).toEqual([2, 0, 0])
      // Nothing is left to relay, and a relay round finds nothing.
      expect(await relayOnce(p.runner, p.parts, a)).toBe(0)
    })

    it('a remote parent that dies fails a child with the fail rule and lets one with the run rule run', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x', maxAttempts: 1 }, { id: 'y', delayMs: 60_000 })
      await enqueueWithRemote(
        p,
        b,
        { id: 'strict', remoteDependsOn: ['0/x'] },
        { id: 'tolerant', remoteDependsOn: ['0/x'], onDependencyFailure: 'run' },
        { id: 'after-strict', dependsOn: ['strict'], onDependencyFailure: 'run' },
        { id: 'of-canceled', remoteDependsOn: ['0/y'] },
      )
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await failForGood(p, a, 'n', 'x')
      await s.cancel(p.runner, a, { id: 'y' })
      expect(await relayOnce(p.runner, p.parts, a)).toBe(2)
      const strict = await task(p, b, 'strict')
      expect([strict.state, strict.reason]).toEqual(['dead', 'dependency failed'])
      expect((await task(p, b, 'of-canceled')).reason).toBe('dependency failed')
      expect((await task(p, b, 'tolerant')).state).toBe('ready')
      expect((await task(p, b, 'after-strict')).state).toBe('ready')
      expect(await s.dependencyResults(p.runner, b, { id: 'tolerant' })).toEqual([['x', 'dead', null, 0]])
      expect(await s.dependencyResults(p.runner, b, { id: 'of-canceled' })).toEqual([['y', 'canceled', null, 0]])
    })

    it('a parent that finished before the child was enqueued: the watch queues its outcome at once', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'done' }, { id: 'broken', maxAttempts: 1 })
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await s.start(p.runner, a, { nodeId: 'n' })
      await s.complete(p.runner, a, { nodeId: 'n', results: [{ id: 'done', token: 1, result: 'early result' }] })
      await s.fail(p.runner, a, { nodeId: 'n', id: 'broken', token: 1, message: 'no', retryable: false })
      // Nothing waited on them when they finished: nothing was queued.
      expect(await p.client.exists(a.key('outbox'))).toBe(0)
      expect(await watchRemoteDependencies(p.runner, p.parts, 1, ['0/done', '0/broken'])).toEqual(
        new Map([['0/done', 'finished'], ['0/broken', 'finished']]),
      )
      await enqueue(p, b, { id: 'child', remoteDependsOn: ['0/done'] }, { id: 'doomed', remoteDependsOn: ['0/broken'] })
      expect((await task(p, b, 'child')).state).toBe('waiting')
      expect(await relayOnce(p.runner, p.parts, a)).toBe(2)
      expect((await task(p, b, 'child')).state).toBe('ready')
      expect((await task(p, b, 'doomed')).reason).toBe('dependency failed')
      const [[, , result]] = (await s.dependencyResults(p.runner, b, { id: 'child' })) as [[string, string, Buffer, number]]
      expect(result.toString()).toBe('early result')
    })

    it('an outcome that arrives before the child: kept for the enqueue, which settles the child at once', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' }, { id: 'z', maxAttempts: 1 })
      await watchRemoteDependencies(p.runner, p.parts, 1, ['0/x', '0/z'])
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      const started = new Map((await s.start(p.runner, a, { nodeId: 'n' })).map(([id, token]) => [id, token]))
      const [xToken, zToken] = [started.get('x')!, started.get('z')!]
      await s.complete(p.runner, a, { nodeId: 'n', results: [{ id: 'x', token: xToken, result: 'rx' }] })
      await s.fail(p.runner, a, { nodeId: 'n', id: 'z', token: zToken, message: 'no', retryable: false })
      // The relay runs before the producer's enqueue in B lands.
      const claimed = await s.claimRelay(p.runner, a, {})
      expect(await s.deliverOutcome(p.runner, b, {
        outcomes: claimed.map(([, id, state, result]) => ({ partition: 0, id, state, result })),
      })).toEqual(['early', 'early'])
      expect(await s.ackRelay(p.runner, a, { entries: claimed.map(([partition, id, , , token]) => ({ partition, id, token })) })).toBe(2)
      // Early proxies are in no count of B.
      const stats = await s.stats(p.runner, b)
      expect([stats.waiting, stats.completed, stats.dead, stats.canceled]).toEqual([0, 0, 0, 0])
      await enqueue(
        p,
        b,
        { id: 'child', remoteDependsOn: ['0/x'] },
        { id: 'doomed', remoteDependsOn: ['0/z'] },
        { id: 'tolerant', remoteDependsOn: ['0/z'], onDependencyFailure: 'run' },
      )
      expect((await task(p, b, 'child')).state).toBe('ready')
      expect((await task(p, b, 'doomed')).reason).toBe('dependency failed')
      expect((await task(p, b, 'tolerant')).state).toBe('ready')
      const rows = await s.dependencyResults(p.runner, b, { id: 'child' })
      expect(rows.map(([id, state, result]) => [id, state, result?.toString()])).toEqual([['x', 'completed', 'rx']])
    })

    it('an outcome that arrives early outlives a short retention until the enqueue comes', async () => {
      const p = await openPartitions(target, 2, { keepCompletedMs: 100, keepDeadMs: 100 })
      const [, b] = p.parts as [Namespace, Namespace]
      expect(await s.deliverOutcome(p.runner, b, {
        outcomes: [{ partition: 0, id: 'x', state: 'completed', result: 'rx' }],
      })).toEqual(['early'])
      // Well past the retention of a task that finished then, with housekeeping run.
      const delivered = await serverTime(p, b)
      await eventually(() => serverTime(p, b), (now) => now > delivered + 300)
      await s.maintain(p.runner, b, {})
      await enqueue(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      expect((await task(p, b, 'child')).state).toBe('ready')
    })

    it('delivering the same outcome twice changes nothing', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' }, { id: 'w' })
      await enqueueWithRemote(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await runAll(p, a, 'n')
      const claimed = await s.claimRelay(p.runner, a, {})
      const outcomes = claimed.map(([, id, state, result]) => ({ partition: 0, id, state, result }))
      // Once to a waiting proxy, and once where no proxy exists yet (w: nobody in B waits on it).
      outcomes.push({ partition: 0, id: 'w', state: 'completed', result: Buffer.from('rw') })
      expect(await s.deliverOutcome(p.runner, b, { outcomes })).toEqual(['settled', 'early'])
      const before = await dumpAll(p)
      // A later server time, so that a second settling would write other bytes (finish times).
      const at = await serverTime(p, b)
      await eventually(() => serverTime(p, b), (now) => now > at + 1)
      expect(await s.deliverOutcome(p.runner, b, { outcomes })).toEqual(['duplicate', 'duplicate'])
      expect(await dumpAll(p)).toEqual(before)
      expect((await task(p, b, 'child')).state).toBe('ready')
    })

    it('a relay that took outcomes and died is redone by another after its lease; its late ack removes nothing', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await enqueueWithRemote(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await runAll(p, a, 'n')
      // The relay that dies: it takes the outcome for a short lease and does nothing more.
      const dead = await s.claimRelay(p.runner, a, { leaseMs: 300 })
      expect(dead.map(([partition, id, state]) => [partition, id, state])).toEqual([[1, 'x', 'completed']])
      // While the lease holds, no other relay takes it, and heartbeats report nothing due.
      expect(await relayOnce(p.runner, p.parts, a)).toBe(0)
      expect((await s.heartbeat(p.runner, a, { nodeId: 'n' })).relay).toBe(0)
      expect((await task(p, b, 'child')).state).toBe('waiting')
      // Once it ends, the next heartbeat reports it due and the next relay takes it.
      await eventually(async () => (await s.heartbeat(p.runner, a, { nodeId: 'n' })).relay, (due) => due === 1)
      const again = await s.claimRelay(p.runner, a, {})
      expect(again.map(([, id]) => id)).toEqual(['x'])
      // The first relay was only slow: its ack, late, must not take the outcome from the second.
      const ack = (rows: s.ClaimRelayReply) => ({ entries: rows.map(([partition, id, , , token]) => ({ partition, id, token })) })
      expect(await s.ackRelay(p.runner, a, ack(dead))).toBe(0)
      expect(await s.deliverOutcome(p.runner, b, {
        outcomes: again.map(([, id, state, result]) => ({ partition: 0, id, state, result })),
      })).toEqual(['settled'])
      expect(await s.ackRelay(p.runner, a, ack(again))).toBe(1)
      expect((await task(p, b, 'child')).state).toBe('ready')
      expect(await p.client.exists(a.key('outbox'), a.key('relay'))).toBe(0)
    })

    it('an outcome whose delivery failed stays in the outbox and is relayed after the lease', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await enqueueWithRemote(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await runAll(p, a, 'n')
      // B refuses every call for a moment (here: data of another schema version).
      await p.client.hset(b.key('meta'), 'schema', '0')
      await expect(relayOnce(p.runner, p.parts, a, { leaseMs: 200 })).rejects.toBeInstanceOf(SchemaMismatchError)
      await p.client.hset(b.key('meta'), 'schema', '3')
      expect(await p.client.hlen(a.key('outbox'))).toBe(1)
      await eventually(() => relayOnce(p.runner, p.parts, a), (relayed) => relayed === 1)
      expect((await task(p, b, 'child')).state).toBe('ready')
    })

    it('an ack after the outcome was queued again (a later watch) leaves it for the next relay', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await runAll(p, a, 'n')
      await watchRemoteDependencies(p.runner, p.parts, 1, ['0/x'])
      const claimed = await s.claimRelay(p.runner, a, {})
      await watchRemoteDependencies(p.runner, p.parts, 1, ['0/x'])
      const entries = claimed.map(([partition, id, , , token]) => ({ partition, id, token }))
      expect(await s.ackRelay(p.runner, a, { entries })).toBe(0)
      expect(await p.client.zscore(a.key('relay'), '1>x')).toBe('0')
      await enqueue(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      expect(await relayOnce(p.runner, p.parts, a)).toBe(1)
      expect((await task(p, b, 'child')).state).toBe('ready')
    })

    it('an unknown remote parent is refused before anything is written in either partition', async () => {
      const p = await openPartitions(target)
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await enqueue(p, b, { id: 'other' })
      const before = await dumpAll(p)
      const watch = watchRemoteDependencies(p.runner, p.parts, 1, ['0/x', '0/ghost'])
      await expect(watch).rejects.toBeInstanceOf(UnknownDependencyError)
      await expect(watch).rejects.toThrow(/ids\[2\]: no task "ghost"/)
      expect(await dumpAll(p)).toEqual(before)
      // So a cycle across partitions cannot be formed: each side needs the other to exist first.
      await expect(watchRemoteDependencies(p.runner, p.parts, 0, ['1/later'])).rejects.toBeInstanceOf(UnknownDependencyError)
      expect(await dumpAll(p)).toEqual(before)
    })

    it('queueing an outcome wakes the timer node with due, once per call', async () => {
      const p = await openPartitions(target)
      const [a] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' }, { id: 'y' })
      await watchRemoteDependencies(p.runner, p.parts, 1, ['0/x', '0/y'])
      await watchRemoteDependencies(p.runner, p.parts, 2, ['0/x'])
      await s.registerNode(p.runner, a, { nodeId: 'n', weight: 1, capacity: 10 })
      await s.heartbeat(p.runner, a, { nodeId: 'n' })
      const messages: string[] = []
      const wakeups = await subscribeToWakeups(p.client, 'n')
      await wakeups.add(a, {
        onWork: () => messages.push('work'),
        onDue: () => messages.push('due'),
      })
      try {
        await runAll(p, a, 'n')
        await eventually(async () => messages.length, (n) => n >= 1)
        // A marker after the call, so that a second wake-up from it would have arrived by now.
        await s.heartbeat(p.runner, a, { nodeId: 'n' })
        await p.client.call('spublish', a.wakeChannel('n'), 'work')
        await eventually(async () => messages.includes('work'), (seen) => seen)
      } finally {
        await wakeups.close()
      }
      // Three outcomes queued by one complete: one wake-up.
      expect(messages).toEqual(['due', 'work'])
      expect((await s.heartbeat(p.runner, a, { nodeId: 'n' })).relay).toBe(3)
    })

    it('a proxy counts in no state and is swept by retention once its children finished', async () => {
      const p = await openPartitions(target, 2, { keepCompletedMs: 200 })
      const [a, b] = p.parts as [Namespace, Namespace]
      await enqueue(p, a, { id: 'x' })
      await enqueueWithRemote(p, b, { id: 'child', remoteDependsOn: ['0/x'] })
      expect((await s.stats(p.runner, b)).waiting).toBe(1)
      for (const ns of [a, b]) await s.registerNode(p.runner, ns, { nodeId: 'n', weight: 1, capacity: 10 })
      await runAll(p, a, 'n')
      await relayOnce(p.runner, p.parts, a)
      // Held while its child has not finished, however short the retention.
      expect(await p.client.hexists(b.key('task'), '0/x')).toBe(1)
      await runAll(p, b, 'n')
      expect((await s.stats(p.runner, b)).completed).toBe(1)
      // Both go once retention has passed: the proxy, and the child that held it.
      await eventually(
        async () => {
          await s.maintain(p.runner, b, {})
          return p.client.hlen(b.key('task'))
        },
        (left) => left === 0,
      )
      const stats = await s.stats(p.runner, b)
      expect([stats.completed, stats.waiting]).toEqual([0, 0])
    })

    it('a graph whose edges cross three partitions runs with no order violation, each task once', async () => {
      const p = await openPartitions(target, 3, { eventsMaxLen: 0 })
      const size = 200
      let seed = 4242
      const random = () => {
        seed = (seed * 48271) % 2147483647
        return seed / 2147483647
      }
      const partitionOf = new Map<string, number>()
      const parents = new Map<string, string[]>()
      const level = new Map<string, number>()
      for (let i = 0; i < size; i++) {
        const id = `g${i}`
        partitionOf.set(id, Math.floor(random() * 3))
        const deps = new Set<string>()
        const count = i === 0 ? 0 : Math.floor(random() * 4)
        for (let k = 0; k < count; k++) deps.add(`g${Math.floor(random() * i)}`)
        parents.set(id, [...deps])
        level.set(id, Math.max(0, ...[...deps].map((d) => (level.get(d) ?? 0) + 1)))
      }
      const crossing = [...parents].flatMap(([id, deps]) => deps.filter((d) => partitionOf.get(d) !== partitionOf.get(id)))
      expect(crossing.length).toBeGreaterThan(100)
      for (const ns of p.parts) await s.registerNode(p.runner, ns, { nodeId: 'n', weight: 1, capacity: 7 })

      const completed = new Set<string>()
      const starts = new Map<string, number>()
      let violations = 0
      const round = async (): Promise<void> => {
        for (const ns of p.parts) {
          for (const id of await runAll(p, ns, 'n')) {
            starts.set(id, (starts.get(id) ?? 0) + 1)
            for (const parent of parents.get(id) ?? []) if (!completed.has(parent)) violations++
            completed.add(id)
          }
        }
        for (const ns of p.parts) while ((await relayOnce(p.runner, p.parts, ns, { limit: 50 })) === 50);
      }
      // Enqueued in waves of equal depth, each wave's parents enqueued before it (a watch needs
      // its parent to exist), with the graph running meanwhile: parents finish before, between
      // and after their children's watch and enqueue.
      const maxLevel = Math.max(...level.values())
      for (let depth = 0; depth <= maxLevel; depth++) {
        for (const ns of p.parts) {
          const wave = [...parents.keys()].filter((id) => level.get(id) === depth && partitionOf.get(id) === ns.partition)
          if (wave.length === 0) continue
          await enqueueWithRemote(
            p,
            ns,
            ...wave.map((id) => {
              const deps = parents.get(id) ?? []
              return {
                id,
                priority: Math.floor(random() * 5),
                dependsOn: deps.filter((d) => partitionOf.get(d) === ns.partition),
                remoteDependsOn: deps.filter((d) => partitionOf.get(d) !== ns.partition).map((d) => remoteRef(partitionOf.get(d)!, d)),
              }
            }),
          )
        }
        await round()
      }
      for (let i = 0; completed.size < size && i < 200; i++) await round()
      expect(violations).toBe(0)
      expect(completed.size).toBe(size)
      expect([...starts.values()].every((n) => n === 1)).toBe(true)
      for (const ns of p.parts) {
        expect(await p.client.exists(ns.key('outbox'), ns.key('relay'), ns.key('propagation'))).toBe(0)
      }
    })
  })
})
