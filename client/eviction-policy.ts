/**
 * The check `Scheduler.open` and `Worker.start` make before anything else: that Redis will not
 * evict taskmill's keys. Under an `allkeys-*` policy Redis deletes keys of its choosing when
 * memory runs short; a namespace then loses whole keys (its configuration, its leases, its
 * task records) while enqueues go on being acknowledged. `noeviction` refuses writes instead,
 * which taskmill turns into a RedisOutOfMemoryError before a script writes anything. The
 * `volatile-*` policies evict only keys with a time to live, and taskmill sets none.
 *
 * The policy is read from `INFO memory` (which ioredis' ready check needs anyway, and which
 * managed services allow where they disable CONFIG), or from `CONFIG GET` when INFO is
 * refused. On a cluster every primary is asked: the setting is per server.
 */
import { Cluster, type Redis } from 'ioredis'
import { aclUser, describeTarget, nodeName } from '../loader/connect.js'
import { RedisEvictionPolicyError, RedisUnavailableError } from '../loader/errors.js'
import { isReplyError } from '../loader/redis-failures.js'

/** Throws a RedisEvictionPolicyError when a primary may evict keys, or when its policy cannot be read. */
export async function refuseEvictingPolicy(redis: Redis | Cluster): Promise<void> {
  const user = aclUser(redis)
  for (const node of await primaries(redis)) {
    const policy = await readPolicy(node)
    if (policy === undefined || policy.startsWith('allkeys-')) {
      throw new RedisEvictionPolicyError(nodeName(node), user, policy)
    }
  }
}

async function primaries(redis: Redis | Cluster): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis]
  // A command through the cluster waits for (or fails on) the first slot map.
  if (redis.status !== 'ready') await redis.ping().catch((error: unknown) => unavailable(redis, error))
  return redis.nodes('master')
}

/** The node's maxmemory-policy, or undefined when this user may read it neither way. */
async function readPolicy(node: Redis): Promise<string | undefined> {
  try {
    const info = await node.info('memory')
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
    if (policy !== undefined) return policy
  } catch (error) {
    if (!isReplyError(error)) unavailable(node, error)
  }
  try {
    const [, policy] = (await node.config('GET', 'maxmemory-policy')) as string[]
    return policy
  } catch (error) {
    if (!isReplyError(error)) unavailable(node, error)
    return undefined
  }
}

function unavailable(redis: Redis | Cluster, error: unknown): never {
  throw new RedisUnavailableError(describeTarget(redis), error instanceof Error ? error.message : String(error), { cause: error })
}
