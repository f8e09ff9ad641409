/**
 * Runs taskmill's Lua scripts on Redis or Redis Cluster.
 *
 * Loading: `loadAll()` sends SCRIPT LOAD for every script to every primary and checks that the
 * SHA Redis computed equals the one codegen wrote into the definition, so a script that Redis
 * would run differently from what was reviewed is refused before any call. An ACL user refused
 * SCRIPT LOAD may still open on scripts an admin loaded (`loadAllOn`). Calls go out as
 * EVALSHA (EVALSHA_RO for `@readonly` scripts) and never as EVAL: a script cache flushed by
 * SCRIPT FLUSH, a restart or a failover answers NOSCRIPT, and the runner loads that script again
 * on every primary and re-sends the call. The cache can be flushed again between that load and
 * the re-send (an operator's loop, a flapping failover), so the runner keeps doing so, with a
 * short growing pause, until the call gets through or `reloadDeadlineMs` has passed; only then
 * does the caller hear of it, as a ScriptLoadError. NOSCRIPT means the script did not run, so
 * re-sending can never run a call twice. Pipelines re-send only their calls that met NOSCRIPT.
 *
 * Waiting for replicas (`waitForReplicas`): a call of a script that writes goes out in one
 * pipeline with `WAIT numreplicas timeout` behind it. Replies on one connection come in order
 * and WAIT covers every write its connection made before it, so the pair needs to share a
 * connection, and a pipeline is what guarantees that on a cluster as well (ioredis sends a
 * pipeline to the one node owning its keys' slot; WAIT has no keys). A redirect is then the
 * runner's to follow: ioredis re-sends a pipeline by itself only when every reply in it is the
 * same error, and WAIT answers differently from the EVALSHA it rides with. A MOVED, ASK,
 * TRYAGAIN or CLUSTERDOWN means the script did not run, so the runner refreshes the slot map and
 * sends the pair again, a bounded number of times. A shortfall (fewer replicas within the
 * timeout) rejects with a ReplicationTimeoutError that carries the reply: the write happened.
 *
 * Routing on a cluster: ioredis finds the slot of a command from the key positions in
 * `@ioredis/commands`, which lists EVALSHA_RO like EVALSHA (keys start after numkeys), so
 * `cluster.callBuffer('evalsha_ro', …)` goes to the primary owning the namespace's slot; the
 * loader tests assert this on the wire with MONITOR on every node.
 *
 * Replies are read with `callBuffer` so `bytes` values stay binary-safe, then decoded by the
 * declared reply type (`decode.ts`). Error replies are classified by their first word: a `TM_`
 * code becomes its generated class; Redis being away, out of memory or refusing an ACL
 * permission becomes the matching class from `errors.ts` (read in `redis-failures.ts`);
 * anything else is an UnexpectedScriptError.
 */
import { Cluster, type Redis } from 'ioredis'
import type { ScriptDefinition } from './contract.js'
import { decodeReply } from './decode.js'
import { encodeArgs, type EncodedArg } from './encode.js'
import { aclUser, describeTarget, nodeName } from './connect.js'
import {
  RedisPermissionError,
  RedisUnavailableError,
  ReplicationTimeoutError,
  ScriptLoadError,
  TaskmillError,
  TaskmillScriptError,
  UnexpectedScriptError,
  type RefusedCommand,
  type ScriptErrorClass,
  type ScriptErrorContext,
} from './errors.js'
import type { KeyName, Namespace } from './keys.js'
import { classifyRedisFailure, isReplyError, replyCode, withoutScriptLocation } from './redis-failures.js'
import type { ScriptCaller } from './script-caller.js'

