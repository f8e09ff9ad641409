/**
 * Lib and prelude locals become fields of one table, `tm`, in the script that runs.
 *
 * Redis runs a script's whole chunk on every EVALSHA, so every lib function is a new closure on
 * every call, and each closure captures its upvalues one at a time. In Lua 5.1 a capture walks
 * the list of open upvalues from the newest down to the local it wants; lib functions mostly
 * capture early locals (the key locals, `config`, `now`, other lib functions), so with a hundred
 * captured locals every capture walks most of the list. Measured on heartbeat, that setup was
 * 20 µs of every call. As fields of one table, every lib function captures `tm` alone, the open
 * list stays one long, and the table is created with a slot for every field so that filling it
 * never rehashes.
 *
 * Only chunk-level locals declared by a lib or by the prelude move; the body's own locals stay
 * locals (they are read in the body's loops and captured by nothing). References resolve by
 * Lua's scoping rules: a name shadowed by an inner local, a parameter or a loop variable is
 * left alone. Lines are kept one for one, so origins still point at the files a person edits.
 */
import { parseExpanded, type LuaNode } from './checks.js'
import type { ExpandedScript, Origin } from './expand.js'

/** The table's name; codegen refuses a script that declares it itself. */
export const MODULE_TABLE = 'tm'

interface Declaration {
  readonly moved: boolean
}

interface Edit {
  readonly start: number
  readonly end: number
  readonly text: string
}

class Scope {
  private readonly names = new Map<string, Declaration>()
  constructor(readonly parent: Scope | undefined) {}

  declare(name: string, declaration: Declaration): void {
    this.names.set(name, declaration)
  }

  resolve(name: string): Declaration | undefined {
    return this.names.get(name) ?? this.parent?.resolve(name)
  }
}

function range(node: LuaNode): [number, number] {
  return node.range as unknown as [number, number]
}

