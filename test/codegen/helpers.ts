/** Runs codegen on a fixture folder, the way the tests need it: fixture registry and keys. */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generate, type GenerateResult } from '../../codegen/generate.js'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const fixturesDir = join(repoRoot, 'test/codegen/fixtures')
export const realLibDir = join(repoRoot, 'scripts-lua/lib')

/** The fixtures' key registry, so they do not break when loader/keys.ts changes. */
export const fixtureKeyTypes = { meta: 'hash', task: 'hash', ready: 'zset', events: 'stream', wake: 'channel' }

export function runFixture(relativeDir: string, previousManifest?: unknown): GenerateResult {
  const dir = join(fixturesDir, relativeDir)
  return generate({
    scriptsDir: dir,
    // Fixture libs first; lib/fail and lib/args come from the real folder.
    libDir: [join(dir, 'lib'), realLibDir],
    errorsFile: join(fixturesDir, 'errors.json'),
    keyTypes: fixtureKeyTypes,
    rootDir: repoRoot,
    ...(previousManifest === undefined ? {} : { previousManifest }),
  })
}
