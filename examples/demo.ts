/**
 * `npm run demo`: three worker nodes with weights 5, 3 and 1 run a dependency graph of 2,802
 * tasks with fan-out, fan-in, priorities, retries and a task that dies (its dependents follow
 * their failure rule). Prints progress while it runs, then the share of each node and the
 * checks it made. Uses REDIS_URL when set, else starts its own redis-server, and stops
 * everything it started.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Scheduler, type TaskInfo, type TaskInput } from '../client/index.js'
import { startRedis } from '../devtools/redis-server.js'

const NODES = [
  { id: 'node-a', weight: 5 },
  { id: 'node-b', weight: 3 },
  { id: 'node-c', weight: 1 },
]
/** Each slot takes one task at a time; capacity follows weight, as a bigger machine's would. */
const SLOTS_PER_WEIGHT = 2
const WORK_MS = 20

function buildGraph(): TaskInput[] {
  const retry = { type: 'fixed' as const, delayMs: 100 }
  const tasks: TaskInput[] = [{ id: 'ingest', priority: 10 }]
  for (let i = 0; i < 2000; i++) {
    const payload: Record<string, unknown> = {}
    if (i === 7) payload.failAttempts = 1
    if (i === 77) payload.failAttempts = 2
    if (i === 123) payload.alwaysFail = true
    tasks.push({
      id: `parse-${i}`,
      dependsOn: ['ingest'],
      priority: i < 200 ? 5 : 0,
      payload: JSON.stringify(payload),
      maxAttempts: i === 123 ? 2 : 3,
      backoff: retry,
    })
  }
  for (let j = 0; j < 200; j++) {
    const parts = Array.from({ length: 10 }, (_, k) => `parse-${j * 10 + k}`)
    tasks.push({ id: `agg-${j}`, dependsOn: parts, priority: 1 })
  }
  tasks.push({
    id: 'report',
    dependsOn: Array.from({ length: 200 }, (_, j) => `agg-${j}`),
    onDependencyFailure: 'run',
  })
  for (let i = 0; i < 600; i++) {
    tasks.push({
      id: `audit-${i}`,
      priority: -5,
      delayMs: i % 100 === 0 ? 500 : 0,
      payload: JSON.stringify(i === 3 ? { failAttempts: 1 } : {}),
      backoff: retry,
    })
  }
  // Shuffled: the result must not depend on the order tasks arrive in.
  for (let i = tasks.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[tasks[i], tasks[j]] = [tasks[j] as TaskInput, tasks[i] as TaskInput]
  }
  return tasks
}

function startNode(url: string, namespace: string, node: { id: string; weight: number }): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL('./demo-worker.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      DEMO_REDIS_URL: url,
      DEMO_NAMESPACE: namespace,
      DEMO_NODE_ID: node.id,
      DEMO_WEIGHT: String(node.weight),
      DEMO_CAPACITY: String(node.weight * SLOTS_PER_WEIGHT),
      DEMO_WORK_MS: String(WORK_MS),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`worker ${node.id} exited with code ${code} before it was ready`)))
  })
}

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? []
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '))
    .join('\n')
}

