/**
 * Bugs the model-based tests found, each as the shortest sequence that shows it, judged by the
 * model in strict mode (which expects what the scripts promise instead of tolerating the known
 * deviation). They fail until the scripts are fixed, so they stay out of the CI run: set
 * MODEL_KNOWN_BUGS=1 to run them. Once one passes, drop its tolerance from model.ts and move it
 * into the CI run.
 */
import { describe, it } from 'vitest'
import { createRunner } from '../../client/connection.js'
import { randomNamespace, targets } from '../support/context.js'
import { Model } from './model.js'
import { RealSystem } from './system.js'
import type { Op, RunConfig, TaskSpec } from './types.js'

function task(id: string): TaskSpec {
  return {
    id, priority: 0, queue: 'default', dependsOn: [], delayMs: 0, maxAttempts: 3, backoff: 'fixed', backoffMs: 0,
    backoffCapMs: 1000, leaseMs: 60_000, onDependencyFailure: 'fail',
  }
}

describe.each(targets)('known bugs on $name', (target) => {
  describe.skipIf(target.skip !== undefined || process.env.MODEL_KNOWN_BUGS !== '1')('', () => {
    async function open(config: RunConfig): Promise<{ model: Model; real: RealSystem; step: (op: Op) => Promise<void> }> {
      const client = target.client()
      const runner = createRunner(client)
      await runner.loadAll()
      const real = await RealSystem.open(client, runner, randomNamespace('model'), config)
      const model = new Model(config, await real.time(), { strict: true })
      const step = async (op: Op): Promise<void> => {
        const outcome = await real.execute(op)
        const ids = [...model.tasks.keys(), ...(op.kind === 'enqueue' ? op.tasks.map((t) => t.id) : [])]
        model.apply(op, outcome, await real.observe(ids))
      }
      return { model, real, step }
    }

    it('a node that joins while no housekeeping is due is never dropped for silence', async () => {
      // register-node does not bring `dueAt` forward to the node's silence deadline: once the
      // last node left and housekeeping found nothing due (dueAt = never), a new node that goes
      // silent stays registered until something else makes housekeeping run.
      const { model, real, step } = await open({ strategy: 'weighted', nodeTimeoutMs: 150 })
      await step({ kind: 'register', node: 'n1', weight: 1, capacity: 1, queues: [] })
      await step({ kind: 'deregister', node: 'n1' })
      await step({ kind: 'maintain' })
      await step({ kind: 'register', node: 'n2', weight: 1, capacity: 1, queues: [] })
      model.advanceClock(await real.waitUntil(model.nextDeadline('node')!))
      // The model expects n2 dropped here; it is still in stats.
      await step({ kind: 'enqueue', tasks: [task('t1')] })
    })

    it('a running task whose cancel was requested and that its node hands back runs again', async () => {
      // release (and deregister-node) requeue it with cancelRequested still set, so it is
      // dispatched and started again; recovery after a lost lease ends the same task canceled.
      const { step, model } = await open({ strategy: 'weighted', nodeTimeoutMs: 60_000 })
      await step({ kind: 'register', node: 'n1', weight: 1, capacity: 1, queues: [] })
      await step({ kind: 'enqueue', tasks: [task('t1')] })
      await step({ kind: 'start', node: 'n1', max: 1 })
      await step({ kind: 'cancel', id: 't1' })
      // The model expects t1 canceled; it is assigned to n1 again.
      await step({ kind: 'release', node: 'n1', id: 't1', token: model.tasks.get('t1')!.token })
    })
  })
})
