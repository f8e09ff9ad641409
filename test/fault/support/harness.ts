/**
 * What the fault tests share: a redis-server of their own started with the settings a test
 * needs (AOF, maxmemory), worker nodes in child processes that can be killed, paused and
 * replaced (`Fleet`), a dependency graph to run, producers that retry an enqueue Redis did not
 * answer, and the check made after every fault (`verify`): every acknowledged task is there
 * (0 lost), every one reached its final state before the deadline (0 stuck), none has two
 * completion records in the event stream, no handler ran twice under one fencing token, every
 * stored result was made by the assignment that holds the task (fencing), no task started
 * before its dependencies completed, and no NOSCRIPT reached user code.
 *
 * Figures go to the console always, and to `test/fault/results/<scenario>.json` when
 * TASKMILL_FAULT_RECORD=1 is set; `test/fault/write-table.ts` turns those into the table in
 * docs/reliability.md, and `reliability-doc.test.ts` checks that the two agree.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { Scheduler, TaskInput } from '../../../client/index.js'
import { RedisOutOfMemoryError, RedisUnavailableError } from '../../../loader/errors.js'
import { findExecutable, spawnRedisServer, type SpawnedRedis } from '../../../devtools/redis-server.js'
import type { FaultWorkerMessage, FaultWorkerOptions } from './fault-worker.js'

/** Why the fault tests cannot run here (they spawn, kill and restart redis-server), or undefined. */
export function faultSkipReason(): string | undefined {
  return findExecutable('redis-server') === undefined ? 'redis-server is not on PATH' : undefined
}

/** A redis-server child process of the test's own, with extra settings (`--appendonly yes`, …). */
export function startServer(extraArgs: readonly string[] = []): Promise<SpawnedRedis> {
  return spawnRedisServer(findExecutable('redis-server') as string, extraArgs)
}

/** Polls `condition` every `everyMs` until it holds; fails with `what` when `timeoutMs` passes first. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** A small seeded PRNG (mulberry32), so a failing graph can be rebuilt from the printed seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A dependency graph of `size` tasks `<prefix>-<i>`: each task after the first tenth depends on
 * up to three earlier tasks, drawn from the 300 before it, so the graph is many layers deep and
 * wide at once, with fan-in. Parents come before their children, so it can be enqueued in
 * order, in batches.
 */
export function graph(prefix: string, size: number, seed: number): TaskInput[] {
  const next = random(seed)
  const tasks: TaskInput[] = []
  for (let i = 0; i < size; i++) {
    const parents = new Set<string>()
    if (i >= size / 10) {
      const count = Math.floor(next() * 4)
      for (let k = 0; k < count; k++) parents.add(`${prefix}-${i - 1 - Math.floor(next() * Math.min(i, 300))}`)
    }
    tasks.push({ id: `${prefix}-${i}`, dependsOn: [...parents], priority: Math.floor(next() * 3) })
  }
  return tasks
}

export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** What a producer saw: the ids Redis acknowledged and every error its calls raised. */
export interface ProducerLog {
  readonly acknowledged: Set<string>
  readonly errors: Error[]
}

export function producerLog(): ProducerLog {
  return { acknowledged: new Set(), errors: [] }
}

/**
 * Enqueues a batch until Redis acknowledges it, as docs/reliability.md advises: a call refused
 * because Redis is away or full is sent again as it was. Ids make that safe: a batch that got in
 * before its reply was lost answers `exists` the second time. Any other error is thrown.
 */
export async function enqueueUntilAcknowledged(
  scheduler: Scheduler,
  batch: readonly TaskInput[],
  log: ProducerLog,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await scheduler.enqueueBatch(batch)
      for (const task of batch) log.acknowledged.add(task.id as string)
      return
    } catch (error) {
      log.errors.push(error as Error)
      const passing = error instanceof RedisUnavailableError || error instanceof RedisOutOfMemoryError
      if (!passing || Date.now() > deadline) throw error
      await sleep(50)
    }
  }
}

interface Member {
  child: ChildProcess
  /** Its Worker has started. */
  ready: boolean
  inFlight: number
  exited: Promise<void>
  stderr: string
}

