/**
 * The dashboard served by `taskmill dashboard`, against the test Redis, in headless Chromium:
 * the overview's counts and nodes against `stats`, paging and search, a task's page (escaped
 * values, hex for binary, progress), its dependency graph, actions allowed and refused, pausing
 * and resuming queues, `/metrics`, and the README's screenshot.
 *
 * The screenshot test always takes and checks a screenshot but writes it to a temporary
 * directory; to refresh the README's picture run
 *   TASKMILL_SCREENSHOT=docs/dashboard.png npx vitest run test/dashboard -t screenshot
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { Scheduler, Worker } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { registerNode } from '../../loader/generated/scripts.js'
import { Namespace } from '../../loader/keys.js'
import { partitionOf } from '../../loader/routing.js'
import { init } from '../../loader/generated/scripts.js'
import { clusterClient, clusterInfo, clusterSkipReason, randomNamespace, redisInfo, standaloneClient } from '../support/context.js'
import { startPrivate } from '../support/private-redis.js'
import { discoverNamespaces } from '../../cli/dashboard/data.js'
import { ROOT, runCli } from '../cli/run-cli.js'
import { parsePrometheus, valueOf } from '../support/prometheus.js'
import { launchChromium, openPage, startDashboardProcess, waitFor, type RunningDashboard } from './harness.js'

const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

/** The little of the DOM the functions run in the page use (the tests compile without the DOM library). */
interface DomQuery {
  querySelector(selector: string): { textContent: string | null } | null
  querySelectorAll(selector: string): ArrayLike<unknown>
}

let browser: Browser | undefined
/** Why Chromium did not start: each test that needs it fails with this (none is skipped). */
let launchError: Error | undefined
const cleanup: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  browser = await launchChromium().catch((error: Error) => {
    launchError = error
    return undefined
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
})

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

async function scheduler(namespace: string): Promise<Scheduler> {
  const opened = await Scheduler.open({ connection: redisInfo.url, namespace })
  cleanup.push(() => opened.close())
  return opened
}

async function dashboard(...args: string[]): Promise<RunningDashboard> {
  const running = await startDashboardProcess(['--url', redisInfo.url, ...args])
  cleanup.push(() => running.stop())
  return running
}

async function worker(
  namespace: string,
  options: { nodeId: string; weight?: number; queues?: string[]; delayMs?: number; url?: string },
): Promise<Worker> {
  const started = await Worker.start({
    connection: options.url ?? redisInfo.url,
    namespace,
    nodeId: options.nodeId,
    weight: options.weight ?? 1,
    capacity: 4,
    queues: options.queues,
    heartbeatIntervalMs: 200,
    handler: async (task) => {
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
      if (task.id.startsWith('dead')) throw new Error('<img src=x onerror="window.__pwned = 1">failed')
      return Buffer.from(`done ${task.id}`)
    },
  })
  cleanup.push(() => started.stop())
  return started
}

async function page(): Promise<{ page: Page; errors: string[] }> {
  if (browser === undefined) throw launchError ?? new Error('Chromium did not start')
  const opened = await openPage(browser)
  cleanup.push(() => opened.page.close())
  return opened
}

/** Completed and dead tasks, run by a worker that then stops; ready, delayed and waiting ones left after it. */
async function seedStates(namespace: string, s: Scheduler): Promise<void> {
  await s.enqueueBatch([
    ...Array.from({ length: 5 }, (_, i) => ({ id: `ok-${i}`, payload: `ok ${i}` })),
    ...Array.from({ length: 2 }, (_, i) => ({ id: `dead-${i}`, payload: `dead ${i}`, maxAttempts: 1 })),
  ])
  const w = await worker(namespace, { nodeId: 'seeder' })
  await waitFor('5 completed and 2 dead', async () => {
    const stats = await s.stats()
    return stats.completed === 5 && stats.dead === 2
  })
  await w.stop()
  await s.enqueueBatch([
    ...Array.from({ length: 3 }, (_, i) => ({ id: `ready-${i}`, payload: 'r' })),
    { id: 'later', payload: 'd', runAt: Date.now() + 3_600_000 },
    { id: 'child', payload: 'w', dependsOn: ['ready-0'] },
  ])
}

