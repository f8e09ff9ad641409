/**
 * The floor: the least work any Redis list queue can do per task, with plain commands and no
 * scripts. Enqueue is HSET (payload and state) + LPUSH, pipelined per batch; a worker takes a
 * task with LMOVE wait→active and reads it with HGET, and completes it with LREM + HSET
 * pipelined together. The worker's loops share one auto-pipelined connection; a loop that
 * finds the queue empty blocks in BLMOVE on a connection of its own.
 *
 * It keeps no completed counter (that would be another command): its "completed" count is what
 * was enqueued minus what is still listed, and verification reads every task's state.
 */
import { Redis } from 'ioredis'
import { parseTaskData, type BenchTask } from '../payload.js'
import type { Counts, Producer, RunningWorker, SystemModule } from './types.js'

const WAIT = 'floor:wait'
const ACTIVE = 'floor:active'
const jobKey = (id: string): string => `floor:job:${id}`
/** Seconds a loop blocks in BLMOVE before it looks whether it should stop. */
const BLOCK_SECONDS = 0.5
const VERIFY_PAGE = 1000

function client(url: string, autoPipelining = false): Redis {
  return new Redis(url, { enableAutoPipelining: autoPipelining, maxRetriesPerRequest: null })
}

class FloorProducer implements Producer {
  private enqueued = 0

  constructor(private readonly redis: Redis) {}

  async enqueueBatch(tasks: readonly BenchTask[]): Promise<void> {
    const pipeline = this.redis.pipeline()
    for (const task of tasks) {
      pipeline.hset(jobKey(task.id), 'data', task.payload, 'state', 'waiting')
      pipeline.lpush(WAIT, task.id)
    }
    const replies = (await pipeline.exec()) ?? []
    const failed = replies.find(([error]) => error)
    if (failed) throw failed[0]
    this.enqueued += tasks.length
  }

  async enqueueOne(task: BenchTask): Promise<void> {
    await this.enqueueBatch([task])
  }

  async counts(): Promise<Counts> {
    const [waiting, active] = await Promise.all([this.redis.llen(WAIT), this.redis.llen(ACTIVE)])
    return { completed: this.enqueued - waiting - active, unfinished: waiting + active, failed: 0 }
  }

  async verify(ids: readonly string[]): Promise<string[]> {
    const problems: string[] = []
    for (let i = 0; i < ids.length && problems.length < 10; i += VERIFY_PAGE) {
      const page = ids.slice(i, i + VERIFY_PAGE)
      const pipeline = this.redis.pipeline()
      for (const id of page) pipeline.hget(jobKey(id), 'state')
      const replies = (await pipeline.exec()) ?? []
      replies.forEach(([, state], j) => {
        if (state !== 'completed') problems.push(`task ${page[j]} is ${String(state)}`)
      })
    }
    return problems.slice(0, 10)
  }

  async close(): Promise<void> {
    await this.redis.quit()
  }
}

export const floor: SystemModule = {
  name: 'floor',
  label: 'raw ioredis floor',
  scenarios: ['enqueue', 'drain', 'e2e', 'latency'],

  async openProducer(url) {
    const redis = client(url)
    await redis.ping()
    return new FloorProducer(redis)
  },

  async startWorker(url, options, observe): Promise<RunningWorker> {
    const shared = client(url, true)
    await shared.ping()
    let stopping = false

    const runOne = async (id: string): Promise<void> => {
      const data = await shared.hget(jobKey(id), 'data')
      if (data === null) throw new Error(`floor task ${id} has no data`)
      observe(parseTaskData(data))
      await shared.pipeline().lrem(ACTIVE, 1, id).hset(jobKey(id), 'state', 'completed').exec()
    }

    // Each loop's blocking connection is opened up front, so that no task waits on a connect.
    const blocking = Array.from({ length: options.concurrency }, () => client(url))
    await Promise.all(blocking.map((redis) => redis.ping()))

    const loop = async (waiter: Redis): Promise<void> => {
      while (!stopping) {
        let id: string | null = await shared.lmove(WAIT, ACTIVE, 'RIGHT', 'LEFT')
        if (id === null) {
          id = await waiter.blmove(WAIT, ACTIVE, 'RIGHT', 'LEFT', BLOCK_SECONDS).catch(() => null)
          if (id === null) continue
        }
        await runOne(id)
      }
    }

    const loops = blocking.map(loop)
    return {
      async stop() {
        stopping = true
        await Promise.all(loops)
        await Promise.all([shared, ...blocking].map((redis) => redis.quit()))
      },
    }
  },
}
