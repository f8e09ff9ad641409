/**
 * The package as a user gets it. The repository's files are copied to a temporary directory as
 * a fresh clone has them (no `dist/`; `node_modules` linked to ours), and `npm pack` is run
 * there, which builds through the `prepare` script. The tarball is installed into an empty
 * project, where an ESM script, a CommonJS script and `npx taskmill` run against the test Redis,
 * and into a package made by `npm init -y` (CommonJS) and one with `"type": "module"`, where the
 * README's TypeScript example runs as the README has it, with tsx and as JavaScript. One build
 * and one pack are shared by every case; the dependencies (ioredis, @ioredis/commands) come from
 * the npm cache or the registry. Slow: about a minute.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allScripts } from '../../loader/generated/scripts.js'
import { ROOT } from '../cli/run-cli.js'
import { redisInfo, standaloneClient } from '../support/context.js'

const SETUP_TIMEOUT_MS = 240_000
const CASE_TIMEOUT_MS = 60_000

/** The environment without what `npm test` exports to its children, so inner npm runs start clean. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value
  }
  return { ...env, ...extra }
}

interface Ran {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv(env), timeout: SETUP_TIMEOUT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, stdout, stderr: stderr + (error !== null && typeof error.code !== 'number' ? error.message : '') })
    })
  })
}

async function mustRun(command: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Ran> {
  const result = await run(command, args, cwd, env)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.code}:\n${result.stdout}\n${result.stderr}`)
  }
  return result
}

/**
 * The repository as a fresh clone has it: the files git tracks, and those it would track (new,
 * not ignored), without anything built. `node_modules` is a link to ours, as `npm install`
 * would have filled it.
 */
