/** What codegen reports: a place in a source file and a sentence saying what to do about it. */
export interface CodegenError {
  /** Path relative to the project root, e.g. `scripts-lua/enqueue.lua`. */
  readonly file: string
  /** 1-based line. */
  readonly line: number
  readonly message: string
}

export function formatError(error: CodegenError): string {
  return `${error.file}:${error.line}: ${error.message}`
}

/** Sorted by file, then line, then text; the same error found through two scripts is kept once. */
export function sortErrors(errors: readonly CodegenError[]): CodegenError[] {
  const seen = new Set<string>()
  const unique: CodegenError[] = []
  for (const error of errors) {
    const key = formatError(error)
    if (seen.has(key)) continue
    seen.add(key)
    unique.push(error)
  }
  return unique.sort(
    (a, b) => compareText(a.file, b.file) || a.line - b.line || compareText(a.message, b.message),
  )
}

/** Code-unit order, independent of the locale, so output is the same on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
