/**
 * Redis CPU per script call, read from `INFO commandstats`: `CONFIG RESETSTAT`, then the measured
 * calls, then the `usec` and `calls` counters of `evalsha` and `evalsha_ro`. Redis times a
 * script call from start to end, commands it runs included, so usec / calls is what one call
 * costs Redis; the measured window holds nothing but the measured calls.
 *
 * Calls go through the generated wrappers (loader/generated/scripts.ts) with a {@link BatchCaller}
 * in place of the runner, so a whole round travels as a few pipelines and the wrappers' types
 * check every fixture against the scripts' current contracts.
 */
import type { Redis } from 'ioredis'
import { createRunner, Namespace, type ScriptDefinition } from '../client/index.js'
import type { PipelineResult, ScriptPipeline, ScriptRunner } from '../loader/runner.js'
import type { ScriptCaller } from '../loader/script-caller.js'
import { connect } from '../loader/connect.js'

/** Calls sent per pipeline: large enough to keep Redis busy, small enough to bound client memory. */
const PIPELINE_CHUNK = 500

/**
 * A {@link ScriptCaller} that collects calls instead of sending them; {@link send} sends what was
 * collected as one pipeline and settles each wrapper's promise with its own reply.
 */
export class BatchCaller implements ScriptCaller {
  private pipeline: ScriptPipeline
  private waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = []

  constructor(private readonly runner: ScriptRunner) {
    this.pipeline = runner.pipeline()
  }

  call(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): Promise<unknown> {
    this.pipeline.add(definition, namespace, args)
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  async send(): Promise<void> {
    const pipeline = this.pipeline
    const waiting = this.waiting
    this.pipeline = this.runner.pipeline()
    this.waiting = []
    let results: PipelineResult[]
    try {
      results = await pipeline.exec()
    } catch (error) {
      for (const entry of waiting) entry.reject(error as Error)
      return
    }
    results.forEach((result, i) => {
      const entry = waiting[i]!
      if (result.ok) entry.resolve(result.value)
      else entry.reject(result.error)
    })
  }
}

/**
 * Runs `count` calls made by `make(caller, i)`, pipelined in chunks, and returns their replies in
 * order; the first failing call rejects (after every chunk sent so far has settled).
 */
export async function pipelined<T>(runner: ScriptRunner, count: number, make: (caller: ScriptCaller, i: number) => Promise<T>): Promise<T[]> {
  const replies: T[] = []
  for (let from = 0; from < count; from += PIPELINE_CHUNK) {
    const caller = new BatchCaller(runner)
    const pending: Promise<T>[] = []
    for (let i = from; i < Math.min(count, from + PIPELINE_CHUNK); i++) pending.push(make(caller, i))
    await caller.send()
    replies.push(...(await Promise.all(pending)))
  }
  return replies
}

export interface ScriptCounters {
  calls: number
  usec: number
}

/** `evalsha` plus `evalsha_ro` from `INFO commandstats`. */
export async function scriptCounters(admin: Redis): Promise<ScriptCounters> {
  const text = await admin.info('commandstats')
  let calls = 0
  let usec = 0
  for (const line of text.split(/\r?\n/)) {
    const match = /^cmdstat_(evalsha|evalsha_ro):calls=(\d+),usec=(\d+),/.exec(line)
    if (!match) continue
    calls += Number(match[2])
    usec += Number(match[3])
  }
  return { calls, usec }
}

/** Resets the counters, runs `send`, and returns what the script calls in between cost Redis. */
export async function measureWindow(admin: Redis, send: () => Promise<unknown>): Promise<ScriptCounters> {
  await admin.config('RESETSTAT')
  await send()
  return scriptCounters(admin)
}

export interface CallCost {
  /** Calls measured in the round that counted. */
  calls: number
  /** Redis µs per call, best round. */
  usecPerCall: number
}

/** The lowest µs per call of several rounds: the figure least disturbed by other work on the machine. */
export function bestOf(rounds: readonly ScriptCounters[]): CallCost {
  let best: CallCost | undefined
  for (const round of rounds) {
    if (round.calls === 0) continue
    const usecPerCall = round.usec / round.calls
    if (!best || usecPerCall < best.usecPerCall) best = { calls: round.calls, usecPerCall }
  }
  if (!best) throw new Error('no script call was measured')
  return best
}

/** EVALSHA of a loaded `return 1` (no keys, no arguments), pipelined: the floor of any script call. */
export async function returnOneCost(runner: ScriptRunner, admin: Redis, calls: number, rounds: number): Promise<CallCost> {
  const sha = String(await admin.script('LOAD', 'return 1'))
  const measured: ScriptCounters[] = []
  for (let round = 0; round < rounds; round++) {
    measured.push(
      await measureWindow(admin, async () => {
        for (let from = 0; from < calls; from += PIPELINE_CHUNK) {
          const pipeline = runner.redis.pipeline()
          for (let i = from; i < Math.min(calls, from + PIPELINE_CHUNK); i++) pipeline.evalsha(sha, 0)
          await pipeline.exec()
        }
      }),
    )
  }
  return bestOf(measured)
}

/** A runner with every generated script loaded, and an admin connection for INFO and CONFIG. */
export async function openRunner(url: string): Promise<{ runner: ScriptRunner; admin: Redis; close(): Promise<void> }> {
  const redis = connect(url)
  const runner = createRunner(redis)
  await runner.loadAll()
  const admin = connect(url)
  return {
    runner,
    admin,
    async close() {
      redis.disconnect()
      admin.disconnect()
    },
  }
}

/** The Redis server's clock in ms, which is what scripts compare due times against. */
export async function serverNow(admin: Redis): Promise<number> {
  const [seconds, micros] = (await admin.time()) as [string | number, string | number]
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

export { Namespace }
