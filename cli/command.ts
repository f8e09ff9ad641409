/** What a subcommand is, and the argument parsing they all share. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.js'
import type { Output } from './io.js'

/** The `options` of a `parseArgs` config (@types/node does not export the name). */
type OptionsConfig = NonNullable<ParseArgsConfig['options']>

export interface Command {
  readonly name: string
  /** One line, for the command list in `taskmill --help`. */
  readonly summary: string
  /** The full text of `taskmill <name> --help`. */
  readonly help: string
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[], output: Output): Promise<number>
}

/**
 * `parseArgs` in strict mode with the command's own options, turning its complaints (an unknown
 * option, a missing value) and a wrong number of positionals into a {@link UsageError}.
 */
export function parseCommandArgs<O extends OptionsConfig>(
  command: string,
  argv: readonly string[],
  options: O,
  positionals: { names: readonly string[]; required: number },
) {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message, command)
  }
  const count = parsed.positionals.length
  if (count < positionals.required) {
    const missing = positionals.names.slice(count, positionals.required).join(' ')
    throw new UsageError(`missing ${missing}`, command)
  }
  if (count > positionals.names.length) {
    const extra = parsed.positionals.slice(positionals.names.length).join(' ')
    throw new UsageError(`unexpected argument${count - positionals.names.length > 1 ? 's' : ''}: ${extra}`, command)
  }
  return parsed
}

/** A required string option, or a usage error naming it. */
export function requireOption(command: string, name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`, command)
  return value
}

/** A non-negative integer option such as `--max-bytes 200`. */
export function integerOption(command: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected a whole number`, command)
  return Number(value)
}
