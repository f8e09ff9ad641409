/**
 * Resolves `@include "lib/<name>"` into the list of lib files a script inlines: transitive,
 * each lib once, every lib after the libs it includes (a depth-first post-order), cycles refused
 * with the whole chain named. `lib/fail` and `lib/args` come first in every script, because the
 * generated prelude calls them.
 */
import type { CodegenError } from './diagnostics.js'
import type { IncludeRef, LibHeader } from './header.js'

export interface LibFile {
  readonly header: LibHeader
  /** The file's lines, `\n`-split, header included. */
  readonly lines: readonly string[]
}

/** Loads a lib by name; `undefined` when no lib dir has it. Header errors go to `errors`. */
export type LibLoader = (name: string) => { lib?: LibFile; errors: CodegenError[]; missing: boolean }

/** Libs every script gets, in this order, whether it includes them or not. */
export const CORE_LIBS: readonly string[] = ['fail', 'args']

export function resolveIncludes(
  scriptFile: string,
  includes: readonly IncludeRef[],
  load: LibLoader,
): { libs: LibFile[]; errors: CodegenError[] } {
  const errors: CodegenError[] = []
  const ordered: LibFile[] = []
  const done = new Set<string>()
  const stack: string[] = []

  const visit = (name: string, from: { file: string; line: number }): void => {
    if (done.has(name)) return
    const cycleStart = stack.indexOf(name)
    if (cycleStart >= 0) {
      const chain = [...stack.slice(cycleStart), name].map((lib) => `lib/${lib}`).join(' → ')
      errors.push({
        file: from.file,
        line: from.line,
        message: `include cycle: ${chain}; move what they share into a lib that includes neither`,
      })
      return
    }
    const loaded = load(name)
    errors.push(...loaded.errors)
    if (loaded.missing) {
      errors.push({
        file: from.file,
        line: from.line,
        message: `lib/${name}.lua does not exist; create it (starting with "--- @lib ${name}") or fix the @include`,
      })
      return
    }
    const lib = loaded.lib
    if (lib === undefined) return
    stack.push(name)
    for (const include of lib.header.includes) visit(include.name, { file: lib.header.file, line: include.line })
    stack.pop()
    done.add(name)
    ordered.push(lib)
  }

  for (const core of CORE_LIBS) visit(core, { file: scriptFile, line: 1 })
  for (const include of includes) visit(include.name, { file: scriptFile, line: include.line })
  return { libs: ordered, errors }
}
