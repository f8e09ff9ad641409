/**
 * Model-based tests: random sequences of enqueue (tasks and graphs), register, heartbeat,
 * deregister, start, complete, fail, release, cancel, lease expiry, node loss and weight change,
 * run against the real scripts and the reference model (model.ts), compared after every step,
 * with the invariants of invariants.ts checked on every observation.
 *
 * CI runs a bounded number of short sequences per target. `npm run soak` runs many long ones.
 * Every run prints its seed; the environment selects a run:
 *   MODEL_SEED=<n>       replay a seed: the same runs, the same failure, shrunk again
 *   MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath>
 *                        with the seed, straight to the smallest case of a failure report (its
 *                        `path` and the `replayPath` at the end of its counterexample)
 *   MODEL_RUNS=<n>       sequences per target (CI 40, soak 500)
 *   MODEL_COMMANDS=<n>   most steps per sequence (CI 50, soak 150)
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { createRunner } from '../../client/connection.js'
import { randomNamespace, targets } from '../support/context.js'
import { commandArbitrary, registerNodes, setupArbitrary } from './commands.js'
import { Model } from './model.js'
import { RealSystem } from './system.js'

const soak = process.env.SOAK === '1'
const numRuns = Number(process.env.MODEL_RUNS ?? (soak ? 500 : 40))
const maxCommands = Number(process.env.MODEL_COMMANDS ?? (soak ? 150 : 50))
const seed = process.env.MODEL_SEED === undefined ? randomSeed() : Number(process.env.MODEL_SEED)
const path = process.env.MODEL_PATH
const replayPath = process.env.MODEL_REPLAY_PATH

function randomSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0
}

describe.each(targets)('model-based tests on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    it(
      'the scripts agree with the reference model after every step',
      async () => {
        const client = target.client()
        const runner = createRunner(client)
        await runner.loadAll()
        const replay = [`MODEL_SEED=${seed}`, `MODEL_RUNS=${numRuns}`, `MODEL_COMMANDS=${maxCommands}`]
        if (path !== undefined) replay.push(`MODEL_PATH=${path}`)
        if (replayPath !== undefined) replay.push(`MODEL_REPLAY_PATH=${replayPath}`)
        console.log(
          `model-based tests on ${target.name}: ${numRuns} runs of up to ${maxCommands} steps, seed ${seed}\n` +
            `  replay: ${replay.join(' ')} npm run soak -- -t ${target.name}` +
            ' (a failure report adds the smallest case: MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath>)',
        )
        await fc.assert(
          fc.asyncProperty(setupArbitrary, fc.commands([commandArbitrary], { maxCommands, size: 'max', ...(replayPath === undefined ? {} : { replayPath }) }), async (setup, commands) => {
            const real = await RealSystem.open(client, runner, randomNamespace('model'), setup)
            try {
              const model = new Model(setup, await real.time())
              await registerNodes(model, real, setup)
              await fc.asyncModelRun(() => ({ model, real }), commands)
            } finally {
              await real.dispose()
            }
          }),
          {
            seed,
            numRuns,
            ...(path === undefined ? {} : { path }),
            // Shrinking stops after a while in CI; the report then shows the smallest case found so far.
            ...(soak ? {} : { interruptAfterTimeLimit: 100_000 }),
          },
        )
      },
      soak ? 24 * 3600_000 : 120_000,
    )
  })
})
