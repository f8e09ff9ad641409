/**
 * Payloads and results: a string or a Buffer travels byte for byte and anything else is refused
 * before it reaches Redis (ioredis would store an object as `[object Object]`); with `json: true`
 * on both sides, typed values travel as JSON.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import { Scheduler, Worker, type TaskContext } from '../../client/index.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const url = redisInfo.url
const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

async function track<T extends { close(): Promise<void> } | Worker>(opened: Promise<T>): Promise<T> {
  const value = await opened
  open.push(value instanceof Worker ? { close: () => value.stop({ timeoutMs: 1000 }) } : (value as { close(): Promise<void> }))
  return value
}

async function settled(scheduler: Scheduler<unknown, unknown>, id: string) {
  for (;;) {
    const task = await scheduler.getTask(id)
    if (task && ['completed', 'dead', 'canceled'].includes(task.state)) return task
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('bytes (the default)', () => {
  it('refuses a payload that is not a string or a Buffer, naming it, and writes nothing', async () => {
    const scheduler = await track(Scheduler.open({ connection: url, namespace: randomNamespace('pl').name }))
    const refused = [
      [{ order: 42 }, 'an object'],
      [[1, 2], 'an array'],
      [new Uint8Array([1, 2]), 'a Uint8Array'],
      [42, 'the number 42'],
    ] as const
    for (const [payload, kind] of refused) {
      // What a JavaScript caller can pass; TypeScript refuses it already.
      const attempt = scheduler.enqueueBatch([{ id: 'fine', payload: 'ok' }, { id: 'bad', payload: payload as unknown as string }])
      await expect(attempt).rejects.toThrow(TypeError)
      await expect(attempt).rejects.toThrow(
        `tasks[1].payload: expected a string or a Buffer, got ${kind}: pass JSON.stringify(value) or Buffer.from(bytes), or open the Scheduler with json: true`,
      )
    }
    expect(await scheduler.getTask('fine')).toBeNull()
    await scheduler.enqueueBatch([
      { id: 'text', payload: 'héllo' },
      { id: 'bytes', payload: Buffer.from([0, 255]) },
      { id: 'none' },
    ])
    expect((await scheduler.getTask('text'))?.payload.toString()).toBe('héllo')
    expect((await scheduler.getTask('bytes'))?.payload).toEqual(Buffer.from([0, 255]))
    expect((await scheduler.getTask('none'))?.payload).toEqual(Buffer.alloc(0))
  })

  it('fails a task whose handler returns something else, once, saying what to return', async () => {
    const namespace = randomNamespace('pl').name
    const scheduler = await track(Scheduler.open({ connection: url, namespace }))
    await track(
      Worker.start({
        connection: url,
        namespace,
        heartbeatIntervalMs: 100,
        // What a JavaScript handler can return; TypeScript refuses it already.
        handler: (async (task: TaskContext) => (task.id === 'object' ? { rows: 42 } : 'fine')) as unknown as (task: TaskContext) => Promise<string>,
      }),
    )
    await scheduler.enqueueBatch([{ id: 'object' }, { id: 'string' }])
    const task = await settled(scheduler, 'object')
    expect([task.state, task.attempts]).toEqual(['dead', 1])
    expect(task.error).toContain(
      "the handler's result: expected a string or a Buffer, got an object: return JSON.stringify(value) or Buffer.from(bytes), or start the Worker with json: true",
    )
    expect((await scheduler.waitForResult('string')).toString()).toBe('fine')
  })
})

describe('json: true', () => {
  interface Order {
    sku: string
    quantity: number
  }
  interface Receipt {
    total: number
  }

  it('hands the handler the parsed payload and the waiter the parsed result, typed', async () => {
    const namespace = randomNamespace('pl').name
    const scheduler = await track(Scheduler.open<Order, Receipt | undefined>({ connection: url, namespace, json: true }))
    await track(
      Worker.start<Order | undefined, Receipt | undefined>({
        connection: url,
        namespace,
        json: true,
        heartbeatIntervalMs: 100,
        handler: async (task) => {
          expectTypeOf(task.data).toEqualTypeOf<Order | undefined>()
          if (task.data === undefined) return undefined
          expect(task.payload.toString()).toBe(JSON.stringify(task.data))
          return { total: task.data.quantity * 3 }
        },
      }),
    )
    await scheduler.enqueueBatch([{ id: 'order', payload: { sku: 'A1', quantity: 14 } }, { id: 'empty' }])
    const receipt = await scheduler.waitForResult('order', { timeoutMs: 5000 })
    expectTypeOf(receipt).toEqualTypeOf<Receipt | undefined>()
    expect(receipt).toEqual({ total: 42 })
    expect(await scheduler.waitForResult('empty', { timeoutMs: 5000 })).toBeUndefined()
    expect((await scheduler.getTask('order'))?.result?.toString()).toBe('{"total":42}')
  })

  it('refuses a payload JSON cannot write, and fails a task whose payload is not JSON', async () => {
    const namespace = randomNamespace('pl').name
    const scheduler = await track(Scheduler.open<unknown>({ connection: url, namespace, json: true }))
    await expect(scheduler.enqueue({ id: 'big', payload: { n: 1n } })).rejects.toThrow(
      'tasks[0].payload: cannot be written as JSON: Do not know how to serialize a BigInt',
    )
    await expect(scheduler.enqueue({ id: 'fn', payload: () => 1 })).rejects.toThrow('tasks[0].payload: a function cannot be written as JSON')

    const bytes = await track(Scheduler.open({ connection: url, namespace }))
    await bytes.enqueue({ id: 'text', payload: 'not json' })
    let calls = 0
    await track(
      Worker.start<unknown>({
        connection: url,
        namespace,
        json: true,
        heartbeatIntervalMs: 100,
        handler: async () => {
          calls++
        },
      }),
    )
    const task = await settled(bytes, 'text')
    expect([task.state, task.attempts, calls]).toEqual(['dead', 1, 0])
    expect(task.error).toMatch(/^payload is not JSON \(.*\): was it enqueued by a Scheduler opened without json: true\?$/)
  })

  it('types: a plain Scheduler takes strings and Buffers and returns Buffers; json needs the flag', () => {
    const plain = () => Scheduler.open({ connection: url, namespace: 'x' })
    type Plain = Awaited<ReturnType<typeof plain>>
    expectTypeOf<Parameters<Plain['enqueue']>[0]['payload']>().toEqualTypeOf<string | Buffer | undefined>()
    expectTypeOf<ReturnType<Plain['waitForResult']>>().toEqualTypeOf<Promise<Buffer>>()
    // @ts-expect-error typed payloads are JSON, so `json: true` must be given
    void (() => Scheduler.open<Order>({ connection: url, namespace: 'x' }))
    // @ts-expect-error a handler of typed data is a JSON handler
    void (() => Worker.start<Order>({ connection: url, namespace: 'x', handler: async (task) => task.data.sku }))
  })
})
