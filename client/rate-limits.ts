/**
 * A queue's rate limit over several partitions. Each partition enforces its own share with its
 * own log (scripts-lua/lib/dispatch.lua, Rate limits), since one script call reaches one
 * partition only: partition i of P gets floor(max / P), plus one for the first max mod P, so all
 * of them together never start more than `max` in a window.
 */
export function rateLimitShares(max: number, partitions: number): number[] {
  return partitionShares(max, partitions, 'rate limit max', 'one start per window')
}

/**
 * `max` shared out between P partitions as rate limits are (above); a group's concurrency cap is
 * shared the same way, since each partition counts only the tasks it holds. `what` names the
 * figure, `least` what each partition needs at least, for the error.
 */
export function partitionShares(max: number, partitions: number, what: string, least: string): number[] {
  if (!Number.isInteger(max) || max < partitions) {
    throw new RangeError(`${what} must be an integer of at least ${partitions} (${least} for each partition), got ${max}`)
  }
  const share = Math.floor(max / partitions)
  const extra = max % partitions
  return Array.from({ length: partitions }, (_, i) => share + (i < extra ? 1 : 0))
}
