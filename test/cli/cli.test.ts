/**
 * The `taskmill` command, run from source as a child process (see `run-cli.ts`).
 *
 * `scripts` and `load` are checked against a redis-server of this file's own, started empty, so
 * "the SHA the CLI prints is what SCRIPT LOAD returns" is shown on a script cache nothing else
 * has touched. `stats` and `task` use the run's shared Redis, each test in a random namespace.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { readPartitionTable, type PartitionTable } from '../../client/partitions.js'
import { allScripts, registerNode, type StatsReply } from '../../loader/generated/scripts.js'
import {
  clusterInfo,
  clusterSkipReason,
  dumpNamespace,
  openClient,
  openCluster,
  randomNamespace,
  redisInfo,
} from '../support/context.js'
import { findExecutable, spawnRedisServer, type SpawnedRedis } from '../../devtools/redis-server.js'
import { partitionOf } from '../../loader/routing.js'
import { runCli } from './run-cli.js'
import { parsePrometheus, valueOf } from '../support/prometheus.js'

/** The row of `scripts` (or `load`) for one script: its line of the table. */
function rowOf(stdout: string, name: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(`${name} `))
}

describe('taskmill scripts', () => {
  it('lists every script with its version, read-only flag and SHA', async () => {
    const { code, stdout } = await runCli(['scripts'])
    expect(code).toBe(0)
    for (const script of allScripts) {
      const row = rowOf(stdout, script.name)
      expect(row, `no row for ${script.name}`).toBeDefined()
      expect(row!.split(/\s+/).slice(0, 4)).toEqual([script.name, `v${script.version}`, script.readOnly ? 'yes' : 'no', script.sha])
    }
  })

  it('shows KEYS in order and ARGV with optional arguments and groups marked', async () => {
    const { stdout } = await runCli(['scripts'])
    // Wrapped cells continue on the lines below a row; join a row with its continuation lines.
    const lines = stdout.split('\n')
    const start = lines.findIndex((line) => line.startsWith('enqueue '))
    let end = start + 1
    while (lines[end]?.startsWith(' ')) end++
    const text = lines.slice(start, end).join(' ').replace(/\s+/g, ' ')
    expect(text).toContain('meta task ready ready-by-queue')
    expect(text).toContain('tasks…(id payload priority? delayMs?')
  })

  it('--json prints the manifest', async () => {
    const { code, stdout } = await runCli(['scripts', '--json'])
    expect(code).toBe(0)
    const manifest = JSON.parse(stdout) as { scripts: { name: string; sha: string }[] }
    expect(manifest.scripts.map((script) => [script.name, script.sha])).toEqual(
      allScripts.map((script) => [script.name, script.sha]),
    )
  })

  it('shows one script with its key patterns and a redis-cli line', async () => {
    const { code, stdout } = await runCli(['scripts', 'get-task', '--namespace', 'jobs'])
    expect(code).toBe(0)
    const getTask = allScripts.find((script) => script.name === 'get-task')!
    expect(stdout).toContain('tm:{<namespace>}:meta')
    expect(stdout).toContain(`redis-cli EVALSHA_RO ${getTask.sha} 3 tm:{jobs}:meta tm:{jobs}:task tm:{jobs}:deps <id>`)
  })

  it('refuses an unknown script name, listing the real ones', async () => {
    const { code, stderr } = await runCli(['scripts', 'no-such-script'])
    expect(code).toBe(1)
    expect(stderr).toContain('no script named "no-such-script"')
    expect(stderr).toContain('enqueue')
  })
})

