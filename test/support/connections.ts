/**
 * The run's Redis as the connection strings a Scheduler or Worker takes (standalone, and the
 * three-primary cluster by its seeds), for `describe.each`, and a poll with a deadline for
 * tests that wait on a condition.
 */
import { clusterInfo, clusterSkipReason, redisInfo } from './context.js'

export const connectionTargets = [
  { name: 'standalone', url: redisInfo.url, skip: undefined },
  {
    name: 'cluster',
    url: `redis-cluster://${(clusterInfo?.nodes ?? []).map((n) => `${n.host}:${n.port}`).join(',')}`,
    skip: clusterSkipReason,
  },
]

/** Reads until `done` holds and returns the value; past the deadline, fails with the last value read. */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
