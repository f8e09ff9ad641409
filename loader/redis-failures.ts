/**
 * Reading the errors of Redis and ioredis, in one place: which mean "Redis is not there", "Redis
 * is out of memory" or "this ACL user may not", and so become the taskmill errors of the same
 * name for whoever sent the command (the script runner, the stream readers). The rest is left
 * to the caller: a script's `TM_` code, NOSCRIPT, or a genuine failure of the command.
 */
import {
  RedisOutOfMemoryError,
  RedisPermissionError,
  RedisUnavailableError,
  TaskmillError,
  type RefusedCommand,
} from './errors.js'

/**
 * First words of error replies that mean "the server cannot serve now", not "the call failed".
 * ioredis and the runner follow MOVED, ASK and TRYAGAIN themselves, so one that reaches this far
 * means the cluster kept redirecting: a slot on the move, or a failover that has not settled.
 */
const UNAVAILABLE_REPLY_CODES = new Set(['LOADING', 'CLUSTERDOWN', 'MASTERDOWN', 'BUSY', 'MOVED', 'ASK', 'TRYAGAIN'])

/** Redis appends this to an error raised inside a script; it says nothing the error classes do not. */
const SCRIPT_LOCATION_SUFFIX = / script: [0-9a-f]{40}, on @user_script:\d+\.$/

/** The reply text without the script location Redis appends. */
export function withoutScriptLocation(message: string): string {
  return message.replace(SCRIPT_LOCATION_SUFFIX, '').trim()
}

/** ioredis rejects with a `ReplyError` (from redis-errors) for error replies; connection failures are other errors. */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError'
}

/** The code of an error reply: its first word, as in `NOSCRIPT`, `OOM`, `TM_UNKNOWN_TASK`. */
export function replyCode(message: string): string {
  const space = message.indexOf(' ')
  return space === -1 ? message : message.slice(0, space)
}

/**
 * Redis 7.0 reports a command refused inside a script as `ERR The user executing the script
 * can't …`, Redis 7.2 and later as `ERR ACL failure in script: …`: both begin with ERR, so the
 * text is all there is to go by.
 */
function isInScriptAclFailure(message: string): boolean {
  return /^ERR (The user executing the script can't|ACL failure in script)/.test(message)
}

/**
 * The taskmill error for a failure that is not the command's own doing: Redis unreachable or
 * dropping the connection (ioredis' `MaxRetriesPerRequestError`, "Connection is closed.", a
 * refused connect, or a `LOADING`/`BUSY`/`CLUSTERDOWN`… reply), Redis out of memory, or an ACL
 * permission missing. Undefined for any other error reply. A taskmill error passes through.
 */
export function classifyRedisFailure(error: unknown, refused: RefusedCommand): TaskmillError | undefined {
  if (error instanceof TaskmillError) return error
  if (!isReplyError(error)) {
    const reason = error instanceof Error ? error.message : String(error)
    return new RedisUnavailableError(refused.target, reason, { cause: error })
  }
  const message = withoutScriptLocation(error.message)
  const code = replyCode(message)
  if (UNAVAILABLE_REPLY_CODES.has(code)) return new RedisUnavailableError(refused.target, message, { cause: error })
  if (code === 'OOM') return new RedisOutOfMemoryError(refused, message, { cause: error })
  if (code === 'NOPERM') return new RedisPermissionError(refused, message, { cause: error })
  if (isInScriptAclFailure(message)) return new RedisPermissionError(refused, message, { insideScript: true, cause: error })
  return undefined
}
