/**
 * Checks on a script: its contract against the key and error registries, and its expanded Lua
 * (libs, prelude and body together, parsed once with luaparse) against the rules of
 * `/work/shared/STYLE.md`: keys only through the bound locals, commands that are real, allowed
 * in scripts and (for @readonly) read-only, error codes declared both ways, and nothing declared
 * that is never used.
 *
 * Reachability: lib files hold helpers that not every including script calls (lib/record has a
 * reader and a writer). Top-level statements of libs are linked by the names they define and
 * use; only code reachable from the prelude and the body counts for the read-only rule, for
 * which error codes a script raises, and for undefined globals. Everything else (syntax,
 * command names, key arguments) is checked in all code.
 */
import { createRequire } from 'node:module'
import { exists, getKeyIndexes, hasFlag } from '@ioredis/commands'
import luaparse from 'luaparse'
import type { CodegenError } from './diagnostics.js'
import type { ExpandedScript, Origin } from './expand.js'
import { keyLocal, type ScriptContract } from './header.js'

type CommandMeta = { flags: string[]; subcommands?: Record<string, CommandMeta> }
const commandTable = createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, CommandMeta>

/** Redis 7.0 refuses these in a no-writes script although the command table does not flag them `write`. */
const WRITE_LIKE = new Set(['publish', 'spublish', 'pfcount'])

/** Commands whose key count is an argument: codegen needs it as a literal to find the keys. */
const NUMKEYS_POSITION: Record<string, number> = {
  zunionstore: 1, zinterstore: 1, zdiffstore: 1, eval: 1, evalsha: 1, eval_ro: 1, evalsha_ro: 1, fcall: 1, fcall_ro: 1,
  blmpop: 1, bzmpop: 1, sdiffcard: 0, sintercard: 0, sunioncard: 0, lmpop: 0, zunion: 0, zinter: 0, zmpop: 0,
  zintercard: 0, zdiff: 0, msetex: 0,
}

/** What a script running in Redis 7 may read as a global. */
const LUA_GLOBALS = new Set([
  'redis', 'KEYS', 'ARGV', 'cjson', 'cmsgpack', 'bit', 'struct', 'string', 'table', 'math', 'os', 'tonumber',
  'tostring', 'type', 'pairs', 'ipairs', 'next', 'select', 'unpack', 'error', 'pcall', 'xpcall', 'assert', 'rawget',
  'rawset', 'rawequal', 'setmetatable', 'getmetatable', 'loadstring', '_G', '_VERSION', 'coroutine', 'print',
  'gcinfo', 'collectgarbage',
])

/** Lua 5.1 refuses a function (the chunk included) with more locals than this. */
const MAX_LOCALS = 200

const CODE_LITERAL = /^(TM_[A-Z][A-Z0-9_]*)(?:\s|$)/

export interface LuaNode {
  type: string
  loc?: { start: { line: number; column: number }; end: { line: number; column: number } }
  [key: string]: unknown
}

function isNode(value: unknown): value is LuaNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
}

function children(node: LuaNode): { key: string; child: LuaNode }[] {
  const out: { key: string; child: LuaNode }[] = []
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc' || key === 'range' || key === 'globals') continue
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) out.push({ key, child: item })
    } else if (isNode(value)) {
      out.push({ key, child: value })
    }
  }
  return out
}

type Visitor = (node: LuaNode, parent: LuaNode | undefined, key: string, ancestors: readonly LuaNode[]) => void

export function walk(node: LuaNode, visit: Visitor, ancestors: LuaNode[] = [], key = ''): void {
  visit(node, ancestors[ancestors.length - 1], key, ancestors)
  ancestors.push(node)
  for (const { key: childKey, child } of children(node)) walk(child, visit, ancestors, childKey)
  ancestors.pop()
}

