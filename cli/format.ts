/** How the CLI shows values a person reads: durations, timestamps and opaque payloads. */

/** `850ms`, `12.3s`, `4m 05s`, `2h 07m`, `3d 04h`: precise when short, coarse when long. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : ''
  const abs = Math.abs(ms)
  if (abs < 1000) return `${sign}${Math.round(abs)}ms`
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)}s`
  const two = (n: number): string => String(n).padStart(2, '0')
  const seconds = Math.floor(abs / 1000)
  if (seconds < 3600) return `${sign}${Math.floor(seconds / 60)}m ${two(seconds % 60)}s`
  if (seconds < 86_400) return `${sign}${Math.floor(seconds / 3600)}h ${two(Math.floor(seconds / 60) % 60)}m`
  return `${sign}${Math.floor(seconds / 86_400)}d ${two(Math.floor(seconds / 3600) % 24)}h`
}

/**
 * A Unix time in ms (the Redis server's clock, as scripts record it) as an ISO date with its
 * distance from `nowMs`, also the server's clock, so a skewed local clock cannot mislead.
 */
export function formatTimestamp(ms: number, nowMs: number): string {
  const iso = new Date(ms).toISOString()
  const delta = nowMs - ms
  return delta >= 0 ? `${iso} (${formatDuration(delta)} ago)` : `${iso} (in ${formatDuration(-delta)})`
}

/** Printable: UTF-8 text without control characters other than tab and newlines. */
function printableText(bytes: Buffer): string | undefined {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text) ? undefined : text
}

/**
 * An opaque payload or result on one line: text when it is printable UTF-8 (newlines and tabs
 * escaped), hex otherwise, cut after `limit` bytes with the full size said.
 */
export function formatBytes(bytes: Buffer, limit: number): string {
  if (bytes.length === 0) return '(empty)'
  const cut = bytes.length > limit
  const shown = cut ? bytes.subarray(0, limit) : bytes
  const size = `${bytes.length} byte${bytes.length === 1 ? '' : 's'}`
  if (printableText(bytes) !== undefined) {
    // A cut may split a UTF-8 sequence: the partial character decodes to U+FFFD and is dropped.
    const text = new TextDecoder('utf-8').decode(shown).replace(/\uFFFD+$/, '')
    const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    return cut ? `${escaped}… (${size}, text)` : `${escaped} (${size}, text)`
  }
  const hex = shown.toString('hex').replace(/(.{2})(?=.)/g, '$1 ')
  return cut ? `${hex} … (${size}, hex)` : `${hex} (${size}, hex)`
}
