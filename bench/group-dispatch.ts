/**
 * Dispatch with groups (issue 11): Redis CPU per dispatched task while 1,000 groups wait, against
 * 1 group and against tasks with no group, on a fresh redis-server. Each case enqueues the same
 * backlog (`--tasks`, default 100,000) into a fresh namespace with no node, so nothing dispatches,
 * spread evenly over its groups; then measures two things:
 *
 * - **dispatch**: nodes of 200 slots register one after another, and each register-node call
 *   gives its node 200 tasks (the most one call assigns): the call's cost over 200 is what one
 *   assignment costs, the call's own overhead shared out;
 * - **cycle**: one node of 100 slots starts its tasks and completes them in batches, each
 *   complete dispatching the next ones, until `--cycle` tasks (default 20,000) have run: the
 *   cost per task of the whole round of a worker.
 *
 * Cost is the `evalsha` time of INFO commandstats (Redis 7 counts the commands a script runs
 * inside it), divided by the tasks dispatched; Redis' process CPU over the phase is given beside it.
 *
 *   npx tsx bench/group-dispatch.ts [--tasks=100000] [--cycle=20000] [--rounds=5] [--json=FILE]
 *   npm run bench -- --scenarios=groups
 *
 * prints a table and writes bench/results/group-dispatch.json and .md, and regenerates the table in
 * the README's Groups section from them.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createRunner } from '../client/connection.js'
import { checkout, describeRevision, hostDescription } from './checkout.js'
import { machine } from './report.js'
import { connect } from '../loader/connect.js'
import { Namespace } from '../loader/keys.js'
import * as s from '../loader/generated/scripts.js'
import { GROUP_MARKERS, GROUPS_REPORT_PATH, README_PATH, updateMarkedSection } from './readme.js'
import { diff, RedisServer } from './redis-server.js'

export interface GroupDispatchSizes {
  tasks: number
  cycle: number
  rounds: number
}

export interface GroupCase {
  name: string
  groups: number
  /** µs of evalsha per task dispatched by register-node calls of 200 each. */
  dispatchUs: number
  /** Redis process CPU (user + sys) per task over the same phase, µs. */
  dispatchCpuUs: number
  /** µs of evalsha per task over start/complete rounds of a node of 100 slots. */
  cycleUs: number
  cycleCpuUs: number
}

