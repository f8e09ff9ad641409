import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import manifest from '../../loader/generated/manifest.json' with { type: 'json' }
import { crc32, partitionOf, slotOfTag } from '../../loader/routing.js'
import { clusterClient, clusterSkipReason } from '../support/context.js'
import { PartitionTable } from '../../client/partitions.js'

describe('routing', () => {
  it('hashes keys with the CRC-32 that zlib computes', () => {
    const keys = ['', 'a', 'task-1', 'ü-unicode', 'x'.repeat(500), ...Array.from({ length: 200 }, (_, i) => `id-${i}`)]
    for (const key of keys) expect(crc32(Buffer.from(key, 'utf8'))).toBe(zlibCrc32(Buffer.from(key, 'utf8')))
  })

  it('gives the partitions the manifest vectors state', () => {
    expect(manifest.routing.vectors.length).toBeGreaterThan(0)
    for (const vector of manifest.routing.vectors) {
      expect(zlibCrc32(Buffer.from(vector.key, 'utf8'))).toBe(vector.crc32)
      expect(partitionOf(vector.key, 3)).toBe(vector.partitionOf3)
      expect(partitionOf(vector.key, 16)).toBe(vector.partitionOf16)
    }
  })

  it('spreads 30,000 ids over 16 partitions within 5% of an even share each', () => {
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 30_000; i++) counts[partitionOf(`task-${i}`, 16)]! += 1
    for (const count of counts) expect(Math.abs(count - 30_000 / 16)).toBeLessThan((30_000 / 16) * 0.05)
  })

  it('looks an id up under the current count first, then under the earlier counts, newest first', () => {
    const table = new PartitionTable('ns', { tags: ['ns', 'ns/1.0', 'ns/2.0', 'ns/3.4'], history: [1, 2, 4] })
    const id = Array.from({ length: 1000 }, (_, i) => `id-${i}`).find(
      (key) => partitionOf(key, 4) !== partitionOf(key, 2) && partitionOf(key, 2) !== 0,
    ) as string
    expect(table.candidates(id).map((p) => p.partition)).toEqual([partitionOf(id, 4), partitionOf(id, 2), 0])
    expect(table.route(id).prefix).toBe(`tm:{${table.all[partitionOf(id, 4)]!.tag}}:`)
  })
})

describe.skipIf(clusterSkipReason !== undefined)('slots of hash tags', () => {
  it('are the slots Redis Cluster computes', async () => {
    const cluster = clusterClient()
    for (const tag of ['shop', 'shop/1.0', 'shop/2.17', 'ü', 'a-much-longer-namespace-name/1023.999999']) {
      expect(slotOfTag(tag)).toBe(Number(await cluster.cluster('KEYSLOT', `tm:{${tag}}:meta`)))
    }
  })
})
