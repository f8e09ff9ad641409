/**
 * Codegen as a library: reads a scripts folder, returns the files it would write into
 * `loader/generated/` and every error found, writing nothing. `main.ts` is the CLI around it;
 * tests call it on fixture folders.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join, relative, sep } from 'node:path'
import type { ScriptDefinition } from '../loader/contract.js'
import { KEY_TYPES } from '../loader/keys.js'
import { checkContract, checkExpanded, shakeExpanded } from './checks.js'
import { inlineConstants } from './inline-constants.js'
import { moveToModuleTable } from './module-table.js'
import { compareText, sortErrors, type CodegenError } from './diagnostics.js'
import { emitErrorsTs, emitScriptsTs, wrapperNameProblem, type EmittedDefinition, type EmittedScript } from './emit-ts.js'
import { expandScript } from './expand.js'
import { parseLibHeader, parseScriptHeader } from './header.js'
import { resolveIncludes, type LibFile, type LibLoader } from './includes.js'
import { checkVersion, contractHash, manifestScript, previousVersions, renderManifest, type ManifestScript } from './manifest.js'
import { setupCost, type SetupCost } from './setup-cost.js'

export type { CodegenError } from './diagnostics.js'

export interface GenerateOptions {
  /** Folder of `<name>.lua` scripts. */
  readonly scriptsDir: string
  /** Where `@include "lib/<name>"` looks, in order. Default: `<scriptsDir>/lib`. */
  readonly libDir?: string | readonly string[]
  /** The error registry, `scripts-lua/errors.json`. */
  readonly errorsFile: string
  /** The committed `manifest.json` (parsed), for the version rule; absent means no history. */
  readonly previousManifest?: unknown
  /** Key names and Redis types. Default: `KEY_TYPES` of `loader/keys.ts`. */
  readonly keyTypes?: Readonly<Record<string, string>>
  /** Paths in errors are relative to this. Default: the current directory. */
  readonly rootDir?: string
}

export interface GenerateResult {
  /** Output path relative to `loader/generated/` → content. Empty when there are errors. */
  readonly files: Map<string, string>
  readonly errors: CodegenError[]
  /** What each script's chunk builds on every call, by script name. Empty when there are errors. */
  readonly setup: ({ name: string } & SetupCost)[]
}

/** Files are read as UTF-8 with `\n` line ends, so output is the same on every platform. */
function readText(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r\n/g, '\n')
}