/** The innermost named function around a node that has `name` as a parameter. */
function parameterOf(name: string, ancestors: readonly LuaNode[]): { fn: string; index: number } | undefined {
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const node = ancestors[i] as LuaNode
    if (node.type !== 'FunctionDeclaration') continue
    const index = (node.parameters as LuaNode[]).findIndex((parameter) => parameter.name === name)
    if (index < 0) continue
    const identifier = node.identifier as LuaNode | null
    return identifier?.type === 'Identifier' ? { fn: identifier.name as string, index } : undefined
  }
  return undefined
}

/** Whether an Identifier in this position names a variable being read (not declared, not a field name). */
export function isReference(parent: LuaNode | undefined, key: string): boolean {
  if (parent === undefined) return true
  switch (parent.type) {
    case 'MemberExpression':
      return key !== 'identifier'
    case 'TableKeyString':
      return key !== 'key'
    case 'LocalStatement':
      return key !== 'variables'
    case 'AssignmentStatement':
      return key !== 'variables'
    case 'FunctionDeclaration':
      return key !== 'parameters' && key !== 'identifier'
    case 'ForNumericStatement':
      return key !== 'variable'
    case 'ForGenericStatement':
      return key !== 'variables'
    case 'LabelStatement':
    case 'GotoStatement':
      return false
    default:
      return true
  }
}

function stringValue(node: LuaNode | undefined): string | undefined {
  if (node?.type === 'StringLiteral') return node.value as string
  if (node?.type === 'NumericLiteral') return String(node.value)
  return undefined
}

function describe(node: LuaNode): string {
  switch (node.type) {
    case 'StringLiteral':
      return `the string ${node.raw as string}`
    case 'Identifier':
      return `the variable ${node.name as string}`
    case 'BinaryExpression':
      return node.operator === '..' ? 'a string built with ..' : 'a computed value'
    case 'CallExpression':
    case 'StringCallExpression':
    case 'TableCallExpression':
      return 'the result of a call'
    case 'VarargLiteral':
      return '...'
    default:
      return 'a computed value'
  }
}

/**
 * Which top-level statements can run: everything outside the libs, plus the lib definitions
 * that code which can run refers to, transitively. Checks count only reachable lib code, and
 * the emitted script leaves the rest out.
 */
function reachableStatements(statements: readonly LuaNode[], originOf: (node: LuaNode) => Origin): Set<number> {
  const definedBy = new Map<string, number[]>()
  const roots: number[] = []
  const namesUsed: Set<string>[] = []
  const baseName = (target: LuaNode): string | undefined => {
    let node: LuaNode | undefined = target
    while (node && (node.type === 'MemberExpression' || node.type === 'IndexExpression')) node = node.base as LuaNode
    return node?.type === 'Identifier' ? (node.name as string) : undefined
  }
  statements.forEach((statement, index) => {
    const used = new Set<string>()
    walk(statement, (node, parent, key) => {
      // Assigning a lib local needs its declaration as much as reading it does: without the
      // declaration the assignment would write a global, which Redis refuses.
      const assigned = parent?.type === 'AssignmentStatement' && key === 'variables'
      if (node.type === 'Identifier' && (isReference(parent, key) || assigned)) used.add(node.name as string)
    })
    namesUsed.push(used)
    const define = (name: string | undefined): void => {
      if (name === undefined) return
      definedBy.set(name, [...(definedBy.get(name) ?? []), index])
    }
    if (originOf(statement).kind !== 'lib') {
      roots.push(index)
    } else if (statement.type === 'LocalStatement') {
      for (const variable of statement.variables as LuaNode[]) define(variable.name as string)
    } else if (statement.type === 'FunctionDeclaration' && statement.identifier) {
      // A global function is an assignment that runs (and fails in Redis) on every call.
      const target = statement.identifier as LuaNode
      if (target.type === 'Identifier' && target.isLocal === false) roots.push(index)
      else define(baseName(target))
    } else if (statement.type === 'AssignmentStatement') {
      const targets = (statement.variables as LuaNode[]).map((variable) =>
        variable.type === 'Identifier' ? undefined : baseName(variable),
      )
      if (targets.some((target) => target === undefined)) roots.push(index)
      else targets.forEach(define)
    } else {
      roots.push(index)
    }
  })
  const reachable = new Set<number>()
  const queue = [...roots]
  while (queue.length > 0) {
    const index = queue.pop() as number
    if (reachable.has(index)) continue
    reachable.add(index)
    for (const name of namesUsed[index] ?? []) for (const definer of definedBy.get(name) ?? []) queue.push(definer)
  }
  return reachable
}