export interface ScriptRunnerOptions {
  /** The generated error class for each `TM_` code; a code not listed becomes a plain {@link TaskmillScriptError}. */
  errorClasses?: Readonly<Record<string, ScriptErrorClass>>
  /**
   * How long, in ms from its first NOSCRIPT, a call keeps reloading scripts that Redis keeps
   * forgetting before it fails with a ScriptLoadError. A call always gets at least one reload
   * and re-send. Default: 10000.
   */
  reloadDeadlineMs?: number
  /**
   * Make calls of scripts that write resolve only once that many replicas acknowledged the
   * write (Redis `WAIT`), and reject with a {@link ReplicationTimeoutError} otherwise. Default:
   * none (a call resolves when the primary answers).
   */
  waitForReplicas?: ReplicaWaitOptions
}

/**
 * What `waitForReplicas` asks for. The WAIT travels with the call, so a call the script refused
 * may still wait out the timeout when the connection has earlier writes not yet acknowledged.
 */
export interface ReplicaWaitOptions {
  /** How many replicas must acknowledge the write; an integer of 1 or more. */
  replicas: number
  /**
   * How long the call waits for them, in ms; an integer of 1 or more (WAIT's own 0 would wait for
   * ever, and a primary whose replicas are all gone would hold every call).
   */
  timeoutMs: number
  /**
   * The scripts whose calls wait, e.g. `[enqueueScript]`; each must write (not be `@readonly`).
   * Default: every script of the runner that writes.
   */
  scripts?: readonly ScriptDefinition[]
}

/** The outcome of one call in a pipeline. */
export type PipelineResult = { ok: true; value: unknown } | { ok: false; error: Error }

/** What Redis answered to one call, and to the WAIT sent behind it when there was one. */
interface Outcome {
  error: Error | null
  reply: unknown
  /** Replicas that acknowledged, when a WAIT went with the call (0 when the WAIT failed). */
  acknowledged?: number
  waitError?: Error
}

interface ReplicaWait {
  readonly replicas: number
  readonly timeoutMs: number
  /** SHAs of the scripts whose calls wait. */
  readonly shas: ReadonlySet<string>
}

const DEFAULT_RELOAD_DEADLINE_MS = 10_000

/**
 * The longest pause between two reloads of a script Redis keeps forgetting. The pause starts at
 * 0 (the first NOSCRIPT is usually a single flush or restart) and doubles from 1 ms, so a storm
 * of flushes milliseconds apart is outlasted within a few rounds without hammering Redis.
 */
const MAX_RELOAD_PAUSE_MS = 50

/**
 * How many times a call sent with a WAIT follows a redirect before it fails, and the longest
 * pause between two tries: as ioredis does for the commands it redirects itself (16 redirections,
 * 100 ms pauses on TRYAGAIN and CLUSTERDOWN). A failover settles within a few tries.
 */
const MAX_REDIRECTS = 16
const MAX_REDIRECT_PAUSE_MS = 100

/** Replies that mean "not here, not now": the command was not run. */
const REDIRECT_CODES = new Set(['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN'])

interface PreparedCall {
  readonly definition: ScriptDefinition
  readonly namespace: string
  readonly command: 'evalsha' | 'evalsha_ro'
  readonly commandArgs: EncodedArg[]
}

export class ScriptRunner implements ScriptCaller {
  readonly redis: Redis | Cluster
  readonly scripts: readonly ScriptDefinition[]
  private readonly errorClasses: Readonly<Record<string, ScriptErrorClass>>
  private readonly reloadDeadlineMs: number
  private readonly replicaWait: ReplicaWait | undefined
  private loadingAll: Promise<void> | undefined
  private loadedOnce = false
  /** One reload per script at a time, so many calls meeting NOSCRIPT together load it once. */
  private readonly reloading = new Map<string, Promise<void>>()

  constructor(redis: Redis | Cluster, scripts: readonly ScriptDefinition[], options: ScriptRunnerOptions = {}) {
    this.redis = redis
    this.scripts = scripts
    this.errorClasses = options.errorClasses ?? {}
    this.reloadDeadlineMs = options.reloadDeadlineMs ?? DEFAULT_RELOAD_DEADLINE_MS
    this.replicaWait = options.waitForReplicas && replicaWait(options.waitForReplicas, scripts)
  }