describe('taskmill scripts and load on a fresh redis-server', () => {
  const executable = findExecutable('redis-server')
  const it_ = it.skipIf(executable === undefined)
  let server: SpawnedRedis
  let client: Redis

  beforeAll(async () => {
    if (executable === undefined) return
    server = await spawnRedisServer(executable, [])
    client = openClient(server.url)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it_('prints the SHAs that SCRIPT LOAD returns', async () => {
    const { stdout } = await runCli(['scripts'])
    const printed = allScripts.map((script) => rowOf(stdout, script.name)!.split(/\s+/)[3])
    expect(await client.script('EXISTS', ...allScripts.map((script) => script.sha))).toEqual(allScripts.map(() => 0))
    const loaded: unknown[] = []
    for (const script of allScripts) loaded.push(await client.script('LOAD', script.source))
    expect(printed).toEqual(loaded)
    await client.script('FLUSH')
  })

  it_('load --url loads every script, prints every SHA and exits 0', async () => {
    expect(await client.script('EXISTS', ...allScripts.map((script) => script.sha))).toEqual(allScripts.map(() => 0))
    const { code, stdout, stderr } = await runCli(['load', '--url', server.url])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    for (const script of allScripts) {
      expect(rowOf(stdout, script.name)?.split(/\s+/)).toEqual([script.name, `v${script.version}`, script.sha, 'loaded'])
    }
    expect(stdout).toContain(`All ${allScripts.length} scripts loaded`)
    expect(await client.script('EXISTS', ...allScripts.map((script) => script.sha))).toEqual(allScripts.map(() => 1))
  })
})

describe('taskmill load failures', () => {
  it('exits 1 and says what to do when Redis cannot be reached', async () => {
    const { code, stdout, stderr } = await runCli(['load', '--url', 'redis://127.0.0.1:1'])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain('cannot reach Redis at redis://127.0.0.1:1')
    expect(stderr).toMatch(/ECONNREFUSED/)
    expect(stderr).toContain('is redis-server running there? pass --url')
  })

  it('falls back to $REDIS_URL, and names it in the message', async () => {
    const { code, stderr } = await runCli(['load'], { REDIS_URL: 'redis://127.0.0.1:1' })
    expect(code).toBe(1)
    expect(stderr).toContain('cannot reach Redis at redis://127.0.0.1:1')
  })

  it.skipIf(clusterSkipReason !== undefined)('load --cluster loads on every primary', async () => {
    const seeds = clusterInfo!.nodes.map((node) => `${node.host}:${node.port}`)
    const { code, stdout } = await runCli(['load', '--cluster', seeds[0]!])
    expect(code).toBe(0)
    expect(stdout).toMatch(/on 3 primaries/)
    for (const node of clusterInfo!.nodes) {
      const direct = openClient(`redis://${node.host}:${node.port}`)
      expect(await direct.script('EXISTS', ...allScripts.map((script) => script.sha))).toEqual(allScripts.map(() => 1))
    }
  })
})

describe('taskmill stats and task', () => {
  it('stats prints counts per state and a row per node', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    try {
      await scheduler.enqueueBatch([
        { id: 'a', payload: 'first' },
        { id: 'b', payload: 'second' },
        { id: 'c', payload: 'third' },
        { id: 'later', delayMs: 3_600_000 },
      ])
      // A node with room for two takes two of the three ready tasks when it registers.
      await registerNode(createRunner(openClient(redisInfo.url)), namespace, {
        nodeId: 'cli-node',
        weight: 3,
        capacity: 2,
        queues: ['default', 'mail'],
      })
    } finally {
      await scheduler.close()
    }

    const { code, stdout, stderr } = await runCli(['stats', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const count = (state: string): string | undefined =>
      stdout.split('\n').find((line) => line.startsWith(`${state} `))?.split(/\s+/)[1]
    expect([count('ready'), count('assigned'), count('delayed'), count('completed'), count('total')]).toEqual(['1', '2', '1', '0', '4'])
    const node = stdout.split('\n').find((line) => line.startsWith('cli-node '))
    expect(node).toMatch(/^cli-node\s+3\s+2\s+2\s+0\s+0\s+\S+ ago\s+live\s+default mail$/)
    expect(stdout).toMatch(/NODE\s+WEIGHT\s+CAPACITY\s+IN FLIGHT\s+COMPLETED\s+FAILED\s+LAST HEARTBEAT\s+STATUS\s+QUEUES/)
    expect(stdout).toContain('Completed since creation: 0\nFailed attempts since creation: 0\nPaused queues: none\n')
  })

  it('stats marks a node stale past the node timeout and lists the paused queues', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, config: { nodeTimeoutMs: 10_000 } })
    await scheduler.close()
    const redis = openClient(redisInfo.url)
    const runner = createRunner(redis)
    await registerNode(runner, namespace, { nodeId: 'quiet', capacity: 1, queues: [] })
    await registerNode(runner, namespace, { nodeId: 'talks', capacity: 1, queues: [] })
    const [seconds] = await redis.time()
    await redis.zadd(namespace.key('seen'), Number(seconds) * 1000 - 60_000, 'quiet')
    await redis.hset(namespace.key('meta'), 'pausedQueues', 'emails,reports')
    const { code, stdout } = await runCli(['stats', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(0)
    expect(stdout.split('\n').find((line) => line.startsWith('quiet '))).toMatch(/\s1m \d+s ago\s+stale\s+\(all\)$/)
    expect(stdout.split('\n').find((line) => line.startsWith('talks '))).toMatch(/ ago\s+live\s+\(all\)$/)
    expect(stdout).toContain('Paused queues: emails reports\n')
  })

  it('metrics prints Prometheus text with the figures of stats', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    try {
      await scheduler.enqueueBatch([{ id: 'a', queue: 'emails' }, { id: 'b' }, { id: 'c', delayMs: 3_600_000 }])
      await registerNode(createRunner(openClient(redisInfo.url)), namespace, { nodeId: 'n1', capacity: 1, queues: [] })
      const { code, stdout, stderr } = await runCli(['metrics', '--url', redisInfo.url, '--namespace', namespace.name])
      expect([code, stderr]).toEqual([0, ''])
      // The same text as the Scheduler's, but for the age of the ready task, read a moment apart.
      const withoutAge = (text: string) => text.replace(/^taskmill_oldest_ready_task_age_seconds\{.*$/m, '')
      expect(withoutAge(stdout)).toBe(withoutAge(await scheduler.metrics()))
      const families = parsePrometheus(stdout)
      const stats = await scheduler.stats()
      const ns = { namespace: namespace.name }
      expect(['ready', 'assigned', 'delayed'].map((state) => valueOf(families, 'taskmill_tasks', { ...ns, state }))).toEqual([
        stats.ready,
        stats.assigned,
        stats.delayed,
      ])
      expect(valueOf(families, 'taskmill_node_capacity', { ...ns, node: 'n1' })).toBe(1)
      expect(valueOf(families, 'taskmill_queue_tasks', { ...ns, queue: 'emails', state: 'assigned' })).toBe(1)
    } finally {
      await scheduler.close()
    }
  })

  it('metrics on a namespace nobody opened says so and exits 1', async () => {
    const namespace = randomNamespace('cli')
    const { code, stderr } = await runCli(['metrics', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(1)
    expect(stderr).toContain(`namespace "${namespace.name}" does not exist`)
  })

  it('stats --json prints the script reply', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    await scheduler.enqueue({ id: 'one' })
    await scheduler.close()
    const { code, stdout } = await runCli(['stats', '--json', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ strategy: 'weighted', ready: 1, nodes: [] })
  })

  it('stats on a namespace nobody opened says so and exits 1', async () => {
    const namespace = randomNamespace('cli')
    const { code, stderr } = await runCli(['stats', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(1)
    expect(stderr).toContain(`namespace "${namespace.name}" does not exist`)
  })

  it('task shows state, attempts, timestamps and the payload as text or hex', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    try {
      await scheduler.enqueue({ id: 'text', payload: 'hello\nworld', priority: 5 })
      await scheduler.enqueue({ id: 'binary', payload: Buffer.from([0, 1, 0xfe, 0xff]) })
      await scheduler.enqueue({ id: 'long', payload: 'x'.repeat(1000) })
    } finally {
      await scheduler.close()
    }
    const base = ['task', '--url', redisInfo.url, '--namespace', namespace.name]

    const text = await runCli([...base, 'text'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^state\s+ready$/m)
    expect(text.stdout).not.toMatch(/^partition/m)
    expect(text.stdout).toMatch(/^priority\s+5$/m)
    expect(text.stdout).toMatch(/^attempts\s+0 of 3$/m)
    expect(text.stdout).toMatch(/^enqueued\s+\d{4}-\d\d-\d\dT.*Z \(.* ago\)$/m)
    expect(text.stdout).toMatch(/^payload\s+hello\\nworld \(11 bytes, text\)$/m)

    const binary = await runCli([...base, 'binary'])
    expect(binary.stdout).toMatch(/^payload\s+00 01 fe ff \(4 bytes, hex\)$/m)

    const long = await runCli([...base, '--max-bytes', '10', 'long'])
    expect(long.stdout).toMatch(/^payload\s+x{10}… \(1000 bytes, text\)$/m)

    const missing = await runCli([...base, 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no task "nope"')
  })
})

/** `count` task ids that the table routes to partition `index`. */
function idsIn(table: PartitionTable, index: number, count: number, prefix: string): string[] {
  const ids: string[] = []
  for (let i = 0; ids.length < count; i++) {
    if (table.route(`${prefix}-${i}`).partition === index) ids.push(`${prefix}-${i}`)
  }
  return ids
}

/** The cells of the table row whose first cell is `first`. */
function cellsOf(stdout: string, first: string): string[] | undefined {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/))
    .find((cells) => cells[0] === first)
}

/**
 * A namespace of three partitions holding 2, 3 and 5 tasks (one of them delayed, in partition
 * 2), with a node registered in each partition with capacity 1, 2 and 3 (so it holds 1, 2 and
 * 3 tasks), a few milliseconds apart so its heartbeats differ.
 */
async function partitionedNamespace(connection: string, redis: Redis | ReturnType<typeof openCluster>) {
  const namespace = randomNamespace('cli')
  const scheduler = await Scheduler.open({ connection, namespace: namespace.name, partitions: 3 })
  const table = scheduler.partitions
  try {
    for (const [index, count] of [2, 3, 4].entries()) {
      for (const id of idsIn(table, index, count, 'task')) await scheduler.enqueue({ id, payload: id })
    }
    await scheduler.enqueue({ id: idsIn(table, 2, 1, 'later')[0]!, delayMs: 3_600_000 })
    const runner = createRunner(redis)
    for (const partition of table.all) {
      await registerNode(runner, partition, { nodeId: 'cli-node', weight: 3, capacity: partition.partition + 1 })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  } finally {
    await scheduler.close()
  }
  return { namespace, table }
}

describe('taskmill stats and task on a partitioned namespace', () => {
  it('stats adds the partitions up, then shows each partition', async () => {
    const { namespace, table } = await partitionedNamespace(redisInfo.url, openClient(redisInfo.url))
    const { code, stdout, stderr } = await runCli(['stats', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain(`Namespace ${namespace.name} on Redis at ${redisInfo.url}, dispatch strategy weighted, 3 partitions\n`)
    const count = (state: string): string | undefined => cellsOf(stdout, state)?.[1]
    expect([count('ready'), count('assigned'), count('delayed'), count('total')]).toEqual(['3', '6', '1', '10'])
    // Capacity and tasks in flight summed over the three partitions.
    expect(cellsOf(stdout, 'cli-node')?.slice(0, 6)).toEqual(['cli-node', '3', '6', '6', '0', '0'])

    expect(stdout).toMatch(/^PARTITION\s+TAG\s+WAITING\s+DELAYED\s+READY\s+ASSIGNED\s+RUNNING\s+RETRYING\s+COMPLETED\s+DEAD\s+CANCELED\s+TOTAL$/m)
    const tags = table.all.map((partition) => partition.tag)
    expect(cellsOf(stdout, '0')).toEqual(['0', tags[0], '0', '0', '1', '1', '0', '0', '0', '0', '0', '2'])
    expect(cellsOf(stdout, '1')).toEqual(['1', tags[1], '0', '0', '1', '2', '0', '0', '0', '0', '0', '3'])
    expect(cellsOf(stdout, '2')).toEqual(['2', tags[2], '0', '1', '1', '3', '0', '0', '0', '0', '0', '5'])
  })

  it('stats --json gives the added-up reply and each partition\'s', async () => {
    const { namespace, table } = await partitionedNamespace(redisInfo.url, openClient(redisInfo.url))
    const { code, stdout } = await runCli(['stats', '--json', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(0)
    const reply = JSON.parse(stdout) as StatsReply & { partitions: (StatsReply & { partition: number; tag: string })[] }
    expect(reply).toMatchObject({ ready: 3, assigned: 6, delayed: 1 })
    expect(reply.partitions.map((each) => [each.partition, each.tag, each.ready, each.assigned, each.delayed])).toEqual([
      [0, table.all[0]!.tag, 1, 1, 0],
      [1, table.all[1]!.tag, 1, 2, 0],
      [2, table.all[2]!.tag, 1, 3, 1],
    ])
    // The node's last heartbeat is its most recent one in any partition.
    const seen = reply.partitions.map((each) => each.nodes[0]!.lastSeenAt)
    expect(new Set(seen).size).toBe(3)
    expect(reply.nodes.map((node) => [node.id, node.capacity, node.inflight, node.lastSeenAt])).toEqual([['cli-node', 6, 6, Math.max(...seen)]])
  })

  it('task finds a task in whichever partition holds it, and names the partition', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 3 })
    const table = scheduler.partitions
    // One task where its id routes it; one routed by a partitionKey away from its id's partition.
    const routed = idsIn(table, 1, 1, 'routed')[0]!
    const keyed = idsIn(table, 0, 1, 'keyed')[0]!
    try {
      await scheduler.enqueue({ id: routed, payload: 'by id' })
      await scheduler.enqueue({ id: keyed, payload: 'by key', partitionKey: idsIn(table, 2, 1, 'key')[0]! })
    } finally {
      await scheduler.close()
    }
    const base = ['task', '--url', redisInfo.url, '--namespace', namespace.name]

    const byId = await runCli([...base, routed])
    expect(byId.code).toBe(0)
    expect(byId.stdout).toMatch(new RegExp(`^partition\\s+1 of 3 \\(tag ${table.all[1]!.tag.replace('.', '\\.')}\\)$`, 'm'))
    expect(byId.stdout).toMatch(/^payload\s+by id \(5 bytes, text\)$/m)

    const byKey = await runCli([...base, keyed])
    expect(byKey.code).toBe(0)
    expect(byKey.stdout).toMatch(new RegExp(`^partition\\s+2 of 3 \\(tag ${table.all[2]!.tag.replace('.', '\\.')}\\)$`, 'm'))
    expect(byKey.stdout).toMatch(/^payload\s+by key \(6 bytes, text\)$/m)

    const missing = await runCli([...base, 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`no task "nope" in namespace ${namespace.name} (all 3 partitions searched)`)
  })

  it.skipIf(clusterSkipReason !== undefined)('stats --cluster names the primary serving each partition', async () => {
    const { namespace, table } = await partitionedNamespace(`redis-cluster://${clusterInfo!.urls.join(',')}`, openCluster(clusterInfo!.urls))
    const seed = `${clusterInfo!.nodes[0]!.host}:${clusterInfo!.nodes[0]!.port}`
    const { code, stdout } = await runCli(['stats', '--cluster', seed, '--namespace', namespace.name])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^PARTITION\s+TAG\s+SHARD\s+WAITING\s+/m)
    for (const partition of table.all) {
      const row = cellsOf(stdout, String(partition.partition))
      expect(row?.slice(0, 2)).toEqual([String(partition.partition), partition.tag])
      expect(row?.at(-1)).toBe(String([2, 3, 5][partition.partition]))
      // The shard named is the server that holds the partition's keys.
      const shard = openClient(`redis://${row![2]}`)
      expect(await shard.exists(partition.key('meta'))).toBe(1)
    }
  })
})

describe('taskmill tasks', () => {
  it('prints a page as a table with the next cursor, follows it to the end, and filters by queue', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    const later = Date.now() + 3_600_000
    try {
      for (let i = 0; i < 5; i++) await scheduler.enqueue({ id: `d${i}`, runAt: later + i, priority: i, queue: i === 3 ? 'mail' : 'default' })
      await scheduler.enqueue({ id: 'now' })
    } finally {
      await scheduler.close()
    }
    const base = ['tasks', '--url', redisInfo.url, '--namespace', namespace.name, '--state', 'delayed']
    const first = await runCli([...base, '--oldest', '--limit', '3'])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^ID\s+QUEUE\s+PRIORITY\s+ATTEMPTS\s+ENQUEUED\s+RUN AT\s+FINISHED\s+NODE$/m)
    const idsOf = (stdout: string): string[] =>
      stdout.split('\n').filter((line) => /^d\d /.test(line)).map((line) => line.split(/\s+/)[0] as string)
    expect(idsOf(first.stdout)).toEqual(['d0', 'd1', 'd2'])
    expect(first.stdout).toMatch(/^d1\s+default\s+1\s+0\s+\S+ ago\s+in \S+( \S+)?\s+-\s+-$/m)
    const cursor = /^Next page: --cursor '([^']+)'$/m.exec(first.stdout)?.[1]
    expect(cursor).toBeDefined()
    const rest = await runCli([...base, '--oldest', '--limit', '3', '--cursor', cursor as string])
    expect(idsOf(rest.stdout)).toEqual(['d3', 'd4'])
    expect(rest.stdout).toContain('End of the list.')

    const newest = await runCli([...base, '--json'])
    expect(JSON.parse(newest.stdout)).toMatchObject({ cursor: '', tasks: [{ id: 'd4' }, { id: 'd3' }, { id: 'd2' }, { id: 'd1' }, { id: 'd0' }] })
    const mail = await runCli([...base, '--queue', 'mail', '--json'])
    expect(JSON.parse(mail.stdout)).toMatchObject({ cursor: '', tasks: [{ id: 'd3', queue: 'mail', state: 'delayed', priority: 3 }] })
    const none = await runCli([...base.slice(0, -1), 'completed'])
    expect(none.stdout).toBe('No completed tasks on this page.\nEnd of the list.\n')
  })

  it('refuses an unknown state, a limit out of range and a made-up cursor', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    await scheduler.close()
    const base = ['tasks', '--url', redisInfo.url, '--namespace', namespace.name]
    const state = await runCli([...base, '--state', 'pending'])
    expect(state.code).toBe(2)
    expect(state.stderr).toContain('--state "pending": expected one of waiting, delayed, ready, assigned, running, retrying, completed, dead, canceled')
    const limit = await runCli([...base, '--state', 'ready', '--limit', '1001'])
    expect(limit.code).toBe(2)
    expect(limit.stderr).toContain('--limit 1001: expected 1 to 1000')
    const cursor = await runCli([...base, '--state', 'ready', '--cursor', '0:nonsense'])
    expect(cursor.code).toBe(1)
    expect(cursor.stderr).toContain('TM_BAD_ARGUMENT cursor: ')
  })
})

describe('taskmill partitions', () => {
  it('shows each partition with its tag and tasks, and --raise adds partitions, saying how far it has got', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 2 })
    const before = scheduler.partitions
    try {
      for (const id of idsIn(before, 1, 3, 'task')) await scheduler.enqueue({ id })
    } finally {
      await scheduler.close()
    }
    const base = ['partitions', '--url', redisInfo.url, '--namespace', namespace.name]

    const shown = await runCli(base)
    expect(shown.stderr).toBe('')
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(`Namespace ${namespace.name} on Redis at ${redisInfo.url}: 2 partitions\n`)
    expect(cellsOf(shown.stdout, '0')).toEqual(['0', namespace.name, '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'])
    expect(cellsOf(shown.stdout, '1')).toEqual(['1', before.all[1]!.tag, '0', '0', '3', '0', '0', '0', '0', '0', '0', '3'])

    const raised = await runCli([...base, '--raise', '4'])
    expect(raised.code).toBe(0)
    const table = await readPartitionTable(createRunner(openClient(redisInfo.url)), namespace.name)
    expect(table.count).toBe(4)
    expect(table.history).toEqual([2, 4])
    expect(raised.stderr).toContain(`Raising namespace ${namespace.name} from 2 to 4 partitions on Redis at ${redisInfo.url}\n`)
    expect(raised.stderr).toContain(`  initialised partition 2 (tag ${table.all[2]!.tag}), `)
    expect(raised.stderr).toContain(`  initialised partition 3 (tag ${table.all[3]!.tag}), `)
    expect(raised.stderr).toContain('  publishing partitions 2 to 3 in the partition table\n')
    expect(raised.stderr).toContain(`Namespace ${namespace.name} has 4 partitions now.`)
    expect(raised.stdout).toContain(': 4 partitions (earlier counts: 2)\n')
    for (const partition of table.all) expect(cellsOf(raised.stdout, String(partition.partition))?.[1]).toBe(partition.tag)
    // The tasks stay where they were.
    expect(cellsOf(raised.stdout, '1')?.at(-1)).toBe('3')

    const again = await runCli([...base, '--raise', '4'])
    expect(again.code).toBe(0)
    expect(again.stderr).toBe(`Namespace ${namespace.name} has 4 partitions already: nothing to raise.\n`)
  })

  it('--raise refuses to lower the count, says why, and writes nothing', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 3 })
    const table = scheduler.partitions
    await scheduler.close()
    const client = openClient(redisInfo.url)
    const dumps = () => Promise.all(table.all.map((partition) => dumpNamespace(client, partition)))
    const before = await dumps()

    const { code, stdout, stderr } = await runCli(['partitions', '--url', redisInfo.url, '--namespace', namespace.name, '--raise', '2'])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain(`namespace ${namespace.name} has 3 partitions and --raise 2 would lower that: the partition count cannot be lowered, because`)
    expect(stderr).toContain('Pass --raise with a count above 3')
    expect(await dumps()).toEqual(before)
  })

  it('--raise takes a count from 1 to 1024', async () => {
    for (const count of ['0', '1025', 'three']) {
      const { code, stderr } = await runCli(['partitions', '--url', redisInfo.url, '--namespace', 'ns', '--raise', count])
      expect(code, count).toBe(2)
      expect(stderr).toContain('taskmill partitions --help')
    }
  })

  it.skipIf(clusterSkipReason !== undefined)('on a cluster, names each partition\'s slot and primary, and --raise spreads them', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: `redis-cluster://${clusterInfo!.urls.join(',')}`, namespace: namespace.name })
    await scheduler.close()
    const seed = `${clusterInfo!.nodes[0]!.host}:${clusterInfo!.nodes[0]!.port}`
    const { code, stdout } = await runCli(['partitions', '--cluster', seed, '--namespace', namespace.name, '--raise', '3'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^PARTITION\s+TAG\s+SLOT\s+SHARD\s+WAITING\s+/m)
    const table = await readPartitionTable(createRunner(openCluster(clusterInfo!.urls)), namespace.name)
    const shards = new Set<string>()
    for (const partition of table.all) {
      const [index, tag, slot, shard] = cellsOf(stdout, String(partition.partition))!
      expect([index, tag]).toEqual([String(partition.partition), partition.tag])
      // The primary named holds the partition's meta key, in the slot named.
      const primary = openClient(`redis://${shard}`)
      expect(await primary.cluster('GETKEYSINSLOT', Number(slot), 100)).toContain(partition.key('meta'))
      shards.add(shard!)
    }
    expect(shards.size).toBe(3)
    expect(stdout).toMatch(/^Partitions per primary: \S+ 1, \S+ 1, \S+ 1\.$/m)
  })
})

