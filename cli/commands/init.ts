/**
 * `taskmill init`: creates a namespace, as `Scheduler.open` does (client/setup.ts), so that it
 * can be prepared before any producer or worker runs, or its configuration changed. The
 * configuration options are made from the `init` script's header (their names, meanings, ranges
 * and defaults), so they cannot drift from what the script takes.
 */
import { partitions as readPartitions, initScript } from '../../loader/generated/scripts.js'
import { NotInitializedError } from '../../loader/generated/errors.js'
import type { ArgSpec } from '../../loader/contract.js'
import { createRunner } from '../../client/connection.js'
import { configOf, MAX_PARTITIONS } from '../../client/partitions.js'
import type { SchedulerConfig } from '../../client/scheduler.js'
import { setUpNamespace } from '../../client/setup.js'
import { integerOption, parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions, describeTarget, explainUnavailable, openTarget, targetSpec } from '../connection.js'
import { EXIT_OK, UsageError } from '../errors.js'
import { namespaceHelp, namespaceOption } from '../namespace.js'
import { renderPairs, wrap } from '../table.js'

/** The script's arguments that make up a namespace's configuration. */
const SETTINGS: readonly ArgSpec[] = initScript.args.filter((arg) => arg.name !== 'keepExisting')

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

const options = {
  ...connectionOptions,
  namespace: { type: 'string' },
  ...Object.fromEntries(SETTINGS.map((arg) => [kebab(arg.name), { type: 'string' }])),
  partitions: { type: 'string' },
  'keep-existing': { type: 'boolean' },
  json: { type: 'boolean' },
} as const

/** Help lines as the other options have them: the name in 25 columns, the text wrapped after it. */
function optionHelp(flag: string, text: string): string {
  const lines = wrap(text, 74)
  const first = flag.length <= 22 ? `  ${flag.padEnd(23)}${lines[0]}` : `  ${flag}\n${' '.repeat(25)}${lines[0]}`
  return [first, ...lines.slice(1).map((line) => `${' '.repeat(25)}${line}`)].join('\n')
}

function settingHelp(arg: ArgSpec): string {
  const type = arg.type
  const value = type.kind === 'enum' ? 'NAME' : arg.name.endsWith('Ms') ? 'MS' : arg.name.endsWith('Cap') ? 'BYTES' : 'N'
  const choices = type.kind === 'enum' ? ` One of ${type.values.join(', ')}.` : ''
  return optionHelp(`--${kebab(arg.name)} ${value}`, `${arg.meaning}${choices} Default: ${arg.defaultValue}.`)
}

const help = `Usage: taskmill init --namespace NS [--url URL | --cluster SEEDS] [settings] [--partitions N]

Creates the namespace's scheduler in Redis and prints its configuration. A new namespace gets the
settings given and the defaults for the rest. An existing one keeps its configuration, except
for the settings given, which are changed (with --keep-existing, it is left as it is).
Scheduler.open creates a namespace the same way, and so does Worker.start for one that does not
exist yet; init is for preparing one before any of them runs, or changing its settings.

Options:
${namespaceHelp}
${connectionHelp.join('\n')}
${SETTINGS.map(settingHelp).join('\n')}
${optionHelp('--partitions N', `Spread the namespace over at least N partitions (at most ${MAX_PARTITIONS}); the count is never lowered.`)}
${optionHelp('--keep-existing', 'Apply the settings only if the namespace is created now.')}
${optionHelp('--json', 'Print the outcome, the partition count and the configuration as JSON.')}
  -h, --help             Show this help.
`

const OUTCOMES = {
  created: 'created',
  updated: 'updated',
  exists: 'exists already, left as it is',
} as const

export const initCommand: Command = {
  name: 'init',
  summary: 'create a namespace, or change its settings',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('init', argv, options, { names: [], required: 0 })
    const raw = values as Record<string, string | boolean | undefined>
    const namespace = namespaceOption('init', values.namespace)
    const given = settingsGiven(raw)
    const partitions = values.partitions === undefined ? undefined : integerOption('init', 'partitions', values.partitions, 1)
    if (partitions !== undefined && (partitions < 1 || partitions > MAX_PARTITIONS)) {
      throw new UsageError(`--partitions ${partitions}: expected 1 to ${MAX_PARTITIONS}`, 'init')
    }
    const spec = targetSpec(values, 'init')
    const target = await openTarget(spec)
    try {
      const runner = createRunner(target.redis)
      try {
        // Settings not given keep their values: the script writes a whole configuration.
        const current = await readPartitions(runner, namespace).then(configOf, (error: unknown) => {
          if (error instanceof NotInitializedError) return undefined
          throw error
        })
        const config = given === undefined ? undefined : { ...current, ...given }
        const { outcome, table } = await setUpNamespace(runner, namespace.name, {
          config,
          keepExisting: values['keep-existing'] === true ? true : undefined,
          partitions,
        })
        const settings = configOf(await readPartitions(runner, namespace))
        if (values.json) {
          output.out(JSON.stringify({ namespace: namespace.name, outcome, partitions: table.count, config: settings }, null, 2) + '\n')
          return EXIT_OK
        }
        const count = `${table.count} partition${table.count === 1 ? '' : 's'}`
        output.out(`Namespace ${namespace.name} ${OUTCOMES[outcome]} on ${describeTarget(spec)}, ${count}.\n\n`)
        output.out(renderPairs(SETTINGS.map((arg) => [kebab(arg.name), String(settings[arg.name as keyof typeof settings])])))
        return EXIT_OK
      } catch (error) {
        throw explainUnavailable(spec, error)
      }
    } finally {
      await target.close()
    }
  },
}

/** The settings on the command line, checked against the script's declared types; undefined when none. */
function settingsGiven(values: Record<string, string | boolean | undefined>): SchedulerConfig | undefined {
  const config: Record<string, string | number> = {}
  for (const arg of SETTINGS) {
    const flag = kebab(arg.name)
    const value = values[flag]
    if (typeof value !== 'string') continue
    const type = arg.type
    if (type.kind === 'enum') {
      if (!type.values.includes(value)) {
        throw new UsageError(`--${flag} ${JSON.stringify(value)}: expected one of ${type.values.join(', ')}`, 'init')
      }
      config[arg.name] = value
    } else if (type.kind === 'integer') {
      const n = integerOption('init', flag, value, 0)
      if (n < type.min || n > type.max) throw new UsageError(`--${flag} ${n}: expected ${type.min} to ${type.max}`, 'init')
      config[arg.name] = n
    } else {
      throw new Error(`init: no parser for the setting ${arg.name} (${type.kind})`)
    }
  }
  return Object.keys(config).length === 0 ? undefined : (config as SchedulerConfig)
}
