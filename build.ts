/**
 * `npm run build`: the package as it is published, in `dist/`.
 *
 * - `index.js` (ESM) and `index.cjs` (CommonJS) bundle `client/index.ts` with the loader and the
 *   generated scripts; ioredis and @ioredis/commands stay imports, since they are dependencies
 *   and a user's own ioredis client must be the same library as ours.
 * - `cli.js` is the `taskmill` command, an ESM bundle with a shebang, marked executable; the
 *   package's `bin` is `bin/taskmill.js`, committed, which imports it (so that npm links the
 *   command in a clone before its first build).
 * - `index.d.ts` re-exports the declarations tsc writes for client/ and loader/
 *   (`tsconfig.build.json`), under `dist/client/` and `dist/loader/`.
 *
 * The Lua is already inlined as strings in `loader/generated/scripts.ts`; the `.lua` text
 * loader is there so that importing a `.lua` file would bundle it too rather than fail.
 */
import { execFile } from 'node:child_process'
import { chmod, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { build, type BuildOptions } from 'esbuild'

const run = promisify(execFile)
const OUT = 'dist'

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['ioredis', '@ioredis/commands'],
  loader: { '.lua': 'text' },
  logLevel: 'warning',
  legalComments: 'none',
}

async function declarations(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'])
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    throw new Error(`tsc (declarations) failed:\n${stdout}${stderr}`)
  }
  await writeFile(
    `${OUT}/index.d.ts`,
    "// taskmill's public types; the declarations of each module are under client/ and loader/.\n" +
      "export * from './client/index.js'\n",
  )
}

const started = Date.now()
await rm(OUT, { recursive: true, force: true })
await Promise.all([
  build({ ...common, entryPoints: ['client/index.ts'], format: 'esm', outfile: `${OUT}/index.js` }),
  build({ ...common, entryPoints: ['client/index.ts'], format: 'cjs', outfile: `${OUT}/index.cjs` }),
  build({
    ...common,
    entryPoints: ['cli/main.ts'],
    format: 'esm',
    outfile: `${OUT}/cli.js`,
    banner: { js: '#!/usr/bin/env node' },
  }),
  declarations(),
])
await chmod(`${OUT}/cli.js`, 0o755)
console.log(`built ${OUT}/ in ${((Date.now() - started) / 1000).toFixed(1)}s`)
