/**
 * The README's ACL users, taken from the README itself: the lines list exactly the commands
 * taskmill sends plus those the scripts each client calls run (so they are the smallest that
 * work, and a script that starts running a new command fails this test until the README says
 * so), and a producer and a worker logged in as those users enqueue, work and complete a small
 * graph — retries, dependency results, events, a cancel, a graceful stop — with no error and no
 * entry in Redis' ACL LOG, on a standalone server and on a cluster.
 *
 * Then the two points the README makes about scripts. A user allowed SCRIPT LOAD can run any
 * Lua on the keys it may touch. In the stricter setup (no SCRIPT LOAD: an admin loads the
 * scripts) the same path works, a flushed script cache reaches callers as a RedisPermissionError
 * naming SCRIPT LOAD, and the work resumes once the admin has loaded the scripts again.
 */
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { RedisPermissionError, Scheduler, Worker, type TaskInput } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { partitionOf } from '../../loader/routing.js'
import type { SpawnedRedis } from '../../devtools/redis-server.js'
import { clusterInfo, clusterSkipReason, closeClients, openClient, randomNamespace, serverClient } from '../support/context.js'
import { faultSkipReason, startServer, waitFor } from './support/harness.js'

const root = new URL('../../', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')

/** The rules of the README's ACL file line for `user`. */
function readmeRules(user: string): string[] {
  const line = readme.split('\n').find((l) => l.startsWith(`user ${user} `))
  if (line === undefined) throw new Error(`the README has no ACL line for ${user}`)
  return line.split(' ').slice(2)
}

/** The generated script wrappers some client modules import, as script names (`getTask` → `get-task`). */
function scriptsCalledBy(...files: string[]): string[] {
  const names = new Set<string>()
  for (const file of files) {
    const source = readFileSync(new URL(file, root), 'utf8')
    const block = /import \{([^}]*)\} from '\.\.\/loader\/generated\/scripts\.js'/.exec(source)?.[1] ?? ''
    block
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '' && !name.startsWith('type ') && !name.endsWith('Script'))
      .forEach((name) => names.add(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)))
  }
  return [...names]
}

/**
 * The scripts a producer or a worker calls: those its own modules import, and those it calls
 * through the shared helpers of client/partitions.ts, client/relay.ts and client/schedules.ts, which each side uses
 * in part (named here, as reading those modules' imports would grant each side the other's).
 */
const producerScriptNames = (): string[] => [
  ...scriptsCalledBy('client/scheduler.ts', 'client/partitions.ts', 'client/list-tasks.ts', 'client/schedules.ts'),
  'watch-dependency',
]
const workerScriptNames = (): string[] => [
  ...scriptsCalledBy('client/worker.ts', 'client/partition-worker.ts'),
  'partitions',
  'claim-relay',
  'deliver-outcome',
  'ack-relay',
  // A Worker tops up the cron schedules maintain names (client/schedules.ts).
  'get-schedule',
  'refill-schedule',
]

/** The commands the expanded scripts run, in lower case. */
function commandsRunBy(scripts: readonly string[]): string[] {
  const commands = new Set<string>()
  for (const script of scripts) {
    const lua = readFileSync(new URL(`loader/generated/lua/${script}.lua`, root), 'utf8')
    for (const [, command] of lua.matchAll(/redis\.p?call\('([A-Za-z_]+)'/g)) commands.add(command!.toLowerCase())
  }
  return [...commands]
}

/** What each client sends itself, besides the scripts' commands. */
const PRODUCER_SENDS = ['evalsha', 'evalsha_ro', 'script|load', 'info', 'xread', 'xrevrange']
const WORKER_SENDS = ['evalsha', 'evalsha_ro', 'script|load', 'info', 'ssubscribe']
/** What ioredis sends on a cluster (slot map, connection names), and the PING taskmill waits for the slot map with; the README says to add these there. */
const CLUSTER_EXTRA = ['+cluster|slots', '+cluster|info', '+ping', '+client|setname']

const sorted = (items: Iterable<string>): string[] => [...new Set(items)].sort()
const granted = (rules: readonly string[]): string[] => sorted(rules.filter((r) => r.startsWith('+')).map((r) => r.slice(1)))

describe('the README ACL lines', () => {
  it('grant exactly what the producer and the worker send and what their scripts run', () => {
    const producerScripts = producerScriptNames()
    const workerScripts = workerScriptNames()
    expect(workerScripts).toContain('claim-relay')
    expect(producerScripts).toContain('enqueue')
    expect(workerScripts).toContain('complete')
    expect(granted(readmeRules('tm-producer'))).toEqual(sorted([...PRODUCER_SENDS, ...commandsRunBy(producerScripts)]))
    expect(granted(readmeRules('tm-worker'))).toEqual(sorted([...WORKER_SENDS, ...commandsRunBy(workerScripts)]))
    for (const user of ['tm-producer', 'tm-worker']) {
      expect(readmeRules(user).slice(0, 8)).toEqual([
        'on',
        expect.stringMatching(/^>/),
        'resetkeys',
        '~tm:{etl}:*',
        '~tm:{etl/*}:*',
        'resetchannels',
        '&tm:{etl}:wake:*',
        '&tm:{etl/*}:wake:*',
      ])
      expect(readmeRules(user)[8]).toBe('-@all')
    }
    expect(readme).toContain(CLUSTER_EXTRA.join(' '))
  })
})

interface Users {
  producer: string
  worker: string
}

/**
 * Creates the README's two users for `namespace` on every server, under names of their own,
 * with `+script|load` taken out when `strict`; returns the connection strings.
 */
async function createUsers(
  admins: readonly Redis[],
  namespace: string,
  url: (user: string) => string,
  options: { strict?: boolean; extra?: readonly string[] } = {},
): Promise<Users> {
  const suffix = randomBytes(4).toString('hex')
  const names = { producer: `tm-producer-${suffix}`, worker: `tm-worker-${suffix}` }
  for (const [role, name] of Object.entries(names) as [keyof Users, string][]) {
    const rules = readmeRules(`tm-${role}`)
      .map((rule) => rule.replaceAll('{etl}', `{${namespace}}`).replaceAll('{etl/', `{${namespace}/`))
      .map((rule) => (rule.startsWith('>') ? '>pw' : rule))
      .filter((rule) => !(options.strict === true && rule === '+script|load'))
    for (const admin of admins) await admin.acl('SETUSER', name, ...rules, ...(options.extra ?? []))
  }
  return { producer: url(names.producer), worker: url(names.worker) }
}

/** ACL LOG entries of users whose name contains `marker`. */
async function aclDenials(admins: readonly Redis[], marker: string): Promise<string[]> {
  const denials: string[] = []
  for (const admin of admins) {
    const entries = (await admin.acl('LOG')) as unknown[][]
    for (const entry of entries) {
      const fields = new Map<string, unknown>()
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1])
      if (String(fields.get('username')).includes(marker)) denials.push(`${fields.get('username')}: ${fields.get('reason')} ${fields.get('object')}`)
    }
  }
  return denials
}

