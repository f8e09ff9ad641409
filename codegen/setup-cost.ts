/**
 * What a script's chunk builds on every EVALSHA before it does any work.
 *
 * Redis runs the whole chunk on every call, so each function defined at chunk level (a
 * top-level `local function`, or a function expression in the main chunk's code) is a new
 * closure per call, and each closure captures its upvalues one at a time (in Lua 5.1 every
 * capture walks the list of open upvalues). The counts are static: a function expression
 * inside a top-level loop counts once, though it is built once per pass.
 *
 * An upvalue of a closure is a local declared outside it that it, or any function nested in
 * it, reads or writes (a nested function's capture passes through the closure around it). A
 * recursive `local function f` captures f itself. Globals (redis, string, …) are no upvalues.
 */
import type { LuaNode } from './checks.js'
import { parseExpanded } from './checks.js'
import type { ScriptContract } from './header.js'

export interface SetupCost {
  /** Functions defined at chunk level: closures built on every call. */
  readonly closures: number
  /** Upvalue captures of those closures, summed. */
  readonly upvalues: number
  /** KEYS the script declares. */
  readonly keys: number
  /** ARGV entries the script declares with @arg. */
  readonly args: number
  /** Fields of one group element (@field lines), repeated per element; 0 without a group. */
  readonly groupFields: number
  /** Lines of the expanded script. */
  readonly lines: number
}

interface FunctionRecord {
  readonly atChunkLevel: boolean
  readonly captures: Set<Binding>
}

interface Binding {
  /** The function whose local it is; undefined for a local of the main chunk. */
  readonly owner: FunctionRecord | undefined
}

class Scope {
  private readonly names = new Map<string, Binding>()
  constructor(
    readonly parent: Scope | undefined,
    readonly owner: FunctionRecord | undefined,
  ) {}

  declare(name: string): void {
    this.names.set(name, { owner: this.owner })
  }

  lookup(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name)
  }
}

