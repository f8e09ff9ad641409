/**
 * The errors taskmill raises at run time.
 *
 * A script fails with an error reply whose first word is a `TM_<CODE>` from
 * `scripts-lua/errors.json`; codegen emits one subclass of {@link TaskmillScriptError} per code
 * into `loader/generated/errors.ts`. Everything else the runner can meet is one of the classes
 * below, so a caller can tell "the scheduler said no" from "the script broke" from "Redis is not
 * there" by class, never by matching text.
 */

/** The root of every error taskmill raises on purpose. */
export class TaskmillError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Which script, in which contract version and under which SHA, produced an error. */
export interface ScriptErrorContext {
  script: string
  version: number
  sha: string
}

/** A script refused the call with a declared `TM_<CODE> <detail>` error reply. */
export class TaskmillScriptError extends TaskmillError {
  /** The code, the first word of the reply, e.g. `TM_BAD_ARGUMENT`. */
  readonly code: string
  /** The rest of the reply, without the location Redis appends. */
  readonly detail: string
  readonly context: ScriptErrorContext

  constructor(code: string, detail: string, context: ScriptErrorContext) {
    super(`${code} ${detail} (script ${context.script} v${context.version})`)
    this.code = code
    this.detail = detail
    this.context = context
  }
}

/** The constructor shape of the generated per-code classes. */
export type ScriptErrorClass = new (detail: string, context: ScriptErrorContext) => TaskmillScriptError

/**
 * A script failed without a taskmill code (a Lua runtime error, a wrong-type key, a reply that
 * does not match the declared type): a bug in the script or foreign data in the namespace.
 */
export class UnexpectedScriptError extends TaskmillError {
  readonly context: ScriptErrorContext
  /** The text Redis replied with (or what was wrong with the reply). */
  readonly redisMessage: string

  constructor(context: ScriptErrorContext, redisMessage: string, options?: { cause?: unknown }) {
    super(
      `script ${context.script} v${context.version} (sha ${context.sha}) failed unexpectedly: ${redisMessage}`,
      options,
    )
    this.context = context
    this.redisMessage = redisMessage
  }
}

/** SCRIPT LOAD failed on a node, or the node computed another SHA than codegen did. */
export class ScriptLoadError extends TaskmillError {
  readonly script: string
  /** `host:port` of the node that refused. */
  readonly node: string

  constructor(script: string, node: string, reason: string, options?: { cause?: unknown }) {
    super(`loading script ${script} on ${node} failed: ${reason}`, options)
    this.script = script
    this.node = node
  }
}

/** Redis could not be reached, or dropped the connection, before it answered. */
export class RedisUnavailableError extends TaskmillError {
  /** Where the client tried to connect, `host:port` or a list of them. */
  readonly target: string

  constructor(target: string, reason: string, options?: { cause?: unknown }) {
    super(
      `Redis at ${target} is unavailable (${reason}). ` +
        'Check the Redis URL you passed (the connection option, or --url for the taskmill command) and that redis-server is running and reachable from this host.',
      options,
    )
    this.target = target
  }
}