const GRAPH: TaskInput[] = [
  { id: 'extract', payload: '1' },
  { id: 'flaky', payload: '2', backoff: { type: 'fixed', delayMs: 10 } },
  { id: 'transform', dependsOn: ['extract', 'flaky'] },
  { id: 'load', dependsOn: ['transform'] },
  { id: 'later', delayMs: 60_000 },
]

/**
 * Enqueue, work and complete as the two users: a retry (fail), dependency results, a delayed
 * task canceled, stats, events and waitForResult, then a graceful stop (drain, deregister).
 */
async function wholePath(users: Users, namespace: string): Promise<{ result: string; events: string[]; errors: unknown[] }> {
  const errors: unknown[] = []
  // Three partitions, and a task depending on one of another partition: the relay runs as the worker user.
  const scheduler = await Scheduler.open({ connection: users.producer, namespace, partitions: 3, config: { strategy: 'weighted' } })
  const worker = await Worker.start({
    connection: users.worker,
    namespace,
    nodeId: 'acl-node',
    heartbeatIntervalMs: 100,
    onError: (error) => errors.push(error),
    handler: async (task) => {
      if (task.id === 'flaky' && task.attempt === 1) throw new Error('first attempt fails')
      const inputs = await task.dependencyResults()
      const sum = [...inputs.values()].reduce((total, result) => total + Number(result?.toString()), 0)
      return String(sum + Number(task.payload.toString() || 0))
    },
  })
  try {
    await scheduler.enqueueBatch(GRAPH)
    const elsewhere = ['report-a', 'report-b', 'report-c', 'report-d'].find((id) => partitionOf(id, 3) !== partitionOf('extract', 3))!
    await scheduler.enqueue({ id: elsewhere, payload: '100', dependsOn: ['load'] })
    const result = (await scheduler.waitForResult('load', { timeoutMs: 10_000 })).toString()
    expect((await scheduler.waitForResult(elsewhere, { timeoutMs: 10_000 })).toString()).toBe(String(Number(result) + 100))
    expect(await scheduler.cancel('later')).toBe('canceled')
    expect((await scheduler.stats()).completed).toBe(5)
    await scheduler.maintain()
    const events: string[] = []
    for await (const event of scheduler.events({ from: '0', idleTimeoutMs: 100 })) events.push(event.type)
    return { result, events, errors }
  } finally {
    await worker.stop({ timeoutMs: 2000 })
    await scheduler.close()
  }
}

