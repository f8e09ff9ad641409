/**
 * Listing a namespace's tasks by state, page by page, over its partitions.
 *
 * The list-tasks script pages through one partition. Over several, the walk takes partition 0
 * to its end, then partition 1, and so on: the cursor is `<partition>:<the script's cursor>`,
 * so a page never mixes orders and a caller needs nothing but the cursor to go on. The order
 * (newest or oldest first) therefore holds within each partition, not across them. A page may
 * hold fewer tasks than asked for, even none, while its cursor is not empty: the script looks
 * at a bounded number of entries per call (scripts-lua/list-tasks.lua); only an empty cursor
 * means the end.
 */
import { listTasks, type ListTasksArgs } from '../loader/generated/scripts.js'
import type { Namespace } from '../loader/keys.js'
import type { ScriptRunner } from '../loader/runner.js'
import type { PartitionTable } from './partitions.js'

/** The states list-tasks takes, as its header declares them. */
export type ListedState = ListTasksArgs['state']

export interface ListTasksOptions {
  state: ListedState
  /** Which end of the state's order to start from, within each partition. Default: 'newest'. */
  order?: 'newest' | 'oldest'
  /** Only tasks of this queue. Default: every queue. */
  queue?: string
  /** At most this many tasks per page, 1 to 1000 (a page of waiting tasks may hold more). Default: 100. */
  limit?: number
  /** The cursor of the previous page; empty or left out to start. */
  cursor?: string
}

export interface ListedTask {
  id: string
  /** The index of the partition that holds the task. */
  partition: number
  state: ListedState
  queue: string
  priority: number
  attempts: number
  enqueuedAt: number
  runAt: number
  /** 0 until the task finished. */
  finishedAt: number
  /** The node of the last assignment, '' when there was none. */
  node: string
}

export interface TaskPage {
  tasks: ListedTask[]
  /** Pass it back for the next page; empty at the end. */
  cursor: string
}

const DEFAULT_LIMIT = 100

export async function listTasksAcross(runner: ScriptRunner, table: PartitionTable, options: ListTasksOptions): Promise<TaskPage> {
  const limit = options.limit ?? DEFAULT_LIMIT
  let [partition, cursor] = parseCursor(options.cursor ?? '', table.count)
  const tasks: ListedTask[] = []
  while (partition < table.count && tasks.length < limit) {
    const page = await listTasks(runner, table.all[partition] as Namespace, {
      state: options.state,
      order: options.order,
      queue: options.queue,
      limit: limit - tasks.length,
      cursor,
    })
    for (const [id, state, queue, priority, attempts, enqueuedAt, runAt, finishedAt, node] of page.tasks) {
      tasks.push({ id, partition, state: state as ListedState, queue, priority, attempts, enqueuedAt, runAt, finishedAt, node })
    }
    if (page.cursor !== '') return { tasks, cursor: `${partition}:${page.cursor}` }
    partition += 1
    cursor = ''
  }
  return { tasks, cursor: partition < table.count ? `${partition}:` : '' }
}

function parseCursor(cursor: string, count: number): [number, string] {
  if (cursor === '') return [0, '']
  const match = /^(0|[1-9]\d{0,3}):(.*)$/s.exec(cursor)
  const partition = match ? Number(match[1]) : NaN
  if (!match || partition >= count) {
    throw new RangeError(`cursor: expected the cursor of a previous listTasks page, got ${JSON.stringify(cursor.slice(0, 60))}`)
  }
  return [partition, match[2] as string]
}
