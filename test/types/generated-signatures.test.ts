/**
 * The generated wrappers' signatures, checked by the type checker (vitest runs expectTypeOf as
 * assertions on types): a header change that alters an argument or reply type shows up here.
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { Namespace } from '../../loader/keys.js'
import type { ScriptCaller } from '../../loader/script-caller.js'
import * as s from '../../loader/generated/scripts.js'
import { LeaseLostError, errorClassesByCode } from '../../loader/generated/errors.js'
import { TaskmillScriptError } from '../../loader/errors.js'

describe('generated wrapper types', () => {
  it('enqueue takes typed task groups and replies with literal statuses', () => {
    expectTypeOf(s.enqueue).parameters.toEqualTypeOf<[ScriptCaller, Namespace, s.EnqueueArgs]>()
    type Task = s.EnqueueArgs['tasks'][number]
    expectTypeOf<Task['id']>().toEqualTypeOf<string>()
    expectTypeOf<Task['payload']>().toEqualTypeOf<string | Buffer>()
    expectTypeOf<Task['priority']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<Task['dependsOn']>().toEqualTypeOf<string[] | undefined>()
    expectTypeOf<Task['backoff']>().toEqualTypeOf<'fixed' | 'exponential' | undefined>()
    expectTypeOf<Task['onDependencyFailure']>().toEqualTypeOf<'fail' | 'run' | undefined>()
    expectTypeOf(s.enqueue).returns.resolves.toEqualTypeOf<('created' | 'exists')[]>()
  })

  it('read replies: records become objects, tuples named tuples, bytes Buffers, nil null', () => {
    expectTypeOf<s.StartReply>().toEqualTypeOf<
      [id: string, token: number, attempt: number, payload: Buffer, queue: string][]
    >()
    expectTypeOf<s.FailReply>().toEqualTypeOf<[outcome: 'retrying' | 'dead' | 'canceled', retryAt: number]>()
    expectTypeOf<s.GetTaskReply>().toMatchTypeOf<null | { id: string; payload: Buffer; result?: Buffer; node?: string }>()
    expectTypeOf<NonNullable<s.GetTaskReply>['dependsOn']>().toEqualTypeOf<string[]>()
    expectTypeOf<NonNullable<s.GetTaskReply>['remoteDependsOn']>().toEqualTypeOf<string[] | undefined>()
    expectTypeOf<s.DependencyResultsReply>().toEqualTypeOf<
      [id: string, state: string, result: Buffer | null, partition: number | null][]
    >()
    expectTypeOf<s.EnqueueArgs['tasks'][number]['remoteDependsOn']>().toEqualTypeOf<string[] | undefined>()
    expectTypeOf<s.InitReply>().toEqualTypeOf<'created' | 'updated' | 'exists'>()
    expectTypeOf<s.StatsReply['nodes'][number]['id']>().toEqualTypeOf<string>()
    expectTypeOf<s.StatsReply['nodes'][number]['stale']>().toEqualTypeOf<number>()
    expectTypeOf<s.StatsReply['pausedQueues']>().toEqualTypeOf<string[]>()
  })

  it('fencing arguments are numbers and booleans, not strings', () => {
    expectTypeOf<s.FailArgs['token']>().toEqualTypeOf<number>()
    expectTypeOf<s.FailArgs['retryable']>().toEqualTypeOf<boolean | undefined>()
    expectTypeOf<s.CompleteArgs['results'][number]['token']>().toEqualTypeOf<number>()
    expectTypeOf<s.RegisterNodeArgs['queues']>().toEqualTypeOf<string[] | undefined>()
  })

  it('read-only scripts without arguments take no args parameter', () => {
    expectTypeOf(s.stats).parameters.toEqualTypeOf<[ScriptCaller, Namespace]>()
  })

  it('error classes are typed by code', () => {
    expectTypeOf(LeaseLostError.code).toEqualTypeOf<'TM_LEASE_LOST'>()
    expectTypeOf<InstanceType<typeof LeaseLostError>>().toMatchTypeOf<TaskmillScriptError>()
    expectTypeOf(errorClassesByCode).toMatchTypeOf<Record<string, unknown>>()
  })
})