  /**
   * SCRIPT LOAD every script on every primary and check the SHAs. Concurrent calls share the
   * load in flight; a call after it finished loads again (useful after a restart or failover).
   */
  loadAll(): Promise<void> {
    this.loadingAll ??= this.loadScripts(this.scripts, { mayUseLoaded: true })
      .then(() => {
        this.loadedOnce = true
      })
      .finally(() => {
        this.loadingAll = undefined
      })
    return this.loadingAll
  }

  async call(
    definition: ScriptDefinition,
    namespace: Namespace,
    args: Readonly<Record<string, unknown>>,
  ): Promise<unknown> {
    const prepared = prepare(definition, namespace, args)
    if (this.waitsAfter(definition)) {
      // Its WAIT must share its connection, which only a pipeline guarantees on a cluster.
      const [result] = await this.runCalls([prepared])
      if (!result!.ok) throw result!.error
      return result!.value
    }
    const since = Date.now()
    let reply: unknown
    for (let round = 1; ; round++) {
      try {
        reply = await this.send(prepared)
        break
      } catch (error) {
        if (!isNoScript(error)) throw this.mapError(prepared, error)
        if (!this.mayReloadAgain(round, since)) throw this.gaveUp([definition], round, since)
        await this.reloadAfterNoScript([definition], round)
      }
    }
    return this.decode(definition, reply)
  }

  /** Several calls sent together in one round trip; see {@link ScriptPipeline}. */
  pipeline(): ScriptPipeline {
    return new ScriptPipeline(this)
  }

  /**
   * @internal Runs prepared calls in one ioredis pipeline; the calls that meet NOSCRIPT are
   * re-sent together, in a pipeline of their own, after each reload (as for a single call).
   */
  async execPipeline(calls: readonly PreparedCall[]): Promise<PipelineResult[]> {
    if (calls.length === 0) return []
    if (!this.loadedOnce) await this.loadAll()
    return this.runCalls(calls)
  }

  private async runCalls(calls: readonly PreparedCall[]): Promise<PipelineResult[]> {
    const since = Date.now()
    const outcomes = await this.sendPipeline(calls)
    const metNoScript = (i: number): boolean => isNoScript(outcomes[i]!.error)
    let pending = calls.flatMap((_, i) => (metNoScript(i) ? [i] : []))
    for (let round = 1; pending.length > 0; round++) {
      const definitions = [...new Set(pending.map((i) => calls[i]!.definition))]
      if (!this.mayReloadAgain(round, since)) {
        const error = this.gaveUp(definitions, round, since)
        for (const i of pending) outcomes[i] = { error, reply: null }
        break
      }
      await this.reloadAfterNoScript(definitions, round)
      const again = await this.sendPipeline(pending.map((i) => calls[i]!))
      pending.forEach((callIndex, j) => {
        outcomes[callIndex] = again[j]!
      })
      pending = pending.filter(metNoScript)
    }
    return outcomes.map((entry, i) => {
      const call = calls[i]!
      const definition = call.definition
      if (entry.error !== null) return { ok: false, error: this.mapError(call, entry.error) }
      let value: unknown
      try {
        value = this.decode(definition, entry.reply)
      } catch (error) {
        return { ok: false, error: error as Error }
      }
      const shortfall = this.replicaShortfall(call, entry, value)
      return shortfall === undefined ? { ok: true, value } : { ok: false, error: shortfall }
    })
  }

