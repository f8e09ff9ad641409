/**
 * What a caller gets when Redis cannot serve: out of memory under `noeviction`, an ACL user
 * without the permission a call needs, a server that went away. Each arrives as a named
 * taskmill error that says which command or script was refused and what to do, never as an
 * UnexpectedScriptError (which reads as a bug in taskmill) and never as a raw ioredis error.
 * And a process using a Worker and a Scheduler whose Redis goes away stays quiet: ioredis
 * prints no "Unhandled error event" lines to its stderr.
 *
 * Each part changes server-wide settings or stops its server, so each has a private server.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { createRunner } from '../../client/connection.js'
import { sleep } from '../../devtools/redis-server.js'
import { connect } from '../../loader/connect.js'
import {
  RedisOutOfMemoryError,
  RedisPermissionError,
  RedisUnavailableError,
  UnexpectedScriptError,
} from '../../loader/errors.js'
import { init, stats } from '../../loader/generated/scripts.js'
import { ScriptRunner } from '../../loader/runner.js'
import { closeClients, dumpNamespace, openClient, randomNamespace } from '../support/context.js'
import { startPrivate, type PrivateRedis } from '../support/private-redis.js'
import { echoScript, readScript, testErrorClasses, testScripts } from './fixtures.js'

describe('out of memory under maxmemory-policy noeviction', () => {
  let redis: PrivateRedis
  let admin: Redis

  beforeAll(async () => {
    redis = await startPrivate('standalone')
    admin = redis.client() as Redis
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
  })
  afterAll(async () => {
    await closeClients()
    await redis?.stop()
  })

  /** Runs `body` while every write is refused: maxmemory far below what Redis already uses. */
  async function whileFull(body: () => Promise<void>): Promise<void> {
    await admin.config('SET', 'maxmemory', '1')
    try {
      await body()
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
  }

  it('refuses a write script with RedisOutOfMemoryError naming the script, before it writes anything', async () => {
    const client = redis.client()
    const runner = createRunner(client)
    await runner.loadAll()
    const namespace = randomNamespace('oom')
    await whileFull(async () => {
      const before = await dumpNamespace(client, namespace)
      const error = await init(runner, namespace, {}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RedisOutOfMemoryError)
      expect(error).not.toBeInstanceOf(UnexpectedScriptError)
      expect(error).toMatchObject({ name: 'RedisOutOfMemoryError', command: 'EVALSHA', script: { script: 'init' } })
      const message = (error as Error).message
      expect(message).toMatch(/EVALSHA of script init v\d+/)
      expect(message).toContain("used memory > 'maxmemory'")
      expect(message).toMatch(/raise maxmemory|free memory/i)
      expect(await dumpNamespace(client, namespace)).toEqual(before)
      // A read-only script still runs: Redis refuses writes only.
      await expect(stats(runner, namespace)).rejects.toMatchObject({ code: 'TM_NOT_INITIALIZED' })
    })
    // Once memory frees the same call goes through.
    expect(await init(runner, namespace, {})).toBe('created')
  })

  it('maps OOM raised inside a script and inside a pipeline the same way', async () => {
    const runner = new ScriptRunner(redis.client(), testScripts, { errorClasses: testErrorClasses })
    await runner.loadAll()
    const namespace = randomNamespace('oom')
    await whileFull(async () => {
      // echoScript has no flags, so Redis runs it and refuses its first write (HINCRBY).
      const single = await runner.call(echoScript, namespace, { count: 1, payload: 'x' }).catch((e: unknown) => e)
      expect(single).toBeInstanceOf(RedisOutOfMemoryError)
      expect((single as Error).message).toContain('loader-test-echo')
      const results = await runner
        .pipeline()
        .add(echoScript, namespace, { count: 1, payload: 'y' })
        .add(readScript, namespace, {})
        .exec()
      expect(results[0]).toMatchObject({ ok: false, error: expect.any(RedisOutOfMemoryError) })
      expect(results[1]).toEqual({ ok: true, value: null })
    })
  })
})

