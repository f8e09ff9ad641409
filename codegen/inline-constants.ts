/**
 * Lib constants become literals in the script that runs.
 *
 * Every call of a script runs its whole chunk again, and each closure it builds captures its
 * upvalues one by one; in Lua 5.1 each capture walks the list of open upvalues, so a lib
 * function that reads five record-field constants (R_STATE, R_NODE, …) pays for five walks on
 * every call before doing any work. Replacing the constants with their values removes those
 * captures. Only what cannot change meaning is replaced: a top-level `local` in a lib, named in
 * UPPER_SNAKE_CASE, bound to a one-line number or string literal, declared nowhere else in the
 * script and never assigned.
 *
 * Only the declaration goes: it becomes a comment with the values (`-- R_STATE = 1, …`), so the
 * comments around it (a lib's module note, the note explaining the constant, the lib banner)
 * still read as they do in the lib, and each use keeps the name beside the value
 * (`1 --[[R_STATE]]`). Line count and line origins do not change, except that the extra lines
 * of a declaration written over several lines are dropped.
 */
import { isReference, parseExpanded, walk, type LuaNode } from './checks.js'
import type { ExpandedScript, Origin } from './expand.js'

const CONSTANT_NAME = /^[A-Z][A-Z0-9_]*$/

interface Edit {
  readonly start: number
  readonly end: number
  readonly text: string
}

/** The literal's source text when it is a number or a string written on one line. */
function literalText(node: LuaNode | undefined): string | undefined {
  if (node === undefined || (node.type !== 'NumericLiteral' && node.type !== 'StringLiteral')) return undefined
  const raw = node.raw as string
  return raw.includes('\n') ? undefined : raw
}

export function inlineConstants(expanded: ExpandedScript): ExpandedScript {
  const source = expanded.source
  const chunk = parseExpanded(source)
  const statements = (chunk.body as LuaNode[]) ?? []
  const originOfLine = (line: number): Origin | undefined => expanded.origins[line - 1]

  // Candidates: top-level lib locals bound to literals.
  const literalOf = new Map<string, string>()
  const declarations: LuaNode[] = []
  for (const statement of statements) {
    if (statement.type !== 'LocalStatement' || originOfLine(statement.loc?.start.line ?? 0)?.kind !== 'lib') continue
    const variables = statement.variables as LuaNode[]
    const inits = statement.init as LuaNode[]
    if (variables.length !== inits.length) continue
    if (!variables.every((variable, i) => CONSTANT_NAME.test(variable.name as string) && literalText(inits[i]) !== undefined)) continue
    variables.forEach((variable, i) => literalOf.set(variable.name as string, literalText(inits[i]) as string))
    declarations.push(statement)
  }

  // Anything that declares or assigns the same name anywhere else disqualifies it.
  const declaredCount = new Map<string, number>()
  const references: { name: string; start: number; end: number }[] = []
  walk(chunk, (node, parent, key) => {
    if (node.type !== 'Identifier') return
    const name = node.name as string
    if (!literalOf.has(name)) return
    if (isReference(parent, key)) {
      const [start, end] = node.range as [number, number]
      references.push({ name, start, end })
    } else if (parent?.type === 'MemberExpression' || parent?.type === 'TableKeyString') {
      // a field name, not the variable
    } else {
      declaredCount.set(name, (declaredCount.get(name) ?? 0) + 1)
    }
  })
  for (const [name, count] of declaredCount) if (count > 1) literalOf.delete(name)
  const inlinedDeclarations = declarations.filter((statement) =>
    (statement.variables as LuaNode[]).every((variable) => literalOf.has(variable.name as string)),
  )
  const inlined = new Set(inlinedDeclarations.flatMap((statement) => (statement.variables as LuaNode[]).map((v) => v.name as string)))

  const edits: Edit[] = []
  for (const { name, start, end } of references) {
    if (inlined.has(name)) edits.push({ start, end, text: `${literalOf.get(name) as string} --[[${name}]]` })
  }
  const dropped = new Set<number>()
  for (const statement of inlinedDeclarations) {
    const [start, end] = statement.range as [number, number]
    const lineEnd = source.indexOf('\n', end)
    const after = source.slice(end, lineEnd < 0 ? source.length : lineEnd)
    // A line comment would swallow code that follows on the same line; then the declaration
    // just goes.
    const names = (statement.variables as LuaNode[]).map((v) => `${v.name as string} = ${literalOf.get(v.name as string) as string}`)
    edits.push({ start, end, text: /^\s*(--.*)?$/.test(after) ? `-- ${names.join(', ')}` : '' })
    // A declaration over several lines leaves empty lines, dropped at the end (line numbers
    // and origins must hold while editing).
    for (let line = (statement.loc?.start.line ?? 0) + 1; line <= (statement.loc?.end.line ?? 0); line++) dropped.add(line)
  }

  // Edit from the end, so earlier offsets stay valid.
  let text = source
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    const removedLines = text.slice(edit.start, edit.end).split('\n').length - 1
    text = text.slice(0, edit.start) + edit.text + '\n'.repeat(removedLines) + text.slice(edit.end)
  }

  const keptLines: string[] = []
  const keptOrigins: Origin[] = []
  text.split('\n').forEach((line, i) => {
    if (dropped.has(i + 1) && line.trim() === '') return
    keptLines.push(line)
    const origin = expanded.origins[i]
    if (origin) keptOrigins.push(origin)
  })
  return { source: keptLines.join('\n'), origins: keptOrigins }
}