async function shownCounts(p: Page, namespace: string): Promise<Record<string, number>> {
  const pairs = await p.$$eval(`section.namespace[data-namespace="${namespace}"] [data-count]`, (counts) =>
    counts.map((count) => [count.getAttribute('data-count'), Number(count.querySelector('.n')?.textContent)] as const),
  )
  return Object.fromEntries(pairs)
}

describe('taskmill dashboard', () => {
  it('answers --help and, started, listens on 127.0.0.1 read-only', async () => {
    const help = await runCli(['dashboard', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--allow-actions')
    const ns = randomNamespace('dash').name
    await scheduler(ns)
    const running = await dashboard('--namespace', ns)
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(running.stdout()).toContain('(read-only)')
  })

  it('shows the counts stats gives and the worker nodes, with no console error', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    await seedStates(ns, s)
    // A node that takes none of these tasks, so the counts stay still while the page is read.
    await worker(ns, { nodeId: 'idle-node', weight: 3, queues: ['elsewhere'] })
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(running.url)
    await p.waitForSelector('tr[data-node="idle-node"]')
    const stats = await s.stats()
    const expected = Object.fromEntries(STATES.map((state) => [state, stats[state]]))
    expect(expected).toMatchObject({ completed: 5, dead: 2, ready: 3, delayed: 1, waiting: 1 })
    await waitFor('the page to show the counts of stats', async () => JSON.stringify(await shownCounts(p, ns)) === JSON.stringify(expected))
    const row = await p.$$eval('tr[data-node="idle-node"] td', (cells) => cells.map((cell) => cell.textContent))
    expect(row.slice(0, 3)).toEqual(['idle-node', '3', '4'])
    // The only live node: all of the weights' promise, and no stale marker.
    expect([row[7], row[9]]).toEqual(['100.0%', ''])
    expect(errors).toEqual([])
  })

  it('marks a node stale once its last heartbeat is older than the node timeout', async () => {
    const ns = randomNamespace('dash').name
    await Scheduler.open({ connection: redisInfo.url, namespace: ns, config: { nodeTimeoutMs: 1000 } }).then((s) => s.close())
    // Registered and never heard from again; no worker runs to drop it.
    const client = standaloneClient()
    await registerNode(createRunner(client), new Namespace(ns), { nodeId: 'ghost', weight: 1, capacity: 2, queues: [] })
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(running.url)
    await p.waitForSelector('tr[data-node="ghost"] .stale', { timeout: 10_000 })
    const row = await p.$$eval('tr[data-node="ghost"] td', (cells) => cells.map((cell) => cell.textContent))
    expect([row[7], row[9]]).toEqual(['0.0%', 'stale'])
    expect(errors).toEqual([])
  })

  it('discovers namespaces with SCAN, leaving partitions out, and shows the first 50 by name', async () => {
    // A Redis of its own, so that the namespaces of other test files are not counted.
    const own = await startPrivate('standalone')
    cleanup.push(() => own.stop())
    const url = `redis://${own.servers[0]?.host}:${own.servers[0]?.port}`
    const split = await Scheduler.open({ connection: url, namespace: 'a-split', partitions: 3 })
    cleanup.push(() => split.close())
    const runner = createRunner(own.client())
    for (let i = 0; i < 51; i++) await init(runner, new Namespace(`b-${String(i).padStart(2, '0')}`), {})
    const running = await startDashboardProcess(['--url', url])
    cleanup.push(() => running.stop())
    const overview = async () =>
      (await (await fetch(`${running.url}api/overview`)).json()) as { namespaces: { name: string; partitions: number }[]; hidden: number }
    await waitFor('the namespaces to be listed', async () => (await overview()).namespaces.length > 0)
    const { namespaces, hidden } = await overview()
    expect(namespaces.map((entry) => entry.name)).toEqual(['a-split', ...Array.from({ length: 49 }, (_, i) => `b-${String(i).padStart(2, '0')}`)])
    expect(namespaces[0]?.partitions).toBe(3)
    expect(hidden).toBe(2)
    const { page: p, errors } = await page()
    await p.goto(running.url)
    expect(await p.textContent('#hidden')).toBe('2 more namespaces are not shown: name the ones to watch with --namespace.')
    expect(errors).toEqual([])
  })

  it.skipIf(clusterSkipReason !== undefined)('on a cluster, finds namespaces on every primary and shows a partitioned one', async () => {
    const seeds = (clusterInfo?.nodes ?? []).map((node) => `${node.host}:${node.port}`).join(',')
    const names = Array.from({ length: 6 }, () => randomNamespace('dash').name)
    const opened = await Promise.all(names.map((namespace, i) => Scheduler.open({ connection: `redis-cluster://${seeds}`, namespace, partitions: i === 0 ? 3 : 1 })))
    cleanup.push(() => Promise.all(opened.map((s) => s.close())))
    const s = opened[0] as Scheduler
    await s.enqueueBatch(Array.from({ length: 12 }, (_, i) => ({ id: `c-${i}`, payload: `${i}` })))
    const running = await startDashboardProcess(['--cluster', seeds, ...names.flatMap((name) => ['--namespace', name])])
    cleanup.push(() => running.stop())
    const { page: p, errors } = await page()
    await p.goto(running.url)
    await p.waitForSelector(`section.namespace[data-namespace="${names[0]}"] [data-count="ready"]`)
    const stats = await s.stats()
    expect(stats.partitions).toHaveLength(3)
    expect(stats.ready).toBe(12)
    await waitFor('the page to show 12 ready tasks', async () => (await shownCounts(p, names[0] as string)).ready === 12)
    const elsewhere = (await s.listTasks({ state: 'ready', limit: 100 })).tasks.find((task) => task.partition > 0)
    expect(elsewhere).toBeDefined()
    await p.goto(`${running.url}#/ns/${names[0]}/task/${elsewhere?.id}`)
    await p.waitForSelector(`#task[data-task-id="${elsewhere?.id}"]`)
    expect(await p.textContent('[data-field="partition"]')).toBe(String(elsewhere?.partition))
    expect(errors).toEqual([])
    // Discovery: every primary is scanned (six namespaces land on more than one of the three).
    const cluster = clusterClient()
    const found = await discoverNamespaces(cluster)
    expect(names.filter((name) => !found.includes(name))).toEqual([])
    expect(found.filter((name) => name.includes('/'))).toEqual([])
  })

  it('pages through the tasks of a state and finds a task by id', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    await s.enqueueBatch(Array.from({ length: 30 }, (_, i) => ({ id: `job-${String(i).padStart(2, '0')}`, payload: '' })))
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/tasks/ready`)
    await p.waitForSelector('tr[data-task]')
    const first = await p.$$eval('tr[data-task]', (rows) => rows.map((row) => row.getAttribute('data-task')))
    expect(first).toHaveLength(25)
    await p.click('button[data-next]')
    await p.waitForFunction(() => (globalThis as unknown as { document: DomQuery }).document.querySelectorAll('tr[data-task]').length === 5)
    const second = await p.$$eval('tr[data-task]', (rows) => rows.map((row) => row.getAttribute('data-task')))
    expect(new Set([...first, ...second]).size).toBe(30)
    await p.selectOption('#search-ns', ns)
    await p.fill('#search-id', 'job-07')
    await p.click('#search button')
    await p.waitForSelector('#task[data-task-id="job-07"]')
    expect(await p.textContent('[data-field="state"]')).toBe('ready')
    expect(errors).toEqual([])
  })

  it('shows values from Redis as text, and bytes that are not printable UTF-8 as hex', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    const payload = '<script>window.__pwned = 2</script><b>bold</b>'
    await s.enqueueBatch([
      { id: 'dead-html', payload, maxAttempts: 1 },
      { id: 'binary', payload: Buffer.from([0x00, 0xff, 0x10, 0x41]) },
    ])
    await worker(ns, { nodeId: 'n1' })
    await waitFor('the task to die', async () => (await s.getTask('dead-html'))?.state === 'dead')
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/dead-html`)
    await p.waitForSelector('#task[data-task-id="dead-html"]')
    expect(await p.textContent('#payload pre')).toBe(payload)
    expect(await p.textContent('[data-field="error"]')).toBe('<img src=x onerror="window.__pwned = 1">failed')
    expect(await p.$$eval('#task script, #task img, #task b', (found) => found.length)).toBe(0)
    await p.goto(`${running.url}#/ns/${ns}/task/binary`)
    await p.waitForSelector('#task[data-task-id="binary"]')
    expect(await p.getAttribute('#payload pre', 'data-encoding')).toBe('hex')
    expect(await p.textContent('#payload pre')).toBe('00ff1041')
    await p.waitForSelector('#result pre')
    expect(await p.textContent('#result pre')).toBe('done binary')
    expect(await p.evaluate('window.__pwned')).toBeUndefined()
    expect(errors).toEqual([])
  })

  it('draws a task’s dependencies and dependents as an SVG graph coloured by state', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    // a, b -> c -> d, e; e -> f. No worker: a and b stay ready, the others wait.
    await s.enqueueBatch([
      { id: 'a', payload: '' },
      { id: 'b', payload: '' },
    ])
    await s.enqueueBatch([
      { id: 'c', payload: '', dependsOn: ['a', 'b'] },
      { id: 'd', payload: '', dependsOn: ['c'] },
      { id: 'e', payload: '', dependsOn: ['c'] },
      { id: 'f', payload: '', dependsOn: ['e'] },
    ])
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/c`)
    await p.waitForSelector('svg [data-node-id]')
    const nodes = await p.$$eval('svg g.graph-node', (groups) =>
      Object.fromEntries(groups.map((group) => [group.getAttribute('data-node-id'), group.getAttribute('data-state')])),
    )
    expect(nodes).toEqual({ a: 'ready', b: 'ready', c: 'waiting', d: 'waiting', e: 'waiting', f: 'waiting' })
    const edges = await p.$$eval('svg line.graph-edge', (lines) => lines.map((line) => `${line.getAttribute('data-from')}>${line.getAttribute('data-to')}`).sort())
    expect(edges).toEqual(['a>c', 'b>c', 'c>d', 'c>e', 'e>f'])
    // Colour by state: the ready and the waiting nodes are filled differently.
    const fills = (await p.evaluate("[...new Set([...document.querySelectorAll('svg g.graph-node rect')].map((rect) => getComputedStyle(rect).fill))]")) as string[]
    expect(fills).toHaveLength(2)
    expect(errors).toEqual([])
  })

  it('follows a dependency into another partition and shows dependents elsewhere as their partition', async () => {
    const ns = randomNamespace('dash').name
    const s = await Scheduler.open({ connection: redisInfo.url, namespace: ns, partitions: 3 })
    cleanup.push(() => s.close())
    // Ids that route to partitions 1 and 2.
    const ids = (partition: number) => Array.from({ length: 200 }, (_, i) => `p${partition}-${i}`).find((id) => partitionOf(id, 3) === partition) as string
    const [parent, child] = [ids(1), ids(2)]
    await s.enqueue({ id: parent, payload: '' })
    await s.enqueue({ id: child, payload: '', dependsOn: [parent] })
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/${child}`)
    await p.waitForSelector('svg [data-node-id]')
    const nodes = await p.$$eval('svg g.graph-node', (groups) =>
      Object.fromEntries(groups.map((group) => [group.getAttribute('data-node-id'), group.getAttribute('data-state')])),
    )
    expect(nodes).toEqual({ [parent]: 'ready', [child]: 'waiting' })
    await p.goto(`${running.url}#/ns/${ns}/task/${parent}`)
    await p.waitForSelector(`#task[data-task-id="${parent}"]`)
    await p.waitForSelector('svg [data-node-id="partition 2"]')
    const edges = await p.$$eval('svg line.graph-edge', (lines) => lines.map((line) => `${line.getAttribute('data-from')}>${line.getAttribute('data-to')}`))
    expect(edges).toEqual([`${parent}>partition 2`])
    expect(errors).toEqual([])
  })

  it('with --allow-actions, retry clicked on a dead task makes it ready', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    await s.enqueue({ id: 'dead-once', payload: '', maxAttempts: 1, queue: 'flaky' })
    const w = await worker(ns, { nodeId: 'n1', queues: ['flaky'] })
    await waitFor('the task to die', async () => (await s.getTask('dead-once'))?.state === 'dead')
    await w.stop()
    const running = await dashboard('--namespace', ns, '--allow-actions')
    // Not from the page: without its header, or from another origin, an action is refused.
    const body = JSON.stringify({ ns, id: 'dead-once' })
    const plain = await fetch(`${running.url}api/actions/retry`, { method: 'POST', body })
    const foreign = await fetch(`${running.url}api/actions/retry`, {
      method: 'POST',
      body,
      headers: { 'X-Taskmill-Action': '1', Origin: 'http://evil.example' },
    })
    expect([plain.status, foreign.status]).toEqual([403, 403])
    expect((await s.getTask('dead-once'))?.state).toBe('dead')
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/dead-once`)
    await p.waitForSelector('#task[data-task-id="dead-once"]')
    expect(await p.textContent('[data-field="state"]')).toBe('dead')
    await p.click('button[data-action="retry"]')
    await p.waitForFunction(() => (globalThis as unknown as { document: DomQuery }).document.querySelector('[data-field="state"]')?.textContent === 'ready')
    expect(await p.textContent('#action-message')).toBe('retry: ready')
    expect((await s.getTask('dead-once'))?.state).toBe('ready')
    expect(errors).toEqual([])
  })

  it('read-only, it offers no action and answers an action request 403, changing nothing', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    await s.enqueue({ id: 'dead-stays', payload: '', maxAttempts: 1, queue: 'flaky' })
    const w = await worker(ns, { nodeId: 'n1', queues: ['flaky'] })
    await waitFor('the task to die', async () => (await s.getTask('dead-stays'))?.state === 'dead')
    await w.stop()
    const running = await dashboard('--namespace', ns)
    const { page: p } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/dead-stays`)
    await p.waitForSelector('#task[data-task-id="dead-stays"]')
    expect(await p.$$('button[data-action]')).toHaveLength(0)
    // The request the page would send, from the page itself.
    const status = await p.evaluate(async (body) => {
      const response = await fetch('/api/actions/retry', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Taskmill-Action': '1' },
        body,
      })
      return [response.status, ((await response.json()) as { error: string }).error]
    }, JSON.stringify({ ns, id: 'dead-stays' }))
    expect(status).toEqual([403, expect.stringMatching(/^read-only dashboard/)])
    expect((await s.getTask('dead-stays'))?.state).toBe('dead')
  })

  it('with --allow-actions, pause clicked holds a queue\'s tasks ready beside a free node, and resume clicked dispatches them', async () => {
    const ns = randomNamespace('dash').name
    // A long node timeout: the node below never sends a heartbeat, and must not fall silent (a third of it) during the test.
    const s = await Scheduler.open({ connection: redisInfo.url, namespace: ns, config: { nodeTimeoutMs: 120_000 } })
    cleanup.push(() => s.close())
    // A node registered by the script and never polling: what is dispatched to it stays assigned.
    const client = standaloneClient()
    await registerNode(createRunner(client), new Namespace(ns), { nodeId: 'free-node', weight: 1, capacity: 4, queues: [] })
    const running = await dashboard('--namespace', ns, '--allow-actions')
    const { page: p, errors } = await page()
    await p.goto(running.url)
    const card = `section.namespace[data-namespace="${ns}"]`
    await p.waitForSelector(`${card} form.pause-form`)
    // A name enqueue would refuse is refused by the page, and by the server.
    await p.fill(`${card} input.pause-name`, 'bad name!')
    await p.click(`${card} form.pause-form button`)
    await p.waitForSelector(`${card} .queue-message.error`)
    const bad = await fetch(`${running.url}api/actions/pause-queue`, {
      method: 'POST',
      headers: { 'X-Taskmill-Action': '1' },
      body: JSON.stringify({ ns, queue: 'bad name!' }),
    })
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([400, 'queue: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -'])
    expect((await s.stats()).pausedQueues).toEqual([])

    await p.fill(`${card} input.pause-name`, 'mail')
    await p.click(`${card} form.pause-form button`)
    await waitFor('stats to show the queue paused', async () => (await s.stats()).pausedQueues.includes('mail'))
    await p.waitForSelector(`${card} [data-paused-queue="mail"] button[data-resume="mail"]`)
    await s.enqueue({ id: 'm1', payload: '', queue: 'mail' })
    await s.enqueue({ id: 'other', payload: '', queue: 'default' })
    // Another queue's task goes to the node, so the node is free and taking work.
    await waitFor('the other queue\'s task to be assigned', async () => (await s.getTask('other'))?.state === 'assigned')
    expect((await s.getTask('m1'))?.state).toBe('ready')
    expect((await s.stats()).nodes.find((node) => node.id === 'free-node')?.inflight).toBe(1)

    await p.click(`${card} button[data-resume="mail"]`)
    await waitFor('the paused task to be dispatched', async () => (await s.getTask('m1'))?.state === 'assigned')
    expect((await s.stats()).pausedQueues).toEqual([])
    await p.waitForSelector(`${card} .queues[data-paused-queues=""]`)
    expect(await p.textContent(`${card} .queue-message`)).toBe('mail: resumed')
    expect(errors).toEqual([])
  })

  it('read-only, it shows paused queues without buttons and answers pause and resume 403, changing nothing', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    await s.pauseQueue('held')
    const running = await dashboard('--namespace', ns)
    const { page: p } = await page()
    await p.goto(running.url)
    const card = `section.namespace[data-namespace="${ns}"]`
    await p.waitForSelector(`${card} [data-paused-queue="held"]`)
    expect(await p.$$(`${card} .queues button, ${card} .queues form`)).toHaveLength(0)
    const statuses = await p.evaluate(async (body) => {
      const out: number[] = []
      for (const name of ['pause-queue', 'resume-queue']) {
        const response = await fetch('/api/actions/' + name, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Taskmill-Action': '1' },
          body: JSON.stringify({ ...JSON.parse(body), queue: name === 'pause-queue' ? 'other' : 'held' }),
        })
        out.push(response.status)
      }
      return out
    }, JSON.stringify({ ns }))
    expect(statuses).toEqual([403, 403])
    expect((await s.stats()).pausedQueues).toEqual(['held'])
  })

  it('serves /metrics for two namespaces with one HELP and TYPE per metric and each namespace\'s own values', async () => {
    const [a, b] = [randomNamespace('dash').name, randomNamespace('dash').name]
    const sa = await scheduler(a)
    const sb = await scheduler(b)
    await sa.enqueueBatch(Array.from({ length: 3 }, (_, i) => ({ id: `a-${i}`, payload: '' })))
    await sb.enqueueBatch([
      { id: 'b-0', payload: '' },
      { id: 'b-later', payload: '', runAt: Date.now() + 3_600_000 },
    ])
    await sb.pauseQueue('slow')
    const client = standaloneClient()
    await registerNode(createRunner(client), new Namespace(b), { nodeId: 'b-node', weight: 1, capacity: 7, queues: ['elsewhere'] })
    // Read-only: /metrics is a read.
    const running = await dashboard('--namespace', a, '--namespace', b)
    const response = await fetch(`${running.url}metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await response.text()
    for (const name of new Set([...text.matchAll(/^# (?:HELP|TYPE) (\S+)/gm)].map((match) => match[1]))) {
      expect(text.match(new RegExp(`^# HELP ${name} `, 'gm'))).toHaveLength(1)
      expect(text.match(new RegExp(`^# TYPE ${name} `, 'gm'))).toHaveLength(1)
    }
    const families = parsePrometheus(text)
    for (const [ns, s] of [[a, sa], [b, sb]] as const) {
      const stats = await s.stats()
      for (const state of STATES) expect(valueOf(families, 'taskmill_tasks', { namespace: ns, state })).toBe(stats[state])
      expect(valueOf(families, 'taskmill_tasks_completed_total', { namespace: ns })).toBe(stats.completedTotal)
      expect(valueOf(families, 'taskmill_attempts_failed_total', { namespace: ns })).toBe(stats.failedTotal)
      const paused = (families.get('taskmill_queue_paused')?.samples ?? []).filter((sample) => sample.labels.namespace === ns)
      expect(paused.map((sample) => sample.labels.queue)).toEqual(stats.pausedQueues)
      for (const node of stats.nodes) expect(valueOf(families, 'taskmill_node_capacity', { namespace: ns, node: node.id })).toBe(node.capacity)
    }
    expect(valueOf(families, 'taskmill_tasks', { namespace: a, state: 'ready' })).toBe(3)
    expect(valueOf(families, 'taskmill_tasks', { namespace: b, state: 'delayed' })).toBe(1)
    expect(valueOf(families, 'taskmill_node_capacity', { namespace: b, node: 'b-node' })).toBe(7)
  })

  it('shows a task\'s reported progress, laid out as JSON when it is JSON and as text otherwise', async () => {
    const ns = randomNamespace('dash').name
    const s = await scheduler(ns)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    const started = await Worker.start({
      connection: redisInfo.url,
      namespace: ns,
      nodeId: 'reporter',
      heartbeatIntervalMs: 200,
      handler: async (task) => {
        await task.progress(task.id === 'json' ? { step: 2, of: 5, note: '<b>x</b>' } : '<i>half</i> way')
        await held
        return 'ok'
      },
    })
    cleanup.push(() => started.stop())
    // Run before the stop above (cleanup runs last first), which waits for the handlers.
    cleanup.push(async () => release())
    await s.enqueueBatch([
      { id: 'json', payload: '' },
      { id: 'text', payload: '' },
    ])
    await waitFor('both to report', async () => (await s.getTask('json'))?.progress !== undefined && (await s.getTask('text'))?.progress !== undefined)
    const running = await dashboard('--namespace', ns)
    const { page: p, errors } = await page()
    await p.goto(`${running.url}#/ns/${ns}/task/json`)
    await p.waitForSelector('#task[data-task-id="json"] #progress pre')
    expect(await p.getAttribute('#progress pre', 'data-kind')).toBe('json')
    expect(await p.textContent('#progress pre')).toBe(JSON.stringify({ step: 2, of: 5, note: '<b>x</b>' }, null, 2))
    await p.goto(`${running.url}#/ns/${ns}/task/text`)
    await p.waitForSelector('#task[data-task-id="text"] #progress pre')
    expect(await p.getAttribute('#progress pre', 'data-kind')).toBe('text')
    expect(await p.textContent('#progress pre')).toBe('<i>half</i> way')
    expect(await p.$$eval('#task b, #task i', (found) => found.length)).toBe(0)
    expect(errors).toEqual([])
  })

  it('draws throughput from live work and saves the README screenshot', async () => {
    // The README's namespace, on a Redis of its own (other test files use that name too).
    const own = await startPrivate('standalone')
    cleanup.push(() => own.stop())
    const url = `redis://${own.servers[0]?.host}:${own.servers[0]?.port}`
    const ns = 'etl'
    const etl = await Scheduler.open({ connection: url, namespace: ns })
    cleanup.push(() => etl.close())
    await worker(ns, { nodeId: 'worker-a', weight: 2, delayMs: 40, url })
    await worker(ns, { nodeId: 'worker-b', weight: 1, delayMs: 40, url })
    let round = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        const r = round++
        await etl.enqueueBatch([
          ...Array.from({ length: 8 }, (_, i) => ({ id: `r${r}-${i}`, payload: `{"row":${i}}` })),
          ...(r % 3 === 0 ? [{ id: `dead-r${r}`, payload: '{}', maxAttempts: 1 }] : []),
          { id: `r${r}-report`, payload: '{}', dependsOn: [`r${r}-0`, `r${r}-1`] },
          { id: `r${r}-later`, payload: '{}', runAt: Date.now() + 3_600_000 },
        ])
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    })()
    cleanup.push(async () => {
      producing = false
      await producer
    })
    // A paused queue with tasks waiting in it, as the picture shows one.
    await etl.pauseQueue('exports')
    await etl.enqueueBatch(Array.from({ length: 4 }, (_, i) => ({ id: `export-${i}`, payload: '{}', queue: 'exports' })))
    const running = await startDashboardProcess(['--url', url, '--allow-actions'])
    cleanup.push(() => running.stop())
    const { page: p, errors } = await page()
    await p.setViewportSize({ width: 1280, height: 430 })
    await p.goto(running.url)
    await p.waitForSelector('tr[data-node="worker-b"]')
    await waitFor(
      'the chart to show completions for a few seconds',
      async () => (await p.$$eval('polyline[data-series="completed"]', (lines) => lines[0]?.getAttribute('points')?.split(' ').length ?? 0)) >= 15,
      30_000,
    )
    const legend = await p.textContent('.chart .legend')
    expect(Number(/completed ([\d.]+)\/s/.exec(legend ?? '')?.[1])).toBeGreaterThan(0)
    await p.waitForSelector('[data-paused-queue="exports"]')
    // Written to docs/ only when asked (see the top of this file), so a run leaves the tree clean.
    const target = process.env.TASKMILL_SCREENSHOT
    const dir = mkdtempSync(join(tmpdir(), 'taskmill-screenshot-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    const path = target ? (isAbsolute(target) ? target : join(ROOT, target)) : join(dir, 'dashboard.png')
    await p.screenshot({ path })
    const png = readFileSync(path)
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    // The IHDR chunk: width and height of the picture, the viewport's.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 430])
    expect(png.length).toBeGreaterThan(20_000)
    expect(errors).toEqual([])
  }, 60_000)
})