/** Closures built at chunk level and their upvalue captures, for a Lua 5.1 chunk. */
export function countClosures(source: string): { closures: number; upvalues: number } {
  const chunk = parseExpanded(source)
  const functions: FunctionRecord[] = []
  const stack: FunctionRecord[] = []

  const reference = (name: string, scope: Scope): void => {
    const binding = scope.lookup(name)
    if (binding === undefined) return
    // Every function between the use and the local's owner captures it.
    for (let i = stack.length - 1; i >= 0 && stack[i] !== binding.owner; i--) stack[i]?.captures.add(binding)
  }

  const block = (body: readonly LuaNode[], scope: Scope): void => {
    for (const statement of body) visitStatement(statement, scope)
  }

  const fn = (node: LuaNode, scope: Scope): void => {
    const record: FunctionRecord = { atChunkLevel: stack.length === 0, captures: new Set() }
    functions.push(record)
    stack.push(record)
    const inner = new Scope(scope, record)
    const identifier = node.identifier as LuaNode | null
    if (identifier?.type === 'MemberExpression' && identifier.indexer === ':') inner.declare('self')
    for (const parameter of node.parameters as LuaNode[]) {
      if (parameter.type === 'Identifier') inner.declare(parameter.name as string)
    }
    block(node.body as LuaNode[], inner)
    stack.pop()
  }

  const visitExpression = (node: LuaNode | null | undefined, scope: Scope): void => {
    if (!node) return
    switch (node.type) {
      case 'Identifier':
        return reference(node.name as string, scope)
      case 'FunctionDeclaration':
        return fn(node, scope)
      case 'MemberExpression':
        return visitExpression(node.base as LuaNode, scope)
      case 'IndexExpression':
        visitExpression(node.base as LuaNode, scope)
        return visitExpression(node.index as LuaNode, scope)
      case 'CallExpression':
        visitExpression(node.base as LuaNode, scope)
        for (const argument of node.arguments as LuaNode[]) visitExpression(argument, scope)
        return
      case 'TableCallExpression':
        visitExpression(node.base as LuaNode, scope)
        return visitExpression(node.arguments as LuaNode, scope)
      case 'StringCallExpression':
        visitExpression(node.base as LuaNode, scope)
        return visitExpression(node.argument as LuaNode, scope)
      case 'TableConstructorExpression':
        for (const field of node.fields as LuaNode[]) {
          if (field.type === 'TableKey') visitExpression(field.key as LuaNode, scope)
          visitExpression(field.value as LuaNode, scope)
        }
        return
      case 'BinaryExpression':
      case 'LogicalExpression':
        visitExpression(node.left as LuaNode, scope)
        return visitExpression(node.right as LuaNode, scope)
      case 'UnaryExpression':
        return visitExpression(node.argument as LuaNode, scope)
      default:
        // literals and `...`
        return
    }
  }

  const visitStatement = (node: LuaNode, scope: Scope): void => {
    switch (node.type) {
      case 'LocalStatement':
        // `local x = x` reads the outer x: the new locals come into scope after the values.
        for (const init of node.init as LuaNode[]) visitExpression(init, scope)
        for (const variable of node.variables as LuaNode[]) scope.declare(variable.name as string)
        return
      case 'AssignmentStatement':
        for (const variable of node.variables as LuaNode[]) visitExpression(variable, scope)
        for (const init of node.init as LuaNode[]) visitExpression(init, scope)
        return
      case 'FunctionDeclaration': {
        const identifier = node.identifier as LuaNode | null
        // `local function f` is in scope in its own body; `function a.b()` reads a.
        if (node.isLocal && identifier?.type === 'Identifier') scope.declare(identifier.name as string)
        else visitExpression(identifier, scope)
        return fn(node, scope)
      }
      case 'CallStatement':
        return visitExpression(node.expression as LuaNode, scope)
      case 'ReturnStatement':
        for (const argument of node.arguments as LuaNode[]) visitExpression(argument, scope)
        return
      case 'IfStatement':
        for (const clause of node.clauses as LuaNode[]) {
          visitExpression(clause.condition as LuaNode | undefined, scope)
          block(clause.body as LuaNode[], new Scope(scope, scope.owner))
        }
        return
      case 'WhileStatement':
        visitExpression(node.condition as LuaNode, scope)
        return block(node.body as LuaNode[], new Scope(scope, scope.owner))
      case 'DoStatement':
        return block(node.body as LuaNode[], new Scope(scope, scope.owner))
      case 'RepeatStatement': {
        // The condition sees the body's locals.
        const inner = new Scope(scope, scope.owner)
        block(node.body as LuaNode[], inner)
        return visitExpression(node.condition as LuaNode, inner)
      }
      case 'ForNumericStatement': {
        visitExpression(node.start as LuaNode, scope)
        visitExpression(node.end as LuaNode, scope)
        visitExpression(node.step as LuaNode | null, scope)
        const inner = new Scope(scope, scope.owner)
        inner.declare((node.variable as LuaNode).name as string)
        return block(node.body as LuaNode[], inner)
      }
      case 'ForGenericStatement': {
        for (const iterator of node.iterators as LuaNode[]) visitExpression(iterator, scope)
        const inner = new Scope(scope, scope.owner)
        for (const variable of node.variables as LuaNode[]) inner.declare(variable.name as string)
        return block(node.body as LuaNode[], inner)
      }
      default:
        // break, goto, labels
        return
    }
  }

  block((chunk.body as LuaNode[]) ?? [], new Scope(undefined, undefined))
  const atChunkLevel = functions.filter((record) => record.atChunkLevel)
  return {
    closures: atChunkLevel.length,
    upvalues: atChunkLevel.reduce((sum, record) => sum + record.captures.size, 0),
  }
}

/** The setup figures of one expanded script. */
export function setupCost(contract: ScriptContract, source: string): SetupCost {
  return {
    ...countClosures(source),
    keys: contract.keys.length,
    args: contract.args.length,
    groupFields: contract.group?.fields.length ?? 0,
    lines: source.endsWith('\n') ? source.split('\n').length - 1 : source.split('\n').length,
  }
}

/** A table with one row per script, columns aligned, for `npm run codegen` to print. */
export function formatSetupTable(rows: readonly ({ name: string } & SetupCost)[]): string {
  const header = ['script', 'closures', 'upvalues', 'keys', 'args', 'lines']
  const cells = rows.map((row) => [
    row.name,
    String(row.closures),
    String(row.upvalues),
    String(row.keys),
    row.groupFields === 0 ? String(row.args) : `${row.args} + ${row.groupFields}/item`,
    String(row.lines),
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((cell) => (cell[i] as string).length)))
  // The name is left-aligned, the figures right-aligned.
  const line = (cell: readonly string[]): string =>
    cell.map((text, i) => (i === 0 ? text.padEnd(widths[i] as number) : text.padStart(widths[i] as number))).join('  ').trimEnd()
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n') + '\n'
}