  /**
   * Sends calls in one pipeline, with a WAIT behind them when one of them waits for replicas; on
   * a cluster, calls sent with a WAIT that were redirected are sent again (see the module note).
   */
  private async sendPipeline(calls: readonly PreparedCall[]): Promise<Outcome[]> {
    const wait = calls.some((call) => this.waitsAfter(call.definition)) ? this.replicaWait : undefined
    const outcomes = await this.sendOnce(calls, wait)
    if (wait === undefined || !(this.redis instanceof Cluster)) return outcomes
    for (let attempt = 1; ; attempt++) {
      const redirected = calls.flatMap((_, i) => (isRedirect(outcomes[i]!.error) ? [i] : []))
      if (redirected.length === 0 || attempt > MAX_REDIRECTS) return outcomes
      await Promise.all([refreshSlots(this.redis), sleep(Math.min(2 ** (attempt - 1) - 1, MAX_REDIRECT_PAUSE_MS))])
      const again = await this.sendOnce(redirected.map((i) => calls[i]!), wait)
      redirected.forEach((callIndex, j) => {
        outcomes[callIndex] = again[j]!
      })
    }
  }

  private async sendOnce(calls: readonly PreparedCall[], wait: ReplicaWait | undefined): Promise<Outcome[]> {
    const pipeline = this.redis.pipeline()
    for (const call of calls) pipeline.callBuffer(call.command, ...call.commandArgs)
    if (wait !== undefined) pipeline.call('wait', String(wait.replicas), String(wait.timeoutMs))
    let results: [Error | null, unknown][] | null
    try {
      results = await pipeline.exec()
    } catch (error) {
      throw this.unavailable(error)
    }
    if (results === null) throw this.unavailable(new Error('the pipeline was discarded'))
    const [waitError, acknowledged] = results[calls.length] ?? [new Error('no reply to WAIT'), 0]
    return calls.map((_, i) => {
      const [error, reply] = results[i] ?? [new Error('no reply for this call'), null]
      if (wait === undefined) return { error, reply }
      if (waitError !== null) return { error, reply, acknowledged: 0, waitError }
      return { error, reply, acknowledged: Number(acknowledged) }
    })
  }

  private waitsAfter(definition: ScriptDefinition): boolean {
    return this.replicaWait?.shas.has(definition.sha) ?? false
  }

  /** The error for a call that ran and waited, when fewer replicas than asked acknowledged it. */
  private replicaShortfall(call: PreparedCall, outcome: Outcome, value: unknown): ReplicationTimeoutError | undefined {
    const wait = this.replicaWait
    if (wait === undefined || !this.waitsAfter(call.definition)) return undefined
    const acknowledged = outcome.acknowledged ?? 0
    if (acknowledged >= wait.replicas) return undefined
    return new ReplicationTimeoutError(
      {
        script: contextOf(call.definition),
        namespace: call.namespace,
        target: this.target(),
        replicas: wait.replicas,
        acknowledged,
        timeoutMs: wait.timeoutMs,
        reply: value,
      },
      { cause: outcome.waitError },
    )
  }

  private send(call: PreparedCall): Promise<unknown> {
    return this.redis.callBuffer(call.command, ...call.commandArgs)
  }

  /** Whether a call that met NOSCRIPT for the `round`th time, first at `since`, may reload and re-send once more. */
  private mayReloadAgain(round: number, since: number): boolean {
    return round === 1 || Date.now() - since < this.reloadDeadlineMs
  }

  /** Waits the round's pause, then loads the scripts again on every primary. */
  private async reloadAfterNoScript(definitions: readonly ScriptDefinition[], round: number): Promise<void> {
    if (round > 1) await sleep(Math.min(2 ** (round - 2), MAX_RELOAD_PAUSE_MS))
    await Promise.all(definitions.map((definition) => this.reload(definition)))
  }

  private gaveUp(definitions: readonly ScriptDefinition[], round: number, since: number): ScriptLoadError {
    const names = definitions.map((definition) => definition.name).join(', ')
    return new ScriptLoadError(
      names,
      this.target(),
      `Redis forgot the script again after each of ${round - 1} reloads in ${Date.now() - since} ms. ` +
        'Something keeps emptying its script cache (SCRIPT FLUSH, restarts, failovers); stop it, or give the runner a longer reloadDeadlineMs',
    )
  }

