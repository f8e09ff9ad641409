/**
 * `taskmill scripts [NAME] [--json]`: the scripts this build loads, with what it takes to call
 * each one by hand from redis-cli. Needs no Redis.
 *
 * The table is read from `allScripts`, the very definitions `load` and the client send, so the
 * SHAs shown are the ones Redis will be asked for. The one-script view and `--json` add what
 * only the manifest keeps: argument types as written in the header and the reply type.
 */
import type { Manifest, ManifestArg, ManifestScript } from '../../codegen/manifest.js'
import type { ArgSpec, ScriptDefinition } from '../../loader/contract.js'
import manifestJson from '../../loader/generated/manifest.json' with { type: 'json' }
import { allScripts } from '../../loader/generated/scripts.js'
import { parseCommandArgs, type Command } from '../command.js'
import { CliFailure, EXIT_OK } from '../errors.js'
import type { Output } from '../io.js'
import { renderPairs, renderTable } from '../table.js'

const manifest = manifestJson as unknown as Manifest

const options = {
  json: { type: 'boolean' },
  namespace: { type: 'string' },
} as const

const help = `Usage: taskmill scripts [NAME] [--json] [--namespace NS]

Lists the Lua scripts of this build: name, contract version, whether it is read-only, the SHA1
that SCRIPT LOAD returns, its KEYS and its ARGV in order. No Redis is needed.

With NAME, shows one script in full: each key with its pattern and type, each argument with its
type, default and meaning, the reply, the error codes, and a redis-cli command line to call it.

Options:
  --json                 Print the manifest (loader/generated/manifest.json), or NAME's entry.
  --namespace NS         Fill NS into the key names of the redis-cli example.
  -h, --help             Show this help.
`

export const scriptsCommand: Command = {
  name: 'scripts',
  summary: 'list the Lua scripts with SHA, KEYS and ARGV (no Redis needed)',
  help,
  async run(argv, output) {
    const { values, positionals } = parseCommandArgs('scripts', argv, options, { names: ['NAME'], required: 0 })
    const name = positionals[0]
    if (name === undefined) {
      output.out(values.json ? JSON.stringify(manifest, null, 2) + '\n' : scriptTable(allScripts, output))
      return EXIT_OK
    }
    const definition = allScripts.find((script) => script.name === name)
    const entry = manifest.scripts.find((script) => script.name === name)
    if (definition === undefined || entry === undefined) {
      throw new CliFailure(
        `no script named ${JSON.stringify(name)}; the scripts are: ${allScripts.map((script) => script.name).join(', ')}`,
      )
    }
    output.out(values.json ? JSON.stringify(entry, null, 2) + '\n' : scriptDetail(definition, entry, values.namespace))
    return EXIT_OK
  },
}

/** `id`, or `priority?` for an argument that may be sent empty. */
function argLabel(arg: ArgSpec): string {
  return arg.optional ? `${arg.name}?` : arg.name
}

/** The ARGV cell: plain arguments in order, then a group as `tasks…(id payload priority? …)`. */
export function argvSummary(definition: ScriptDefinition): string {
  const parts = definition.args.map(argLabel)
  const group = definition.group
  if (group !== undefined) parts.push(`${group.name}…(${group.fields.map(argLabel).join(' ')})`)
  return parts.length === 0 ? '-' : parts.join(' ')
}

/** Room for the two wrapping columns: the terminal's width when there is one, else a readable default. */
function wrapWidths(output: Output): { keys: number; argv: number } {
  const columns = output.interactive && process.stdout.isTTY ? process.stdout.columns : undefined
  if (columns === undefined) return { keys: 32, argv: 48 }
  // SCRIPT, VERSION, READ-ONLY and a 40-character SHA take about 80 columns with their gaps.
  const room = Math.max(40, columns - 84)
  const keys = Math.max(16, Math.floor(room * 0.4))
  return { keys, argv: Math.max(20, room - keys) }
}

