/**
 * The scheduler's promises, checked on what the real system shows after a step (and the step
 * before), without the model's predictions: they hold whatever the model says.
 *
 * - No task lost or duplicated: every task ever enqueued is there, and the counts add up to them.
 * - None started before its dependencies completed (with onDependencyFailure=run: finished).
 * - Every transition legal: a state moves only along the state machine of lib/lifecycle (several
 *   moves in one call, such as retrying -> ready -> assigned, are paths of it); tokens never go
 *   back; attempts never pass maxAttempts.
 * - In-flight never above capacity: a node gets no task that takes it past its capacity (it may
 *   hold more only after its capacity was lowered, and then gets nothing new).
 * - Stats equal the truth: counts per state and each node's in-flight match the tasks themselves,
 *   and every task held is held by a registered node.
 */
import type { GetTaskReply } from '../../loader/generated/scripts.js'
import { ModelMismatch, TASK_STATES, type Observation, type TaskState } from './types.js'

const NEXT: Record<TaskState | 'new', readonly TaskState[]> = {
  new: ['waiting', 'delayed', 'ready', 'dead'],
  waiting: ['delayed', 'ready', 'dead', 'canceled'],
  delayed: ['ready', 'canceled'],
  ready: ['assigned', 'canceled'],
  assigned: ['running', 'ready', 'canceled', 'dead'],
  running: ['completed', 'retrying', 'dead', 'canceled', 'ready'],
  retrying: ['ready', 'canceled'],
  completed: [],
  dead: [],
  canceled: [],
}

/** Where a state can be after one call: itself, or anything reachable along NEXT. */
const REACHABLE = new Map<TaskState | 'new', ReadonlySet<TaskState>>(
  (Object.keys(NEXT) as (TaskState | 'new')[]).map((from) => {
    const seen = new Set<TaskState>()
    const queue = [...NEXT[from]]
    while (queue.length > 0) {
      const state = queue.shift()!
      if (seen.has(state)) continue
      seen.add(state)
      queue.push(...NEXT[state])
    }
    if (from !== 'new') seen.add(from)
    return [from, seen]
  }),
)

function violated(message: string): never {
  throw new ModelMismatch(`invariant broken: ${message}`)
}

function isState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value)
}

export function checkInvariants(
  prev: Observation | undefined,
  obs: Observation,
  /** The ids that must exist: every task the model knows, and those this step created. */
  known: ReadonlySet<string>,
  onDependencyFailure: (id: string) => 'fail' | 'run',
): void {
  const tasks = new Map<string, NonNullable<GetTaskReply>>()
  for (const [id, task] of obs.tasks) {
    if (task === null) {
      if (known.has(id)) violated(`${id} was enqueued and is gone`)
      continue
    }
    if (!isState(task.state)) violated(`${id} is in the unknown state ${task.state}`)
    tasks.set(id, task)
  }

  // Stats equal the truth, and nothing is there that was never enqueued.
  for (const state of TASK_STATES) {
    const truth = [...tasks.values()].filter((t) => t.state === state).length
    if (obs.stats[state] !== truth) violated(`stats count ${obs.stats[state]} ${state}, the tasks say ${truth}`)
  }
  const held = new Map<string, NonNullable<GetTaskReply>[]>()
  for (const task of tasks.values()) {
    if (task.state !== 'assigned' && task.state !== 'running') continue
    if (task.node === undefined) violated(`${task.id} is ${task.state} on no node`)
    held.set(task.node, [...(held.get(task.node) ?? []), task])
  }
  const registered = new Set(obs.stats.nodes.map((row) => row.id))
  for (const [node, list] of held) {
    if (!registered.has(node)) violated(`${list.map((t) => t.id).join(',')} held by ${node}, which is not registered`)
  }
  for (const { id, capacity, inflight } of obs.stats.nodes) {
    const truth = held.get(id)?.length ?? 0
    if (inflight !== truth) violated(`stats give ${id} ${inflight} tasks in flight, it holds ${truth}`)
    if (inflight > capacity) {
      const gained = (held.get(id) ?? []).filter((t) => prev?.tasks.get(t.id)?.token !== t.token)
      if (gained.length > 0) violated(`${id} was given ${gained.map((t) => t.id).join(',')} and holds ${inflight}, over its capacity ${capacity}`)
    }
  }

  for (const task of tasks.values()) {
    const before = prev?.tasks.get(task.id) ?? undefined
    const from = before ? (before.state as TaskState) : 'new'
    if (!REACHABLE.get(from)!.has(task.state as TaskState)) violated(`${task.id} moved from ${from} to ${task.state}`)
    if (before && (task.token ?? 0) < (before.token ?? 0)) violated(`${task.id}'s token went back from ${before.token} to ${task.token}`)
    if (task.attempts > task.maxAttempts) violated(`${task.id} made ${task.attempts} attempts of ${task.maxAttempts}`)
    const started = task.state === 'running' || (task.startedAt !== undefined && task.startedAt !== before?.startedAt)
    if (started) {
      const policy = onDependencyFailure(task.id)
      for (const parentId of task.dependsOn) {
        const parent = tasks.get(parentId)
        const ok = parent !== undefined && (parent.state === 'completed' || (policy === 'run' && (parent.state === 'dead' || parent.state === 'canceled')))
        if (!ok) violated(`${task.id} runs while its dependency ${parentId} is ${parent?.state ?? 'missing'}`)
      }
    }
  }
}
