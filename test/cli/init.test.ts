/**
 * `taskmill init`, run from source against the run's shared Redis, each test in a random
 * namespace: creating with the defaults or with settings, leaving an existing namespace as it
 * is, changing only the settings given, partitions, JSON, and the refusals.
 */
import { describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { partitions } from '../../loader/generated/scripts.js'
import { openClient, randomNamespace, redisInfo } from '../support/context.js'
import { runCli } from './run-cli.js'

const init = (namespace: string, ...args: string[]) => runCli(['init', '--url', redisInfo.url, '--namespace', namespace, ...args])

/** The namespace as the `partitions` script reads it: count and configuration. */
async function read(namespace: ReturnType<typeof randomNamespace>) {
  return partitions(createRunner(openClient(redisInfo.url)), namespace)
}

/** The value printed for one setting. */
function setting(stdout: string, name: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(`${name} `))?.split(/\s+/)[1]
}

describe('taskmill init', () => {
  it('creates a namespace with the defaults, then leaves it as it is', async () => {
    const namespace = randomNamespace('init')
    const created = await init(namespace.name)
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    expect(created.stdout).toContain(`Namespace ${namespace.name} created on Redis at ${redisInfo.url}, 1 partition.`)
    expect([setting(created.stdout, 'strategy'), setting(created.stdout, 'node-timeout-ms')]).toEqual(['weighted', '15000'])
    expect(await read(namespace)).toMatchObject({ count: 1, strategy: 'weighted', eventsMaxLen: 10000 })

    const again = await init(namespace.name)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`Namespace ${namespace.name} exists already, left as it is`)

    // A Scheduler finds it ready to use.
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    await scheduler.enqueue({ id: 'a' })
    expect((await scheduler.stats()).ready).toBe(1)
    await scheduler.close()
  })

  it('creates with the settings given, and later changes only those given', async () => {
    const namespace = randomNamespace('init')
    const created = await init(namespace.name, '--strategy', 'round-robin', '--events-max-len', '50')
    expect(created.code).toBe(0)
    expect(await read(namespace)).toMatchObject({ strategy: 'round-robin', eventsMaxLen: 50, nodeTimeoutMs: 15000 })

    const updated = await init(namespace.name, '--node-timeout-ms', '30000')
    expect(updated.code).toBe(0)
    expect(updated.stdout).toContain(`Namespace ${namespace.name} updated`)
    expect(await read(namespace)).toMatchObject({ strategy: 'round-robin', eventsMaxLen: 50, nodeTimeoutMs: 30000 })

    const kept = await init(namespace.name, '--strategy', 'random', '--keep-existing')
    expect(kept.code).toBe(0)
    expect(kept.stdout).toContain('exists already, left as it is')
    expect(await read(namespace)).toMatchObject({ strategy: 'round-robin' })
  })

  it('spreads a namespace over partitions, each with the settings, and prints JSON', async () => {
    const namespace = randomNamespace('init')
    const { code, stdout } = await init(namespace.name, '--partitions', '3', '--strategy', 'least-loaded', '--json')
    expect(code).toBe(0)
    const reply = JSON.parse(stdout) as { outcome: string; partitions: number; config: Record<string, unknown> }
    expect(reply).toMatchObject({ namespace: namespace.name, outcome: 'created', partitions: 3 })
    expect(reply.config).toMatchObject({ strategy: 'least-loaded', payloadCap: 1048576 })
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    try {
      expect(scheduler.partitions.count).toBe(3)
      const runner = createRunner(openClient(redisInfo.url))
      for (const partition of scheduler.partitions.all.slice(1)) {
        // Partitions other than 0 hold their configuration in their own meta hash.
        expect(await runner.redis.hget(partition.key('meta'), 'strategy')).toBe('least-loaded')
      }
    } finally {
      await scheduler.close()
    }
  })

  it('refuses a bad setting with a usage error and writes nothing', async () => {
    const namespace = randomNamespace('init')
    const bad = await init(namespace.name, '--strategy', 'fastest')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--strategy "fastest": expected one of round-robin, weighted, least-loaded, random')
    const range = await init(namespace.name, '--node-timeout-ms', '5')
    expect(range.code).toBe(2)
    expect(range.stderr).toContain('--node-timeout-ms 5: expected 100 to 86400000')
    expect(await openClient(redisInfo.url).exists(namespace.key('meta'))).toBe(0)
  })

  it('is what stats suggests for a namespace that does not exist', async () => {
    const namespace = randomNamespace('init')
    const { code, stderr } = await runCli(['stats', '--url', redisInfo.url, '--namespace', namespace.name])
    expect(code).toBe(1)
    expect(stderr).toContain(`create it with \`taskmill init --namespace ${namespace.name}\``)
  })
})