function scriptTable(scripts: readonly ScriptDefinition[], output: Output): string {
  const widths = wrapWidths(output)
  const rows = scripts.map((definition) => [
    definition.name,
    `v${definition.version}`,
    definition.readOnly ? 'yes' : 'no',
    definition.sha,
    definition.keys.length === 0 ? '-' : definition.keys.map((key) => key.name).join(' '),
    argvSummary(definition),
  ])
  const table = renderTable(
    [
      { header: 'SCRIPT' },
      { header: 'VERSION' },
      { header: 'READ-ONLY' },
      { header: 'SHA' },
      { header: 'KEYS', maxWidth: widths.keys },
      { header: 'ARGV', maxWidth: widths.argv },
    ],
    rows,
  )
  return (
    table +
    '\n' +
    `KEYS[i] is ${manifest.keyPrefix}<name> for the i-th name shown; every key of a namespace shares one hash tag.\n` +
    'ARGV is sent in the order shown; an argument marked ? may be an empty string (the script applies its default).\n' +
    'A group name…(fields) repeats its fields, in order, once per element to the end of ARGV.\n' +
    'Call read-only scripts with EVALSHA_RO and the others with EVALSHA; `taskmill scripts NAME` shows one in full.\n'
  )
}

function argRows(args: readonly ManifestArg[]): string[][] {
  return args.map((arg) => [
    String(arg.index),
    arg.name,
    // The header's spelling without its `=default` or `?`: the DEFAULT column says that.
    arg.type.replace(/(=.*|\?)$/, ''),
    arg.default === null ? (arg.optional ? '(none)' : '-') : arg.default === '' ? '(empty)' : arg.default,
    arg.meaning,
  ])
}

const ARG_COLUMNS = [
  { header: 'ARGV', align: 'right' },
  { header: 'NAME' },
  { header: 'TYPE' },
  { header: 'DEFAULT' },
  { header: 'MEANING', maxWidth: 60 },
] as const

function scriptDetail(definition: ScriptDefinition, entry: ManifestScript, namespace: string | undefined): string {
  const command = definition.readOnly ? 'EVALSHA_RO' : 'EVALSHA'
  let out = renderPairs(
    [
      ['script', `${definition.name} v${definition.version}`],
      ['summary', definition.summary],
      ['sha', definition.sha],
      ['read-only', definition.readOnly ? 'yes (call with EVALSHA_RO)' : 'no (call with EVALSHA)'],
      ['reply', entry.reply],
      ['errors', entry.errors.length === 0 ? '-' : entry.errors.join(' ')],
    ],
    90,
  )

  out += '\n'
  if (entry.keys.length === 0) out += 'KEYS: none\n'
  else {
    out += renderTable(
      [{ header: 'KEYS', align: 'right' }, { header: 'PATTERN' }, { header: 'TYPE' }, { header: 'MEANING', maxWidth: 60 }],
      entry.keys.map((key) => [String(key.index), key.pattern, key.redisType, key.meaning]),
    )
  }

  out += '\n'
  if (entry.args.length > 0) out += renderTable(ARG_COLUMNS, argRows(entry.args))
  else if (entry.group === null) out += 'ARGV: none\n'
  const group = entry.group
  if (group !== null) {
    if (entry.args.length > 0) out += '\n'
    out +=
      `Then ${group.min} to ${group.max} "${group.name}", each as these ${group.fields.length} fields in order, ` +
      `to the end of ARGV (field n of element i is ARGV[${entry.args.length === 0 ? '' : `${entry.args.length} + `}(i-1)*${group.fields.length} + n]):\n`
    out += renderTable(
      [{ header: 'N', align: 'right' }, ...ARG_COLUMNS.slice(1)],
      argRows(group.fields),
    )
  }

  const ns = namespace ?? 'NAMESPACE'
  const keys = entry.keys.map((key) => key.pattern.replace('<namespace>', ns))
  const argv = entry.args.map((arg) => `<${arg.name}>`)
  if (group !== null) argv.push(...group.fields.map((field) => `<${field.name}>`), '…')
  out += '\nFrom redis-cli (empty arguments as ""):\n'
  out += `  redis-cli ${[command, definition.sha, String(keys.length), ...keys, ...argv].join(' ')}\n`
  return out
}
