/**
 * Scheduler.waitForResult waits without spinning: with events off, a second of waiting for a
 * task that does not finish costs a handful of Redis calls (read with MONITOR on a server of
 * this file's own, so no other test's calls are counted), and it still returns
 * promptly when the task completes. A timeout and an unknown id fail with errors of their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scheduler, TaskNotFoundError, WaitTimeoutError, Worker } from '../../client/index.js'
import { closeClients, randomNamespace, WireTap } from '../support/context.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'

let redis: PrivateRedis
let url: string

beforeAll(async () => {
  redis = await startPrivate('standalone')
  const server = redis.servers[0]!
  url = `redis://${server.host}:${server.port}`
})
afterAll(async () => {
  await closeClients()
  await redis?.stop()
})

/** The commands clients sent while `body` ran, by name (a script's own commands left out). */
async function clientCommands(body: () => Promise<void>): Promise<Map<string, number>> {
  const tap = await WireTap.open(redis.servers)
  try {
    await body()
    await tap.sync()
  } finally {
    tap.stop()
  }
  const calls = new Map<string, number>()
  for (const { source, args } of tap.seen) {
    const command = args[0] ?? ''
    if (source === 'lua' || command === 'echo') continue
    calls.set(command, (calls.get(command) ?? 0) + 1)
  }
  return calls
}

function total(calls: Map<string, number>): number {
  return [...calls.values()].reduce((a, b) => a + b, 0)
}

describe('Scheduler.waitForResult', () => {
  it('with events off, waits a second for a task that never finishes in a handful of calls', async () => {
    const scheduler = await Scheduler.open({ connection: url, namespace: randomNamespace('wait').name, config: { eventsMaxLen: 0 } })
    try {
      await scheduler.enqueue({ id: 'stuck' })
      let outcome: unknown
      let waited = 0
      const calls = await clientCommands(async () => {
        const startedAt = Date.now()
        outcome = await scheduler.waitForResult('stuck', { timeoutMs: 1000, pollMs: 250 }).catch((e: unknown) => e)
        waited = Date.now() - startedAt
      })
      // A read of the task per pollMs and one at the end (5), a blocking read between each two
      // (4), the stream position, and the handshakes of the reader's connection and of the
      // tap's sync: 14 when this was written. The spinning wait made over 3,000.
      expect(total(calls), JSON.stringify(Object.fromEntries(calls))).toBeLessThanOrEqual(20)
      expect(waited).toBeGreaterThanOrEqual(950)
      expect(waited).toBeLessThan(1500)
      expect(outcome).toBeInstanceOf(WaitTimeoutError)
      expect((outcome as WaitTimeoutError).state).toBe('ready')
    } finally {
      await scheduler.close()
    }
  })

  it('with events off, still returns soon after the task completes', async () => {
    const scheduler = await Scheduler.open({ connection: url, namespace: randomNamespace('wait').name, config: { eventsMaxLen: 0 } })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const worker = await Worker.start({
      connection: url,
      namespace: scheduler.namespace,
      heartbeatIntervalMs: 100,
      handler: async () => {
        await gate
        return 'done'
      },
    })
    try {
      await scheduler.enqueue({ id: 'soon' })
      const waiting = scheduler.waitForResult('soon', { timeoutMs: 5000, pollMs: 200 })
      setTimeout(release, 600)
      const startedAt = Date.now()
      expect((await waiting).toString()).toBe('done')
      // Ends within one poll interval of the completion at ~600 ms.
      expect(Date.now() - startedAt).toBeLessThan(600 + 200 + 150)
    } finally {
      await worker.stop({ timeoutMs: 1000 })
      await scheduler.close()
    }
  })

  it('with events on, wakes on the completion event rather than the next poll', async () => {
    const scheduler = await Scheduler.open({ connection: url, namespace: randomNamespace('wait').name })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const worker = await Worker.start({
      connection: url,
      namespace: scheduler.namespace,
      heartbeatIntervalMs: 100,
      handler: async () => {
        await gate
        return 'done'
      },
    })
    try {
      await scheduler.enqueue({ id: 'evented' })
      const waiting = scheduler.waitForResult('evented', { timeoutMs: 10_000, pollMs: 5000 })
      setTimeout(release, 300)
      const startedAt = Date.now()
      expect((await waiting).toString()).toBe('done')
      expect(Date.now() - startedAt).toBeLessThan(1500)
    } finally {
      await worker.stop({ timeoutMs: 1000 })
      await scheduler.close()
    }
  })

  it('an unknown id fails at once with TaskNotFoundError', async () => {
    const scheduler = await Scheduler.open({ connection: url, namespace: randomNamespace('wait').name })
    try {
      const outcome = await scheduler.waitForResult('nobody', { timeoutMs: 5000 }).catch((e: unknown) => e)
      expect(outcome).toBeInstanceOf(TaskNotFoundError)
      expect((outcome as TaskNotFoundError).id).toBe('nobody')
    } finally {
      await scheduler.close()
    }
  })
})
