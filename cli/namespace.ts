/** The `--namespace` option of the commands that read one scheduler, and what to say when it is wrong. */
import { Cluster, type Redis } from 'ioredis'
import { Namespace } from '../loader/keys.js'
import { TaskmillScriptError } from '../loader/errors.js'
import { requireOption } from './command.js'
import { describeTarget, type TargetSpec } from './connection.js'
import { CliFailure, UsageError } from './errors.js'

export const namespaceHelp = '  --namespace NS         The scheduler namespace (its keys are tm:{NS}:…). Required.'

export function namespaceOption(command: string, value: string | undefined): Namespace {
  const name = requireOption(command, 'namespace', value)
  try {
    return new Namespace(name)
  } catch (error) {
    throw new UsageError(`--namespace: ${(error as Error).message}`, command)
  }
}

/** Most namespaces named in a "not initialized" message. */
const LISTED = 10

/**
 * A script's TM_NOT_INITIALIZED becomes a message that names the namespaces that do exist here
 * (standalone only: a cluster would need a SCAN on every primary); other errors pass through.
 */
export async function explainNamespace(
  error: unknown,
  namespace: Namespace,
  redis: Redis | Cluster,
  spec: TargetSpec,
): Promise<unknown> {
  if (!(error instanceof TaskmillScriptError) || error.code !== 'TM_NOT_INITIALIZED') return error
  let found = ''
  if (!(redis instanceof Cluster)) {
    const names = await existingNamespaces(redis).catch(() => [])
    found = names.length === 0 ? ' No namespace exists there yet.' : ` Namespaces there: ${names.join(', ')}.`
  }
  return new CliFailure(
    `namespace ${JSON.stringify(namespace.name)} does not exist on ${describeTarget(spec)}: no scheduler has ` +
      `opened it.${found} Check --namespace and --url, or create it with \`taskmill init --namespace ${namespace.name}\`.`,
  )
}

/**
 * Up to {@link LISTED} namespace names, from the `meta` key every initialised namespace has.
 * Partitions 1, 2, … of a namespace have a meta of their own under the tag `<namespace>/<p>.<salt>`;
 * `/` cannot occur in a namespace, so a tag with one is a partition and not listed.
 */
async function existingNamespaces(redis: Redis): Promise<string[]> {
  const pattern = /^tm:\{([^/{}]+)\}:meta$/
  const names = new Set<string>()
  let cursor = '0'
  // A bounded walk: this is a hint in an error message, not an inventory.
  for (let round = 0; round < 50 && names.size < LISTED; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'tm:{*}:meta', 'COUNT', 1000)
    for (const key of keys) {
      const name = pattern.exec(key)?.[1]
      if (name !== undefined) names.add(name)
    }
    cursor = next
    if (cursor === '0') break
  }
  return [...names].sort().slice(0, LISTED)
}