describe('taskmill on a partitioned namespace, alone on a fresh redis-server', () => {
  // The namespace listing is a bounded SCAN: on the run's shared Redis the namespace under test
  // would be one among hundreds, so this one gets a server of its own.
  const executable = findExecutable('redis-server')
  const it_ = it.skipIf(executable === undefined)
  let server: SpawnedRedis

  beforeAll(async () => {
    if (executable === undefined) return
    server = await spawnRedisServer(executable, [])
  })
  afterAll(async () => {
    await server?.stop()
  })

  it_('names the namespaces there when one does not exist, without its partitions\' tags', async () => {
    const scheduler = await Scheduler.open({ connection: server.url, namespace: 'shop', partitions: 3 })
    await scheduler.close()
    const keys = await openClient(server.url).keys('tm:*:meta')
    expect(keys.sort()).toEqual(['tm:{shop/1.0}:meta', 'tm:{shop/2.0}:meta', 'tm:{shop}:meta'])

    const { code, stderr } = await runCli(['stats', '--url', server.url, '--namespace', 'shops'])
    expect(code).toBe(1)
    expect(stderr).toContain('namespace "shops" does not exist')
    expect(stderr).toContain(' Namespaces there: shop. Check --namespace')
  })
})

describe('taskmill retry, remove and clean', () => {
  it('retry runs a canceled task again, remove drops a finished one, clean sweeps the rest, on every partition', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 2 })
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `op${i}`)
      await scheduler.enqueueBatch(ids.map((id) => ({ id, delayMs: 3_600_000 })))
      for (const id of ids) expect(await scheduler.cancel(id)).toBe('canceled')
      const cli = (args: string[]) => runCli([...args, '--url', redisInfo.url, '--namespace', namespace.name])
      const redis = openClient(redisInfo.url)
      const table = await readPartitionTable(createRunner(redis), namespace.name)
      expect(table.count).toBe(2)

      const retried = await cli(['retry', 'op0'])
      expect(retried).toMatchObject({ code: 0, stdout: 'op0: delayed\n', stderr: '' })
      expect((await scheduler.getTask('op0'))?.state).toBe('delayed')
      const before = await Promise.all(table.all.map((partition) => dumpNamespace(redis, partition)))
      const again = await cli(['retry', 'op0'])
      expect(again.code).toBe(1)
      expect(again.stderr).toContain('only a dead or canceled task can be retried')
      const unfinished = await cli(['remove', 'op0'])
      expect(unfinished.code).toBe(1)
      expect(unfinished.stderr).toContain('only a finished task can be removed')
      expect(await Promise.all(table.all.map((partition) => dumpNamespace(redis, partition)))).toEqual(before)

      expect(await cli(['remove', 'op1'])).toMatchObject({ code: 0, stdout: 'op1: removed (was canceled)\n' })
      expect(await scheduler.getTask('op1')).toBeNull()
      const missing = await cli(['remove', 'op1'])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain('no task "op1"')

      expect(await cli(['clean', '--older-than', '3600000'])).toMatchObject({ code: 0, stdout: 'removed 0 finished tasks\n' })
      expect(await cli(['clean', '--older-than', '0', '--state', 'completed'])).toMatchObject({ code: 0, stdout: 'removed 0 completed tasks\n' })
      expect(await cli(['clean', '--older-than', '0', '--state', 'canceled'])).toMatchObject({ code: 0, stdout: 'removed 4 canceled tasks\n' })
      const stats = await scheduler.stats()
      expect([stats.canceled, stats.delayed]).toEqual([0, 1])
      const bad = await cli(['clean', '--older-than', '0', '--state', 'running'])
      expect(bad.code).toBe(2)
      expect((await cli(['clean'])).code).toBe(2)

      // The same through the Scheduler.
      expect(await scheduler.cancel('op0')).toBe('canceled')
      expect(await scheduler.retry('op0')).toBe('delayed')
      expect(await scheduler.cancel('op0')).toBe('canceled')
      expect(await scheduler.remove('op0')).toBe('canceled')
      await scheduler.enqueueBatch([{ id: 'x1', delayMs: 3_600_000 }, { id: 'x2', delayMs: 3_600_000 }])
      await scheduler.cancel('x1')
      await scheduler.cancel('x2')
      expect(await scheduler.clean({ olderThanMs: 0, limit: 1 })).toBe(2)
      const after = await scheduler.stats()
      expect([after.canceled, after.delayed, after.ready]).toEqual([0, 0, 0])
    } finally {
      await scheduler.close()
    }
  })
})

