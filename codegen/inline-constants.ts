/**
 * Lib constants become literals in the script that runs.
 *
 * Every call of a script runs its whole chunk again, and each closure it builds captures its
 * upvalues one by one; in Lua 5.1 each capture walks the list of open upvalues, so a lib
 * function that reads five record-field constants (R_STATE, R_NODE, …) pays for five walks on
 * every call before doing any work. Replacing the constants with their values removes those
 * captures. Only what cannot change meaning is replaced: a top-level `local` in a lib, named in
 * UPPER_SNAKE_CASE, bound to a number or string literal, declared nowhere else in the script
 * and never assigned. The declaration itself is dropped.
 */
import { isReference, parseExpanded, walk, type LuaNode } from './checks.js'
import type { ExpandedScript, Origin } from './expand.js'

const CONSTANT_NAME = /^[A-Z][A-Z0-9_]*$/

interface Range {
  readonly start: number
  readonly end: number
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
    const literal = (node: LuaNode | undefined) =>
      node !== undefined && (node.type === 'NumericLiteral' || node.type === 'StringLiteral') ? (node.raw as string) : undefined
    if (variables.length !== inits.length) continue
    if (!variables.every((variable, i) => CONSTANT_NAME.test(variable.name as string) && literal(inits[i]) !== undefined)) continue
    variables.forEach((variable, i) => literalOf.set(variable.name as string, literal(inits[i]) as string))
    declarations.push(statement)
  }

  // Anything that declares or assigns the same name anywhere else disqualifies it.
  const declaredCount = new Map<string, number>()
  const references: { name: string; range: Range }[] = []
  walk(chunk, (node, parent, key) => {
    if (node.type !== 'Identifier') return
    const name = node.name as string
    if (!literalOf.has(name)) return
    if (isReference(parent, key)) {
      const [start, end] = node.range as [number, number]
      references.push({ name, range: { start, end } })
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

  // Replace references from the end, so earlier offsets stay valid.
  let text = source
  for (const { name, range } of references.filter((r) => inlined.has(r.name)).sort((a, b) => b.range.start - a.range.start)) {
    // The name stays beside the value, for the person reading the expanded script.
    text = text.slice(0, range.start) + `${literalOf.get(name) as string} --[[${name}]]` + text.slice(range.end)
  }
  // Drop the declarations' lines (each stands on lines of its own in a lib).
  const dropped = new Set<number>()
  for (const statement of inlinedDeclarations) {
    for (let line = statement.loc?.start.line ?? 0; line <= (statement.loc?.end.line ?? -1); line++) dropped.add(line)
  }
  const lines = text.split('\n')
  // The comment that explained a constant goes with it; the name stays beside each use.
  for (const statement of inlinedDeclarations) {
    for (let line = (statement.loc?.start.line ?? 0) - 1; line > 0 && /^\s*--/.test(lines[line - 1] ?? ''); line--) dropped.add(line)
  }
  const keptLines: string[] = []
  const keptOrigins: Origin[] = []
  lines.forEach((line, i) => {
    if (dropped.has(i + 1)) return
    keptLines.push(line)
    const origin = expanded.origins[i]
    if (origin) keptOrigins.push(origin)
  })
  return { source: keptLines.join('\n'), origins: keptOrigins }
}