/** Parses an expanded script with locations, ranges and scopes, as every codegen pass wants it. */
export function parseExpanded(source: string): LuaNode {
  // luaparse does not know the shebang; a comment of the same length keeps lines and columns.
  return luaparse.parse(source.replace(/^#!/, '--'), {
    luaVersion: '5.1',
    locations: true,
    ranges: true,
    scope: true,
    encodingMode: 'pseudo-latin1',
  }) as unknown as LuaNode
}

/**
 * The expanded script without the lib definitions it can never reach, and without the
 * comments right above them. Every statement left out would only define a function or a
 * constant that nothing running refers to, so the script behaves the same; it just does not
 * build dozens of closures on every call (a measurable share of a short script's cost) and
 * reads shorter. A lib's banner and its module note (the comment block that opens the lib)
 * stay as long as any of the lib's code does; a lib none of whose code runs goes entirely.
 * Call it on a script that passed the checks.
 */
export function shakeExpanded(expanded: ExpandedScript): ExpandedScript {
  const chunk = parseExpanded(expanded.source)
  const statements = (chunk.body as LuaNode[]) ?? []
  const originOf = (node: LuaNode): Origin =>
    expanded.origins[(node.loc?.start.line ?? 1) - 1] ?? { kind: 'generated', file: '', line: 1 }
  const reachable = reachableStatements(statements, originOf)
  const lines = expanded.source.split('\n')
  const isComment = (line: number): boolean => /^\s*--/.test(lines[line - 1] ?? '')

  // Banners and module notes: a `-- lib/<name>.lua` line, then (past blank lines) the comment
  // lines that open the lib.
  const noteLines = new Set<number>()
  lines.forEach((text, i) => {
    if (!/^-- lib\/[\w-]+\.lua$/.test(text) || expanded.origins[i]?.kind !== 'generated') return
    noteLines.add(i + 1)
    let line = i + 2
    while (line <= lines.length && (lines[line - 1] ?? '').trim() === '') line++
    for (; line <= lines.length && isComment(line); line++) noteLines.add(line)
  })

  const drop = new Set<number>()
  const libsWithCode = new Set<string>()
  statements.forEach((statement, index) => {
    if (!statement.loc) return
    if (reachable.has(index)) {
      if (originOf(statement).kind === 'lib') libsWithCode.add(originOf(statement).file)
      return
    }
    for (let line = statement.loc.start.line; line <= statement.loc.end.line; line++) drop.add(line)
    for (let line = statement.loc.start.line - 1; line > 0 && isComment(line) && !noteLines.has(line); line--) drop.add(line)
  })
  // A lib none of whose code is left: its banner, note and remaining comments go too.
  const libFiles = new Set(expanded.origins.filter((origin) => origin.kind === 'lib').map((origin) => origin.file))
  expanded.origins.forEach((origin, i) => {
    if (libFiles.has(origin.file) && !libsWithCode.has(origin.file)) drop.add(i + 1)
  })

  const source: string[] = []
  const origins: Origin[] = []
  lines.forEach((text, i) => {
    if (drop.has(i + 1)) return
    // A blank line left between two dropped definitions would pile up.
    if (text.trim() === '' && source.length > 0 && (source[source.length - 1] ?? '').trim() === '') return
    source.push(text)
    const origin = expanded.origins[i]
    if (origin) origins.push(origin)
  })
  return { source: source.join('\n'), origins }
}