describe.skipIf(faultSkipReason() !== undefined)('the README ACL users on a standalone server', () => {
  let server: SpawnedRedis
  let admin: Redis
  const as = (user: string): string => `redis://${user}:pw@127.0.0.1:${server.port}`

  beforeAll(async () => {
    server = await startServer()
    admin = openClient(server.url)
  })
  afterAll(async () => {
    await closeClients()
    await server?.stop()
  })

  it('enqueue, work and complete as the producer and the worker, with nothing denied', async () => {
    const namespace = randomNamespace('acl').name
    const users = await createUsers([admin], namespace, as)
    const { result, events, errors } = await wholePath(users, namespace)
    expect(result).toBe('3')
    expect(events).toEqual(expect.arrayContaining(['enqueued', 'started', 'failed', 'retried', 'completed', 'canceled']))
    expect(errors).toEqual([])
    expect(await aclDenials([admin], 'tm-')).toEqual([])
  })

  it('keeps each user to its namespace', async () => {
    const users = await createUsers([admin], randomNamespace('acl').name, as)
    const error = await Scheduler.open({ connection: users.producer, namespace: randomNamespace('other').name }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RedisPermissionError)
    await admin.acl('LOG', 'RESET')
  })

  it('cannot stop a user allowed SCRIPT LOAD from running any Lua on the keys it may touch', async () => {
    const namespace = randomNamespace('acl').name
    const users = await createUsers([admin], namespace, as)
    const strict = await createUsers([admin], namespace, as, { strict: true })
    const scheduler = await Scheduler.open({ connection: users.producer, namespace })
    await scheduler.close()
    const meta = `tm:{${namespace}}:meta`
    expect(await admin.exists(meta)).toBe(1)
    // Any Lua, built only of commands the producer's ACL allows: here it empties the namespace's meta.
    const wipe = "local f = redis.call('HGETALL', KEYS[1]) for i = 1, #f, 2 do redis.call('HDEL', KEYS[1], f[i]) end return #f / 2"
    const producer = openClient(users.producer)
    const sha = (await producer.script('LOAD', wipe)) as string
    expect(await producer.evalsha(sha, 1, meta)).toBeGreaterThan(0)
    expect(await admin.exists(meta)).toBe(0)
    // Without SCRIPT LOAD (and EVAL) the same user can run only what is loaded already.
    const strictProducer = openClient(strict.producer)
    await expect(strictProducer.script('LOAD', 'return 1')).rejects.toThrow(/NOPERM/)
    await expect(strictProducer.eval('return 1', 0)).rejects.toThrow(/NOPERM/)
    await admin.acl('LOG', 'RESET')
  })

  it('in the stricter setup works on scripts an admin loaded, and says SCRIPT LOAD when they are gone', async () => {
    const namespace = randomNamespace('acl').name
    const users = await createUsers([admin], namespace, as, { strict: true })
    await admin.script('FLUSH')
    // Not loaded, and the users may not load them: open fails, naming the command.
    const refused = await Scheduler.open({ connection: users.producer, namespace }).catch((e: unknown) => e)
    expect(refused).toMatchObject({ name: 'RedisPermissionError', command: 'SCRIPT LOAD' })

    await createRunner(admin).loadAll()
    const { result, errors } = await wholePath(users, namespace)
    expect(result).toBe('3')
    expect(errors).toEqual([])

    // A restart or a flush empties the cache: calls fail with the permission error until the
    // admin loads the scripts again, and then go on without reopening anything.
    const scheduler = await Scheduler.open({ connection: users.producer, namespace })
    const workerErrors: unknown[] = []
    const worker = await Worker.start({
      connection: users.worker,
      namespace,
      heartbeatIntervalMs: 100,
      onError: (error) => workerErrors.push(error),
      handler: async () => 'after reload',
    })
    try {
      await admin.script('FLUSH')
      const enqueue = await scheduler.enqueue({ id: 'after-flush' }).catch((e: unknown) => e)
      expect(enqueue).toMatchObject({ name: 'RedisPermissionError', command: 'SCRIPT LOAD' })
      await waitFor('the worker to report the refusal', () => workerErrors.length > 0, 10_000)
      expect(workerErrors[0]).toMatchObject({ name: 'RedisPermissionError', command: 'SCRIPT LOAD' })
      await createRunner(admin).loadAll()
      await scheduler.enqueue({ id: 'after-flush' })
      expect((await scheduler.waitForResult('after-flush', { timeoutMs: 10_000 })).toString()).toBe('after reload')
    } finally {
      await worker.stop({ timeoutMs: 2000 })
      await scheduler.close()
    }
    await admin.acl('LOG', 'RESET')
  })
})

describe.skipIf(clusterSkipReason !== undefined)('the README ACL users on a cluster', () => {
  const nodes = clusterInfo?.nodes ?? []
  const admins = (): Redis[] => nodes.map((node) => serverClient(node))
  const created: string[] = []
  afterAll(async () => {
    for (const admin of admins()) for (const name of created) await admin.acl('DELUSER', name)
    await closeClients()
  })

  it('enqueue, work and complete as the producer and the worker, with the cluster additions', async () => {
    const namespace = randomNamespace('acl').name
    const seeds = (user: string): string => `redis-cluster://${nodes.map((n, i) => `${i === 0 ? `${user}:pw@` : ''}${n.host}:${n.port}`).join(',')}`
    const users = await createUsers(admins(), namespace, seeds, { extra: CLUSTER_EXTRA })
    created.push(...Object.values(users).map((url) => /\/\/([^:]+):/.exec(url)![1]!))
    const { result, errors } = await wholePath(users, namespace)
    expect(result).toBe('3')
    expect(errors).toEqual([])
    const marker = created[0]!.split('-').at(-1)!
    expect(await aclDenials(admins(), marker)).toEqual([])
  })
})
