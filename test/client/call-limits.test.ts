/** The per-call limits the clients split their work by are the script headers' own. */
import { describe, expect, it } from 'vitest'
import { CALL_LIMITS } from '../../client/call-limits.js'
import { completeScript, enqueueScript, maintainScript, startScript } from '../../loader/generated/scripts.js'

describe('CALL_LIMITS', () => {
  it('reads every limit from the generated contracts', () => {
    expect(CALL_LIMITS).toEqual({
      enqueueTasks: enqueueScript.group?.max,
      enqueueDependencies: 1000,
      completeResults: completeScript.group?.max,
      completeClaim: 100,
      startMax: 200,
      maintainLimit: 250,
    })
    expect(enqueueScript.group?.fields.find((field) => field.name === 'dependsOn')?.type).toEqual({ kind: 'idlist', max: 1000, total: 1000 })
    expect(completeScript.args.find((arg) => arg.name === 'claim')?.type).toEqual({ kind: 'integer', min: 0, max: 100 })
    expect(startScript.args.find((arg) => arg.name === 'max')?.type).toEqual({ kind: 'integer', min: 1, max: 200 })
    expect(maintainScript.args.find((arg) => arg.name === 'limit')).toMatchObject({ type: { kind: 'integer', min: 1, max: 250 }, defaultValue: '250' })
  })
})
