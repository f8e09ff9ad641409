/**
 * The errors taskmill raises at run time.
 *
 * A script fails with an error reply whose first word is a `TM_<CODE>` from
 * `scripts-lua/errors.json`; codegen emits one subclass of {@link TaskmillScriptError} per code
 * into `loader/generated/errors.ts`. Everything else the runner can meet is one of the classes
 * below, so a caller can tell "the scheduler said no" from "the script broke" from "Redis is not
 * there" from "Redis is full" from "this user may not" from "written, but not yet on enough
 * replicas" by class, never by matching text.
 * `redis-failures.ts` is the one place that reads Redis' and ioredis' own errors.
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

/**
 * A write script ran, but fewer replicas than the runner's `waitForReplicas` asks for
 * acknowledged it before the timeout (or the WAIT sent with it failed, as when its node was
 * demoted in between: then `acknowledged` is 0 and `cause` is the WAIT's error).
 *
 * The write happened: it is on the primary, every other client sees it, and nothing undoes it.
 * What is not known is whether it survives a failover: a replica promoted before it received
 * the write has lost it. `reply` holds what the script answered, as if the call had resolved.
 * Sending the same call again is how to wait again when the call is idempotent (an enqueue with
 * ids answers `exists`, and its WAIT covers the first write when it travels on the same
 * connection); otherwise treat the write as done on the primary only.
 */
export class ReplicationTimeoutError extends TaskmillError {
  readonly script: ScriptErrorContext
  /** The namespace the script wrote to. */
  readonly namespace: string
  /** `host:port` of the server, or the cluster's nodes. */
  readonly target: string
  /** How many replicas were asked for. */
  readonly replicas: number
  /** How many acknowledged the write within `timeoutMs`. */
  readonly acknowledged: number
  readonly timeoutMs: number
  /** The script's decoded reply: what the write did. */
  readonly reply: unknown

  constructor(
    details: {
      script: ScriptErrorContext
      namespace: string
      target: string
      replicas: number
      acknowledged: number
      timeoutMs: number
      reply: unknown
    },
    options?: { cause?: unknown },
  ) {
    const waitFailed = options?.cause instanceof Error ? ` (WAIT failed: ${options.cause.message})` : ''
    super(
      `script ${details.script.script} v${details.script.version} wrote to namespace ${JSON.stringify(details.namespace)} ` +
        `on ${details.target}, but ${details.acknowledged} of the ${details.replicas} replicas asked for acknowledged it ` +
        `within ${details.timeoutMs} ms${waitFailed}. The write happened and stays on the primary; a failover to a replica ` +
        'that lacks it loses it. Send the same call again to wait again if it is idempotent (an enqueue with ids is), ' +
        'or check the replicas (INFO replication on the primary).',
      options,
    )
    this.script = details.script
    this.namespace = details.namespace
    this.target = details.target
    this.replicas = details.replicas
    this.acknowledged = details.acknowledged
    this.timeoutMs = details.timeoutMs
    this.reply = details.reply
  }
}

/** A command Redis refused, as taskmill sent it, for the errors below. */
export interface RefusedCommand {
  /** The command as sent, in capitals: `EVALSHA`, `EVALSHA_RO`, `SCRIPT LOAD`, `XREAD`. */
  command: string
  /** The script the command ran or loaded, if any. */
  script?: ScriptErrorContext
  /** The namespace whose keys the command touched, if any. */
  namespace?: string
  /** `host:port` of the server, or the cluster's nodes. */
  target: string
  /** The ACL user the connection authenticates as (`default` when it sends no user name). */
  user: string
}

/** `EVALSHA of script init v1`, or just the command when no script is involved. */
function describeRefused(refused: RefusedCommand): string {
  if (refused.script === undefined) return refused.command
  return `${refused.command} of script ${refused.script.script} v${refused.script.version}`
}

/**
 * Redis is out of memory: its used memory is above `maxmemory` and `maxmemory-policy
 * noeviction` makes it refuse writes (the policy taskmill needs: an evicting policy would
 * delete taskmill's keys instead). Retry once memory has been freed.
 */
export class RedisOutOfMemoryError extends TaskmillError {
  /** The command refused, e.g. `EVALSHA`. */
  readonly command: string
  /** The script it would have run. */
  readonly script: ScriptErrorContext | undefined
  /** `host:port` of the server that refused. */
  readonly target: string
  /** The text Redis replied with. */
  readonly redisMessage: string

