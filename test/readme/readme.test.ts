/**
 * Runs the README's redis-cli sessions as written: every ```console block, in order, in one
 * bash session under a pseudo-terminal (so redis-cli prints what a person sees), from the
 * repository root, against the test Redis. Each command's output must equal the README's,
 * except for what changes from run to run: millisecond timestamps and the script location
 * Redis appends to errors raised inside a script.
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { findExecutable } from '../../devtools/redis-server.js'
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

describe('README redis-cli sessions', () => {
  it.skipIf(noPty)('print what the README says they print', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8')
    const steps = parseSessions(readme)
    expect(steps.length).toBeGreaterThan(20)
    const client = standaloneClient()
    for (const namespace of ['readme', 'ref']) {
      const keys = await client.keys(`tm:{${namespace}}:*`)
      if (keys.length > 0) await client.del(...keys)
    }
    const marker = '@@step@@'
    const scriptText = steps.map((step) => `echo '${marker}'\n${step.command}`).join('\n') + '\n'
    const dir = await mkdtemp(join(tmpdir(), 'taskmill-readme-'))
    try {
      const file = join(dir, 'session.sh')
      await writeFile(file, scriptText)
      // `script` gives bash a pseudo-terminal, as a person's shell has.
      const { stdout } = await run('script', ['-qec', `bash ${file}`, '/dev/null'], {
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
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
