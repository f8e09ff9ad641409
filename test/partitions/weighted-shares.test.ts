import { describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { enqueue, registerNode } from '../../loader/generated/scripts.js'
import { createRunner } from '../../client/connection.js'
import { targets, randomNamespace } from '../support/context.js'

describe.each(targets)('weighted dispatch over partitions on $name', (target) => {
  if (target.skip !== undefined) it.skip(`skipped: ${target.skip}`, () => {})
  else
    it("gives each node its weight's share, within 2%, of 10,000 tasks spread over 4 partitions", async () => {
      const redis = target.client()
      const scheduler = await Scheduler.open({ connection: redis, namespace: randomNamespace('ws').name, partitions: 4 })
      const runner = createRunner(redis)
      const weights = { a: 5, b: 3, c: 1, d: 7 } as const
      for (const partition of scheduler.partitions.all) {
        for (const [nodeId, weight] of Object.entries(weights)) {
          await registerNode(runner, partition, { nodeId, weight, capacity: 100_000, queues: [] })
        }
      }
      // Grouped by partition so each call is one partition's batch, as routing by id would send them.
      const byPartition = new Map<number, { id: string; payload: string; dependsOn: string[] }[]>()
      for (let i = 0; i < 10_000; i++) {
        const id = `task-${i}`
        const partition = scheduler.partitions.route(id).partition
        const rows = byPartition.get(partition) ?? []
        rows.push({ id, payload: '', dependsOn: [] })
        byPartition.set(partition, rows)
      }
      expect(byPartition.size).toBe(4)
      for (const [index, rows] of byPartition) {
        for (let i = 0; i < rows.length; i += 200) {
          await enqueue(runner, scheduler.partitions.all[index]!, { tasks: rows.slice(i, i + 200) })
        }
      }
      const stats = await scheduler.stats()
      const total = Object.values(weights).reduce((a, b) => a + b, 0)
      const assigned = new Map(stats.nodes.map((node) => [node.id, node.inflight]))
      expect([...assigned.values()].reduce((a, b) => a + b, 0)).toBe(10_000)
      for (const [nodeId, weight] of Object.entries(weights)) {
        const share = (assigned.get(nodeId) ?? 0) / 10_000
        expect(Math.abs(share - weight / total)).toBeLessThanOrEqual(0.02 * (weight / total))
      }
      await scheduler.close()
    })
})
