/**
 * `npm run codegen`: regenerates `loader/generated/` from `scripts-lua/`.
 * `npm run codegen:check`: regenerates in memory and fails if anything on disk would change
 * (CI runs this, so generated code can never drift from the scripts), or if any check fails.
 *
 * After writing, `npm run codegen` prints what each script's chunk builds on every call (closures,
 * upvalue captures, KEYS, ARGV, lines), the figures also kept in the manifest; the check stays
 * quiet about them.
 *
 * The version rule compares with the manifest committed at HEAD (falling back to the one on
 * disk outside git): bumping @version once per change between commits is enough.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatError } from './diagnostics.js'
import { generate } from './generate.js'
import { formatSetupTable } from './setup-cost.js'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const outDir = join(root, 'loader', 'generated')
const MANIFEST = 'loader/generated/manifest.json'

function committedManifest(): unknown {
  try {
    const text = execFileSync('git', ['show', `HEAD:${MANIFEST}`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return JSON.parse(text)
  } catch {
    const path = join(root, MANIFEST)
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined
  }
}

/** Every file now in the output folder, relative to it. */
function existingFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? existingFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  )
}

function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n')
  const b = actual.split('\n')
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      const cut = (line: string | undefined): string =>
        line === undefined ? '(end of file)' : JSON.stringify(line.length > 100 ? line.slice(0, 100) + '…' : line)
      return `first difference at line ${i + 1}:\n      generated: ${cut(a[i])}\n      on disk:   ${cut(b[i])}`
    }
  }
  return 'differs'
}

function main(): number {
  const check = process.argv.includes('--check')
  const result = generate({
    scriptsDir: join(root, 'scripts-lua'),
    libDir: join(root, 'scripts-lua', 'lib'),
    errorsFile: join(root, 'scripts-lua', 'errors.json'),
    previousManifest: committedManifest(),
    rootDir: root,
  })
  if (result.errors.length > 0) {
    for (const error of result.errors) console.error(formatError(error))
    const count = result.errors.length
    console.error(`\ncodegen: ${count} error${count === 1 ? '' : 's'}; nothing was written.`)
    return 1
  }

  const onDisk = new Set(existingFiles(outDir))
  const changed: string[] = []
  for (const [path, content] of result.files) {
    const target = join(outDir, path)
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined
    if (current === content) continue
    changed.push(current === undefined ? `  ${path}: missing` : `  ${path}: ${firstDifference(content, current)}`)
    if (!check) {
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, content)
    }
  }
  for (const path of [...onDisk].sort()) {
    if (result.files.has(path)) continue
    changed.push(`  ${path}: no script produces it any more`)
    if (!check) rmSync(join(outDir, path))
  }

  if (check) {
    if (changed.length === 0) {
      console.log(`codegen:check: loader/generated/ is up to date (${result.files.size} files).`)
      return 0
    }
    console.error(`codegen:check: loader/generated/ is out of date:\n${changed.join('\n')}`)
    console.error('\nRun `npm run codegen` and commit the result.')
    return 1
  }
  console.log(
    changed.length === 0
      ? `codegen: loader/generated/ already up to date (${result.files.size} files).`
      : `codegen: updated loader/generated/:\n${changed.map((line) => line.split('\n')[0]).join('\n')}`,
  )
  console.log('\nPer-call setup: what each chunk builds on every EVALSHA before doing work.\n')
  console.log(formatSetupTable(result.setup).trimEnd())
  return 0
}

process.exitCode = main()
