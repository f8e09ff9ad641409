/**
 * Schedules every second under load: four worker processes and two producers, one worker
 * SIGKILLed in the middle. Two schedules fire every second from the same start to the same end,
 * one an interval schedule and one a cron schedule with a seconds field, both with
 * missed: 'catch-up'. The producers call the schedule scripts the whole time, each in a loop:
 * read a storm schedule and write its same definition back at the revision it read (upsert
 * racing firing, and the two producers racing each other on the revision), list the schedules,
 * and pause and resume a side schedule of its own (the due index and the namespace's due time
 * changing under the firings). The workers heartbeat every 2 s, so the firings a second apart
 * come from the timer node's due-time wake-up; the worker killed is the one that holds the
 * timer, while the run is half done, so the firings until another node takes the timer over are
 * late and must be caught up, not lost.
 *
 * Afterwards, for each storm schedule: its tasks are exactly "<id>:<t>" for every second t from
 * the first firing to the last (no gap, no extra), its firing counter equals that count (a time
 * fired twice counts twice even though its task id exists already), the event stream holds one
 * enqueue per task, and every task completed.
 *
 * 30 s on each target, as the issue asks.
 */
import type { Cluster, Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { Scheduler, type ScheduleInput } from '../../client/index.js'
import { ScheduleChangedError } from '../../loader/generated/errors.js'
import { clusterClient, clusterInfo, clusterSkipReason, openClient, randomNamespace, redisInfo } from '../support/context.js'
import { Fleet, readEvents, waitFor } from '../fault/support/harness.js'

const WORKERS = 4
const PRODUCERS = 2

const targets = [
  { name: 'standalone', seconds: 30, url: redisInfo.url, skip: undefined, client: (): Redis | Cluster => openClient(redisInfo.url) },
  {
    name: 'cluster',
    seconds: 30,
    url: `redis-cluster://${(clusterInfo?.nodes ?? []).map((n) => `${n.host}:${n.port}`).join(',')}`,
    skip: clusterSkipReason,
    client: (): Redis | Cluster => clusterClient(),
  },
]

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

async function serverNow(client: Redis | Cluster): Promise<number> {
  const [seconds, micros] = (await client.time()) as [string | number, string | number]
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

describe.each(targets)('schedules in a storm on $name', (target) => {
  it.skipIf(target.skip !== undefined)(
    `every second for ${target.seconds} s with ${WORKERS} worker processes and ${PRODUCERS} producers, the timer's worker SIGKILLed midway: one task per firing, no gap, all completed`,
    async () => {
      const namespace = randomNamespace('storm').name
      const config = { nodeTimeoutMs: 6_000, eventsMaxLen: 100_000, keepCompletedCount: 0 }
      const scheduler = await Scheduler.open({ connection: target.url, namespace, config })
      cleanup.push(() => scheduler.close())
      const client = target.client()
      const fleet = new Fleet({ url: target.url, namespace, capacity: 2, heartbeatIntervalMs: 2_000, minMs: 100, maxMs: 600 })
      cleanup.push(() => fleet.killAll())
      await Promise.all(Array.from({ length: WORKERS }, (_, i) => fleet.spawn(`w${i}`)))

      // A whole second a little ahead, so both schedules fire at the same times from the start.
      const start = Math.ceil((await serverNow(client)) / 1000) * 1000 + 2_000
      const end = start + (target.seconds - 1) * 1000
      const expected = (id: string) => Array.from({ length: target.seconds }, (_, k) => `${id}:${start + k * 1000}`)
      const storms: ScheduleInput[] = [
        { id: 'every', everyMs: 1_000 },
        { id: 'cron', cron: '* * * * * *' },
      ].map((kind) => ({ ...kind, startAt: start, endAt: end, missed: 'catch-up', catchUpCap: 30, task: { payload: 'tick' } }))
      for (const storm of storms) expect((await scheduler.createSchedule(storm)).nextAt).toBe(start)
      const sides: ScheduleInput[] = Array.from({ length: PRODUCERS }, (_, p) => ({ id: `side-${p}`, everyMs: 700, task: { payload: 'side' } }))
      for (const side of sides) await scheduler.createSchedule(side)

      let running = true
      const producerCalls = { updated: 0, conflicts: 0, listed: 0, toggled: 0 }
      const producerErrors: Error[] = []
      const producers = await Promise.all(sides.map(() => Scheduler.open({ connection: target.url, namespace })))
      cleanup.push(async () => void (await Promise.all(producers.map((p) => p.close()))))
      const loops = producers.map(async (producer, p) => {
        for (let round = 0; running; round++) {
          try {
            const storm = storms[round % storms.length] as ScheduleInput
            const read = await producer.getSchedule(storm.id)
            try {
              await producer.updateSchedule(read?.revision ?? 0, storm)
              producerCalls.updated++
            } catch (error) {
              if (!(error instanceof ScheduleChangedError)) throw error
              producerCalls.conflicts++
            }
            await producer.listSchedules({ limit: 10 })
            producerCalls.listed++
            const side = (sides[p] as ScheduleInput).id
            await (round % 2 === 0 ? producer.pauseSchedule(side) : producer.resumeSchedule(side))
            producerCalls.toggled++
          } catch (error) {
            producerErrors.push(error as Error)
          }
          // Pacing: a producer calls about ten times a second, not as fast as two cores allow.
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      })

      // Midway, SIGKILL the worker that holds the timer.
      const firings = async (id: string) => (await scheduler.getSchedule(id))?.firings ?? 0
      await waitFor('half of the firings', async () => (await firings('every')) >= target.seconds / 2, (target.seconds / 2 + 10) * 1000, 50)
      const timerNode = await client.hget(`tm:{${namespace}}:meta`, 'timerNode')
      expect(fleet.live()).toContain(timerNode)
      await fleet.kill(timerNode as string)

      // The run's own length, then every firing made and every task ended.
      await waitFor(
        'the last firing of both schedules',
        async () => (await firings('every')) >= target.seconds && (await firings('cron')) >= target.seconds,
        end - (await serverNow(client)) + 15_000,
        100,
      ).catch(() => undefined)
      running = false
      await Promise.all(loops)
      for (const side of sides) await scheduler.removeSchedule(side.id)
      const settled = async () => {
        const stats = await scheduler.stats()
        return stats.waiting + stats.delayed + stats.ready + stats.assigned + stats.running + stats.retrying === 0
      }
      // The killed node's task comes back when the node is found silent (nodeTimeoutMs).
      await waitFor('every task to end', settled, 30_000, 100).catch(() => undefined)

      const taskIds = (await client.hkeys(`tm:{${namespace}}:task`)) as string[]
      const events = await readEvents(client as Redis, `tm:{${namespace}}:events`)
      const lateness: number[] = []
      for (const storm of storms) {
        const fired = taskIds
          .filter((id) => id.startsWith(`${storm.id}:`))
          .sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]))
        expect(fired, `${storm.id}: the tasks fired`).toEqual(expected(storm.id))
        expect(await scheduler.getSchedule(storm.id), `${storm.id}: the schedule`).toMatchObject({ firings: target.seconds, nextAt: 0 })
        const enqueues = events.filter((e) => e.type === 'enqueued' && e.task.startsWith(`${storm.id}:`))
        expect(enqueues.length, `${storm.id}: enqueue events`).toBe(target.seconds)
        const tasks = await Promise.all(fired.map((id) => scheduler.getTask(id)))
        expect(tasks.filter((task) => task?.state !== 'completed').map((task) => task?.id), `${storm.id}: tasks not completed`).toEqual([])
        for (const task of tasks) if (task) lateness.push(task.enqueuedAt - Number(task.id.split(':')[1]))
      }
      // The kill mattered: another node holds the timer now.
      expect(await client.hget(`tm:{${namespace}}:meta`, 'timerNode')).not.toBe(timerNode)
      expect(producerErrors).toEqual([])
      expect(fleet.errors).toEqual([])
      expect(producerCalls.updated).toBeGreaterThan(target.seconds)
      // Printed, not asserted: how late the firings around the kill were depends on heartbeat phases.
      const late = lateness.filter((ms) => ms >= 1000).length
      console.log(
        `storm on ${target.name}: killed ${timerNode}; producers ${JSON.stringify(producerCalls)}; handler runs ${fleet.runs.length}; ` +
          `firings made 1 s or more late: ${late}, the latest ${Math.max(...lateness)} ms`,
      )
      await fleet.stopAll()
    },
    (target.seconds + 75) * 1000,
  )
})