describe('taskmill pause and resume', () => {
  it('pause holds a queue on every partition, resume dispatches it, each saying what changed', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 2 })
    const redis = openClient(redisInfo.url)
    try {
      const cli = (args: string[]) => runCli([...args, '--url', redisInfo.url, '--namespace', namespace.name])
      const runner = createRunner(redis)
      const table = await readPartitionTable(runner, namespace.name)
      const paused = () => Promise.all(table.all.map((partition) => redis.hget(partition.key('meta'), 'pausedQueues')))
      expect(await cli(['pause', 'slow'])).toMatchObject({ code: 0, stdout: 'queue slow: paused on 2 partitions (paused queues: slow)\n', stderr: '' })
      expect(await paused()).toEqual(['slow', 'slow'])
      expect(await cli(['pause', 'slow'])).toMatchObject({ code: 0, stdout: 'queue slow: was paused already (paused queues: slow)\n' })
      await runner.loadAll()
      for (const partition of table.all) await registerNode(runner, partition, { nodeId: 'n', weight: 1, capacity: 10, queues: [] })
      const ids = ['s0', 's1', 's2', 's3', 's4', 's5']
      expect(new Set(ids.map((id) => partitionOf(id, 2))).size).toBe(2)
      for (const id of ids) await scheduler.enqueue({ id, queue: 'slow' })
      for (const id of ids) expect((await scheduler.getTask(id))?.state).toBe('ready')
      const before = await Promise.all(table.all.map((partition) => dumpNamespace(redis, partition)))
      const bad = await cli(['pause', 'a,b'])
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain('queue')
      expect(await Promise.all(table.all.map((partition) => dumpNamespace(redis, partition)))).toEqual(before)
      expect(await cli(['resume', 'slow'])).toMatchObject({ code: 0, stdout: 'queue slow: resumed on 2 partitions, 6 tasks dispatched\n', stderr: '' })
      expect(await paused()).toEqual([null, null])
      for (const id of ids) expect((await scheduler.getTask(id))?.state).toBe('assigned')
      expect(await cli(['resume', 'slow'])).toMatchObject({ code: 0, stdout: 'queue slow: was not paused\n' })
      expect((await cli(['resume'])).code).toBe(2)
    } finally {
      await scheduler.close()
    }
  })
})

