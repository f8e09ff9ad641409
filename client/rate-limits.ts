/**
 * A queue's rate limit over several partitions. Each partition enforces its own share with its
 * own log (scripts-lua/lib/dispatch.lua, Rate limits), since one script call reaches one
 * partition only: partition i of P gets floor(max / P), plus one for the first max mod P, so all
 * of them together never start more than `max` in a window.
 */
export function rateLimitShares(max: number, partitions: number): number[] {
  if (!Number.isInteger(max) || max < partitions) {
    throw new RangeError(
      `rate limit max must be an integer of at least ${partitions} (one start per window for each partition), got ${max}`,
    )
  }
  const share = Math.floor(max / partitions)
  const extra = max % partitions
  return Array.from({ length: partitions }, (_, i) => share + (i < extra ? 1 : 0))
}
