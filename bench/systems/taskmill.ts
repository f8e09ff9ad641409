/**
 * taskmill as the benchmark drives it: one namespace configured for weighted dispatch, with
 * events off and completed tasks kept forever (no sweeping), so every task's final record is
 * there to verify. Enqueue uses `enqueueBatch` (one atomic script call per batch), graphs are
 * one batch with `dependsOn`, and the worker side is one `Worker` per node with capacity = the
 * benchmark's concurrency.
 */
import { Scheduler, Worker, scripts, type SchedulerConfig, type TaskInput } from '../../client/index.js'
import { parseTaskData, type BenchTask } from '../payload.js'
import type { Counts, NodeDetails, Producer, RunningWorker, SystemModule } from './types.js'

export const NAMESPACE = 'bench'

export const CONFIG: SchedulerConfig = {
  strategy: 'weighted',
  eventsMaxLen: 0,
  keepCompletedCount: 0,
  keepCompletedMs: 0,
}

/** taskmill's own batch limit (MAX_BATCH). */
const MAX_BATCH = 5000
/** getTask calls in flight while verifying. */
const VERIFY_CONCURRENCY = 200

class TaskmillProducer implements Producer {
  constructor(private readonly scheduler: Scheduler) {}

  async enqueueBatch(tasks: readonly BenchTask[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += MAX_BATCH) {
      await this.add(tasks.slice(i, i + MAX_BATCH).map((task) => ({ id: task.id, payload: task.payload })))
    }
  }

  async enqueueOne(task: BenchTask): Promise<void> {
    const outcome = await this.scheduler.enqueue({ id: task.id, payload: task.payload })
    if (!outcome.created) throw new Error(`task ${task.id} existed already`)
  }

  async fanIn(parent: BenchTask, children: readonly BenchTask[]): Promise<void> {
    await this.add([
      ...children.map((child) => ({ id: child.id, payload: child.payload })),
      { id: parent.id, payload: parent.payload, dependsOn: children.map((child) => child.id) },
    ])
  }

  async chain(steps: readonly BenchTask[]): Promise<void> {
    await this.add(
      steps.map((step, i) => ({ id: step.id, payload: step.payload, dependsOn: i === 0 ? [] : [steps[i - 1]!.id] })),
    )
  }

  private async add(batch: TaskInput[]): Promise<void> {
    const outcomes = await this.scheduler.enqueueBatch(batch)
    const existing = outcomes.filter((outcome) => !outcome.created)
    if (existing.length > 0) throw new Error(`${existing.length} tasks existed already, e.g. ${existing[0]!.id}`)
  }

  async counts(): Promise<Counts> {
    const s = await this.scheduler.stats()
    return {
      completed: s.completed,
      unfinished: s.waiting + s.delayed + s.ready + s.assigned + s.running + s.retrying,
      failed: s.dead + s.canceled,
    }
  }

  async verify(ids: readonly string[]): Promise<string[]> {
    const problems: string[] = []
    let next = 0
    const check = async (): Promise<void> => {
      while (next < ids.length && problems.length < 10) {
        const id = ids[next++]!
        const task = await this.scheduler.getTask(id)
        if (!task) problems.push(`task ${id} is missing`)
        else if (task.state !== 'completed') problems.push(`task ${id} is ${task.state}`)
        else if (task.attempts !== 1 || task.lostAttempts !== 0) {
          problems.push(`task ${id} took ${task.attempts} attempts (${task.lostAttempts} lost)`)
        }
      }
    }
    await Promise.all(Array.from({ length: VERIFY_CONCURRENCY }, check))
    return problems
  }

  async details(): Promise<NodeDetails> {
    const s = await this.scheduler.stats()
    return {
      nodes: s.nodes.map(([id, weight, , , completed, failed]) => ({ id, weight, completed, failed })),
    }
  }

  async close(): Promise<void> {
    await this.scheduler.close()
  }
}

export const taskmill: SystemModule = {
  name: 'taskmill',
  label: 'taskmill',
  scenarios: ['enqueue', 'drain', 'e2e', 'latency', 'fanin', 'chain', 'weighted'],

  async openProducer(url) {
    return new TaskmillProducer(await Scheduler.open({ connection: url, namespace: NAMESPACE, config: CONFIG }))
  },

  async scriptNames() {
    return new Map(scripts.allScripts.map((script) => [script.sha, script.name]))
  },

  async startWorker(url, options, observe): Promise<RunningWorker> {
    const workers = await Promise.all(
      options.nodes.map((node) =>
        Worker.start({
          connection: url,
          namespace: NAMESPACE,
          nodeId: node.id,
          weight: node.weight,
          capacity: options.concurrency,
          handler: async (task) => {
            observe(parseTaskData(task.payload))
          },
        }),
      ),
    )
    return {
      async stop() {
        await Promise.all(workers.map((worker) => worker.stop()))
      },
    }
  },
}
