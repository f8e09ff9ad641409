/**
 * A schedule driven by Workers alone: every second for a few seconds with two Workers, one of
 * which holds the timer. Each firing runs one task, with no gap and no duplicate, and on time:
 * the heartbeats come every 3 s, so a firing a second apart is the due-time wake-up's doing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Scheduler, Worker, type TaskHandler } from '../../client/index.js'
import { createRunner, openRedis } from '../../client/connection.js'
import { toUpsertArgs } from '../../client/schedules.js'
import { upsertSchedule } from '../../loader/generated/scripts.js'
import { Namespace } from '../../loader/keys.js'
import { clusterInfo, clusterSkipReason, randomNamespace, redisInfo } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

const connections = [
  { name: 'standalone', url: redisInfo.url, skip: undefined },
  {
    name: 'cluster',
    url: `redis-cluster://${(clusterInfo?.nodes ?? []).map((n) => `${n.host}:${n.port}`).join(',')}`,
    skip: clusterSkipReason,
  },
]

describe.each(connections)('a schedule run by Workers on $name', (target) => {
  it.skipIf(target.skip !== undefined)('runs one task per firing every second, on time, no gaps, no duplicates', async () => {
    const scheduler = await Scheduler.open({ connection: target.url, namespace: randomNamespace('sch').name })
    open.push(scheduler)
    const ran: string[] = []
    const lateness: number[] = []
    const handler: TaskHandler = async (task) => {
      ran.push(task.id)
      lateness.push(Date.now() - Number(task.id.split(':')[1]))
      return ''
    }
    for (const nodeId of ['w1', 'w2']) {
      const worker = await Worker.start({ connection: target.url, namespace: scheduler.namespace, handler, nodeId, heartbeatIntervalMs: 3_000 })
      open.push({ close: () => worker.stop({ timeoutMs: 1_000 }) })
    }
    const { nextAt } = await scheduler.createSchedule({ id: 'tick', everyMs: 1_000, task: { payload: 'x' } })
    const last = nextAt + 3_000
    await scheduler.updateSchedule(1, { id: 'tick', everyMs: 1_000, startAt: nextAt, endAt: last, task: { payload: 'x' } })
    const deadline = Date.now() + 15_000
    while (ran.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    // A moment more, for a duplicate to show if there were one.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect([...ran].sort()).toEqual([0, 1, 2, 3].map((k) => `tick:${nextAt + k * 1_000}`))
    expect((await scheduler.getSchedule('tick'))?.nextAt).toBe(0)
    // The test's clock and the server's are the same machine's.
    expect(Math.max(...lateness)).toBeLessThan(800)
  })

  it.skipIf(target.skip !== undefined)('a cron schedule stored without fire times gets them from a Worker and fires', async () => {
    const scheduler = await Scheduler.open({ connection: target.url, namespace: randomNamespace('sch').name })
    open.push(scheduler)
    const ran: string[] = []
    const worker = await Worker.start({
      connection: target.url,
      namespace: scheduler.namespace,
      handler: async (task) => {
        ran.push(task.id)
        return ''
      },
      heartbeatIntervalMs: 500,
    })
    open.push({ close: () => worker.stop({ timeoutMs: 1_000 }) })
    const { redis } = openRedis(target.url)
    open.push({ close: async () => void redis.disconnect() })
    const runner = createRunner(redis)
    await runner.loadAll()
    const args = { ...toUpsertArgs({ id: 'dry', cron: '* * * * * *' }, 0), times: '' }
    expect((await upsertSchedule(runner, new Namespace(scheduler.namespace), args)).nextAt).toBe(0)
    const deadline = Date.now() + 10_000
    while (ran.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ran.length).toBeGreaterThanOrEqual(2)
    expect(ran.every((id) => /^dry:\d+000$/.test(id))).toBe(true)
    expect((await scheduler.getSchedule('dry'))?.timesLeft).toBeGreaterThan(16)
  })
})