describe('a Redis ACL user without the permission a call needs', () => {
  let redis: PrivateRedis
  let admin: Redis

  beforeAll(async () => {
    redis = await startPrivate('standalone')
    admin = redis.client() as Redis
    // Everything but EVALSHA / EVALSHA_RO.
    await admin.acl('SETUSER', 'no-evalsha', 'on', '>pw', '~*', '&*', '+@all', '-evalsha', '-evalsha_ro')
    // May call scripts, but the script's own HINCRBY is refused.
    await admin.acl('SETUSER', 'no-hincrby', 'on', '>pw', '~*', '&*', '+@all', '-hincrby')
    // May run every command, on other keys only.
    await admin.acl('SETUSER', 'other-keys', 'on', '>pw', '~other:*', '&*', '+@all')
    // May call scripts but not load them.
    await admin.acl('SETUSER', 'no-load', 'on', '>pw', '~*', '&*', '+@all', '-script|load')
  })
  afterAll(async () => {
    await closeClients()
    await redis?.stop()
  })

  function runnerAs(user: string): ScriptRunner {
    const server = redis.servers[0]!
    const client = openClient(`redis://${user}:pw@${server.host}:${server.port}`)
    return new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses })
  }

  it('refuses EVALSHA and EVALSHA_RO with RedisPermissionError naming the command, the script and the user', async () => {
    const runner = runnerAs('no-evalsha')
    await runner.loadAll()
    const namespace = randomNamespace('acl')
    const error = await runner.call(echoScript, namespace, { count: 1, payload: 'x' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RedisPermissionError)
    expect(error).toMatchObject({ name: 'RedisPermissionError', command: 'EVALSHA', user: 'no-evalsha' })
    const message = (error as Error).message
    expect(message).toMatch(/EVALSHA of script loader-test-echo v3/)
    expect(message).toContain('no-evalsha')
    expect(message).toMatch(/ACL SETUSER no-evalsha .*\+evalsha/)
    const readOnly = await runner.call(readScript, namespace, {}).catch((e: unknown) => e)
    expect(readOnly).toMatchObject({ name: 'RedisPermissionError', command: 'EVALSHA_RO' })
    expect((readOnly as Error).message).toMatch(/\+evalsha_ro/)
  })

  it('refuses a command the script runs, and keys outside the user pattern, with RedisPermissionError', async () => {
    const namespace = randomNamespace('acl')
    const inside = await runnerAs('no-hincrby')
      .call(echoScript, namespace, { count: 1, payload: 'x' })
      .catch((e: unknown) => e)
    expect(inside).toBeInstanceOf(RedisPermissionError)
    expect((inside as Error).message).toMatch(/script loader-test-echo v3/)
    expect((inside as Error).message).toMatch(/inside the script|the script runs/)
    const keys = await runnerAs('other-keys')
      .call(echoScript, namespace, { count: 1, payload: 'x' })
      .catch((e: unknown) => e)
    expect(keys).toBeInstanceOf(RedisPermissionError)
    expect((keys as Error).message).toContain(`~tm:{${namespace.name}}:*`)
  })

  it('refuses SCRIPT LOAD with RedisPermissionError naming the command, when the scripts are not loaded', async () => {
    await admin.script('FLUSH')
    const error = await runnerAs('no-load').loadAll().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RedisPermissionError)
    expect(error).toMatchObject({ command: 'SCRIPT LOAD', user: 'no-load' })
    expect((error as Error).message).toMatch(/SCRIPT LOAD of script loader-test-\w+/)
    expect((error as Error).message).toMatch(/have an admin user load the scripts/)
  })

  it('lets a user refused SCRIPT LOAD use the scripts an admin loaded', async () => {
    await admin.script('FLUSH')
    await new ScriptRunner(admin, testScripts).loadAll()
    const runner = runnerAs('no-load')
    await runner.loadAll()
    expect(await runner.call(echoScript, randomNamespace('acl'), { count: 1, payload: 'x' })).toBeDefined()
    // Flushed again, the script cannot be reloaded by this user: the call says so.
    await admin.script('FLUSH')
    const error = await runner.call(echoScript, randomNamespace('acl'), { count: 1, payload: 'x' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'RedisPermissionError', command: 'SCRIPT LOAD', user: 'no-load' })
  })
})

describe('a Redis that went away', () => {
  let redis: PrivateRedis

  beforeAll(async () => {
    redis = await startPrivate('standalone')
  })
  afterAll(async () => {
    await closeClients()
    await redis?.stop()
  })

  it('fails calls, pipelines and loads with RedisUnavailableError; connections print nothing', async () => {
    const server = redis.servers[0]!
    // A client as taskmill opens it, with no listener of the test's own.
    const client = connect(`redis://${server.host}:${server.port}`)
    const printed: unknown[] = []
    const originalError = console.error
    console.error = (...args: unknown[]) => printed.push(args)
    try {
      const runner = new ScriptRunner(client, testScripts, { errorClasses: testErrorClasses })
      const namespace = randomNamespace('gone')
      await runner.call(echoScript, namespace, { count: 1, payload: 'x' })
      await redis.stop()
      const single = await runner.call(echoScript, namespace, { count: 1, payload: 'x' }).catch((e: unknown) => e)
      expect(single).toBeInstanceOf(RedisUnavailableError)
      expect((single as Error).message).toContain(`${server.host}:${server.port}`)
      const pipeline = await runner.pipeline().add(readScript, namespace, {}).exec().catch((e: unknown) => e)
      expect(pipeline).toBeInstanceOf(RedisUnavailableError)
      await expect(runner.loadAll()).rejects.toBeInstanceOf(RedisUnavailableError)
      // A few reconnect attempts, each of which emits 'error' on the connection.
      await sleep(600)
      expect(printed).toEqual([])
    } finally {
      console.error = originalError
      client.disconnect()
    }
  })
})

describe('a process whose Redis goes away', () => {
  it('prints no "[ioredis] Unhandled error event" and reports only taskmill errors', async () => {
    const redis = await startPrivate('standalone')
    const server = redis.servers[0]!
    const child = fork(
      fileURLToPath(new URL('./quiet-outage-process.ts', import.meta.url)),
      [`redis://${server.host}:${server.port}`, randomNamespace('quiet').name],
      { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
    )
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    child.stdout?.resume()
    const messages: { ready?: boolean; onErrorNames?: string[]; callErrorNames?: string[] }[] = []
    child.on('message', (m) => messages.push(m as (typeof messages)[number]))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      const deadline = Date.now() + 20_000
      while (!messages.some((m) => m.ready)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the child did not start:\n${stderr}`)
        await sleep(20)
      }
      await redis.stop()
      child.send({ outage: true })
      // Heartbeats every 50 ms, doorbell reads and reconnects for a while.
      await sleep(2500)
      child.send({ report: true })
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      await redis.stop()
    }
    expect(stderr).not.toContain('Unhandled error event')
    const report = messages.find((m) => m.onErrorNames !== undefined)!
    // The outage reached onError, and only as taskmill's own error.
    expect(report.onErrorNames!.length).toBeGreaterThan(0)
    expect(new Set(report.onErrorNames)).toEqual(new Set(['RedisUnavailableError']))
    expect(report.callErrorNames).toContain('RedisUnavailableError')
    expect(report.callErrorNames!.every((name) => name === 'RedisUnavailableError')).toBe(true)
  }, 40_000)
})
