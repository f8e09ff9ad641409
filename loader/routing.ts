/**
 * How a task finds its partition. The rule is small on purpose, so that a client in any
 * language routes exactly as this one does; the manifest carries it with test vectors.
 *
 * - The routing key is the task's `partitionKey` when one is given, else its id; a batch
 *   routes as a whole by the routing key of its first task, so a graph enqueued in one call
 *   stays in one partition and its dependencies settle inside one script call.
 * - The partition is CRC-32 (ISO-HDLC, the checksum of zlib, gzip and PNG) of the key's
 *   UTF-8 bytes, modulo the namespace's partition count.
 * - Partition 0's keys are `tm:{<namespace>}:…`; partition p ≥ 1's are
 *   `tm:{<namespace>/<p>.<salt>}:…`, the salts read from the partition table (the
 *   `partitions` script, or `HGET tm:{<namespace>}:meta partitionSalts`, comma-separated).
 * - A raised count moves no task: an id enqueued under an earlier count stays where that
 *   count put it, so a lookup by id tries the current count first and then the earlier ones
 *   (`partitionHistory`, newest first).
 */

const CRC32_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32/ISO-HDLC of the bytes, as zlib's crc32 computes it. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of bytes) crc = (CRC32_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * The Redis Cluster slot of a hash tag: CRC-16/XMODEM of its bytes, modulo 16,384, as Redis
 * computes it for every key with `{tag}` in its name. Computed here rather than asked of Redis
 * (CLUSTER KEYSLOT), so choosing partitions' tags needs no extra permission.
 */
export function slotOfTag(tag: string): number {
  let crc = 0
  for (const byte of Buffer.from(tag, 'utf8')) {
    crc ^= byte << 8
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/** The partition index of a routing key under `count` partitions. */
export function partitionOf(routingKey: string, count: number): number {
  if (count === 1) return 0
  return crc32(Buffer.from(routingKey, 'utf8')) % count
}

/** Keys whose CRC-32 a port checks itself against. */
const VECTOR_KEYS = ['a', 'task-1', 'order:42', 'invoice-2026-12-01', 'ü-unicode']

/** The routing rule as the manifest states it, with vectors computed by this implementation. */
export function routingSpec() {
  return {
    routingKey: 'the task\'s partitionKey when given, else its id; a batch routes by its first task\'s routing key',
    hash: 'CRC-32/ISO-HDLC (zlib crc32) of the routing key\'s UTF-8 bytes',
    partition: 'crc32 % count, where count is the namespace\'s partition count',
    partitionTable:
      'script `partitions` on partition 0 (KEYS: tm:{<namespace>}:meta), or HGET tm:{<namespace>}:meta partitionSalts (comma-separated salts of partitions 1, 2, …) and partitionHistory (the counts it has had, oldest first)',
    keyPrefix: 'partition 0: tm:{<namespace>}:   partition p >= 1: tm:{<namespace>/<p>.<salt>}:',
    lookup: 'by id: the partition under the current count, then under each earlier count of partitionHistory, newest first',
    vectors: VECTOR_KEYS.map((key) => {
      const hash = crc32(Buffer.from(key, 'utf8'))
      return { key, crc32: hash, partitionOf3: hash % 3, partitionOf16: hash % 16 }
    }),
  }
}
