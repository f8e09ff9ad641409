import { createRunner } from '../client/connection.js'
import { connect } from '../loader/connect.js'
import { Namespace } from '../loader/keys.js'
import * as s from '../loader/generated/scripts.js'
import { diff, RedisServer } from './redis-server.js'
const server = await RedisServer.start()
const client = connect(server.url)
const runner = createRunner(client)
await runner.loadAll()
const TASKS = Number(process.env.TASKS ?? 30000)
const NODES = Number(process.env.NODES ?? 50)
const best: Record<number, number> = {}
const cmds: Record<number, Record<string, number>> = {}
const ratios: number[] = []
let last1 = 0
for (let r = 0; r < Number(process.env.R ?? 5); r++) for (const groups of [1, 1000]) {
  await server.admin.flushall()
  const ns = new Namespace(`p${groups}`)
  await s.init(runner, ns, { eventsMaxLen: 0 })
  for (let from = 0; from < TASKS; from += 200) {
    const tasks = []
    for (let i = from; i < Math.min(TASKS, from + 200); i++) tasks.push({ id: `t${i}`, payload: 'x'.repeat(100), group: `g${i % groups}` })
    await s.enqueue(runner, ns, { tasks })
  }
  const before = await server.snapshot()
  for (let n = 0; n < NODES; n++) await s.registerNode(runner, ns, { nodeId: `d${n}`, weight: 1, capacity: 200, queues: [] })
  const d = diff(before, await server.snapshot())
  const per = NODES * 200
  const us = d.commands.find((c) => c.name === 'evalsha')!.usec / per
  if (groups === 1) last1 = us
  else ratios.push(us / last1)
  if (us < (best[groups] ?? 1e9)) {
    best[groups] = us
    cmds[groups] = Object.fromEntries(d.commands.map((c) => [c.name, c.usec / per]))
  }
}
const inner = (g: number) => Object.entries(cmds[g]!).filter(([n]) => n !== 'evalsha').reduce((a, [, v]) => a + v, 0)
console.log(`1: ${best[1]!.toFixed(2)} (commands ${inner(1).toFixed(2)})  1000: ${best[1000]!.toFixed(2)} (commands ${inner(1000).toFixed(2)})  ratio ${(best[1000]! / best[1]!).toFixed(2)}`)
ratios.sort((a, b) => a - b)
console.log('median ratio', ratios[Math.floor(ratios.length / 2)]!.toFixed(2), ratios.map((r) => r.toFixed(2)).join(' '))
if (process.env.V) console.log(cmds)
client.disconnect()
await server.stop()