/** Contract checks that need no Lua: key names and types, error codes. */
export function checkContract(
  contract: ScriptContract,
  keyTypes: Readonly<Record<string, string>>,
  registry: Readonly<Record<string, string>>,
  registryFile: string,
): CodegenError[] {
  const errors: CodegenError[] = []
  const file = contract.file
  for (const key of contract.keys) {
    const expected = keyTypes[key.name]
    if (expected === undefined) {
      errors.push({
        file,
        line: key.line,
        message: `unknown key "${key.name}": keys are spelled in loader/keys.ts (KEY_TYPES); use one of ${Object.keys(keyTypes).sort().join(', ')} or add it there`,
      })
    } else if (expected !== key.redisType) {
      const says = expected === 'channel' ? 'is a channel prefix' : `holds a ${expected}`
      errors.push({
        file,
        line: key.line,
        message: `key ${key.name} is declared ${key.redisType} but loader/keys.ts says it ${says}; write "@key ${key.name} ${expected} ..."`,
      })
    }
  }
  for (const { code, line } of contract.errors) {
    if (registry[code] === undefined) {
      errors.push({ file, line, message: `error code ${code} is not in ${registryFile}; add it there with a description, or fix the spelling` })
    }
  }
  return errors
}

export interface CheckContext {
  readonly contract: ScriptContract
  readonly expanded: ExpandedScript
  readonly registry: Readonly<Record<string, string>>
  readonly registryFile: string
}