  private reload(definition: ScriptDefinition): Promise<void> {
    let pending = this.reloading.get(definition.sha)
    if (pending === undefined) {
      pending = this.loadScripts([definition]).finally(() => this.reloading.delete(definition.sha))
      this.reloading.set(definition.sha, pending)
    }
    return pending
  }

  private async loadScripts(
    definitions: readonly ScriptDefinition[],
    options: { mayUseLoaded?: boolean } = {},
  ): Promise<void> {
    const nodes = await this.primaries()
    await Promise.all(nodes.map((node) => this.loadAllOn(node, definitions, options.mayUseLoaded ?? false)))
  }

  /**
   * Loads the scripts on one node. With `mayUseLoaded` (the up-front load, not a reload after
   * NOSCRIPT), a user refused SCRIPT LOAD may use scripts an admin loaded: this is the stricter
   * ACL setup, where producers and workers may only call scripts. The node is asked SCRIPT
   * EXISTS for the refused ones, and the load fails only for those it lacks. A user refused
   * SCRIPT EXISTS as well takes the cache on trust: a call that meets NOSCRIPT later reloads,
   * and that reload's refusal reaches the caller as a RedisPermissionError.
   */
  private async loadAllOn(node: Redis, definitions: readonly ScriptDefinition[], mayUseLoaded: boolean): Promise<void> {
    const outcomes = await Promise.allSettled(definitions.map((definition) => this.loadOn(node, definition)))
    const refused: { definition: ScriptDefinition; error: RedisPermissionError }[] = []
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue
      if (!mayUseLoaded || !(outcome.reason instanceof RedisPermissionError)) throw outcome.reason
      refused.push({ definition: definitions[i]!, error: outcome.reason })
    }
    if (refused.length === 0) return
    let exists: unknown
    try {
      exists = await node.call('script', 'exists', ...refused.map(({ definition }) => definition.sha))
    } catch (error) {
      if (isReplyError(error)) return
      throw this.unavailable(error, nodeName(node))
    }
    const missing = refused.find((_, i) => !Array.isArray(exists) || exists[i] !== 1)
    if (missing !== undefined) throw missing.error
  }

  private async loadOn(node: Redis, definition: ScriptDefinition): Promise<void> {
    const where = nodeName(node)
    let sha: unknown
    try {
      sha = await node.call('script', 'load', definition.source)
    } catch (error) {
      const refused: RefusedCommand = {
        command: 'SCRIPT LOAD',
        script: contextOf(definition),
        target: where,
        user: aclUser(this.redis),
      }
      throw (
        classifyRedisFailure(error, refused) ??
        new ScriptLoadError(definition.name, where, (error as Error).message, { cause: error })
      )
    }
    if (sha !== definition.sha) {
      throw new ScriptLoadError(
        definition.name,
        where,
        `Redis computed SHA ${String(sha)} but the definition says ${definition.sha}; run npm run codegen`,
      )
    }
  }

  /** Every primary: the connection itself, or on a cluster each master once the slot map is known. */
  private async primaries(): Promise<Redis[]> {
    if (!(this.redis instanceof Cluster)) return [this.redis]
    const cluster = this.redis
    if (cluster.status !== 'ready') {
      // A command through the cluster waits for (or fails on) the first slot map.
      try {
        await cluster.ping()
      } catch (error) {
        throw this.unavailable(error)
      }
    }
    const masters = cluster.nodes('master')
    if (masters.length === 0) throw this.unavailable(new Error('the cluster reports no primaries'))
    return masters
  }

  private decode(definition: ScriptDefinition, reply: unknown): unknown {
    try {
      return decodeReply(reply, definition.reply)
    } catch (error) {
      throw new UnexpectedScriptError(contextOf(definition), (error as Error).message, { cause: error })
    }
  }

  private mapError(call: PreparedCall, error: unknown): Error {
    const context = contextOf(call.definition)
    const refused: RefusedCommand = {
      command: call.command.toUpperCase(),
      script: context,
      namespace: call.namespace,
      target: this.target(),
      user: aclUser(this.redis),
    }
    const failure = classifyRedisFailure(error, refused)
    if (failure !== undefined) return failure
    const message = (error as Error).message
    const code = replyCode(message)
    if (code.startsWith('TM_')) {
      const detail = withoutScriptLocation(message.slice(code.length))
      const ErrorClass = this.errorClasses[code]
      return ErrorClass ? new ErrorClass(detail, context) : new TaskmillScriptError(code, detail, context)
    }
    return new UnexpectedScriptError(context, message, { cause: error })
  }

  private unavailable(error: unknown, where = this.target()): RedisUnavailableError {
    if (error instanceof RedisUnavailableError) return error
    const reason = error instanceof Error ? error.message : String(error)
    return new RedisUnavailableError(where, reason, { cause: error })
  }

  private target(): string {
    return describeTarget(this.redis)
  }
}

