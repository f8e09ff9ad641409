/**
 * taskmill as the benchmark drives it, in two rows:
 *
 *   taskmill                          the library's defaults (weighted dispatch, the event stream
 *                                     on, as BullMQ's defaults include its event stream), except
 *                                     that completed tasks are kept forever, as BullMQ's and
 *                                     Bee-Queue's are here, so every task's final record is there
 *                                     to verify;
 *   taskmill, events off (tuned)      the same with the event stream turned off.
 *
 * Enqueue uses `enqueueBatch` (one atomic script call per batch and partition), graphs are one
 * batch with `dependsOn`, and the worker side is one `Worker` per node with capacity = the
 * benchmark's concurrency. Both rows share the worker side: the configuration lives in the
 * namespace, written by the producer's `Scheduler.open`. The cluster scenario opens the same
 * producer on a namespace of several partitions ({@link openPartitionedProducer}).
 */
import { Scheduler, Worker, scripts, type SchedulerConfig, type TaskInput } from '../../client/index.js'
import { parseTaskData, type BenchTask } from '../payload.js'
import type { Counts, NodeDetails, Producer, RunningWorker, ScenarioName, SystemModule, SystemName } from './types.js'

export const NAMESPACE = 'bench'

/** Library defaults, completed tasks kept (no sweeping) so that every run can be verified. */
export const CONFIG: SchedulerConfig = {
  keepCompletedCount: 0,
  keepCompletedMs: 0,
}

/** The tuned row: as {@link CONFIG}, with the event stream off. */
export const TUNED_CONFIG: SchedulerConfig = { ...CONFIG, eventsMaxLen: 0 }

/** getTask calls in flight while verifying. */
const VERIFY_CONCURRENCY = 200

export class TaskmillProducer implements Producer {
  constructor(readonly scheduler: Scheduler) {}

  /**
   * A batch goes whole to its first task's partition, so independent tasks are grouped by their
   * own partition first and each group is sent on its own, the groups at once: each task lands
   * where its id routes it, as single enqueues would put it. One partition: one group, in order.
   */
  async enqueueBatch(tasks: readonly BenchTask[]): Promise<void> {
    const table = this.scheduler.partitions
    const groups = new Map<number, TaskInput[]>()
    for (const task of tasks) {
      const partition = table.route(task.id).partition
      const group = groups.get(partition) ?? []
      group.push({ id: task.id, payload: task.payload })
      groups.set(partition, group)
    }
    await Promise.all(
      [...groups.values()].map(async (group) => {
        // enqueueBatch sends a group larger than one call in chunks itself.
        await this.add(group)
      }),
    )
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
      nodes: s.nodes.map(({ id, weight, completed, failed }) => ({ id, weight, completed, failed })),
    }
  }

  async close(): Promise<void> {
    await this.scheduler.close()
  }
}

/** The producer of the `taskmill` row on a namespace of at least `partitions` partitions. */
export async function openPartitionedProducer(url: string, partitions: number): Promise<TaskmillProducer> {
  return new TaskmillProducer(await Scheduler.open({ connection: url, namespace: NAMESPACE, config: CONFIG, partitions }))
}

function taskmillSystem(name: SystemName, label: string, config: SchedulerConfig, scenarios: readonly ScenarioName[]): SystemModule {
  return {
    name,
    label,
    scenarios,

    async openProducer(url) {
      return new TaskmillProducer(await Scheduler.open({ connection: url, namespace: NAMESPACE, config }))
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
}

export const taskmill = taskmillSystem('taskmill', 'taskmill', CONFIG, ['enqueue', 'drain', 'e2e', 'latency', 'fanin', 'chain', 'weighted'])

/** Weighted dispatch is the same with events off, so the tuned row leaves that scenario out. */
export const taskmillTuned = taskmillSystem('taskmill-tuned', 'taskmill, events off (tuned)', TUNED_CONFIG, [
  'enqueue',
  'drain',
  'e2e',
  'latency',
  'fanin',
  'chain',
])