export function checkExpanded({ contract, expanded, registry, registryFile }: CheckContext): CodegenError[] {
  const errors: CodegenError[] = []
  const origins = expanded.origins
  const originOf = (node: LuaNode): Origin => {
    const line = node.loc?.start.line ?? 1
    return origins[line - 1] ?? { kind: 'generated', file: contract.file, line: contract.nameLine }
  }
  const report = (node: LuaNode, message: string): void => {
    const origin = originOf(node)
    errors.push({ file: origin.file, line: origin.line, message })
  }
  const atHeader = (line: number, message: string): void => {
    errors.push({ file: contract.file, line, message })
  }
  const where = (origin: Origin): string => `${origin.file}:${origin.line}`

  let chunk: LuaNode
  try {
    chunk = parseExpanded(expanded.source)
  } catch (error) {
    const syntax = error as { line?: number; message?: string }
    const origin = origins[(syntax.line ?? 1) - 1] ?? { kind: 'generated', file: contract.file, line: contract.nameLine }
    const text = (syntax.message ?? String(error)).replace(/^\[\d+:\d+\]\s*/, '')
    const message =
      origin.kind === 'body' || origin.kind === 'lib'
        ? `Lua syntax error: ${text}`
        : `the generated prelude is not valid Lua (${text}); this is a codegen bug, please report it`
    return [{ file: origin.file, line: origin.line, message }]
  }

  const keyLocals = new Map(contract.keys.map((key, index) => [keyLocal(key.name), { key, index: index + 1 }]))
  const argLocals = new Map(contract.args.map((arg, index) => [arg.name, index + 1]))
  const boundNames = new Set<string>([...keyLocals.keys(), ...argLocals.keys()])
  if (contract.group) boundNames.add(contract.group.name)
  // Channel prefixes come in through KEYS too, but name no key: they only go in SPUBLISH/PUBLISH.
  const channelLocals = new Map([...keyLocals].filter(([, { key }]) => key.redisType === 'channel'))
  const keyList = [...keyLocals.keys()].filter((local) => !channelLocals.has(local)).join(', ') || 'none: declare keys with @key'

  // --- Reachability over top-level statements -------------------------------------------------
  const statements = (chunk.body as LuaNode[]) ?? []
  const reachable = reachableStatements(statements, originOf)

  // --- Top-level locals: the 200 limit, and libs hiding the prelude's names ---------------------
  let topLevelLocals = 0
  for (const statement of statements) {
    const declared: LuaNode[] =
      statement.type === 'LocalStatement'
        ? (statement.variables as LuaNode[])
        : statement.type === 'FunctionDeclaration' && statement.isLocal
          ? [statement.identifier as LuaNode]
          : []
    const origin = originOf(statement)
    // Lib and prelude locals become fields of the module table in the script that runs
    // (module-table.ts), so only the body's locals, and the table itself, count against the limit.
    if (origin.kind !== 'lib' && origin.kind !== 'prelude') topLevelLocals += declared.length
    if (origin.kind !== 'lib') continue
    for (const variable of declared) {
      const name = variable.name as string
      if (!boundNames.has(name)) continue
      const bound = keyLocals.has(name) ? `key local ${name}` : contract.group?.name === name ? `group ${name}` : `argument ${name}`
      const line =
        keyLocals.get(name)?.key.line ??
        contract.args.find((arg) => arg.name === name)?.line ??
        contract.group?.line ??
        contract.nameLine
      atHeader(line, `the ${bound} clashes with the top-level local ${name} of ${where(origin)}; rename one of them`)
    }
  }
  if (topLevelLocals + 1 > MAX_LOCALS) {
    atHeader(
      contract.nameLine,
      `the script body has ${topLevelLocals} top-level locals, and with the module table Lua 5.1 allows ${MAX_LOCALS}; group them in tables`,
    )
  }

  // --- The walk -------------------------------------------------------------------------------
  /** Parameters of named functions that are used as keys: `fn#index`. */
  const keyParameters = new Map<string, { fn: string; index: number; origin: Origin; checked: boolean }>()
  const localCalls: { call: LuaNode; fn: string; ancestors: LuaNode[] }[] = []
  const used = new Set<string>()
  const raised = new Map<string, Origin>()
  statements.forEach((statement, statementIndex) => {
    const live = reachable.has(statementIndex)
    walk(statement, (node, parent, key, ancestors) => {
      const origin = originOf(node)
      const generated = origin.kind === 'prelude' || origin.kind === 'generated'

      if (node.type === 'Identifier') {
        const name = node.name as string
        const reference = isReference(parent, key)
        if (reference && !generated && boundNames.has(name) && node.isLocal) used.add(name)

        // KEYS and ARGV belong to the prelude.
        if ((name === 'KEYS' || name === 'ARGV') && !node.isLocal && !generated) {
          const indexed = parent?.type === 'IndexExpression' && key === 'base' ? (parent.index as LuaNode) : undefined
          const n = indexed?.type === 'NumericLiteral' ? (indexed.value as number) : undefined
          const shown = indexed === undefined ? name : `${name}[${n ?? (indexed.type === 'Identifier' ? (indexed.name as string) : '...')}]`
          if (origin.kind === 'lib') {
            report(node, `${shown} is used in a lib; libs read keys and arguments through the locals the prelude binds (xxxKey, argument names)`)
          } else if (name === 'KEYS') {
            const bound = n === undefined ? undefined : [...keyLocals].find(([, value]) => value.index === n)
            report(
              node,
              bound !== undefined
                ? `${shown} is used directly; use ${bound[0]}, the local bound to @key ${bound[1].key.name}`
                : n !== undefined
                  ? `${shown} is used but not declared; declare it with "--- @key <name> <type> <meaning>" and use the local it binds (<name>Key)`
                  : `${shown} is used directly; declare each key with @key and use the locals the prelude binds (${keyList})`,
            )
          } else {
            const argName = n === undefined ? undefined : contract.args[n - 1]?.name
            report(
              node,
              argName !== undefined
                ? `${shown} is used directly; use ${argName}, the local bound to @arg ${argName}`
                : n !== undefined && contract.group !== undefined
                  ? `${shown} is used directly; group values come checked in the local ${contract.group.name} (${contract.group.name}[i].field)`
                  : n !== undefined
                    ? `${shown} is used but not declared; declare it with "--- @arg <name> <type> <meaning>" and use the local it binds`
                    : `${shown} is used directly; declare arguments with @arg or @group and use the locals the prelude binds`,
            )
          }
        }

        // The key locals are fixed by the prelude: nothing may rebind or shadow them.
        if (!generated && keyLocals.has(name) && !reference && !(parent?.type === 'MemberExpression' || parent?.type === 'TableKeyString')) {
          report(node, `${name} is bound by the prelude to KEYS[${keyLocals.get(name)?.index}]; do not assign or redeclare it`)
        }
        // isLocal is false (not undefined) exactly for variables that resolve to no local.
        if (!generated && node.isLocal === false && live && !LUA_GLOBALS.has(name)) {
          if (/Key$/.test(name) && reference) {
            const keyName = name.slice(0, -3).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
            report(node, `${name} is not bound in script ${contract.name}; declare "--- @key ${keyName} <type> <meaning>" in its header`)
          } else if (reference) {
            report(node, `${name} is not defined: Redis scripts have no globals besides the Lua and Redis libraries; declare it local, or include the lib that defines it`)
          } else {
            report(node, `assigning the global ${name}: Redis refuses global variables in scripts; declare it local`)
          }
        }
      }

      if (node.type === 'StringLiteral' && live) {
        const match = CODE_LITERAL.exec((node.value as string) ?? '')
        if (match) {
          const code = match[1] as string
          if (!raised.has(code)) raised.set(code, origin)
          if (registry[code] === undefined && !generated) {
            report(node, `${code} is not in ${registryFile}; add it there with a description, or fix the spelling`)
          }
        }
      }

      if (node.type === 'CallExpression' && (node.base as LuaNode).type === 'Identifier') {
        localCalls.push({ call: node, fn: (node.base as LuaNode).name as string, ancestors: [...ancestors] })
      }

      // redis.call / redis.pcall
      if (node.type === 'MemberExpression' && !generated) {
        const base = node.base as LuaNode
        const member = (node.identifier as LuaNode).name as string
        if (base.type === 'Identifier' && base.name === 'redis' && !base.isLocal && (member === 'call' || member === 'pcall')) {
          if (parent?.type !== 'CallExpression' || key !== 'base') {
            report(node, `redis.${member} must be called directly, as redis.${member}('CMD', ...), so codegen can check the command and its keys`)
          } else {
            checkRedisCall(parent, member, live, ancestors.slice(0, -1))
          }
        }
      }
    })
  })

  function checkRedisCall(call: LuaNode, member: string, live: boolean, ancestors: readonly LuaNode[]): void {
    const callArgs = call.arguments as LuaNode[]
    const first = callArgs[0]
    const name = first?.type === 'StringLiteral' ? (first.value as string) : undefined
    if (first === undefined || name === undefined) {
      report(call, `the command of redis.${member} must be a string literal such as 'HGET', so codegen can check it`)
      return
    }
    const command = name.toLowerCase()
    const upper = name.toUpperCase()
    if (!exists(command)) {
      report(call, `'${name}' is not a Redis command`)
      return
    }
    let meta = commandTable[command] as CommandMeta
    let shown = upper
    if (meta.subcommands !== undefined) {
      const sub = stringValue(callArgs[1])?.toLowerCase()
      const subMeta = sub === undefined ? undefined : meta.subcommands[sub]
      if (sub === undefined || subMeta === undefined) {
        report(call, `the subcommand of ${upper} must be a string literal naming one of ${Object.keys(meta.subcommands).sort().join(', ')}`)
        return
      }
      meta = subMeta
      shown = `${upper} ${sub.toUpperCase()}`
    }
    const resolved = meta
    const topLevel = resolved === commandTable[command]
    const flag = (f: string): boolean => (topLevel ? hasFlag(command, f) : resolved.flags.includes(f))
    if (flag('noscript')) {
      report(call, `${shown} cannot run inside a script (Redis refuses it there)`)
      return
    }
    if (flag('blocking')) {
      const streamRead = command === 'xread' || command === 'xreadgroup'
      const blocks = callArgs.some((arg) => stringValue(arg)?.toUpperCase() === 'BLOCK')
      if (!streamRead || blocks) {
        report(call, `${shown} is a blocking command; a script cannot wait, so use the non-blocking form (e.g. LPOP for BLPOP, XREAD without BLOCK)`)
        return
      }
    }
    if (contract.readOnly && live && (flag('write') || WRITE_LIKE.has(command))) {
      report(call, `${shown} writes, but script ${contract.name} is @readonly (Redis refuses it in a no-writes script); drop @readonly or move the write out`)
    }
    if (command === 'publish' || command === 'spublish') {
      // The channel is the one name a script may build, and only on a channel prefix.
      if (callArgs[1] !== undefined) requireChannel(callArgs[1], shown)
      return
    }
    const numkeysAt = NUMKEYS_POSITION[command]
    const rest = callArgs.slice(1)
    if (numkeysAt !== undefined && !/^\d+$/.test(stringValue(rest[numkeysAt]) ?? '')) {
      report(call, `the numkeys argument of ${shown} must be a literal number, so codegen can tell which arguments are keys`)
      return
    }
    const placeholders = rest.map((arg) => stringValue(arg) ?? 'x')
    for (const index of getKeyIndexes(command, placeholders)) {
      const arg = rest[index]
      if (arg === undefined) continue
      requireKey(arg, ancestors, `key argument ${index + 1} of ${shown}`)
    }
  }

  /**
   * A key expression is a bound key local, `cond and aKey or bKey` over key expressions, or a
   * parameter of a named local function; for a parameter, every call of that function is then
   * checked to pass a key expression in that position (see keyParameters below).
   */
  function requireKey(arg: LuaNode, ancestors: readonly LuaNode[], what: string): void {
    const bad = badKeyPart(arg, ancestors, false)
    if (bad === undefined) return
    const channel = channelBase(bad)
    if (channel !== undefined) {
      const { local, key } = channel
      const shown = bad.type === 'Identifier' ? `${local}, the prefix of the ${key.name} channels` : `a channel name built on ${local}`
      report(
        bad,
        `${what} is ${shown} (@key ${key.name} channel), not a key; a channel prefix only goes in SPUBLISH or PUBLISH, as ${local} .. <suffix>`,
      )
      return
    }
    report(
      bad,
      `${what} is ${describe(bad)}; it must be one of the key locals the prelude binds (${keyList}), since every key comes in through KEYS`,
    )
  }

  /** The leftmost operand of a chain of `..`, or the node itself. */
  function concatBase(node: LuaNode): LuaNode {
    let base = node
    while (base.type === 'BinaryExpression' && base.operator === '..') base = base.left as LuaNode
    return base
  }

  /** The channel prefix a name is built on: a channel local, alone or at the left of `..`. */
  function channelBase(node: LuaNode): { local: string; key: ScriptContract['keys'][number] } | undefined {
    const base = concatBase(node)
    if (base.type !== 'Identifier' || !base.isLocal) return undefined
    const channel = channelLocals.get(base.name as string)
    return channel === undefined ? undefined : { local: base.name as string, key: channel.key }
  }

  /** The channel of SPUBLISH/PUBLISH is a channel local, or one followed by `..` and a suffix. */
  function requireChannel(arg: LuaNode, shown: string): void {
    if (channelBase(arg) !== undefined) return
    const base = concatBase(arg)
    // An unbound xxxKey is reported once, as a key the script forgot to declare.
    if (base.type === 'Identifier' && base.isLocal === false && /Key$/.test(base.name as string)) return
    const keyOf = base.type === 'Identifier' && base.isLocal ? keyLocals.get(base.name as string)?.key : undefined
    const what =
      keyOf !== undefined ? `${base.name as string}, a key (@key ${keyOf.name} ${keyOf.redisType}), not a channel prefix` : describe(base)
    const locals = [...channelLocals.keys()]
    const allowed =
      locals.length === 0
        ? 'built on a channel prefix; declare one with "--- @key <name> channel <meaning>" and publish on <name>Key .. <suffix>'
        : locals.map((local) => `${local} or ${local} .. <suffix>`).join(', or ')
    report(
      base,
      `the channel of ${shown} ${base === arg ? 'is' : 'starts with'} ${what}; it must be ${allowed}, so every channel carries the namespace's hash tag`,
    )
  }

  /** The first part of a key expression that is not a key, or undefined when all are. */
  function badKeyPart(node: LuaNode, ancestors: readonly LuaNode[], mayBeFalsy: boolean): LuaNode | undefined {
    if (node.type === 'Identifier') {
      const name = node.name as string
      if (keyLocals.has(name) && node.isLocal) return channelLocals.has(name) ? node : undefined
      // An unbound xxxKey is reported once, as a key the script forgot to declare.
      if (node.isLocal === false && /Key$/.test(name)) return undefined
      const parameter = parameterOf(name, ancestors)
      if (parameter === undefined) return node
      const id = `${parameter.fn}#${parameter.index}`
      if (!keyParameters.has(id)) {
        keyParameters.set(id, { ...parameter, origin: originOf(node), checked: false })
      }
      return undefined
    }
    if (node.type === 'LogicalExpression' && node.operator === 'or') {
      return badKeyPart(node.left as LuaNode, ancestors, true) ?? badKeyPart(node.right as LuaNode, ancestors, mayBeFalsy)
    }
    if (node.type === 'LogicalExpression' && node.operator === 'and' && mayBeFalsy) {
      return badKeyPart(node.right as LuaNode, ancestors, true)
    }
    return node
  }

  // --- Key parameters: every call must pass a key (checking may find more key parameters) ----
  for (let pending = [...keyParameters.values()]; pending.length > 0; pending = [...keyParameters.values()].filter((p) => !p.checked)) {
    for (const parameter of pending) {
      parameter.checked = true
      for (const { call, fn, ancestors } of localCalls) {
        if (fn !== parameter.fn) continue
        const arg = (call.arguments as LuaNode[])[parameter.index]
        const what = `argument ${parameter.index + 1} of ${fn}(), a key (used as one at ${where(parameter.origin)}),`
        if (arg === undefined) report(call, `${what} is missing`)
        else requireKey(arg, ancestors, what)
      }
    }
  }

  // --- Declared but unused ------------------------------------------------------------------
  for (const [local, { key }] of keyLocals) {
    if (!used.has(local)) atHeader(key.line, `key ${key.name} is declared but ${local} is never used; remove the @key line or use it`)
  }
  for (const arg of contract.args) {
    if (!used.has(arg.name)) atHeader(arg.line, `argument ${arg.name} is declared but never used; remove the @arg line or use it`)
  }
  if (contract.group && !used.has(contract.group.name)) {
    atHeader(contract.group.line, `group ${contract.group.name} is declared but never used; remove the @group or use it`)
  }

  // --- Error codes: raised ⇔ declared -----------------------------------------------------------
  const declared = new Map(contract.errors.map((entry) => [entry.code, entry.line]))
  const firstErrorLine = contract.errors[0]?.line ?? contract.nameLine
  for (const [code, origin] of raised) {
    if (declared.has(code) || registry[code] === undefined) continue
    if (origin.kind === 'body') {
      errors.push({ file: origin.file, line: origin.line, message: `${code} is raised here but not declared; add it to the header's @error line` })
    } else {
      const from =
        origin.kind === 'lib' && !origin.file.endsWith('/args.lua')
          ? `by ${where(origin)}`
          : 'by the generated prelude (every script checks its keys and arguments)'
      atHeader(firstErrorLine, `${contract.name} can raise ${code} ${from} but does not declare it; add it to @error`)
    }
  }
  for (const [code, line] of declared) {
    if (!raised.has(code) && registry[code] !== undefined) {
      atHeader(line, `${code} is declared but never raised; remove it from @error, or raise it with fail('${code}', ...)`)
    }
  }
  return errors
}
