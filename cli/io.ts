/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface Output {
  out(text: string): void
  err(text: string): void
  /** Progress lines are drawn (and redrawn in place) only when stderr is a terminal. */
  readonly interactive: boolean
}

export const processOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  interactive: Boolean(process.stderr.isTTY),
}

/**
 * A one-line progress indicator on stderr, redrawn in place (`\r`), erased when done; silent
 * when stderr is not a terminal, so logs and pipes get only the final result.
 */
export class Progress {
  private shown = false

  constructor(private readonly output: Output) {}

  update(text: string): void {
    if (!this.output.interactive) return
    this.output.err(`\r\x1b[2K${text}`)
    this.shown = true
  }

  done(): void {
    if (this.shown) this.output.err('\r\x1b[2K')
    this.shown = false
  }
}
