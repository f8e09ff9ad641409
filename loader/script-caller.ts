import type { ScriptDefinition } from './contract.js'
import type { Namespace } from './keys.js'

/** What the generated wrappers call: runs one script in one namespace with its arguments. */
export interface ScriptCaller {
  call(definition: ScriptDefinition, namespace: Namespace, args: Readonly<Record<string, unknown>>): Promise<unknown>
}
