/**
 * How the CLI ends: exit 0 on success, 1 when the operation failed (Redis unreachable, a script
 * refused, a SHA mismatch), 2 when the command line itself is wrong, as most Unix tools do.
 */

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** The command line is wrong: printed with a pointer to the help, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  /** The command whose help to point at, or undefined for the top level. */
  readonly command: string | undefined

  constructor(message: string, command?: string) {
    super(message)
    this.command = command
  }
}

/** The operation failed; the message already says what happened and what to do next. Exit 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure'
}