describe('taskmill rate-limit', () => {
  it('sets a limit shared out over the partitions, says what changed, removes it, and refuses bad limits', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name, partitions: 2 })
    const redis = openClient(redisInfo.url)
    try {
      const cli = (args: string[]) => runCli([...args, '--url', redisInfo.url, '--namespace', namespace.name])
      const table = await readPartitionTable(createRunner(redis), namespace.name)
      const limits = () => Promise.all(table.all.map((partition) => redis.hget(partition.key('meta'), 'rateLimits')))
      expect(await cli(['rate-limit', 'api', '5/s'])).toMatchObject({
        code: 0,
        stdout: 'queue api: at most 5 per 1000 ms over 2 partitions, 0 tasks dispatched\n',
        stderr: '',
      })
      expect(await limits()).toEqual(['api=3/1000', 'api=2/1000'])
      expect(await cli(['rate-limit', 'api', '5/1000'])).toMatchObject({ code: 0, stdout: 'queue api: had this rate limit already (5 per 1000 ms)\n' })
      for (const bad of [['api', '5'], ['api', '5/'], ['api', '0/s'], ['api', '1/s'], ['api']]) {
        const reply = await cli(['rate-limit', ...bad])
        expect(reply.code).toBe(2)
      }
      expect(await limits()).toEqual(['api=3/1000', 'api=2/1000'])
      expect(await cli(['rate-limit', '--remove', 'api'])).toMatchObject({ code: 0, stdout: 'queue api: rate limit removed, 0 tasks dispatched\n' })
      expect(await limits()).toEqual([null, null])
      expect(await cli(['rate-limit', '--remove', 'api'])).toMatchObject({ code: 0, stdout: 'queue api: had no rate limit\n' })
    } finally {
      await scheduler.close()
    }
  })
})

