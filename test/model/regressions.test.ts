/**
 * Bugs the model-based tests found, each as the shortest sequence that showed it, judged by the
 * model step by step. Random sequences reach them only now and then, so they run here every
 * time.
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

describe.each(targets)('model-based regressions on $name', (target) => {
  describe.skipIf(target.skip !== undefined)('', () => {
    async function open(config: RunConfig): Promise<{ model: Model; real: RealSystem; step: (op: Op) => Promise<void> }> {
      const client = target.client()
      const runner = createRunner(client)
      await runner.loadAll()
      const real = await RealSystem.open(client, runner, randomNamespace('model'), config)
      const model = new Model(config, await real.time())
      const step = async (op: Op): Promise<void> => {
        const outcome = await real.execute(op)
        const ids = [...model.tasks.keys(), ...(op.kind === 'enqueue' ? op.tasks.map((t) => t.id) : [])]
        model.apply(op, outcome, await real.observe(ids))
      }
      return { model, real, step }
    }

    it('a node that joins an idle namespace is dropped once silent past the node timeout', async () => {
      // Found with register-node not bringing `dueAt` forward to the node's silence deadline:
      // once the last node had left and housekeeping found nothing due (dueAt = never), a new
      // node that went silent stayed registered until something else made housekeeping run.
      const { model, real, step } = await open({ strategy: 'weighted', nodeTimeoutMs: 150 })
      await step({ kind: 'register', node: 'n1', weight: 1, capacity: 1, queues: [] })
      await step({ kind: 'deregister', node: 'n1' })
      await step({ kind: 'maintain' })
      await step({ kind: 'register', node: 'n2', weight: 1, capacity: 1, queues: [] })
      model.advanceClock(await real.waitUntil(model.nextDeadline('node')!))
      // n2 is dropped here (it was still in stats).
      await step({ kind: 'enqueue', tasks: [task('t1')] })
    })

    it('a running task whose cancel was requested ends canceled when its node hands it back', async () => {
      // Found with release (and deregister-node) requeueing it with cancelRequested still set, so
      // it was dispatched and started again; recovery after a lost lease ended it canceled.
      const { step, model } = await open({ strategy: 'weighted', nodeTimeoutMs: 60_000 })
      await step({ kind: 'register', node: 'n1', weight: 1, capacity: 1, queues: [] })
      await step({ kind: 'enqueue', tasks: [task('t1')] })
      await step({ kind: 'start', node: 'n1', max: 1 })
      await step({ kind: 'cancel', id: 't1' })
      // t1 ends canceled here (it was assigned to n1 again).
      await step({ kind: 'release', node: 'n1', id: 't1', token: model.tasks.get('t1')!.token })
    })
  })
})