async function main(): Promise<void> {
  const redis = await startRedis()
  const namespace = `demo-${randomBytes(3).toString('hex')}`
  console.log(`taskmill demo · Redis ${redis.url} (${redis.source}) · namespace ${namespace}`)
  const children: ChildProcess[] = []
  const scheduler = await Scheduler.open({
    connection: redis.url,
    namespace,
    config: { strategy: 'weighted', nodeTimeoutMs: 3000, keepCompletedCount: 0, keepCompletedMs: 0 },
  })
  let failed = false
  try {
    for (const node of NODES) children.push(await startNode(redis.url, namespace, node))
    console.log(`started ${NODES.length} worker processes: ${NODES.map((n) => `${n.id} (weight ${n.weight})`).join(', ')}`)

    const graph = buildGraph()
    const began = Date.now()
    await scheduler.enqueueBatch(graph)
    console.log(`enqueued ${graph.length} tasks in one atomic call`)

    let lastLine = 0
    for (;;) {
      const s = await scheduler.stats()
      const finished = s.completed + s.dead + s.canceled
      const elapsed = ((Date.now() - began) / 1000).toFixed(1).padStart(5)
      const line =
        `[${elapsed}s] ${String(finished).padStart(4)}/${graph.length} finished · completed ${s.completed} · dead ${s.dead} · ` +
        `running ${s.running} · ready ${s.ready} · waiting ${s.waiting} · retrying ${s.retrying}`
      // A terminal gets one line rewritten in place; a log gets a line a second.
      if (process.stdout.isTTY) process.stdout.write(`\r${line}   `)
      else if (Date.now() - lastLine >= 1000 || finished === graph.length) {
        console.log(line)
        lastLine = Date.now()
      }
      if (finished === graph.length) break
      if (Date.now() - began > 120_000) throw new Error('the graph did not finish within two minutes')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    console.log(process.stdout.isTTY ? '\n' : '')

    const stats = await scheduler.stats()
    const totalCompleted = stats.nodes.reduce((sum, { completed }) => sum + completed, 0)
    const totalWeight = NODES.reduce((sum, n) => sum + n.weight, 0)
    const rows = [['node', 'weight', 'capacity', 'expected share', 'actual share', 'completed', 'failed attempts']]
    for (const { id, weight, capacity, completed, failed: failedAttempts } of stats.nodes) {
      rows.push([
        id,
        String(weight),
        String(capacity),
        `${((100 * weight) / totalWeight).toFixed(1)}%`,
        `${((100 * completed) / totalCompleted).toFixed(1)}%`,
        String(completed),
        String(failedAttempts),
      ])
    }
    console.log(pad(rows))

    const tasks = new Map<string, TaskInfo>()
    const ids = graph.map((t) => t.id as string)
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = await Promise.all(ids.slice(i, i + 200).map((id) => scheduler.getTask(id)))
      for (const task of chunk) if (task) tasks.set(task.id, task)
    }
    const checks: [string, boolean][] = []
    const final = [...tasks.values()].every((t) => ['completed', 'dead', 'canceled'].includes(t.state))
    checks.push([`every one of ${graph.length} tasks reached a final state`, final && tasks.size === graph.length])
    let violations = 0
    for (const task of tasks.values()) {
      if (task.state !== 'completed') continue
      for (const dependency of task.dependsOn) {
        const parent = tasks.get(dependency)
        if (!parent || (parent.finishedAt ?? Infinity) > (task.startedAt ?? 0)) violations++
      }
    }
    checks.push([`dependency order never violated (${violations} violations)`, violations === 0])
    const stateOf = (id: string) => tasks.get(id)?.state
    checks.push(['parse-123 died after 2 attempts', stateOf('parse-123') === 'dead' && tasks.get('parse-123')?.attempts === 2])
    checks.push([
      'agg-12 failed with "dependency failed"',
      stateOf('agg-12') === 'dead' && tasks.get('agg-12')?.reason === 'dependency failed',
    ])
    checks.push(['report ran anyway (onDependencyFailure: run)', stateOf('report') === 'completed'])
    checks.push([
      'parse-7, parse-77 and audit-3 completed after retries',
      tasks.get('parse-7')?.attempts === 2 && tasks.get('parse-77')?.attempts === 3 && tasks.get('audit-3')?.attempts === 2,
    ])
    const shareError = Math.max(
      ...stats.nodes.map(({ weight, completed }) => Math.abs(completed / totalCompleted - weight / totalWeight)),
    )
    checks.push([`node shares within 5 points of the weights (worst ${(100 * shareError).toFixed(1)} points)`, shareError <= 0.05])
    console.log('')
    for (const [label, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'}  ${label}`)
    failed = checks.some(([, ok]) => !ok)
    console.log(`\n${failed ? 'demo FAILED' : 'demo passed'} in ${((Date.now() - began) / 1000).toFixed(1)} s`)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once('exit', resolve)))))
    await scheduler.close()
    await redis.stop()
  }
  if (failed) process.exitCode = 1
}

await main()
