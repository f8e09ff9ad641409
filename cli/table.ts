/**
 * Plain-text tables for a terminal or a pipe: columns separated by two spaces, a header row in
 * capitals, no borders and no colour, so the output reads the same in a log file, greps well and
 * diffs cleanly. A cell may hold several lines (`\n`), and a column with a `maxWidth` wraps its
 * cells at spaces, so a long list (a script's KEYS) stays in its column instead of pushing the
 * table past the screen.
 */

export interface Column {
  /** Printed in the header row; a table with no header text at all prints no header row. */
  readonly header: string
  /** Default: `'left'`. Numbers read best aligned right. */
  readonly align?: 'left' | 'right'
  /** Wrap cells wider than this at spaces (a single longer word is cut). Default: no limit. */
  readonly maxWidth?: number
}

/** Spaces between two columns. */
const GAP = '  '

/** Width as a terminal shows it: one column per code point (no wide or combining characters here). */
function width(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

function pad(text: string, to: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, to - width(text)))
  return align === 'right' ? fill + text : text + fill
}

/** Splits one line into lines of at most `limit` code points, breaking at spaces where it can. */
export function wrap(line: string, limit: number): string[] {
  if (width(line) <= limit) return [line]
  const out: string[] = []
  let current = ''
  for (const word of line.split(' ')) {
    let rest = word
    // A word longer than the column is cut; everything else moves to the next line whole.
    while (width(rest) > limit) {
      if (current !== '') {
        out.push(current)
        current = ''
      }
      const chars = [...rest]
      out.push(chars.slice(0, limit).join(''))
      rest = chars.slice(limit).join('')
    }
    if (current === '') current = rest
    else if (width(current) + 1 + width(rest) <= limit) current += ' ' + rest
    else {
      out.push(current)
      current = rest
    }
  }
  if (current !== '') out.push(current)
  return out
}

/** The rows of `rows` under `columns`, one string ending in a newline. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const showHeader = columns.some((column) => column.header !== '')
  const cellLines = (row: readonly string[]): string[][] =>
    columns.map((column, i) => {
      const lines = (row[i] ?? '').split('\n')
      return column.maxWidth === undefined ? lines : lines.flatMap((line) => wrap(line, column.maxWidth!))
    })
  const body = rows.map(cellLines)
  const header = showHeader ? [columns.map((column) => [column.header])] : []
  const all = [...header, ...body]
  const widths = columns.map((_, i) => Math.max(0, ...all.flatMap((row) => row[i]!.map(width))))

  let out = ''
  for (const row of all) {
    const height = Math.max(...row.map((lines) => lines.length))
    for (let line = 0; line < height; line++) {
      const cells = columns.map((column, i) => pad(row[i]![line] ?? '', widths[i]!, column.align ?? 'left'))
      out += cells.join(GAP).trimEnd() + '\n'
    }
  }
  return out
}

/** A two-column `name  value` listing, for one record (a task, a script). */
export function renderPairs(pairs: readonly (readonly [string, string])[], valueWidth?: number): string {
  const columns: Column[] = [{ header: '' }, valueWidth === undefined ? { header: '' } : { header: '', maxWidth: valueWidth }]
  return renderTable(columns, pairs)
}
