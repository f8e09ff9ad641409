/**
 * `taskmill rate-limit QUEUE MAX/INTERVAL` and `taskmill rate-limit --remove QUEUE`: one call on
 * each partition (set-rate-limit, remove-rate-limit), the limit shared out between partitions
 * as Scheduler.setRateLimit does (client/rate-limits.ts).
 */
import { removeRateLimit, setRateLimit } from '../../loader/generated/scripts.js'
import { rateLimitShares } from '../../client/rate-limits.js'
import { parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions } from '../connection.js'
import { UsageError } from '../errors.js'
import { namespaceHelp } from '../namespace.js'
import { withNamespace } from './operations.js'

const options = { ...connectionOptions, namespace: { type: 'string' }, remove: { type: 'boolean' } } as const

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** "50/1s", "50/s", "10/500ms", "1000/1m", "5/2000" (ms): the limit and the window in ms. */
export function parseRateLimit(text: string): { max: number; intervalMs: number } | undefined {
  const match = /^(\d+)\/(\d*)(ms|s|m|h)?$/.exec(text)
  if (!match) return undefined
  const max = Number(match[1])
  const count = match[2] === '' ? 1 : Number(match[2])
  if (match[2] === '' && match[3] === undefined) return undefined
  const intervalMs = count * UNITS[match[3] ?? 'ms']!
  if (max < 1 || intervalMs < 1) return undefined
  return { max, intervalMs }
}

export const rateLimitCommand: Command = {
  name: 'rate-limit',
  summary: 'limit how many tasks of a queue start per interval, or remove the limit',
  help: `Usage: taskmill rate-limit --namespace NS [--url URL | --cluster SEEDS] QUEUE MAX/INTERVAL
       taskmill rate-limit --namespace NS [--url URL | --cluster SEEDS] --remove QUEUE

Limits a queue to at most MAX task starts in any window of INTERVAL on the Redis server's
clock, or with --remove takes its limit away. INTERVAL is a number with a unit (ms, s, m, h;
no unit means ms; "50/s" is 50 a second). Tasks over the limit wait ready and start when the
window lets them. With several partitions the limit is shared out between them, so MAX must be
at least the number of partitions. Setting the limit a queue has, or removing a limit it does
not have, changes nothing, and says so.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
      --remove           Remove the queue's limit.
  -h, --help             Show this help.
`,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('rate-limit', argv, options, { names: ['QUEUE', 'MAX/INTERVAL'], required: 1 })
    const queue = positionals[0]!
    if (values.remove === true) {
      if (positionals.length > 1) throw new UsageError('--remove takes the queue alone', 'rate-limit')
      return withNamespace('rate-limit', values, async (runner, table) => {
        const replies = await Promise.all(table.all.map((partition) => removeRateLimit(runner, partition, { queue })))
        if (!replies.some((reply) => reply.changed === 1)) return `queue ${queue}: had no rate limit\n`
        const dispatched = replies.reduce((sum, reply) => sum + reply.dispatched, 0)
        return `queue ${queue}: rate limit removed, ${dispatched} task${dispatched === 1 ? '' : 's'} dispatched\n`
      }, output)
    }
    if (positionals.length < 2) throw new UsageError('missing MAX/INTERVAL', 'rate-limit')
    const limit = parseRateLimit(positionals[1]!)
    if (limit === undefined) throw new UsageError(`MAX/INTERVAL: expected e.g. 50/1s or 10/500ms, got "${positionals[1]}"`, 'rate-limit')
    return withNamespace('rate-limit', values, async (runner, table) => {
      let shares: number[]
      try {
        shares = rateLimitShares(limit.max, table.count)
      } catch (error) {
        throw new UsageError((error as Error).message, 'rate-limit')
      }
      const replies = await Promise.all(
        table.all.map((partition, i) => setRateLimit(runner, partition, { queue, max: shares[i]!, intervalMs: limit.intervalMs })),
      )
      const spelled = `${limit.max} per ${limit.intervalMs} ms`
      if (!replies.some((reply) => reply.changed === 1)) return `queue ${queue}: had this rate limit already (${spelled})\n`
      const dispatched = replies.reduce((sum, reply) => sum + reply.dispatched, 0)
      return `queue ${queue}: at most ${spelled}${table.count > 1 ? ` over ${table.count} partitions` : ''}, ${dispatched} task${dispatched === 1 ? '' : 's'} dispatched\n`
    }, output)
  },
}
