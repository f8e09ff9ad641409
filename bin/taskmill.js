#!/usr/bin/env node
// The `taskmill` command. Its code is dist/cli.js, written by `npm run build`, which `npm install`
// in a clone of the repository and `npm pack` run through the `prepare` script. This file is
// committed, not built, so that npm can link the command from a fresh clone: a run before any
// build says what to do instead of "taskmill: not found" (and npx does not cache a package
// without its command).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/cli.js', import.meta.url)
if (existsSync(cli)) {
  await import(cli.href)
} else {
  const root = fileURLToPath(new URL('..', import.meta.url))
  process.stderr.write(`taskmill: ${fileURLToPath(cli)} is missing: run \`npm run build\` in ${root} first\n`)
  process.exitCode = 1
}
