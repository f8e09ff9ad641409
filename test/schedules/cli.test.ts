/**
 * `taskmill schedule add|pause|resume|remove` and `taskmill schedules`, run as the command line
 * is, against one namespace.
 */
import { describe, expect, it } from 'vitest'
import { Scheduler } from '../../client/index.js'
import { runCli } from '../cli/run-cli.js'
import { randomNamespace, redisInfo } from '../support/context.js'

describe('taskmill schedule and schedules', () => {
  it('adds, lists, pauses, resumes and removes a schedule; a bad expression is a usage error', async () => {
    const namespace = randomNamespace('cli')
    const scheduler = await Scheduler.open({ connection: redisInfo.url, namespace: namespace.name })
    try {
      const cli = (args: string[]) => runCli([...args, '--url', redisInfo.url, '--namespace', namespace.name])
      const added = await cli(['schedule', 'add', 'nightly', '--cron', '30 2 * * *', '--timezone', 'Europe/Berlin', '--payload', 'report'])
      expect(added.code).toBe(0)
      expect(added.stdout).toMatch(/^nightly: created, revision 1, next firing \d{4}-\d\d-\d\dT0[01]:30:00\.000Z\n$/)
      expect((await scheduler.getSchedule('nightly'))?.payload.toString()).toBe('report')
      const listed = await cli(['schedules'])
      expect(listed.stdout).toMatch(/^ID +FIRES +STATE +NEXT +FIRINGS +LAST TASK\nnightly +30 2 \* \* \* \(Europe\/Berlin\) +active +\S+ +0 +-\n$/)
      expect(await cli(['schedule', 'pause', 'nightly'])).toMatchObject({ code: 0, stdout: 'nightly: paused\n' })
      expect(await cli(['schedule', 'pause', 'nightly'])).toMatchObject({ code: 0, stdout: 'nightly: unchanged (paused already)\n' })
      expect((await cli(['schedules'])).stdout).toContain(' paused ')
      expect(await cli(['schedule', 'resume', 'nightly'])).toMatchObject({ code: 0, stdout: 'nightly: resumed\n' })
      expect(await cli(['schedule', 'remove', 'nightly'])).toMatchObject({ code: 0, stdout: 'nightly: removed\n' })
      expect((await cli(['schedules'])).stdout).toBe('no schedules\n')
      const bad = await cli(['schedule', 'add', 'x', '--cron', '61 * * * *'])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('minute field')
      const unknown = await cli(['schedule', 'pause', 'nope'])
      expect(unknown.code).not.toBe(0)
      expect(unknown.stderr).toContain('TM_UNKNOWN_SCHEDULE')
    } finally {
      await scheduler.close()
    }
  })
})
