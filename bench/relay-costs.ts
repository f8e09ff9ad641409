// Redis CPU per call of the cross-partition dependency path (watch-dependency, enqueue with a
// remote parent, complete with a remote edge, heartbeat, claim-relay, deliver-outcome, ack-relay),
// from INFO commandstats on one redis-server, best of ROUNDS rounds. Not part of npm run bench.
//
//   redis-server --port 6398 --save '' --daemonize yes
//   PORT=6398 npx tsx bench/relay-costs.ts
import { Redis } from 'ioredis'
import { createRunner } from '../client/connection.js'
import * as s from '../loader/generated/scripts.js'
import { Namespace } from '../loader/keys.js'

const r = new Redis(Number(process.env.PORT ?? 6398))
const runner = createRunner(r)
await runner.loadAll()
async function usec(fn: () => Promise<unknown>): Promise<number> {
  await r.config('RESETSTAT')
  await fn()
  const info = await r.info('commandstats')
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info)!
  return Number(m[2]) / Number(m[1])
}
const N = 100
const best: Record<string, number> = {}
const keep = (k: string, v: number) => { best[k] = Math.min(best[k] ?? Infinity, v) }
for (let round = 0; round < Number(process.env.ROUNDS ?? 7); round++) {
  const name = `rc${process.pid}x${round}`
  const a = new Namespace(name), b = new Namespace(name, { index: 1, tag: `${name}/1` })
  for (const ns of [a, b]) await s.init(runner, ns, { eventsMaxLen: 0 })
  await s.enqueue(runner, a, { tasks: Array.from({ length: N }, (_, i) => ({ id: `p${i}`, payload: '' })) })
  keep('watch-dependency, 1 pending parent', await usec(() => Promise.all(Array.from({ length: N }, (_, i) => s.watchDependency(runner, a, { partition: 1, ids: [`p${i}`] })))))
  keep('enqueue, 1 task with 1 remote parent', await usec(() => Promise.all(Array.from({ length: N }, (_, i) => s.enqueue(runner, b, { tasks: [{ id: `c${i}`, payload: '', remoteDependsOn: [`0/p${i}`] }] })))))
  keep('enqueue, 1 task with 1 local parent', await usec(() => Promise.all(Array.from({ length: N }, (_, i) => s.enqueue(runner, b, { tasks: [{ id: `l${i}`, payload: '', dependsOn: [`c${i}`] }] })))))
  await s.registerNode(runner, a, { nodeId: 'n', weight: 1, capacity: 1000 })
  const started = await s.start(runner, a, { nodeId: 'n', max: 1000 })
  keep('complete, 1 task with a remote edge', await usec(() => Promise.all(started.map(([id, token]) => s.complete(runner, a, { nodeId: 'n', results: [{ id, token, result: 'r' }] })))))
  await s.heartbeat(runner, a, { nodeId: 'n' })
  keep('heartbeat, 100 outcomes due', await usec(() => Promise.all(Array.from({ length: N }, () => s.heartbeat(runner, a, { nodeId: 'n' })))))
  let claimed: s.ClaimRelayReply = []
  keep('claim-relay, 100 outcomes (per call)', await usec(async () => { claimed = await s.claimRelay(runner, a, { limit: 100 }) }))
  keep('deliver-outcome, 100 outcomes to waiting proxies (per call)', await usec(() => s.deliverOutcome(runner, b, { outcomes: claimed.map(([, id, state, result]) => ({ partition: 0, id, state, result })) })))
  keep('deliver-outcome, the same 100 again (per call)', await usec(() => s.deliverOutcome(runner, b, { outcomes: claimed.map(([, id, state, result]) => ({ partition: 0, id, state, result })) })))
  keep('ack-relay, 100 outcomes (per call)', await usec(() => s.ackRelay(runner, a, { entries: claimed.map(([partition, id, , , token]) => ({ partition, id, token })) })))
  keep('claim-relay, nothing due', await usec(() => Promise.all(Array.from({ length: N }, () => s.claimRelay(runner, a, {})))))
  // The node is idle and the outbox empty: the heartbeat's own cost, its relay count included.
  keep('heartbeat, nothing due', await usec(() => Promise.all(Array.from({ length: N }, () => s.heartbeat(runner, a, { nodeId: 'n' })))))
  if (round === 0) {
    console.log('bytes: proxy record', await r.hstrlen(b.key('task'), '0/p0'), 'child record', await r.hstrlen(b.key('task'), 'c0'))
  }
  await r.del(...a.allKeys(), ...b.allKeys())
}
for (const [k, v] of Object.entries(best)) console.log(`${k.padEnd(62)} ${v.toFixed(1)} µs`)
r.disconnect()
