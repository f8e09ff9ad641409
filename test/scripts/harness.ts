/**
 * What the script tests share: a runner with every generated script loaded on one target
 * (standalone or cluster), a fresh namespace initialised with the given configuration, and
 * small helpers that drive the scripts the way a worker node would.
 */
import type { Cluster, Redis } from 'ioredis'
import { createRunner } from '../../client/connection.js'
import { chunkEnqueueRows } from '../../client/enqueue-chunks.js'
import { toTaskEvents } from '../../client/events.js'
import type { ScriptRunner } from '../../loader/runner.js'
import type { Namespace } from '../../loader/keys.js'
import * as s from '../../loader/generated/scripts.js'
import { randomNamespace, type RedisTarget } from '../support/context.js'

export type InitArgs = s.InitArgs
export type TaskRow = s.EnqueueArgs['tasks'][number]

export interface Bench {
  readonly client: Redis | Cluster
  readonly runner: ScriptRunner
  readonly ns: Namespace
  enqueue(...tasks: Partial<TaskRow>[]): Promise<('created' | 'exists')[]>
  /** Sets up a backlog larger than one call takes: in calls of at most the script's limits, parents first. */
  enqueueMany(...tasks: Partial<TaskRow>[]): Promise<('created' | 'exists')[]>
  register(nodeId: string, weight?: number, capacity?: number, queues?: string[]): Promise<string>
  start(nodeId: string, max?: number): Promise<s.StartReply>
  complete(nodeId: string, items: { id: string; token: number; result?: string }[], claim?: number): Promise<s.CompleteReply>
  fail(nodeId: string, id: string, token: number, message?: string, retryable?: boolean): Promise<s.FailReply>
  task(id: string): Promise<NonNullable<s.GetTaskReply>>
  stats(): Promise<s.StatsReply>
  /** One round; the script's own limit when none is given. */
  maintain(limit?: number): Promise<s.MaintainReply>
}

export async function openBench(target: RedisTarget, config: InitArgs = {}): Promise<Bench> {
  const client = target.client()
  const runner = createRunner(client)
  await runner.loadAll()
  const ns = randomNamespace()
  await s.init(runner, ns, config)
  const rows = (tasks: Partial<TaskRow>[]): TaskRow[] => tasks.map((t, i) => ({ id: `t${i}`, payload: '', ...t }))
  return {
    client,
    runner,
    ns,
    enqueue: (...tasks) => s.enqueue(runner, ns, { tasks: rows(tasks) }),
    enqueueMany: async (...tasks) => {
      const replies: ('created' | 'exists')[] = []
      for (const chunk of chunkEnqueueRows(rows(tasks))) replies.push(...(await s.enqueue(runner, ns, { tasks: chunk })))
      return replies
    },
    register: (nodeId, weight = 1, capacity = 100, queues = []) =>
      s.registerNode(runner, ns, { nodeId, weight, capacity, queues }),
    start: (nodeId, max) => s.start(runner, ns, { nodeId, max }),
    complete: (nodeId, items, claim = 0) =>
      s.complete(runner, ns, { nodeId, claim, results: items.map((i) => ({ result: '', ...i })) }),
    fail: (nodeId, id, token, message = 'boom', retryable = true) =>
      s.fail(runner, ns, { nodeId, id, token, message, retryable }),
    task: async (id) => {
      const task = await s.getTask(runner, ns, { id })
      if (!task) throw new Error(`no task ${id}`)
      return task
    },
    stats: () => s.stats(runner, ns),
    maintain: (limit) => s.maintain(runner, ns, { limit }),
  }
}

/** Runs every started task of a node to completion until nothing is left to start. */
/**
 * The Redis server's clock in ms, read by a script in the namespace's slot, so that on a cluster
 * it is the clock of the server the namespace's scripts run on.
 */
export async function serverNow(bench: Bench): Promise<number> {
  return (await bench.stats()).now
}

export async function drainNode(bench: Bench, nodeId: string, onStart?: (id: string) => void): Promise<number> {
  let done = 0
  for (;;) {
    const started = await bench.start(nodeId)
    if (started.length === 0) return done
    for (const [id] of started) onStart?.(id)
    const most = s.completeScript.group?.max ?? 1
    for (let i = 0; i < started.length; i += most) {
      await bench.complete(
        nodeId,
        started.slice(i, i + most).map(([id, token]) => ({ id, token })),
      )
    }
    done += started.length
  }
}

/** The node of each `assigned` event in order, read from the event stream. */
export async function assignmentOrder(bench: Bench): Promise<string[]> {
  const entries = (await bench.client.xrange(bench.ns.key('events'), '-', '+')) as [string, string[]][]
  return entries
    .flatMap(([id, pairs]) => toTaskEvents({ id, pairs }))
    .filter((event) => event.type === 'assigned')
    .map((event) => event.node)
}