  constructor(refused: RefusedCommand, redisMessage: string, options?: { cause?: unknown }) {
    super(
      `Redis at ${refused.target} is out of memory and refused ${describeRefused(refused)}: ${redisMessage} ` +
        // Scripts with a `#!lua` line that may write are refused before they start; all of
        // taskmill's are written so, so a refused call changed nothing and can be retried as is.
        'A script that declares it writes (every taskmill script does) is refused before it runs, so nothing was written. ' +
        'Free memory (let workers drain the backlog, keep fewer finished tasks, remove other data) or raise maxmemory, then retry.',
      options,
    )
    this.command = refused.command
    this.script = refused.script
    this.target = refused.target
    this.redisMessage = redisMessage
  }
}

/**
 * Redis runs with an evicting `maxmemory-policy` (`allkeys-lru`, `allkeys-lfu`,
 * `allkeys-random`): under memory pressure it deletes keys of its choosing, taskmill's
 * included, so a namespace loses tasks, leases or its whole state while enqueues go on being
 * acknowledged. `Scheduler.open` and `Worker.start` refuse such a server unless given
 * `allowEvictingPolicy: true`. Also raised when the policy cannot be read at all (the ACL user
 * may run neither `INFO` nor `CONFIG GET`): then `policy` is undefined.
 */
export class RedisEvictionPolicyError extends TaskmillError {
  /** The policy the server reported, or undefined when it could not be read. */
  readonly policy: string | undefined
  /** `host:port` of the server. */
  readonly target: string
  /** The ACL user the connection authenticates as. */
  readonly user: string

  constructor(target: string, user: string, policy: string | undefined, options?: { cause?: unknown }) {
    super(
      policy === undefined
        ? `Redis at ${target} did not let ACL user "${user}" read its maxmemory-policy (INFO memory and CONFIG GET were both refused), ` +
            'so taskmill cannot tell whether Redis may evict its keys. Grant the user +info, or pass allowEvictingPolicy: true if you know the policy is noeviction.'
        : `Redis at ${target} runs with maxmemory-policy ${policy}: when memory runs short it deletes keys of its choosing, ` +
            "taskmill's included, and tasks vanish while enqueues are still acknowledged. " +
            'Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or keep taskmill on a Redis of its own; ' +
            'pass allowEvictingPolicy: true only if you accept losing tasks.',
      options,
    )
    this.policy = policy
    this.target = target
    this.user = user
  }
}

/**
 * The connection's ACL user lacks a permission the call needs: the command itself (`EVALSHA`,
 * `EVALSHA_RO`, `SCRIPT LOAD`), a command the script runs, or the namespace's keys.
 */
export class RedisPermissionError extends TaskmillError {
  /** The command refused, or the script call in which a command was refused, e.g. `EVALSHA`. */
  readonly command: string
  readonly script: ScriptErrorContext | undefined
  /** The ACL user that lacks the permission. */
  readonly user: string
  /** True when Redis accepted the script call and refused a command the script ran. */
  readonly insideScript: boolean
  /** `host:port` of the server that refused. */
  readonly target: string
  /** The text Redis replied with. */
  readonly redisMessage: string

  constructor(
    refused: RefusedCommand,
    redisMessage: string,
    options: { insideScript?: boolean; cause?: unknown } = {},
  ) {
    const insideScript = options.insideScript ?? false
    super(
      `Redis at ${refused.target} refused ${describeRefused(refused)} to ACL user "${refused.user}": ${redisMessage.replace(/\.$/, '')}. ` +
        permissionAdvice(refused, redisMessage, insideScript),
      { cause: options.cause },
    )
    this.command = refused.command
    this.script = refused.script
    this.user = refused.user
    this.insideScript = insideScript
    this.target = refused.target
    this.redisMessage = redisMessage
  }
}

function permissionAdvice(refused: RefusedCommand, redisMessage: string, insideScript: boolean): string {
  const keys = refused.namespace === undefined ? undefined : `~tm:{${refused.namespace}}:*`
  const setUser = `ACL SETUSER ${refused.user}`
  if (/\bkeys?\b/i.test(redisMessage) && keys !== undefined) {
    return `Let the user access the namespace's keys (${setUser} ${keys}) or connect as a user that may.`
  }
  if (insideScript) {
    return (
      `The user may send ${refused.command}, but not a command the script runs inside: give it the commands ` +
      `taskmill's scripts run${keys === undefined ? '' : ` on ${keys}`}, or connect as a user that has them.`
    )
  }
  const command = refused.command.toLowerCase().replace(' ', '|')
  const grant = `Grant it (${setUser} +${command}${keys === undefined ? '' : ` ${keys}`}) or connect as a user that has it`
  // The stricter setup: an admin loads the scripts, producers and workers may only call them.
  if (refused.command === 'SCRIPT LOAD') return `${grant}, or have an admin user load the scripts first (npx taskmill load --url …).`
  return `${grant}.`
}
