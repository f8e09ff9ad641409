/**
 * Runs the `taskmill` CLI as a child process, from source through tsx (`node --import tsx
 * cli/main.ts`, what `npm run taskmill` does), so these tests need no build; the built
 * `dist/cli.js` is exercised by `test/package/pack.test.ts`.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  // No REDIS_URL from the caller's shell: a test that relies on a default says so.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  if (env.REDIS_URL === undefined) delete childEnv.REDIS_URL
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', ...args],
      { cwd: ROOT, env: childEnv, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`taskmill ${args.join(' ')} did not run: ${error.message}\n${stderr}`))
          return
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
      },
    )
  })
}
