/**
 * What one call of a script may carry, so that no call holds Redis for more than a few
 * milliseconds (issue 8, item 12). The limits are written once, in the script headers
 * (`scripts-lua/*.lua`), which refuse a call over them with TM_BAD_ARGUMENT; this module reads
 * them from the generated contracts for the clients that split their work to fit.
 */
import type { ScriptDefinition } from '../loader/contract.js'
import { completeScript, enqueueScript, maintainScript, startScript } from '../loader/generated/scripts.js'

export interface CallLimits {
  /** Tasks in one enqueue call. */
  readonly enqueueTasks: number
  /** Dependency ids in one enqueue call, over all its tasks (and so in one task). */
  readonly enqueueDependencies: number
  /** Results in one complete call. */
  readonly completeResults: number
  /** The largest claim of one complete call. */
  readonly completeClaim: number
  /** Tasks one start call starts at most. */
  readonly startMax: number
  /** Housekeeping items one maintain round handles at most (also its default). */
  readonly maintainLimit: number
}

export const CALL_LIMITS: CallLimits = {
  enqueueTasks: groupMax(enqueueScript),
  enqueueDependencies: idlistTotal(enqueueScript, 'dependsOn'),
  completeResults: groupMax(completeScript),
  completeClaim: integerMax(completeScript, 'claim'),
  startMax: integerMax(startScript, 'max'),
  maintainLimit: integerMax(maintainScript, 'limit'),
}

function groupMax(script: ScriptDefinition): number {
  if (script.group === undefined) throw new Error(`script ${script.name} declares no group`)
  return script.group.max
}

function integerMax(script: ScriptDefinition, name: string): number {
  const type = script.args.find((arg) => arg.name === name)?.type
  if (type?.kind !== 'integer') throw new Error(`script ${script.name} declares no integer argument ${name}`)
  return type.max
}

function idlistTotal(script: ScriptDefinition, name: string): number {
  const type = script.group?.fields.find((field) => field.name === name)?.type
  if (type?.kind !== 'idlist') throw new Error(`script ${script.name} declares no id list field ${name}`)
  return type.total ?? type.max
}
