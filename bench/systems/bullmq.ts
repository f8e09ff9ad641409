/**
 * BullMQ 6.7.0 as its documentation uses it: `Queue.addBulk` for batches, `Queue.add` for single
 * jobs, `FlowProducer` for fan-in and chains, a `Worker` with a concurrency, and completed jobs
 * kept (`removeOnComplete: false`) so they can be verified. Everything else is left at
 * BullMQ's defaults (its event stream included).
 */
import { FlowProducer, Queue, Worker, type FlowJob } from 'bullmq'
import { parseTaskData, type BenchTask, type TaskData } from '../payload.js'
import type { Counts, Producer, RunningWorker, SystemModule } from './types.js'

const QUEUE = 'bench'
const JOB_NAME = 'noop'
const JOB_OPTIONS = { removeOnComplete: false }
const VERIFY_PAGE = 1000

function connectionOf(url: string): { host: string; port: number } {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}

class BullProducer implements Producer {
  private flows: FlowProducer | undefined

  constructor(
    private readonly url: string,
    private readonly queue: Queue,
  ) {}

  async enqueueBatch(tasks: readonly BenchTask[]): Promise<void> {
    await this.queue.addBulk(tasks.map((task) => ({ name: JOB_NAME, data: parseTaskData(task.payload), opts: JOB_OPTIONS })))
  }

  async enqueueOne(task: BenchTask): Promise<void> {
    await this.queue.add(JOB_NAME, parseTaskData(task.payload), JOB_OPTIONS)
  }

  async fanIn(parent: BenchTask, children: readonly BenchTask[]): Promise<void> {
    await this.flowProducer().add({
      ...this.flowJob(parent),
      children: children.map((child) => this.flowJob(child)),
    })
  }

  async chain(steps: readonly BenchTask[]): Promise<void> {
    // A flow runs children before parents: the last step is the root, the first the deepest leaf.
    let node: FlowJob = this.flowJob(steps[0]!)
    for (const step of steps.slice(1)) node = { ...this.flowJob(step), children: [node] }
    await this.flowProducer().add(node)
  }

  private flowJob(task: BenchTask): FlowJob {
    return { name: JOB_NAME, queueName: QUEUE, data: parseTaskData(task.payload), opts: JOB_OPTIONS }
  }

  private flowProducer(): FlowProducer {
    this.flows ??= new FlowProducer({ connection: connectionOf(this.url) })
    return this.flows
  }

  async counts(): Promise<Counts> {
    const c = await this.queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children')
    const n = (key: string): number => c[key] ?? 0
    return {
      completed: n('completed'),
      unfinished: n('active') + n('wait') + n('delayed') + n('prioritized') + n('waiting-children'),
      failed: n('failed'),
    }
  }

  async verify(ids: readonly string[]): Promise<string[]> {
    const expected = new Set(ids)
    const seen = new Set<string>()
    const problems: string[] = []
    for (let start = 0; ; start += VERIFY_PAGE) {
      const jobs = await this.queue.getJobs(['completed'], start, start + VERIFY_PAGE - 1, true)
      for (const job of jobs) {
        const id = (job.data as TaskData).id
        if (!expected.has(id)) problems.push(`completed job ${job.id} carries unknown task ${id}`)
        else if (seen.has(id)) problems.push(`task ${id} completed twice`)
        seen.add(id)
        if ((job.attemptsStarted ?? 1) > 1) problems.push(`task ${id} was started ${job.attemptsStarted} times`)
      }
      if (jobs.length < VERIFY_PAGE || problems.length >= 10) break
    }
    if (seen.size !== expected.size) problems.push(`${seen.size} of ${expected.size} tasks are completed`)
    return problems.slice(0, 10)
  }

  async close(): Promise<void> {
    await this.flows?.close()
    await this.queue.close()
  }
}

export const bullmq: SystemModule = {
  name: 'bullmq',
  label: 'BullMQ 6.7.0',
  scenarios: ['enqueue', 'drain', 'e2e', 'latency', 'fanin', 'chain'],

  async openProducer(url) {
    const queue = new Queue(QUEUE, { connection: connectionOf(url) })
    await queue.waitUntilReady()
    return new BullProducer(url, queue)
  },

  async startWorker(url, options, observe): Promise<RunningWorker> {
    const worker = new Worker(
      QUEUE,
      async (job) => {
        observe(job.data as TaskData)
      },
      { connection: connectionOf(url), concurrency: options.concurrency },
    )
    await worker.waitUntilReady()
    return {
      async stop() {
        await worker.close()
      },
    }
  },
}
