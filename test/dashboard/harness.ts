/**
 * Runs `taskmill dashboard` as a child process from source (as `npm run taskmill` does) against
 * the test Redis, and a headless Chromium driven by playwright-core. Chromium is Debian's
 * (`/usr/bin/chromium`, or `$TASKMILL_CHROMIUM`): a missing browser fails the tests with a
 * message saying what to install; it never skips them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT } from '../cli/run-cli.js'

export const CHROMIUM = process.env.TASKMILL_CHROMIUM || '/usr/bin/chromium'

export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM, constants.X_OK)
  } catch {
    throw new Error(
      `the dashboard tests need Chromium at ${CHROMIUM}, which is missing or not executable: ` +
        'install it (Debian: apt-get install chromium) or point TASKMILL_CHROMIUM at a Chromium binary',
    )
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}

export interface RunningDashboard {
  readonly url: string
  readonly stdout: () => string
  stop(): Promise<void>
}

/** Starts the dashboard on a free port and resolves once it prints where it listens. */
export function startDashboardProcess(args: readonly string[], timeoutMs = 20_000): Promise<RunningDashboard> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'dashboard', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`the dashboard did not say where it listens within ${timeoutMs} ms:\n${stdout}${stderr}`))
    }, timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const url = /on (http:\/\/\S+\/) /.exec(stdout)?.[1]
      if (url !== undefined) {
        clearTimeout(timer)
        resolve({ url, stdout: () => stdout, stop })
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the dashboard exited with ${code} before listening:\n${stdout}${stderr}`))
    })
  })
}

/** Opens a page that records console errors and uncaught exceptions. */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  // Well inside the test's own timeout, so a page that never shows something fails saying what.
  page.setDefaultTimeout(10_000)
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(error.message))
  return { page, errors }
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
