/**
 * Rewrites the fault table and the longest-call table of docs/reliability.md from the figures
 * in test/fault/results/, which a recorded run writes:
 *
 *   TASKMILL_FAULT_RECORD=1 npx vitest run test/fault
 *   TASKMILL_FAULT_RECORD=1 TASKMILL_BOUNDED_TASKS=200000 npx vitest run test/fault/bounded-calls.test.ts -t 'longest calls'
 *   npx tsx test/fault/write-table.ts
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { DOC_PATH, renderDoc } from './support/table.js'

const before = readFileSync(DOC_PATH, 'utf8')
const after = renderDoc(before)
writeFileSync(DOC_PATH, after)
console.log(after === before ? 'docs/reliability.md is up to date' : 'docs/reliability.md: tables rewritten')
