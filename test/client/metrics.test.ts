/**
 * `Scheduler.metrics()`: Prometheus text that parses (every sample line `name{labels} value`,
 * every metric with HELP and TYPE), added up over the partitions, with the values `stats()` gives.
 */
import { describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { createRunner } from '../../client/connection.js'
import { formatMetrics, formatNamespacesMetrics } from '../../client/metrics.js'
import * as s from '../../loader/generated/scripts.js'
import { randomNamespace, targets } from '../support/context.js'
import { parsePrometheus, valueOf } from '../support/prometheus.js'

const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const
const UNFINISHED = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying'] as const

describe.each(targets)('Scheduler.metrics() on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  else
    it('gives the figures of stats(), added up over 3 partitions, as parseable Prometheus text', async () => {
      const redis = target.client()
      const namespace = randomNamespace('metrics').name
      const scheduler = await Scheduler.open({ connection: redis, namespace, partitions: 3, config: { nodeTimeoutMs: 10_000 } })
      try {
        const runner = createRunner(redis)
        const partitions = scheduler.partitions.all
        for (const partition of partitions) {
          await s.registerNode(runner, partition, { nodeId: 'w1', capacity: 2, queues: [] })
          await s.registerNode(runner, partition, { nodeId: 'w2', capacity: 1, queues: ['emails'] })
          await redis.hset(partition.key('meta'), 'pausedQueues', 'emails,reports')
        }
        const tasks = Array.from({ length: 30 }, (_, i) => ({
          id: `task-${i}`,
          payload: '',
          queue: i % 3 === 0 ? 'emails' : i % 3 === 1 ? 'reports' : 'default',
          delayMs: i % 5 === 0 ? 60_000 : 0,
        }))
        // One call per task, so that each goes to its own id's partition (a batch goes to one).
        for (const task of tasks) await scheduler.enqueue(task)
        // In each partition w1 completes one task and fails another, which retries.
        for (const partition of partitions) {
          const started = await s.start(runner, partition, { nodeId: 'w1' })
          expect(started.length).toBeGreaterThanOrEqual(2)
          const [doneId, doneToken] = started[0]!
          const [failId, failToken] = started[1]!
          await s.complete(runner, partition, { nodeId: 'w1', claim: 0, results: [{ id: doneId, token: doneToken, result: '' }] })
          await s.fail(runner, partition, { nodeId: 'w1', id: failId, token: failToken, message: 'boom', retryable: true })
        }
        // w2's heartbeats are past the timeout in every partition, w1's in one only.
        const now = (await scheduler.stats()).now
        for (const partition of partitions) await redis.zadd(partition.key('seen'), now - 20_000, 'w2')
        await redis.zadd(partitions[0]!.key('seen'), now - 20_000, 'w1')

        const stats = await scheduler.stats()
        const text = await scheduler.metrics()
        const families = parsePrometheus(text)
        const ns = { namespace }
        for (const state of STATES) expect([state, valueOf(families, 'taskmill_tasks', { ...ns, state })]).toEqual([state, stats[state]])
        expect(stats.completedTotal).toBe(3)
        expect(stats.failedTotal).toBe(3)
        expect(valueOf(families, 'taskmill_tasks_completed_total', ns)).toBe(stats.completedTotal)
        expect(valueOf(families, 'taskmill_attempts_failed_total', ns)).toBe(stats.failedTotal)
        expect(families.get('taskmill_tasks_completed_total')?.type).toBe('counter')
        expect(families.get('taskmill_tasks')?.type).toBe('gauge')
        for (const node of stats.nodes) {
          const labels = { ...ns, node: node.id }
          expect([node.id, valueOf(families, 'taskmill_node_inflight', labels), valueOf(families, 'taskmill_node_capacity', labels)]).toEqual([
            node.id,
            node.inflight,
            node.capacity,
          ])
          expect([node.id, valueOf(families, 'taskmill_node_stale', labels)]).toEqual([node.id, node.stale])
        }
        expect(stats.nodes.map(({ id, capacity, stale }) => [id, capacity, stale])).toEqual([
          ['w1', 6, 0],
          ['w2', 3, 1],
        ])
        // Per queue: each state's counts over the queues add up to the namespace's.
        const queueSamples = families.get('taskmill_queue_tasks')!.samples
        expect(new Set(queueSamples.map((sample) => sample.labels.queue))).toEqual(new Set(['default', 'emails', 'reports']))
        for (const state of UNFINISHED) {
          const sum = queueSamples.filter((sample) => sample.labels.state === state).reduce((total, sample) => total + sample.value, 0)
          expect([state, sum]).toEqual([state, stats[state]])
        }
        const delayedEmails = tasks.filter((task) => task.queue === 'emails' && task.delayMs > 0).length
        expect(valueOf(families, 'taskmill_queue_tasks', { ...ns, queue: 'emails', state: 'delayed' })).toBe(delayedEmails)
        expect(families.get('taskmill_queue_paused')!.samples.map((sample) => sample.labels.queue)).toEqual(['emails', 'reports'])
        expect(stats.pausedQueues).toEqual(['emails', 'reports'])
        const age = valueOf(families, 'taskmill_oldest_ready_task_age_seconds', ns)
        expect(age).toBeGreaterThanOrEqual(0)
        expect(age).toBeLessThan(60)
      } finally {
        await scheduler.close()
      }
    })
})

