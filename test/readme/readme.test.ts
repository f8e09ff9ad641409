/**
 * Runs the README's redis-cli sessions as written: every ```console block, in order, in one
 * shell session under a pseudo-terminal (so redis-cli prints what a person sees), from the
 * repository root, against the test Redis; once in bash and once in zsh (where zsh is
 * installed), which split words differently. Each command's output must equal the README's,
 * except for what changes from run to run: millisecond timestamps and the script location
 * Redis appends to errors raised inside a script. The SHA in that location must be the
 * manifest's: the session loads the scripts' exact bytes.
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { findExecutable } from '../../devtools/redis-server.js'
import { allScripts } from '../../loader/generated/scripts.js'
import { redisInfo, standaloneClient } from '../support/context.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))

interface Step {
  command: string
  expected: string[]
}

function parseSessions(markdown: string): Step[] {
  const steps: Step[] = []
  const blocks = markdown.split('```console\n').slice(1).map((rest) => rest.split('\n```')[0] ?? '')
  for (const block of blocks) {
    const lines = block.split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string
      if (line.startsWith('$ ')) {
        let command = line.slice(2)
        while (command.endsWith('\\') && i + 1 < lines.length) command += `\n${lines[++i]}`
        steps.push({ command, expected: [] })
      } else {
        steps.at(-1)?.expected.push(line)
      }
    }
  }
  return steps
}

function normalise(lines: readonly string[]): string[] {
  return lines
    .map((line) =>
      line
        .replace(/\b\d{13}\b/g, '<ms>')
        .replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, ' <script location>')
        .trimEnd(),
    )
    .filter((line, i, all) => !(line === '' && i === all.length - 1))
}

const noPty = findExecutable('script') === undefined || findExecutable('redis-cli') === undefined

/** The namespaces the sessions create, partitions included. */
const SESSION_KEYS = ['tm:{readme}:*', 'tm:{ref}:*', 'tm:{ops}:*', 'tm:{limits}:*', 'tm:{groups}:*', 'tm:{shop}:*', 'tm:{shop/*}:*']

async function runSessions(shell: 'bash' | 'zsh'): Promise<void> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const steps = parseSessions(readme)
  expect(steps.length).toBeGreaterThan(20)
  const client = standaloneClient()
  for (const pattern of SESSION_KEYS) {
    const keys = await client.keys(pattern)
    if (keys.length > 0) await client.del(...keys)
  }
  const marker = '@@step@@'
  const scriptText = steps.map((step) => `echo '${marker}'\n${step.command}`).join('\n') + '\n'
  const dir = await mkdtemp(join(tmpdir(), 'taskmill-readme-'))
  try {
    const file = join(dir, 'session.sh')
    await writeFile(file, scriptText)
    // `script` gives the shell a pseudo-terminal, as a person's shell has.
    const { stdout } = await run('script', ['-qec', `${shell} ${file}`, '/dev/null'], {
      cwd: root,
      env: { ...process.env, REDIS_URL: redisInfo.url },
    })
    const outputs = stdout.replace(/\r/g, '').split(`${marker}\n`).slice(1)
    expect(outputs).toHaveLength(steps.length)
    steps.forEach((step, i) => {
      const actual = normalise((outputs[i] ?? '').split('\n'))
      expect({ command: step.command, output: actual }).toEqual({
        command: step.command,
        output: normalise(step.expected),
      })
    })
    const shas = [...stdout.matchAll(/ script: ([0-9a-f]{40}), on @user_script/g)].map((match) => match[1])
    expect(shas.length).toBeGreaterThan(0)
    for (const sha of shas) expect(allScripts.map((script) => script.sha)).toContain(sha)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('README redis-cli sessions', () => {
  it.skipIf(noPty)('print what the README says they print, in bash', async () => {
    await runSessions('bash')
  })

  it.skipIf(noPty || findExecutable('zsh') === undefined)('print the same in zsh', async () => {
    await runSessions('zsh')
  })
})