/**
 * Calls collected with `add` and sent in one round trip by `exec`, which resolves to one result
 * per call in order; a failing call does not fail the others. Scripts are loaded first if this
 * runner never loaded them. On a cluster one pipeline goes to one node, so all its calls must
 * use one namespace (one hash slot).
 */
export class ScriptPipeline {
  private readonly calls: PreparedCall[] = []
  private namespaceName: string | undefined

  constructor(private readonly runner: ScriptRunner) {}

  add(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): this {
    if (this.runner.redis instanceof Cluster) {
      if (this.namespaceName !== undefined && this.namespaceName !== namespace.name) {
        throw new TaskmillError(
          `a pipeline on a Redis Cluster must stay in one namespace (one hash slot): it has calls in ` +
            `${JSON.stringify(this.namespaceName)} and now one in ${JSON.stringify(namespace.name)}; use one pipeline per namespace`,
        )
      }
      this.namespaceName = namespace.name
    }
    this.calls.push(prepare(definition, namespace, args))
    return this
  }

  get length(): number {
    return this.calls.length
  }

  exec(): Promise<PipelineResult[]> {
    return this.runner.execPipeline(this.calls)
  }
}

function prepare(
  definition: ScriptDefinition,
  namespace: Namespace,
  args: Readonly<Record<string, unknown>>,
): PreparedCall {
  const keys = definition.keys.map((key) => namespace.key(key.name as KeyName))
  return {
    definition,
    namespace: namespace.name,
    command: definition.readOnly ? 'evalsha_ro' : 'evalsha',
    commandArgs: [definition.sha, String(keys.length), ...keys, ...encodeArgs(definition, args)],
  }
}

function contextOf(definition: ScriptDefinition): ScriptErrorContext {
  return { script: definition.name, version: definition.version, sha: definition.sha }
}

/** Checks `waitForReplicas` once, when the runner is made. */
function replicaWait(options: ReplicaWaitOptions, scripts: readonly ScriptDefinition[]): ReplicaWait {
  const { replicas, timeoutMs } = options
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new RangeError(`waitForReplicas.replicas must be an integer of 1 or more, got ${replicas}`)
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new RangeError(
      `waitForReplicas.timeoutMs must be an integer of 1 or more, got ${timeoutMs} (WAIT with 0 waits for ever)`,
    )
  }
  const waiting = options.scripts ?? scripts.filter((definition) => !definition.readOnly)
  const readOnly = waiting.find((definition) => definition.readOnly)
  if (readOnly !== undefined) {
    throw new TypeError(`waitForReplicas.scripts names ${readOnly.name}, which is @readonly: it writes nothing to wait for`)
  }
  return { replicas, timeoutMs, shas: new Set(waiting.map((definition) => definition.sha)) }
}

/** Asks the cluster for its slot map again and resolves when it has it, or failed to get it. */
function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()))
}

function isRedirect(error: unknown): boolean {
  return isReplyError(error) && REDIRECT_CODES.has(replyCode(error.message))
}

function isNoScript(error: unknown): boolean {
  return isReplyError(error) && replyCode(error.message) === 'NOSCRIPT'
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