describe('formatMetrics', () => {
  it('escapes label values and takes the oldest ready task of any partition', () => {
    const reply = (over: Partial<s.MetricsReply>): s.MetricsReply => ({
      waiting: 0, delayed: 0, ready: 0, assigned: 0, running: 0, retrying: 0, completed: 0, dead: 0, canceled: 0,
      completedTotal: 0, failedTotal: 0, pausedQueues: [], queues: [], nodes: [], oldestReadyAgeMs: 0, now: 0, ...over,
    })
    const text = formatMetrics('ns', [
      reply({ queues: [['a"b\\c', 'ready', 2]], oldestReadyAgeMs: 1500 }),
      reply({ queues: [['a"b\\c', 'ready', 3]], oldestReadyAgeMs: 2500 }),
    ])
    const families = parsePrometheus(text)
    expect(valueOf(families, 'taskmill_queue_tasks', { queue: 'a"b\\c', state: 'ready' })).toBe(5)
    expect(valueOf(families, 'taskmill_oldest_ready_task_age_seconds')).toBe(2.5)
  })

  it('formatNamespacesMetrics gives one namespace as formatMetrics does, and several with one HELP and TYPE per metric', () => {
    const reply = (over: Partial<s.MetricsReply>): s.MetricsReply => ({
      waiting: 0, delayed: 0, ready: 0, assigned: 0, running: 0, retrying: 0, completed: 0, dead: 0, canceled: 0,
      completedTotal: 0, failedTotal: 0, pausedQueues: [], queues: [], nodes: [], oldestReadyAgeMs: 0, now: 0, ...over,
    })
    const one = [reply({ ready: 2, pausedQueues: ['x'] }), reply({ ready: 1 })]
    expect(formatNamespacesMetrics([{ namespace: 'a', replies: one }])).toBe(formatMetrics('a', one))
    const text = formatNamespacesMetrics([
      { namespace: 'a', replies: one },
      { namespace: 'b', replies: [reply({ ready: 7, completedTotal: 4 })] },
    ])
    expect(text.match(/^# HELP taskmill_tasks /gm)).toHaveLength(1)
    expect(text.match(/^# TYPE taskmill_tasks /gm)).toHaveLength(1)
    const families = parsePrometheus(text)
    expect(valueOf(families, 'taskmill_tasks', { namespace: 'a', state: 'ready' })).toBe(3)
    expect(valueOf(families, 'taskmill_tasks', { namespace: 'b', state: 'ready' })).toBe(7)
    expect(valueOf(families, 'taskmill_tasks_completed_total', { namespace: 'b' })).toBe(4)
    expect(formatNamespacesMetrics([])).toBe('')
  })
})
