/**
 * `taskmill load`: SCRIPT LOAD every script on every primary, as a deploy step or a check that a
 * Redis can run this build. Each script goes through its own ScriptRunner, so it is loaded and
 * checked exactly as the client does it (same SHA comparison, same error classes), while a
 * failure of one script is reported next to it instead of hiding the rest.
 */
import type { Redis } from 'ioredis'
import { Cluster as ClusterClient } from 'ioredis'
import { allScripts } from '../../loader/generated/scripts.js'
import { RedisUnavailableError, ScriptLoadError } from '../../loader/errors.js'
import { ScriptRunner } from '../../loader/runner.js'
import { parseCommandArgs, type Command } from '../command.js'
import { connectionHelp, connectionOptions, describeTarget, explainUnavailable, openTarget, targetSpec } from '../connection.js'
import { EXIT_FAILURE, EXIT_OK } from '../errors.js'
import { Progress } from '../io.js'
import { renderTable } from '../table.js'

const options = { ...connectionOptions } as const

const help = `Usage: taskmill load [--url URL | --cluster SEEDS]

Sends SCRIPT LOAD for every script to every primary and checks that Redis computed the SHA this
build expects. Prints one line per script and exits 1 if any failed.

Options:
${connectionHelp.join('\n')}
  -h, --help             Show this help.
`

interface Row {
  readonly name: string
  readonly version: number
  readonly sha: string
  readonly error: string | undefined
}

export const loadCommand: Command = {
  name: 'load',
  summary: 'SCRIPT LOAD every script on every primary and check the SHAs',
  help,
  async run(argv, output) {
    const { values } = parseCommandArgs('load', argv, options, { names: [], required: 0 })
    const spec = targetSpec(values, 'load')
    const target = await openTarget(spec)
    const progress = new Progress(output)
    try {
      const primaries = target.redis instanceof ClusterClient ? target.redis.nodes('master') : [target.redis]
      const versions = await Promise.all(primaries.map(serverVersion))
      const where = primaries.map((node, i) => `${nodeName(node)} (Redis ${versions[i]})`).join(', ')
      output.out(`Loading ${allScripts.length} scripts on ${primaries.length === 1 ? 'primary' : `${primaries.length} primaries`} ${where}\n\n`)

      const rows: Row[] = []
      for (const [i, definition] of allScripts.entries()) {
        progress.update(`loading ${i + 1}/${allScripts.length}: ${definition.name}`)
        let error: string | undefined
        try {
          await new ScriptRunner(target.redis, [definition]).loadAll()
        } catch (cause) {
          // Redis going away is not a fact about this script: stop and say how to reach it.
          if (cause instanceof RedisUnavailableError) throw explainUnavailable(spec, cause)
          if (!(cause instanceof ScriptLoadError)) throw cause
          error = cause.message
        }
        rows.push({ name: definition.name, version: definition.version, sha: definition.sha, error })
      }
      progress.done()

      output.out(
        renderTable(
          [{ header: 'SCRIPT' }, { header: 'VERSION' }, { header: 'SHA' }, { header: 'STATUS', maxWidth: 70 }],
          rows.map((row) => [row.name, `v${row.version}`, row.sha, row.error === undefined ? 'loaded' : `FAILED: ${row.error}`]),
        ),
      )
      const failed = rows.filter((row) => row.error !== undefined)
      if (failed.length === 0) {
        output.out(`\nAll ${rows.length} scripts loaded on ${describeTarget(spec)}.\n`)
        return EXIT_OK
      }
      output.err(`\n${failed.length} of ${rows.length} scripts failed to load on ${describeTarget(spec)}. ${advice(failed, versions)}\n`)
      return EXIT_FAILURE
    } finally {
      progress.done()
      await target.close()
    }
  },
}

/** What to do about the failures, judged from their messages and the servers' versions. */
function advice(failed: readonly Row[], versions: readonly string[]): string {
  if (failed.some((row) => row.error?.includes('computed SHA'))) {
    return 'The scripts of this build do not match their SHAs: regenerate them with `npm run codegen` and rebuild.'
  }
  const old = versions.filter((version) => Number(version.split('.')[0]) < 7)
  if (old.length > 0) {
    return `taskmill's scripts need Redis 7 or later (they use script flags); this server runs ${old.join(', ')}.`
  }
  return 'The STATUS column has the reply of Redis for each failed script.'
}

/** `redis_version` from INFO, or `?` when the server does not say (a failing server fails the loads anyway). */
async function serverVersion(node: Redis): Promise<string> {
  const info = await node.info('server').catch(() => '')
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? '?'
}

function nodeName(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}
