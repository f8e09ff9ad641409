import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NonRetryableError, Scheduler, Worker, type TaskHandler } from '../../client/index.js'
import { UnknownDependencyError } from '../../loader/generated/errors.js'
import { partitionOf } from '../../loader/routing.js'
import { connectionTargets, until } from '../support/connections.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

let url = redisInfo.url

async function scheduler(partitions: number): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('x').name, partitions })
  open.push(s)
  return s
}

async function worker(s: Scheduler, handler: TaskHandler, options: { capacity?: number; nodeId?: string } = {}): Promise<Worker> {
  const w = await Worker.start({ connection: url, namespace: s.namespace, handler, heartbeatIntervalMs: 100, ...options })
  open.push({ close: () => w.stop({ timeoutMs: 2000 }) })
  return w
}


/** Ids, one per partition of `count`, for tests that need a task in a given partition. */
function idIn(partition: number, count: number, prefix: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${prefix}-${i}`, count) === partition) return `${prefix}-${i}`
}

describe.each(connectionTargets)('dependencies across partitions on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  it('runs a graph whose edges cross partitions in dependency order, each task once', async () => {
    const s = await scheduler(3)
    // A layered graph, each task enqueued alone so that it goes to its own id's partition.
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const parents = new Map<string, string[]>()
    const ids: string[] = []
    for (let i = 0; i < 120; i++) {
      const id = `g-${i}`
      const deps = i < 6 ? [] : [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => ids[Math.floor(random() * ids.length)]!))]
      parents.set(id, deps)
      ids.push(id)
    }
    const crossing = ids.flatMap((id) => parents.get(id)!.filter((p) => partitionOf(p, 3) !== partitionOf(id, 3)))
    expect(crossing.length).toBeGreaterThan(40)
    const started = new Map<string, number>()
    const ended = new Map<string, number>()
    const runs = new Map<string, number>()
    let clock = 0
    const handler: TaskHandler = async (task) => {
      started.set(task.id, ++clock)
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 1))
      ended.set(task.id, ++clock)
      return `out ${task.id}`
    }
    await worker(s, handler, { capacity: 8 })
    await worker(s, handler, { capacity: 8 })
    for (const id of ids) await s.enqueue({ id, dependsOn: parents.get(id) })
    await until('every task to complete', () => s.stats(), (st) => st.completed === ids.length)
    const violations = ids.flatMap((id) =>
      parents.get(id)!.filter((p) => (ended.get(p) ?? Infinity) > (started.get(id) ?? -Infinity)).map((p) => `${p} -> ${id}`),
    )
    expect(violations).toEqual([])
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
    const child = ids.find((id) => parents.get(id)!.some((p) => partitionOf(p, 3) !== partitionOf(id, 3)))!
    const results = await s.dependencyResults(child)
    expect(results.map((r) => [r.id, r.result?.toString()])).toEqual(parents.get(child)!.map((p) => [p, `out ${p}`]))
  })

  it('applies the fail and run rules when a parent in another partition dies', async () => {
    const s = await scheduler(2)
    const parent = idIn(0, 2, 'doomed')
    const strict = idIn(1, 2, 'strict')
    const lenient = idIn(1, 2, 'lenient')
    await s.enqueue({ id: parent, maxAttempts: 1 })
    await s.enqueue({ id: strict, dependsOn: [parent] })
    await s.enqueue({ id: lenient, dependsOn: [parent], onDependencyFailure: 'run' })
    await worker(s, async (task) => {
      if (task.id === parent) throw new NonRetryableError('no')
      return 'ran'
    })
    expect((await s.waitForResult(lenient, { timeoutMs: 20_000 })).toString()).toBe('ran')
    const dead = await until('the strict child to die', () => s.getTask(strict), (t) => t?.state === 'dead')
    expect(dead?.reason).toBe('dependency failed')
  })

  it('refuses a dependency that is in no partition, writing nothing', async () => {
    const s = await scheduler(3)
    const child = idIn(1, 3, 'orphan')
    await expect(s.enqueue({ id: child, dependsOn: [idIn(2, 3, 'ghost')] })).rejects.toBeInstanceOf(UnknownDependencyError)
    const stats = await s.stats()
    expect(stats.partitions.map((p) => p.waiting + p.ready)).toEqual([0, 0, 0])
    expect(await s.getTask(child)).toBeNull()
  })
})

describe.each(connectionTargets)('a node killed with SIGKILL before the relay on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  beforeEach(({ skip }) => {
    if (target.skip !== undefined) skip()
    url = target.url
  })

  for (const mode of ['complete', 'claim'] as const) {
    const when = mode === 'complete' ? 'after completing the parent' : 'half-way through relaying its outcome'
    it(`${when}: the child in another partition still runs, and completes once`, async () => {
      const s = await scheduler(2)
      const parent = idIn(0, 2, 'parent')
      const child = idIn(1, 2, 'child')
      await s.enqueue({ id: parent })
      await s.enqueue({ id: child, dependsOn: [parent] })
      const partition = s.partitions.all[0]!
      const victim = fork(
        fileURLToPath(new URL('./complete-then-die.ts', import.meta.url)),
        [url, s.namespace, partition.tag, String(partition.partition), 'victim', mode],
        { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      )
      const completed: string[] = []
      victim.on('message', (m) => completed.push(...(m as { completed: string[] }).completed))
      const exit = new Promise<NodeJS.Signals | null>((resolve) => victim.on('exit', (_, signal) => resolve(signal)))
      expect(await exit).toBe('SIGKILL')
      expect(completed).toEqual([parent])
      expect((await s.getTask(child))?.state).toBe('waiting')
      // Only now a worker that can relay: it must find the outcome the dead node left behind.
      const runs: string[] = []
      await worker(s, async (task) => void runs.push(task.id), { nodeId: 'survivor', capacity: 4 })
      await s.waitForResult(child, { timeoutMs: 30_000 })
      expect(runs).toEqual([child])
      const events: string[] = []
      for await (const event of s.events({ from: '0', idleTimeoutMs: 300 })) {
        if (event.task === child && event.type === 'completed') events.push(event.type)
      }
      expect(events).toEqual(['completed'])
    })
  }
})
