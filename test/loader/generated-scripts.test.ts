/**
 * The runner with the scheduler's real, generated scripts (`loader/generated/`): every script
 * loads under the SHA codegen computed, and `init`, `enqueue` and the read-only `get-task` round
 * trip a binary payload, on standalone Redis and on the cluster. Error replies map to the
 * generated classes.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { ScriptDefinition } from '../../loader/contract.js'
import { TaskmillScriptError, type ScriptErrorClass } from '../../loader/errors.js'
import { ScriptRunner } from '../../loader/runner.js'
import { clientAddresses, dumpNamespace, randomNamespace, targets, WireTap } from '../support/context.js'

const generatedDir = new URL('../../loader/generated/', import.meta.url)
const available =
  existsSync(fileURLToPath(new URL('scripts.ts', generatedDir))) &&
  existsSync(fileURLToPath(new URL('errors.ts', generatedDir)))

// Imported by computed URL so this file typechecks before codegen has written them.
const scriptsModule = available
  ? ((await import(new URL('scripts.ts', generatedDir).href)) as { allScripts: readonly ScriptDefinition[] })
  : undefined
const errorsModule = available
  ? ((await import(new URL('errors.ts', generatedDir).href)) as {
      errorClassesByCode: Readonly<Record<string, ScriptErrorClass>>
    })
  : undefined

function script(name: string): ScriptDefinition {
  const found = scriptsModule?.allScripts.find((s) => s.name === name)
  if (found === undefined) throw new Error(`no generated script ${name}`)
  return found
}

describe.skipIf(!available).each(targets)('generated scripts on $name Redis', (target) => {
  const it_ = it.skipIf(target.skip !== undefined)

  const runner = (client = target.client()): ScriptRunner =>
    new ScriptRunner(client, scriptsModule!.allScripts, { errorClasses: errorsModule!.errorClassesByCode })

  it_('loads every generated script under its SHA', async () => {
    await expect(runner().loadAll()).resolves.toBeUndefined()
  })

  it_('enqueues a task and reads it back byte for byte with EVALSHA_RO', async () => {
    const client = target.client()
    const r = runner(client)
    await r.loadAll()
    const namespace = randomNamespace()
    const payload = Buffer.from([0, 1, 2, 254, 255, 13, 10])
    const tap = await WireTap.open(target.servers())
    try {
      const mine = await clientAddresses(client)
      await r.call(script('init'), namespace, {})
      expect(await r.call(script('enqueue'), namespace, { tasks: [{ id: 'task-1', payload, priority: 5 }] })).toEqual([
        'created',
      ])
      const task = (await r.call(script('get-task'), namespace, { id: 'task-1' })) as Record<string, unknown>
      expect(task).toMatchObject({ id: 'task-1', priority: 5 })
      expect(task.payload).toEqual(payload)
      expect(await r.call(script('get-task'), namespace, { id: 'nope' })).toBeNull()
      await tap.sync()
      const names = tap.from(mine).map((c) => c.args[0])
      expect(names.filter((n) => n === 'evalsha_ro')).toHaveLength(2)
      expect(names).not.toContain('eval')
      expect(names).not.toContain('eval_ro')
    } finally {
      tap.stop()
    }
  })

  it_('maps TM_ errors to the generated classes and leaves the namespace byte-identical', async () => {
    const client = target.client()
    const r = runner(client)
    const namespace = randomNamespace()
    const uninitialized = await r.call(script('get-task'), namespace, { id: 'x' }).catch((e: unknown) => e)
    expect(uninitialized).toBeInstanceOf(errorsModule!.errorClassesByCode.TM_NOT_INITIALIZED!)
    expect(uninitialized).toMatchObject({
      code: 'TM_NOT_INITIALIZED',
      context: { script: 'get-task', version: script('get-task').version, sha: script('get-task').sha },
    })

    await r.call(script('init'), namespace, {})
    const before = await dumpNamespace(client, namespace)
    const bad = await r
      .call(script('enqueue'), namespace, { tasks: [{ id: 'a', payload: 'p', priority: 5000 }] })
      .catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(errorsModule!.errorClassesByCode.TM_BAD_ARGUMENT!)
    expect(bad).toBeInstanceOf(TaskmillScriptError)
    expect((bad as TaskmillScriptError).detail).toContain('priority')
    expect(await dumpNamespace(client, namespace)).toEqual(before)
  })
})
