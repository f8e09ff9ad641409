import { afterAll, expect, it } from 'vitest'
import { Scheduler, type TaskEvent } from '../../client/index.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const schedulers: Scheduler[] = []
afterAll(async () => {
  await Promise.all(schedulers.map((s) => s.close()))
})

async function collect(s: Scheduler, from: string): Promise<TaskEvent[]> {
  const events: TaskEvent[] = []
  for await (const event of s.events({ from, idleTimeoutMs: 50 })) events.push(event)
  return events
}

it('events of one call share a stream entry, and resuming after one of them yields the rest', async () => {
  const s = await Scheduler.open({ connection: redisInfo.url, namespace: randomNamespace('ev').name })
  schedulers.push(s)
  await s.enqueueBatch([{ id: 'a' }, { id: 'b' }, { id: 'c' }])
  await s.enqueue({ id: 'd' })
  const all = await collect(s, '0')
  expect(all.map((e) => `${e.type}:${e.task}`)).toEqual(['enqueued:a', 'enqueued:b', 'enqueued:c', 'enqueued:d'])
  const [first, , third] = all
  expect(first?.id.split('/')[0]).toBe(third?.id.split('/')[0])
  expect((await collect(s, first!.id)).map((e) => e.task)).toEqual(['b', 'c', 'd'])
  expect((await collect(s, third!.id)).map((e) => e.task)).toEqual(['d'])
  expect((await collect(s, all[3]!.id)).map((e) => e.task)).toEqual([])
})
