/**
 * Creating and configuring a namespace: what `Scheduler.open` does, what `Worker.start` does
 * when the namespace does not exist yet (so a worker may start before any producer), and the
 * CLI's `init`. The `init` script is atomic and `keepExisting` makes it create-only, so any
 * number of processes may do this at once: one creates, the others find it there.
 */
import { init, type InitReply } from '../loader/generated/scripts.js'
import { Namespace } from '../loader/keys.js'
import type { ScriptRunner } from '../loader/runner.js'
import { raisePartitions, readPartitionTable, type PartitionTable } from './partitions.js'
import type { SchedulerConfig } from './scheduler.js'

export interface NamespaceSetup {
  /**
   * The namespace's configuration, written in every partition; a field left out takes its
   * default. Default: none, so a new namespace gets every default.
   */
  config?: SchedulerConfig
  /**
   * Leave an existing namespace's configuration as it is: only a namespace created now gets
   * `config`. Default: true without `config`, false with it (the last configuration written wins).
   */
  keepExisting?: boolean
  /** Raise the partition count to at least this; it is never lowered. Default: leave it. */
  partitions?: number
}

export interface NamespaceSetUp {
  /** `created`, `updated` (an existing namespace was given `config`) or `exists` (left as it was). */
  outcome: InitReply
  table: PartitionTable
}

export async function setUpNamespace(runner: ScriptRunner, name: string, setup: NamespaceSetup = {}): Promise<NamespaceSetUp> {
  const keepExisting = setup.keepExisting ?? setup.config === undefined
  const outcome = await init(runner, new Namespace(name), { ...setup.config, keepExisting })
  let table = await readPartitionTable(runner, name)
  if (setup.partitions !== undefined && setup.partitions > table.count) {
    table = await raisePartitions(runner, name, setup.partitions)
  }
  // The last configuration written wins, in every partition.
  if (setup.config && outcome !== 'exists' && table.count > 1) {
    await Promise.all(table.all.slice(1).map((partition) => init(runner, partition, { ...setup.config })))
  }
  return { outcome, table }
}