export function moveToModuleTable(expanded: ExpandedScript): ExpandedScript {
  const source = expanded.source
  const chunk = parseExpanded(source)
  const originOfLine = (line: number): Origin | undefined => expanded.origins[line - 1]
  const movable = (statement: LuaNode): boolean => {
    const kind = originOfLine(statement.loc?.start.line ?? 0)?.kind
    return kind === 'lib' || kind === 'prelude'
  }
  const edits: Edit[] = []
  const fields: string[] = []
  const root = new Scope(undefined)

  const declareMoved = (name: string): void => {
    if (name === MODULE_TABLE) throw new Error(`a lib declares "${MODULE_TABLE}", the name codegen keeps for its module table`)
    root.declare(name, { moved: true })
    if (!fields.includes(name)) fields.push(name)
  }

  const reference = (node: LuaNode, scope: Scope): void => {
    const name = node.name as string
    if (name === MODULE_TABLE) throw new Error(`the script uses "${MODULE_TABLE}", the name codegen keeps for its module table`)
    if (scope.resolve(name)?.moved) {
      const [start, end] = range(node)
      edits.push({ start, end, text: `${MODULE_TABLE}.${name}` })
    }
  }

  const expression = (node: LuaNode | undefined | null, scope: Scope): void => {
    if (!node) return
    switch (node.type) {
      case 'Identifier':
        reference(node, scope)
        return
      case 'FunctionDeclaration':
        functionBody(node, scope)
        return
      case 'MemberExpression':
        expression(node.base as LuaNode, scope)
        return
      case 'IndexExpression':
        expression(node.base as LuaNode, scope)
        expression(node.index as LuaNode, scope)
        return
      case 'CallExpression':
        expression(node.base as LuaNode, scope)
        for (const argument of node.arguments as LuaNode[]) expression(argument, scope)
        return
      case 'StringCallExpression':
        expression(node.base as LuaNode, scope)
        return
      case 'TableCallExpression':
        expression(node.base as LuaNode, scope)
        expression(node.arguments as LuaNode, scope)
        return
      case 'TableConstructorExpression':
        for (const field of node.fields as LuaNode[]) {
          if (field.type === 'TableKey') expression(field.key as LuaNode, scope)
          expression(field.value as LuaNode, scope)
        }
        return
      case 'BinaryExpression':
      case 'LogicalExpression':
        expression(node.left as LuaNode, scope)
        expression(node.right as LuaNode, scope)
        return
      case 'UnaryExpression':
        expression(node.argument as LuaNode, scope)
        return
      default:
        // Literals and `...`.
        return
    }
  }

  const functionBody = (node: LuaNode, scope: Scope): void => {
    const inner = new Scope(scope)
    for (const parameter of node.parameters as LuaNode[]) {
      if (parameter.type === 'Identifier') inner.declare(parameter.name as string, { moved: false })
    }
    block(node.body as LuaNode[], inner)
  }

  const statement = (node: LuaNode, scope: Scope): void => {
    const atChunkLevel = scope === root
    switch (node.type) {
      case 'LocalStatement': {
        for (const init of node.init as LuaNode[]) expression(init, scope)
        const variables = node.variables as LuaNode[]
        if (atChunkLevel && movable(node)) {
          for (const variable of variables) declareMoved(variable.name as string)
          const start = range(node)[0]
          const end = range(variables[variables.length - 1] as LuaNode)[1]
          const targets = variables.map((variable) => `${MODULE_TABLE}.${variable.name as string}`).join(', ')
          edits.push({ start, end, text: (node.init as LuaNode[]).length === 0 ? `${targets} = nil` : targets })
        } else {
          for (const variable of variables) scope.declare(variable.name as string, { moved: false })
        }
        return
      }
      case 'FunctionDeclaration': {
        const identifier = node.identifier as LuaNode | null
        if (node.isLocal && identifier) {
          const name = identifier.name as string
          if (atChunkLevel && movable(node)) {
            declareMoved(name)
            edits.push({ start: range(node)[0], end: range(identifier)[1], text: `function ${MODULE_TABLE}.${name}` })
          } else {
            scope.declare(name, { moved: false })
          }
        } else if (identifier) {
          expression(identifier, scope)
        }
        functionBody(node, scope)
        return
      }
      case 'AssignmentStatement':
        for (const variable of node.variables as LuaNode[]) expression(variable, scope)
        for (const init of node.init as LuaNode[]) expression(init, scope)
        return
      case 'CallStatement':
        expression(node.expression as LuaNode, scope)
        return
      case 'ReturnStatement':
        for (const argument of node.arguments as LuaNode[]) expression(argument, scope)
        return
      case 'IfStatement':
        for (const clause of node.clauses as LuaNode[]) {
          if (clause.condition) expression(clause.condition as LuaNode, scope)
          block(clause.body as LuaNode[], new Scope(scope))
        }
        return
      case 'WhileStatement':
        expression(node.condition as LuaNode, scope)
        block(node.body as LuaNode[], new Scope(scope))
        return
      case 'RepeatStatement': {
        // The condition sees the body's locals.
        const inner = new Scope(scope)
        block(node.body as LuaNode[], inner)
        expression(node.condition as LuaNode, inner)
        return
      }
      case 'DoStatement':
        block(node.body as LuaNode[], new Scope(scope))
        return
      case 'ForNumericStatement': {
        expression(node.start as LuaNode, scope)
        expression(node.end as LuaNode, scope)
        expression(node.step as LuaNode | null, scope)
        const inner = new Scope(scope)
        inner.declare((node.variable as LuaNode).name as string, { moved: false })
        block(node.body as LuaNode[], inner)
        return
      }
      case 'ForGenericStatement': {
        for (const iterator of node.iterators as LuaNode[]) expression(iterator, scope)
        const inner = new Scope(scope)
        for (const variable of node.variables as LuaNode[]) inner.declare(variable.name as string, { moved: false })
        block(node.body as LuaNode[], inner)
        return
      }
      default:
        // break, goto, labels.
        return
    }
  }

  const block = (statements: readonly LuaNode[], scope: Scope): void => {
    for (const node of statements) statement(node, scope)
  }

  block(chunk.body as LuaNode[], root)
  if (fields.length === 0) return expanded

  edits.sort((a, b) => b.start - a.start)
  let text = source
  for (const edit of edits) text = text.slice(0, edit.start) + edit.text + text.slice(edit.end)
  // The table is made with every field present (false until the declaration runs), so Lua sizes
  // it once. It goes at the start of the first line after the shebang, keeping lines one for one.
  const declaration = `local ${MODULE_TABLE} = { ${fields.map((name) => `${name} = false`).join(', ')} }`
  const lines = text.split('\n')
  const at = lines[0]?.startsWith('#!') ? 1 : 0
  lines[at] = `${declaration} ${lines[at] ?? ''}`
  return { source: lines.join('\n'), origins: expanded.origins }
}