/** Worker nodes in child processes (`fault-worker.ts`), and what they reported. */
export class Fleet {
  /** Every handler run reported: task id, token, node. */
  readonly runs: { id: string; token: number; node: string }[] = []
  /** Every error a Worker's onError received. */
  readonly errors: { node: string; name: string; message: string }[] = []
  private readonly members = new Map<string, Member>()

  constructor(private readonly base: Omit<FaultWorkerOptions, 'nodeId'>) {}

  /** Starts a worker process as `nodeId` and waits until its Worker has started. */
  async spawn(nodeId: string, timeoutMs = 20_000): Promise<void> {
    const options: FaultWorkerOptions = { ...this.base, nodeId }
    const child = fork(fileURLToPath(new URL('./fault-worker.ts', import.meta.url)), [JSON.stringify(options)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    const member: Member = {
      child,
      ready: false,
      inFlight: 0,
      stderr: '',
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    }
    this.members.set(nodeId, member)
    child.stderr?.on('data', (chunk: Buffer) => {
      member.stderr = (member.stderr + chunk.toString('utf8')).slice(-4000)
    })
    let failed: string | undefined
    child.on('message', (message: FaultWorkerMessage) => {
      if ('run' in message) {
        this.runs.push({ id: message.run[0], token: message.run[1], node: nodeId })
        member.inFlight++
      } else if ('done' in message) member.inFlight--
      else if ('error' in message) this.errors.push({ node: nodeId, ...message.error })
      else if ('ready' in message) member.ready = true
      else if ('startFailed' in message) failed = message.startFailed
    })
    await waitFor(`worker ${nodeId} to start`, () => {
      if (failed !== undefined || child.exitCode !== null || child.signalCode !== null) {
        const how = failed ?? `exit ${child.exitCode ?? child.signalCode}`
        throw new Error(`worker ${nodeId} did not start: ${how}\n${member.stderr}`)
      }
      return member.ready
    }, timeoutMs).catch((error: unknown) => {
      const runs = this.runs.filter((run) => run.node === nodeId).length
      throw new Error(`${(error as Error).message} (its handlers ran ${runs} times meanwhile); its stderr:\n${member.stderr}`)
    })
  }

  /** Node ids of the processes whose Worker has started and that still run. */
  live(): string[] {
    return [...this.members].filter(([, m]) => m.ready && isRunning(m.child)).map(([id]) => id)
  }

  /** Handlers running in a node's process now (started and not returned). */
  inFlight(nodeId: string): number {
    return this.members.get(nodeId)?.inFlight ?? 0
  }

  /** SIGKILLs a node's process and waits until it is gone. */
  async kill(nodeId: string): Promise<void> {
    const member = this.members.get(nodeId)
    if (member === undefined) return
    member.child.kill('SIGKILL')
    await member.exited
    this.members.delete(nodeId)
  }

  /** Sends SIGSTOP or SIGCONT to a node's process. */
  signal(nodeId: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.members.get(nodeId)?.child.kill(signal)
  }

  /** Stops every live node gracefully (so it leaves the rotation), killing those that take too long. */
  async stopAll(timeoutMs = 10_000): Promise<void> {
    await Promise.all(
      [...this.members].map(async ([id, member]) => {
        if (isRunning(member.child)) {
          member.child.send({ stop: 2000 })
          await Promise.race([member.exited, sleep(timeoutMs)])
        }
        await this.kill(id)
      }),
    )
  }

  /** SIGKILLs every process; for cleanup after a failure. */
  async killAll(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.kill(id)))
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** One entry of the event stream. */
export interface StreamEvent {
  type: string
  task: string
  node: string
  detail: string
}

/** The whole event stream of a namespace, oldest first, read in pages. */
export async function readEvents(client: Redis, key: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = []
  let from = '-'
  for (;;) {
    const page = (await client.xrange(key, from, '+', 'COUNT', 10_000)) as [string, string[]][]
    // One entry holds every event of one call, each as the fields type, task, node, detail.
    for (const [, flat] of page) {
      let event: StreamEvent | undefined
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [field, value] = [flat[i]!, flat[i + 1]!]
        if (field === 'type') {
          event = { type: value, task: '', node: '', detail: '' }
          events.push(event)
        } else if (event !== undefined && (field === 'task' || field === 'node' || field === 'detail')) {
          event[field] = value
        }
      }
    }
    if (page.length < 10_000) return events
    from = `(${page.at(-1)![0]}`
  }
}

/** What every fault test reports; the invariants are the figures that must be 0. */
export interface Figures {
  tasks: number
  lost: number
  stuck: number
  /** Handler runs beyond the first per task: expected under at-least-once when a node dies mid-task. */
  duplicateHandlerRuns: number
  duplicateCompletionRecords: number
  /** Errors naming NOSCRIPT (or a ScriptLoadError) that reached onError or a producer's promise. */
  noscriptErrors: number
  /** Two handler runs under one fencing token. */
  reusedTokens: number
  /** Completed tasks whose stored result was not made by the node and token that hold the task. */
  staleResults: number
  /** Tasks started before one of their dependencies had completed. */
  dependencyViolations: number
  /** Tasks that ended other than completed. */
  notCompleted: number
  /** Attempts lost with a node (killed, paused past its timeout), summed over the tasks. */
  lostAttempts: number
  /** Errors that reached user code (onError, producers' promises), by class name. */
  userErrors: Record<string, number>
}

export interface VerifyInput {
  scheduler: Scheduler
  /** A plain client of the server, for reading the event stream. */
  client: Redis
  tasks: readonly TaskInput[]
  acknowledged: ReadonlySet<string>
  fleet?: Fleet
  producerErrors?: readonly Error[]
  /** How long every task gets to reach its final state. */
  deadlineMs: number
}

const FINAL = new Set(['completed', 'dead', 'canceled'])

/** Waits (up to the deadline) for every acknowledged task to end, then takes the figures. */
export async function verify(input: VerifyInput): Promise<Figures> {
  const { scheduler, acknowledged } = input
  const ids = [...acknowledged]
  const settled = async (): Promise<boolean> => {
    const stats = await scheduler.stats()
    return stats.completed + stats.dead + stats.canceled >= ids.length &&
      stats.waiting + stats.delayed + stats.ready + stats.assigned + stats.running + stats.retrying === 0
  }
  await waitFor('every task to end', settled, input.deadlineMs, 100).catch(() => undefined)

  const records = new Map<string, Awaited<ReturnType<Scheduler['getTask']>>>()
  for (const chunk of batches(ids, 500)) {
    const found = await Promise.all(chunk.map((id) => scheduler.getTask(id)))
    chunk.forEach((id, i) => records.set(id, found[i] ?? null))
  }
  let lost = 0
  let stuck = 0
  let notCompleted = 0
  let staleResults = 0
  let lostAttempts = 0
  for (const [, task] of records) {
    if (task === null) {
      lost++
      continue
    }
    lostAttempts += task.lostAttempts
    if (!FINAL.has(task.state)) stuck++
    else if (task.state !== 'completed') notCompleted++
    else if (input.fleet !== undefined && task.result?.toString() !== `${task.node}/${task.token}`) staleResults++
  }

  const events = await readEvents(input.client, `tm:{${scheduler.namespace}}:events`)
  const completions = new Map<string, number>()
  const enqueued = new Set<string>()
  const completedAt = new Map<string, number>()
  events.forEach((event, i) => {
    if (event.type === 'enqueued') enqueued.add(event.task)
    if (event.type === 'completed') {
      completions.set(event.task, (completions.get(event.task) ?? 0) + 1)
      if (!completedAt.has(event.task)) completedAt.set(event.task, i)
    }
  })
  // A stream trimmed below what the test wrote would hide duplicates: refuse to count on it.
  // (A lost task has lost its events with it.)
  const missing = ids.filter((id) => records.get(id) !== null && !enqueued.has(id))
  if (missing.length > 0) throw new Error(`the event stream lacks the enqueue of ${missing.length} tasks (e.g. ${missing[0]}): raise eventsMaxLen`)
  let duplicateCompletionRecords = 0
  for (const count of completions.values()) duplicateCompletionRecords += Math.max(0, count - 1)

  const parents = new Map(input.tasks.map((task) => [task.id as string, task.dependsOn ?? []]))
  let dependencyViolations = 0
  events.forEach((event, i) => {
    if (event.type !== 'started') return
    for (const parent of parents.get(event.task) ?? []) {
      if (!((completedAt.get(parent) ?? Infinity) < i)) dependencyViolations++
    }
  })

  let duplicateHandlerRuns = 0
  let reusedTokens = 0
  if (input.fleet !== undefined) {
    const perTask = new Map<string, number>()
    const tokens = new Set<string>()
    for (const run of input.fleet.runs) {
      perTask.set(run.id, (perTask.get(run.id) ?? 0) + 1)
      const key = `${run.id}#${run.token}`
      if (tokens.has(key)) reusedTokens++
      tokens.add(key)
    }
    for (const count of perTask.values()) duplicateHandlerRuns += Math.max(0, count - 1)
  }

  const userErrors: Record<string, number> = {}
  const seen = [
    ...(input.fleet?.errors ?? []),
    ...(input.producerErrors ?? []).map((error) => ({ name: error.name, message: error.message })),
  ]
  let noscriptErrors = 0
  for (const error of seen) {
    userErrors[error.name] = (userErrors[error.name] ?? 0) + 1
    if (/NOSCRIPT/.test(error.message) || error.name === 'ScriptLoadError') noscriptErrors++
  }

  return {
    tasks: ids.length,
    lost,
    stuck,
    duplicateHandlerRuns,
    duplicateCompletionRecords,
    noscriptErrors,
    reusedTokens,
    staleResults,
    dependencyViolations,
    notCompleted,
    lostAttempts,
    userErrors,
  }
}

/** The figures every fault must show, as one object so a failure prints them all. */
export function invariants(figures: Figures): Record<string, number> {
  return {
    lost: figures.lost,
    stuck: figures.stuck,
    duplicateCompletionRecords: figures.duplicateCompletionRecords,
    noscriptErrors: figures.noscriptErrors,
    reusedTokens: figures.reusedTokens,
    staleResults: figures.staleResults,
    dependencyViolations: figures.dependencyViolations,
    notCompleted: figures.notCompleted,
  }
}

export const ZERO_VIOLATIONS = {
  lost: 0,
  stuck: 0,
  duplicateCompletionRecords: 0,
  noscriptErrors: 0,
  reusedTokens: 0,
  staleResults: 0,
  dependencyViolations: 0,
  notCompleted: 0,
}

/** One row of the fault table in docs/reliability.md. */
export interface FaultRow extends Figures {
  /** Which test, and the order of the row in the table. */
  scenario: string
  order: number
  /** The fault, as the table names it. */
  fault: string
  /** How it was run: processes, capacities, timings. */
  setup: string
  kills: number
  restarts: number
  flushes: number
  seconds: number
}

/** Prints the row, and writes it to test/fault/results/ when TASKMILL_FAULT_RECORD=1. */
export function report(row: FaultRow): void {
  const { userErrors, ...figures } = row
  console.log(`[fault] ${row.scenario}: ${JSON.stringify({ ...figures, userErrors })}`)
  if (process.env.TASKMILL_FAULT_RECORD !== '1') return
  const dir = fileURLToPath(new URL('../results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const recorded = { ...row, run: runDescription() }
  writeFileSync(`${dir}${row.scenario}.json`, `${JSON.stringify(recorded, null, 2)}\n`)
}

/** When and where a recorded run happened, for the table's caption. */
export function runDescription(): { date: string; commit: string; machine: string } {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()
    if (dirty !== '') commit += '+changes'
  } catch {
    // Not a git checkout: the commit stays unknown.
  }
  const cpu = cpus()
  const redisVersion = execFileSync(findExecutable('redis-server') as string, ['--version'], { encoding: 'utf8' })
  const version = /v=(\S+)/.exec(redisVersion)?.[1] ?? '?'
  return {
    date: new Date().toISOString().slice(0, 10),
    commit,
    machine: `${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.versions.node}, redis-server ${version}`,
  }
}