export interface GroupDispatchRun {
  sizes: GroupDispatchSizes
  date: string
  /** The commit measured (bench/checkout.ts). */
  revision: string
  machine: string
  redis: string
  cases: GroupCase[]
  /**
   * 1,000 groups against 1 group in Redis process CPU per task: the median of the rounds'
   * ratios, each of two cases measured one after the other, so that a change in the machine's
   * speed between rounds cancels out.
   */
  ratioDispatch: number
  ratioCycle: number
  /** Each round's ratios, in the order run. */
  roundRatios: { dispatch: number[]; cycle: number[] }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const DISPATCH_NODES = 100
const DISPATCH_SLOTS = 200

async function measureCase(server: RedisServer, name: string, groups: number, sizes: GroupDispatchSizes): Promise<GroupCase> {
  const client = connect(server.url)
  client.on('error', () => {})
  try {
    const runner = createRunner(client)
    await runner.loadAll()
    const ns = new Namespace(`gb-${name.replace(/[^a-z0-9]/gi, '')}`)
    await s.init(runner, ns, { eventsMaxLen: 0 })
    for (let from = 0; from < sizes.tasks; from += 200) {
      const tasks = []
      for (let i = from; i < Math.min(sizes.tasks, from + 200); i++) {
        tasks.push({ id: `t${i}`, payload: 'x'.repeat(100), group: groups === 0 ? '' : `g${i % groups}` })
      }
      await s.enqueue(runner, ns, { tasks })
    }
    // Dispatch alone: each register-node call assigns its node's 200 slots.
    let before = await server.snapshot()
    for (let n = 0; n < DISPATCH_NODES; n++) {
      await s.registerNode(runner, ns, { nodeId: `d${n}`, weight: 1, capacity: DISPATCH_SLOTS, queues: [] })
    }
    let delta = diff(before, await server.snapshot())
    const dispatched = DISPATCH_NODES * DISPATCH_SLOTS
    const dispatchUs = (delta.commands.find((c) => c.name === 'evalsha')?.usec ?? 0) / dispatched
    const dispatchCpuUs = delta.cpuUs / dispatched
    // The round of a worker: start, complete, and the dispatch each complete does.
    await s.registerNode(runner, ns, { nodeId: 'w', weight: 1, capacity: 100, queues: [] })
    before = await server.snapshot()
    let ran = 0
    while (ran < sizes.cycle) {
      const started = await s.start(runner, ns, { nodeId: 'w' })
      if (started.length === 0) throw new Error(`${name}: nothing to start after ${ran} tasks`)
      for (let i = 0; i < started.length; i += 100) {
        const results = started.slice(i, i + 100).map(([id, token]) => ({ id, token, result: '' }))
        await s.complete(runner, ns, { nodeId: 'w', claim: 0, results })
      }
      ran += started.length
    }
    delta = diff(before, await server.snapshot())
    const cycleUs = (delta.commands.find((c) => c.name === 'evalsha')?.usec ?? 0) / ran
    return { name, groups, dispatchUs, dispatchCpuUs, cycleUs, cycleCpuUs: delta.cpuUs / ran }
  } finally {
    client.disconnect()
  }
}

export async function measureGroupDispatch(sizes: GroupDispatchSizes, log: (line: string) => void = () => {}): Promise<GroupDispatchRun> {
  const server = await RedisServer.start()
  const atStart = checkout()
  try {
    const redis = /redis_version:(\S+)/.exec(await server.admin.info('server'))?.[1] ?? 'unknown'
    const kinds = [
      ['no group', 0],
      ['1 group', 1],
      ['1,000 groups', 1000],
    ] as const
    // The cases take turns, `rounds` times, each on an emptied server; each figure is the
    // lowest of its rounds, the one least disturbed by other work on the machine.
    const cases: GroupCase[] = []
    const roundRatios: GroupDispatchRun['roundRatios'] = { dispatch: [], cycle: [] }
    for (let round = 1; round <= sizes.rounds; round++) {
      const thisRound: GroupCase[] = []
      for (const [i, [name, groups]] of kinds.entries()) {
        log(`round ${round}/${sizes.rounds}, ${name}: ${sizes.tasks.toLocaleString('en-US')} tasks waiting …`)
        await server.admin.flushall()
        const measured = await measureCase(server, name, groups, sizes)
        thisRound.push(measured)
        const best = cases[i]
        cases[i] = best
          ? {
              ...best,
              dispatchUs: Math.min(best.dispatchUs, measured.dispatchUs),
              dispatchCpuUs: Math.min(best.dispatchCpuUs, measured.dispatchCpuUs),
              cycleUs: Math.min(best.cycleUs, measured.cycleUs),
              cycleCpuUs: Math.min(best.cycleCpuUs, measured.cycleCpuUs),
            }
          : measured
      }
      // Redis process CPU, not the script time commandstats gives: on a shared machine the
      // latter also counts time the server waited for a processor, which comes and goes.
      roundRatios.dispatch.push(thisRound[2]!.dispatchCpuUs / thisRound[1]!.dispatchCpuUs)
      roundRatios.cycle.push(thisRound[2]!.cycleCpuUs / thisRound[1]!.cycleCpuUs)
    }
    return {
      sizes,
      date: new Date().toISOString(),
      revision: describeRevision(atStart, checkout()),
      machine: machine(hostDescription()),
      redis,
      cases,
      ratioDispatch: median(roundRatios.dispatch),
      ratioCycle: median(roundRatios.cycle),
      roundRatios,
    }
  } finally {
    await server.stop()
  }
}

export function groupDispatchMarkdown(run: GroupDispatchRun): string {
  const rows = run.cases.map(
    (c) =>
      `| ${c.name} | ${c.dispatchUs.toFixed(1)} | ${c.dispatchCpuUs.toFixed(1)} | ${c.cycleUs.toFixed(1)} | ${c.cycleCpuUs.toFixed(1)} |`,
  )
  return [
    '<!-- Generated from bench/results/group-dispatch.json by `npm run bench:readme` (bench/readme.ts); edit that, not this. -->',
    '| tasks waiting in | dispatch: script µs per task | Redis CPU µs per task | worker round: script µs per task | Redis CPU µs per task |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `1,000 groups against 1 group, in Redis CPU: **${run.ratioDispatch.toFixed(2)}×** per dispatched task, **${run.ratioCycle.toFixed(2)}×** per task of a worker's round ` +
      `(the median of the rounds' ratios, each round measuring the two one after the other; dispatch ${run.roundRatios.dispatch.map((r) => r.toFixed(2)).join(', ')}; ` +
      `worker round ${run.roundRatios.cycle.map((r) => r.toFixed(2)).join(', ')}).`,
    '',
    `${run.sizes.tasks.toLocaleString('en-US')} tasks waiting, spread evenly over the groups, all of weight 1; the figures in µs are the lowest of ${run.sizes.rounds} rounds; ` +
      `taskmill ${run.revision} on ${run.date.slice(0, 10)}, ${run.machine}, redis-server ${run.redis}, persistence off. ` +
      '`npm run bench -- --scenarios=groups` measures it again.',
  ].join('\n')
}

export async function runGroupDispatchBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { tasks: { type: 'string' }, cycle: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' } },
    strict: false,
  })
  const sizes: GroupDispatchSizes = {
    tasks: Number(values.tasks ?? 100_000),
    cycle: Number(values.cycle ?? 20_000),
    rounds: Number(values.rounds ?? 5),
  }
  if (sizes.tasks < DISPATCH_NODES * DISPATCH_SLOTS + sizes.cycle) {
    throw new Error(`--tasks must be at least ${DISPATCH_NODES * DISPATCH_SLOTS} + --cycle`)
  }
  const run = await measureGroupDispatch(sizes, (line) => process.stderr.write(`${line}\n`))
  const markdown = groupDispatchMarkdown(run)
  const json = typeof values.json === 'string' ? values.json : join(dirname(fileURLToPath(import.meta.url)), 'results', 'group-dispatch.json')
  await mkdir(dirname(json), { recursive: true })
  await writeFile(json, `${JSON.stringify(run, null, 2)}\n`)
  await writeFile(json.replace(/\.json$/, '.md'), `${markdown}\n`)
  process.stdout.write(`${markdown}\n`)
  if (resolve(json) === GROUPS_REPORT_PATH) {
    const readme = await readFile(README_PATH, 'utf8')
    const updated = updateMarkedSection(readme, GROUP_MARKERS, markdown)
    if (updated !== readme) {
      await writeFile(README_PATH, updated)
      process.stderr.write('README.md: the group dispatch table regenerated from group-dispatch.json\n')
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runGroupDispatchBench(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
}