describe('taskmill usage', () => {
  it('--help lists the commands and exits 0', async () => {
    const { code, stdout } = await runCli(['--help'])
    expect(code).toBe(0)
    for (const command of ['scripts', 'load', 'stats', 'task', 'tasks', 'partitions', 'retry', 'remove', 'clean', 'pause', 'resume']) {
      expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    }
  })

  it('a command --help shows its options', async () => {
    const { code, stdout } = await runCli(['stats', '--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('Usage: taskmill stats --namespace NS')
    expect(stdout).toContain('--cluster SEEDS')

    const partitions = await runCli(['partitions', '--help'])
    expect(partitions.code).toBe(0)
    expect(partitions.stdout).toContain('Usage: taskmill partitions --namespace NS [--url URL | --cluster SEEDS] [--raise N]')
    expect(partitions.stdout).toContain('  --raise N              Raise the partition count to N')
  })

  it('an unknown command prints the usage and exits 2', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain('unknown command "frobnicate"')
    expect(stderr).toContain('Usage: taskmill <command>')
  })

  it('no command prints the usage and exits 2', async () => {
    const { code, stderr } = await runCli([])
    expect(code).toBe(2)
    expect(stderr).toContain('Usage: taskmill <command>')
  })

  it('a missing or unknown option exits 2 and points at the help', async () => {
    const missing = await runCli(['stats', '--url', 'redis://127.0.0.1:1'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('--namespace is required')
    expect(missing.stderr).toContain('taskmill stats --help')

    const unknown = await runCli(['load', '--frob'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("Unknown option '--frob'")

    const both = await runCli(['load', '--url', 'redis://a:1', '--cluster', 'b:2'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('either --url or --cluster')
  })
})
