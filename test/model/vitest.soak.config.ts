/**
 * `npm run soak`: the model-based tests alone, with many long sequences (SOAK=1; see
 * scheduler.model.test.ts for the knobs and how to replay a seed).
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/model/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    env: { SOAK: '1' },
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
  },
})
