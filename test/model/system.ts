/**
 * The real system of the model-based tests: the generated script wrappers on one namespace of
 * the test Redis (standalone or cluster), and the observation the model is compared with.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import type { ScriptRunner } from '../../loader/runner.js'
import type { Namespace } from '../../loader/keys.js'
import * as s from '../../loader/generated/scripts.js'
import type { Observation, Op, Outcome, RunConfig } from './types.js'

export class RealSystem {
  private constructor(
    readonly client: Redis | Cluster,
    readonly runner: ScriptRunner,
    readonly ns: Namespace,
  ) {}

  /** A fresh namespace, initialised with the run's configuration; retention is left at its defaults (nothing is swept). */
  static async open(client: Redis | Cluster, runner: ScriptRunner, ns: Namespace, config: RunConfig): Promise<RealSystem> {
    await s.init(runner, ns, { strategy: config.strategy, nodeTimeoutMs: config.nodeTimeoutMs })
    return new RealSystem(client, runner, ns)
  }

  /** Runs one step; a refusal is an outcome, not an exception. */
  async execute(op: Op): Promise<Outcome> {
    try {
      return { ok: true, value: await this.call(op) }
    } catch (error) {
      return { ok: false, error }
    }
  }

  private call(op: Op): Promise<unknown> {
    const { runner, ns } = this
    switch (op.kind) {
      case 'enqueue':
        return s.enqueue(runner, ns, {
          tasks: op.tasks.map((t) => ({
            id: t.id, payload: `p:${t.id}`, priority: t.priority, delayMs: t.delayMs, dependsOn: t.dependsOn,
            maxAttempts: t.maxAttempts, backoff: t.backoff, backoffMs: t.backoffMs, backoffCapMs: t.backoffCapMs,
            leaseMs: t.leaseMs, queue: t.queue, onDependencyFailure: t.onDependencyFailure,
          })),
        })
      case 'register':
        return s.registerNode(runner, ns, { nodeId: op.node, weight: op.weight, capacity: op.capacity, queues: op.queues })
      case 'heartbeat':
        return s.heartbeat(runner, ns, { nodeId: op.node })
      case 'deregister':
        return s.deregisterNode(runner, ns, { nodeId: op.node })
      case 'drain':
        return s.drainNode(runner, ns, { nodeId: op.node })
      case 'start':
        return s.start(runner, ns, { nodeId: op.node, max: op.max })
      case 'complete':
        return s.complete(runner, ns, { nodeId: op.node, claim: op.claim, results: op.results })
      case 'fail':
        return s.fail(runner, ns, { nodeId: op.node, id: op.id, token: op.token, message: op.message, retryable: op.retryable })
      case 'release':
        return s.release(runner, ns, { nodeId: op.node, id: op.id, token: op.token })
      case 'cancel':
        return s.cancel(runner, ns, { id: op.id })
      case 'maintain':
        return s.maintain(runner, ns, {})
    }
  }

  /** Every task by id, the stats, and the server time after them. */
  async observe(ids: Iterable<string>): Promise<Observation> {
    const list = [...ids]
    const [tasks, stats] = await Promise.all([
      Promise.all(list.map((id) => s.getTask(this.runner, this.ns, { id }))),
      s.stats(this.runner, this.ns),
    ])
    return { time: await this.time(), tasks: new Map(list.map((id, i) => [id, tasks[i] ?? null])), stats }
  }

  /**
   * The server clock in ms, as the scripts read it. On the cluster any node answers: the test
   * cluster's nodes are processes of one machine, with one clock.
   */
  async time(): Promise<number> {
    const [seconds, micros] = await this.client.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  /** Waits until the server clock reads at least `at`, sleeping as long as the clock says is left. */
  async waitUntil(at: number, limitMs = 10_000): Promise<number> {
    const giveUp = Date.now() + limitMs
    for (;;) {
      const now = await this.time()
      if (now >= at) return now
      if (Date.now() > giveUp) throw new Error(`the server clock did not reach ${at} within ${limitMs} ms (it reads ${now})`)
      await sleep(Math.min(at - now, 100))
    }
  }

  /** Removes the namespace's keys, so that long soak runs do not fill the server. */
  async dispose(): Promise<void> {
    const keys = this.ns.allKeys()
    // All keys share one hash tag, so one DEL works on the cluster too.
    await this.client.del(...keys)
  }
}
