/**
 * Dependencies across partitions, the TypeScript side: what a producer calls before enqueuing
 * tasks that depend on tasks of other partitions, and the relay that carries a finished task's
 * outcome from its partition's outbox to the partitions where tasks wait on it. The protocol
 * and why it is safe are explained once, in `scripts-lua/lib/outbox.lua`.
 *
 * A task of another partition is named by a reference `<partition>/<id>` (`remoteRef`), in
 * enqueue's `remoteDependsOn`; `/` cannot occur in an id, so a reference never reads as an id.
 *
 * Producer, for a batch going to partition B whose tasks depend on tasks of other partitions:
 *   1. `watchRemoteDependencies(runner, partitions, B, refs)`: one `watch-dependency` call per
 *      partition of the parents. An unknown parent rejects it (UnknownDependencyError) before
 *      anything is written in B.
 *   2. `enqueue` in B, naming those parents in `remoteDependsOn`.
 * Watching is idempotent, so a producer that retries the pair after a failure just runs both
 * again. A watch whose enqueue never follows costs one relayed outcome, kept a while in B.
 *
 * Relay: `relayOnce(runner, partitions, A)` takes up to `limit` due outcomes from A's outbox
 * (`claim-relay`), delivers them to their partitions (`deliver-outcome`, one call per
 * partition) and removes them from the outbox (`ack-relay`). Any number of processes may run it
 * at once on the same partition: a claim holds its outcomes for `leaseMs`, and a relay that
 * dies between claim and ack leaves them to be taken again when that lease ends. Delivering an
 * outcome twice changes nothing. A worker learns that A has outcomes to relay from its
 * heartbeat in A (`relay` > 0 in the reply); queueing an outcome also wakes A's timer node with
 * a `due` message, which makes it send that heartbeat at once.
 */
import type { Namespace } from '../loader/keys.js'
import type { ScriptCaller } from '../loader/script-caller.js'
import { ackRelay, claimRelay, deliverOutcome, watchDependency } from '../loader/generated/scripts.js'

/** The reference to task `id` of partition `partition`, as enqueue's `remoteDependsOn` takes it. */
export function remoteRef(partition: number, id: string): string {
  return `${partition}/${id}`
}

/** The partition and id of a reference made by {@link remoteRef}. */
export function parseRemoteRef(ref: string): { partition: number; id: string } {
  const match = /^(0|[1-9][0-9]{0,3})\/(.+)$/.exec(ref)
  if (match === null) throw new TypeError(`${JSON.stringify(ref)} is not a reference <partition>/<id>`)
  return { partition: Number(match[1]), id: match[2]! }
}

function partitionOf(partitions: readonly Namespace[], index: number): Namespace {
  const namespace = partitions.find((p) => p.partition === index)
  if (namespace === undefined) throw new RangeError(`partition ${index} is not among the partitions given`)
  return namespace
}

/**
 * Registers the tasks named by `refs` as dependencies of tasks about to be enqueued in partition
 * `childPartition`: one `watch-dependency` call per partition they are in, concurrently.
 * Resolves with each reference's state as its partition saw it: `pending`, or `finished` (its
 * outcome is on its way already). Rejects with UnknownDependencyError when a partition does not
 * know one of its tasks; nothing is then written in that partition.
 */
export async function watchRemoteDependencies(
  runner: ScriptCaller,
  partitions: readonly Namespace[],
  childPartition: number,
  refs: Iterable<string>,
): Promise<Map<string, 'pending' | 'finished'>> {
  const byPartition = new Map<number, string[]>()
  for (const ref of new Set(refs)) {
    const { partition, id } = parseRemoteRef(ref)
    const ids = byPartition.get(partition) ?? []
    ids.push(id)
    byPartition.set(partition, ids)
  }
  const states = new Map<string, 'pending' | 'finished'>()
  await Promise.all(
    [...byPartition].map(async ([partition, ids]) => {
      const reply = await watchDependency(runner, partitionOf(partitions, partition), { partition: childPartition, ids })
      ids.forEach((id, i) => states.set(remoteRef(partition, id), reply[i]!))
    }),
  )
  return states
}

export interface RelayOptions {
  /** Most outcomes taken in one round. Default: 100 (at most 1000). */
  limit?: number
  /** How long a round holds the outcomes it took before another relay may take them, in ms. Default: 10000. */
  leaseMs?: number
}

/**
 * One round of relay from partition `from`: takes its due outcomes, delivers them to the
 * partitions they go to, and removes the delivered ones from the outbox. Resolves with how many
 * were delivered; when that equals the limit there may be more, and another round takes them.
 * An outcome whose delivery failed is not removed: it is taken again when the lease ends, and
 * the first such error is thrown once the others are done.
 */
export async function relayOnce(
  runner: ScriptCaller,
  partitions: readonly Namespace[],
  from: Namespace,
  options: RelayOptions = {},
): Promise<number> {
  const claimed = await claimRelay(runner, from, { limit: options.limit, leaseMs: options.leaseMs })
  if (claimed.length === 0) return 0
  const byPartition = new Map<number, typeof claimed>()
  for (const row of claimed) {
    const rows = byPartition.get(row[0]) ?? []
    rows.push(row)
    byPartition.set(row[0], rows)
  }
  const delivered: typeof claimed = []
  const failures: unknown[] = []
  await Promise.all(
    [...byPartition].map(async ([partition, rows]) => {
      try {
        await deliverOutcome(runner, partitionOf(partitions, partition), {
          outcomes: rows.map(([, id, state, result]) => ({ partition: from.partition, id, state, result })),
        })
        delivered.push(...rows)
      } catch (error) {
        failures.push(error)
      }
    }),
  )
  if (delivered.length > 0) {
    await ackRelay(runner, from, {
      entries: delivered.map(([partition, id, , , token]) => ({ partition, id, token })),
    })
  }
  if (failures.length > 0) throw failures[0]
  return delivered.length
}