async function cloneTree(into: string): Promise<void> {
  const { stdout } = await mustRun('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT)
  // Regular files only: a checkout may have `node_modules` as a link, which git does not ignore.
  const files = stdout.split('\0').filter((file) => file !== '' && existsSync(join(ROOT, file)) && lstatSync(join(ROOT, file)).isFile())
  for (const file of files) {
    await mkdir(dirname(join(into, file)), { recursive: true })
    await copyFile(join(ROOT, file), join(into, file))
  }
  await symlink(join(ROOT, 'node_modules'), join(into, 'node_modules'))
}

/** Opens a Scheduler, enqueues one task, reads it back and prints what it saw as JSON. */
const ESM_SCRIPT = `import { Scheduler, scripts } from 'taskmill'

const scheduler = await Scheduler.open({ connection: process.env.TEST_REDIS_URL, namespace: process.env.TEST_NAMESPACE })
try {
  const outcome = await scheduler.enqueue({ id: 'from-esm', payload: 'hello from esm' })
  const task = await scheduler.getTask('from-esm')
  console.log(JSON.stringify({ outcome, state: task.state, payload: task.payload.toString(), scripts: scripts.allScripts.length }))
} finally {
  await scheduler.close()
}
`

const CJS_SCRIPT = `const taskmill = require('taskmill')

async function main() {
  const scheduler = await taskmill.Scheduler.open({ connection: process.env.TEST_REDIS_URL, namespace: process.env.TEST_NAMESPACE })
  try {
    const outcome = await scheduler.enqueue({ id: 'from-cjs', payload: 'hello from cjs' })
    const task = await scheduler.getTask('from-cjs')
    const errors = typeof taskmill.RedisUnavailableError === 'function' && typeof taskmill.TaskmillError === 'function'
    console.log(JSON.stringify({ outcome, state: task.state, payload: task.payload.toString(), scripts: taskmill.scripts.allScripts.length, errors }))
  } finally {
    await scheduler.close()
  }
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`

/**
 * The README's TypeScript example: the first ```ts block of its "From TypeScript" section, and
 * the same as CommonJS JavaScript, its first line swapped for the `require` its comment gives.
 */
function readmeExample(): { ts: string; cjs: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## From TypeScript\n'))
  const ts = section.split('```ts\n')[1]?.split('\n```')[0]
  if (ts === undefined) throw new Error('the README has no ```ts block under "From TypeScript"')
  const [first = '', ...rest] = ts.split('\n')
  const require = /\/\/ CommonJS: (.+)$/.exec(first)?.[1]
  if (require === undefined) throw new Error(`the example's first line gives no CommonJS form: ${first}`)
  return { ts: `${ts}\n`, cjs: [require, ...rest].join('\n') + '\n' }
}

/** Type-checks a consumer against the published declarations (`types` of the exports map). */
const TS_SCRIPT = `import { Scheduler, scripts, type TaskInfo } from 'taskmill'

export async function firstState(url: string): Promise<TaskInfo['state'] | undefined> {
  const scheduler = await Scheduler.open({ connection: url, namespace: 'typed' })
  const task = await scheduler.getTask('x')
  const count: number = scripts.allScripts.length
  await scheduler.close()
  return count > 0 ? task?.state : undefined
}
`

describe('the packed package', () => {
  let work: string
  let clone: string
  let project: string
  let beforeBuild: Ran
  /** Packages made by `npm init -y`, the second then made an ES module package. */
  let apps: { commonjs: string; module: string }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'taskmill-pack-'))
    clone = join(work, 'clone')
    project = join(work, 'consumer')
    await cloneTree(clone)
    beforeBuild = await run(process.execPath, ['bin/taskmill.js', '--help'], clone)
    await mustRun('npm', ['pack', '--pack-destination', work], clone)
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'))
    if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${work}`)
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2))
    await writeFile(join(project, 'esm.mjs'), ESM_SCRIPT)
    await writeFile(join(project, 'cjs.cjs'), CJS_SCRIPT)
    await writeFile(join(project, 'typed.mts'), TS_SCRIPT)
    apps = { commonjs: join(work, 'commonjs-app'), module: join(work, 'module-app') }
    const example = readmeExample()
    for (const [kind, dir] of Object.entries(apps)) {
      await mkdir(dir)
      await mustRun('npm', ['init', '-y'], dir)
      if (kind === 'module') await mustRun('npm', ['pkg', 'set', 'type=module'], dir)
      await writeFile(join(dir, 'example.ts'), example.ts)
      // As JavaScript: the import as it is in an ES module package, the require in CommonJS.
      await writeFile(join(dir, 'example.js'), kind === 'module' ? example.ts : example.cjs)
    }
    const install = (dir: string) => mustRun('npm', ['install', join(work, tarball), '--no-audit', '--no-fund', '--prefer-offline'], dir)
    await Promise.all([install(project), install(apps.commonjs), install(apps.module)])
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  const env = (): NodeJS.ProcessEnv => ({
    TEST_REDIS_URL: redisInfo.url,
    TEST_NAMESPACE: `pack-${randomBytes(6).toString('hex')}`,
  })

  it('works from an ESM import', { timeout: CASE_TIMEOUT_MS }, async () => {
    const { stdout } = await mustRun(process.execPath, ['esm.mjs'], project, env())
    expect(JSON.parse(stdout)).toEqual({
      outcome: { id: 'from-esm', created: true },
      state: 'ready',
      payload: 'hello from esm',
      scripts: allScripts.length,
    })
  })

  it('works from a CommonJS require', { timeout: CASE_TIMEOUT_MS }, async () => {
    const { stdout } = await mustRun(process.execPath, ['cjs.cjs'], project, env())
    expect(JSON.parse(stdout)).toEqual({
      outcome: { id: 'from-cjs', created: true },
      state: 'ready',
      payload: 'hello from cjs',
      scripts: allScripts.length,
      errors: true,
    })
  })

  it('type-checks a TypeScript consumer against the shipped declarations', { timeout: CASE_TIMEOUT_MS }, async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const result = await run(
      process.execPath,
      [
        tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
        '--typeRoots', join(ROOT, 'node_modules/@types'), '--types', 'node', 'typed.mts',
        // The README's example, in the CommonJS package and in the ES module package.
        join(apps.commonjs, 'example.ts'), join(apps.module, 'example.ts'),
      ],
      project,
    )
    expect(result.stdout + result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  describe("the README's TypeScript example, as written", () => {
    const cases = [
      { app: 'commonjs', how: 'with tsx', file: 'example.ts' },
      { app: 'commonjs', how: 'as JavaScript with require', file: 'example.js' },
      { app: 'module', how: 'with tsx', file: 'example.ts' },
      { app: 'module', how: 'as JavaScript with import', file: 'example.js' },
    ] as const
    it.each(cases)('runs in a new $app package $how', { timeout: CASE_TIMEOUT_MS }, async ({ app, file }) => {
      // The example's own namespace; the cases run one after another.
      const redis = standaloneClient()
      const keys = await redis.keys('tm:{etl}:*')
      if (keys.length > 0) await redis.del(...keys)
      const command = file.endsWith('.ts') ? [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), file] : [file]
      const { stdout } = await mustRun(process.execPath, command, apps[app], { REDIS_URL: redisInfo.url })
      const lines = stdout.trimEnd().split('\n')
      expect(lines[0]).toBe('{"rows":42,"inputs":1}')
      expect(lines).toContain('completed load')
    })
  })

  it('in a fresh clone, the command says to build before the first build, and `npm pack` builds', { timeout: CASE_TIMEOUT_MS }, async () => {
    expect(beforeBuild.code).toBe(1)
    expect(beforeBuild.stderr).toMatch(/dist\/cli\.js is missing: run `npm run build` in /)
    const built = await mustRun(process.execPath, ['bin/taskmill.js', '--help'], clone)
    expect(built.stdout).toContain('Usage: taskmill <command>')
  })

  it('runs `npx taskmill --help`, `npx taskmill scripts` and `npx taskmill load`', { timeout: CASE_TIMEOUT_MS }, async () => {
    // As a person types it; `npm_config_yes=false` is `--no` (never install from the registry),
    // which npx would otherwise take as its own when `--help` follows.
    const help = await mustRun('npx', ['taskmill', '--help'], project, { npm_config_yes: 'false' })
    expect(help.stdout).toContain('Usage: taskmill <command>')

    const listed = await mustRun('npx', ['--no', 'taskmill', 'scripts'], project)
    for (const script of allScripts) expect(listed.stdout).toContain(script.sha)

    const loaded = await mustRun('npx', ['--no', 'taskmill', 'load', '--url', redisInfo.url], project)
    expect(loaded.stdout).toContain(`All ${allScripts.length} scripts loaded`)
  })

  it('ships the built files, the manifest and the expanded Lua, not the sources', { timeout: CASE_TIMEOUT_MS }, async () => {
    const installed = join(project, 'node_modules', 'taskmill')
    const top = (await readdir(installed)).sort()
    expect(top).toEqual(expect.arrayContaining(['bin', 'dist', 'loader', 'package.json']))
    expect(top).not.toContain('client')
    expect(top).not.toContain('test')
    expect((await readdir(join(installed, 'dist'))).sort()).toEqual(
      expect.arrayContaining(['cli.js', 'index.cjs', 'index.d.ts', 'index.js']),
    )
    const lua = await readdir(join(installed, 'loader', 'generated', 'lua'))
    expect(lua.sort()).toEqual(allScripts.map((script) => `${script.name}.lua`).sort())
  })
})
