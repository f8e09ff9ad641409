/**
 * Bee-Queue 2.0.0 as its documentation uses it: `createJob(...)` saved in bulk with `saveAll`,
 * single jobs with `save()`, a worker queue with `process(concurrency, handler)`, and succeeded
 * jobs kept (its default, `removeOnSuccess: false`) so they can be verified. The producer does
 * not subscribe to job events (`getEvents: false`) because the benchmark never reads them;
 * the worker publishes them as by default. Bee-Queue has no dependencies between jobs, so it
 * takes no part in fan-in and chains.
 */
import BeeQueue from 'bee-queue'
import { parseTaskData, type BenchTask, type TaskData } from '../payload.js'
import type { Counts, Producer, RunningWorker, SystemModule } from './types.js'

const QUEUE = 'bench'
const VERIFY_PAGE = 1000

function redisOf(url: string): { host: string; port: number } {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}

class BeeProducer implements Producer {
  constructor(private readonly queue: BeeQueue<TaskData>) {}

  async enqueueBatch(tasks: readonly BenchTask[]): Promise<void> {
    const errors = await this.queue.saveAll(tasks.map((task) => this.queue.createJob(parseTaskData(task.payload))))
    if (errors.size > 0) throw new Error(`saveAll failed for ${errors.size} jobs: ${[...errors.values()][0]?.message}`)
  }

  async enqueueOne(task: BenchTask): Promise<void> {
    await this.queue.createJob(parseTaskData(task.payload)).save()
  }

  async counts(): Promise<Counts> {
    const health = await this.queue.checkHealth()
    return {
      completed: health.succeeded,
      unfinished: health.waiting + health.active + health.delayed,
      failed: health.failed,
    }
  }

  async verify(ids: readonly string[]): Promise<string[]> {
    const expected = new Set(ids)
    const seen = new Set<string>()
    const problems: string[] = []
    // Succeeded jobs are a set in Bee-Queue, so pages come from SSCAN and may repeat a job id.
    const jobs = await this.queue.getJobs('succeeded', { size: ids.length + VERIFY_PAGE })
    const byJobId = new Map(jobs.map((job) => [job.id, job]))
    for (const job of byJobId.values()) {
      const id = job.data.id
      if (!expected.has(id)) problems.push(`succeeded job ${job.id} carries unknown task ${id}`)
      else if (seen.has(id)) problems.push(`task ${id} succeeded twice`)
      seen.add(id)
    }
    if (seen.size !== expected.size) problems.push(`${seen.size} of ${expected.size} tasks succeeded`)
    return problems.slice(0, 10)
  }

  async close(): Promise<void> {
    await this.queue.close()
  }
}

export const beequeue: SystemModule = {
  name: 'beequeue',
  label: 'Bee-Queue 2.0.0',
  scenarios: ['enqueue', 'drain', 'e2e', 'latency'],

  async openProducer(url) {
    const queue = new BeeQueue<TaskData>(QUEUE, { redis: redisOf(url), isWorker: false, getEvents: false })
    await queue.ready()
    return new BeeProducer(queue)
  },

  async startWorker(url, options, observe): Promise<RunningWorker> {
    const queue = new BeeQueue<TaskData>(QUEUE, { redis: redisOf(url), isWorker: true, getEvents: false })
    await queue.ready()
    queue.process(options.concurrency, async (job) => {
      observe(job.data)
    })
    return {
      async stop() {
        await queue.close(30_000)
      },
    }
  },
}
