/**
 * A worker whose clock runs ahead must still sleep until a delayed task is due on the server
 * clock. Judging due times by its own clock, it would think the task overdue and call its
 * heartbeat in a tight loop until the server agreed. Runs on a private server so the calls
 * counted are the worker's alone.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { closeClients, randomNamespace, serverClient } from '../support/context.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'

let redis: PrivateRedis
beforeAll(async () => {
  redis = await startPrivate('standalone')
})
afterAll(async () => {
  await closeClients()
  await redis?.stop()
})

it('a worker with a clock a minute ahead waits for a delayed task on the server clock', async () => {
  const [server] = redis.servers
  const url = `redis://${server!.host}:${server!.port}`
  const scheduler = await Scheduler.open({ connection: url, namespace: randomNamespace('skew').name })
  const child = fork(fileURLToPath(new URL('./skewed-worker-process.ts', import.meta.url)), [url, scheduler.namespace], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  try {
    const messages: Record<string, unknown>[] = []
    child.on('message', (m) => messages.push(m as Record<string, unknown>))
    while (!messages.some((m) => m.ready)) await sleep(20)
    // Let the first heartbeat tell the worker the server's time.
    await sleep(1200)
    const admin = serverClient(server!)
    await scheduler.enqueue({ id: 'later', delayMs: 2000 })
    await sleep(300)
    await admin.config('RESETSTAT')
    await sleep(1000)
    const calls = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
    // One heartbeat a second is right. A worker judging due times by its own clock thinks the
    // task overdue and calls its heartbeat on every doorbell timeout, about ten times a second
    // (Redis times out blocked reads on its 100 ms cron).
    expect(calls).toBeLessThan(5)
    const began = Date.now()
    while (!messages.some((m) => m.ran === 'later')) {
      if (Date.now() - began > 5000) throw new Error('the delayed task never ran')
      await sleep(20)
    }
    // The handler has run; its completion is reported right after, in the worker's next batch.
    await scheduler.waitForResult('later', { timeoutMs: 5000 })
    expect((await scheduler.getTask('later'))?.state).toBe('completed')
  } finally {
    child.kill('SIGKILL')
    await scheduler.close()
  }
}, 20_000)