export function generate(options: GenerateOptions): GenerateResult {
  const root = options.rootDir ?? process.cwd()
  const display = (path: string): string => relative(root, path).split(sep).join('/')
  const libDirs = options.libDir === undefined ? [join(options.scriptsDir, 'lib')] : [options.libDir].flat()
  const keyTypes = options.keyTypes ?? KEY_TYPES
  const errors: CodegenError[] = []
  const registryFile = display(options.errorsFile)

  let registry: Record<string, string> = {}
  try {
    const parsed = JSON.parse(readText(options.errorsFile)) as unknown
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected an object of code → description')
    for (const [code, description] of Object.entries(parsed)) {
      if (!/^TM_[A-Z][A-Z0-9_]*$/.test(code) || typeof description !== 'string' || description === '') {
        errors.push({ file: registryFile, line: 1, message: `entry ${code}: codes look like TM_UNKNOWN_TASK and map to a non-empty description` })
      }
    }
    registry = parsed as Record<string, string>
  } catch (error) {
    errors.push({ file: registryFile, line: 1, message: `cannot read the error registry: ${(error as Error).message}` })
  }

  // Libs are parsed once and shared by every script that includes them.
  const libCache = new Map<string, ReturnType<LibLoader>>()
  const loadLib: LibLoader = (name) => {
    const cached = libCache.get(name)
    if (cached !== undefined) return cached
    const dir = libDirs.find((candidate) => existsSync(join(candidate, `${name}.lua`)))
    let result: ReturnType<LibLoader>
    if (dir === undefined) {
      result = { errors: [], missing: true }
    } else {
      const path = join(dir, `${name}.lua`)
      const source = readText(path)
      const parsed = parseLibHeader(display(path), name, source)
      result = {
        ...(parsed.lib !== undefined ? { lib: { header: parsed.lib, lines: source.split('\n') } satisfies LibFile } : {}),
        errors: parsed.errors,
        missing: false,
      }
    }
    libCache.set(name, result)
    return result
  }

  const previous = previousVersions(options.previousManifest)
  const scriptFiles = readdirSync(options.scriptsDir)
    .filter((file) => file.endsWith('.lua'))
    .sort(compareText)
  const emitted: EmittedScript[] = []
  const manifestScripts: ManifestScript[] = []
  const files = new Map<string, string>()
  const setup: ({ name: string } & SetupCost)[] = []

  for (const fileName of scriptFiles) {
    const path = join(options.scriptsDir, fileName)
    const file = display(path)
    const name = basename(fileName, '.lua')
    const source = readText(path)
    const header = parseScriptHeader(file, name, source)
    errors.push(...header.errors)
    const contract = header.contract
    if (contract === undefined) continue
    const before = errors.length
    const wrapperProblem = wrapperNameProblem(contract.name)
    if (wrapperProblem !== undefined) errors.push({ file, line: contract.nameLine, message: wrapperProblem })
    errors.push(...checkContract(contract, keyTypes, registry, registryFile))
    const resolved = resolveIncludes(file, contract.includes, loadLib)
    errors.push(...resolved.errors)
    if (resolved.errors.length > 0) continue
    const expanded = expandScript(contract, source.split('\n').slice(contract.bodyStartLine - 1), resolved.libs)
    errors.push(...checkExpanded({ contract, expanded, registry, registryFile }))
    const hash = contractHash(contract)
    errors.push(...checkVersion(contract, hash, previous.get(contract.name)))
    if (errors.length > before) continue

    // Shaken first, so a lib whose constants are all that the script uses still counts as used.
    const script = moveToModuleTable(inlineConstants(shakeExpanded(expanded)))
    const sha = createHash('sha1').update(script.source, 'utf8').digest('hex')
    const definition: EmittedDefinition = {
      name: contract.name,
      version: contract.version,
      summary: contract.summary,
      readOnly: contract.readOnly,
      sha,
      source: script.source,
      keys: contract.keys.map(({ name: keyName, redisType, meaning }) => ({ name: keyName, redisType, meaning })),
      args: contract.args.map(stripArg),
      ...(contract.group === undefined
        ? {}
        : {
            group: {
              name: contract.group.name,
              min: contract.group.min,
              max: contract.group.max,
              meaning: contract.group.meaning,
              fields: contract.group.fields.map(stripArg),
            },
          }),
      reply: contract.reply,
      errors: contract.errors.map((entry) => entry.code).sort(),
    }
    const cost = setupCost(contract, script.source)
    emitted.push({ contract, definition })
    manifestScripts.push(manifestScript(contract, sha, hash, cost))
    setup.push({ name: contract.name, ...cost })
    files.set(`lua/${contract.name}.lua`, script.source)
  }

  if (errors.length > 0) return { files: new Map(), errors: sortErrors(errors), setup: [] }
  files.set('scripts.ts', emitScriptsTs(emitted))
  files.set('errors.ts', emitErrorsTs(registry))
  files.set('manifest.json', renderManifest(manifestScripts, registry))
  const sorted = new Map([...files].sort(([a], [b]) => compareText(a, b)))
  return { files: sorted, errors: [], setup }
}

function stripArg(arg: {
  name: string
  type: ScriptDefinition['args'][number]['type']
  optional: boolean
  defaultValue?: string
  meaning: string
}): ScriptDefinition['args'][number] {
  return {
    name: arg.name,
    type: arg.type,
    optional: arg.optional,
    ...(arg.defaultValue === undefined ? {} : { defaultValue: arg.defaultValue }),
    meaning: arg.meaning,
  }
}
