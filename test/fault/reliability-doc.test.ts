/**
 * docs/reliability.md shows the figures of a recorded run: its tables must be what
 * `test/fault/write-table.ts` renders from test/fault/results/, and every fault test must have
 * its row there, with the invariants at 0.
 */
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DOC_PATH, readRows, renderDoc, RESULTS_DIR, SCENARIOS } from './support/table.js'

describe('docs/reliability.md', () => {
  it('has a recorded row for every fault test, each with 0 lost, stuck, duplicate completions and NOSCRIPT errors', () => {
    const rows = readRows()
    expect(rows.map((row) => row.scenario)).toEqual([...SCENARIOS])
    for (const row of rows) {
      expect({ scenario: row.scenario, lost: row.lost, stuck: row.stuck, duplicates: row.duplicateCompletionRecords, noscript: row.noscriptErrors }).toEqual(
        { scenario: row.scenario, lost: 0, stuck: 0, duplicates: 0, noscript: 0 },
      )
    }
    expect(existsSync(`${RESULTS_DIR}bounded-calls.json`)).toBe(true)
  })

  it('shows the tables rendered from test/fault/results (run npx tsx test/fault/write-table.ts)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8')
    expect(doc).toBe(renderDoc(doc))
  })

  it('is linked from the README', () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('(docs/reliability.md)')
  })
})
