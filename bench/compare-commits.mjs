// Redis CPU per call of heartbeat (a node with no tasks), enqueue of one task and complete of one
// task, with N registered nodes, for the committed generated scripts of several commits, measured
// on one redis-server and interleaved, so that the noise of a shared machine falls on all of them.
// Used for the before/after figures of changes to the scripts; not part of `npm run bench`.
//
//   redis-server --port 6398 --save '' --daemonize yes
//   PORT=6398 node bench/compare-commits.mjs <commit>,<commit>,... [1,1000]
import { execFileSync } from 'node:child_process'
import { Redis } from 'ioredis'
const port = Number(process.env.PORT ?? 6399)
const r = new Redis(port)
const commits = process.argv[2].split(',')
const sizes = (process.argv[3] ?? '1,1000').split(',').map(Number)
const show = (c, p) => execFileSync('git', ['show', `${c}:${p}`], { encoding: 'utf8', maxBuffer: 1 << 26 })
const variants = []
for (const c of commits) {
  const manifest = JSON.parse(show(c, 'loader/generated/manifest.json'))
  const scripts = {}
  for (const s of manifest.scripts) {
    const src = show(c, `loader/generated/lua/${s.name}.lua`)
    scripts[s.name] = { sha: await r.script('LOAD', src), keys: s.keys.map((k) => k.pattern ?? `tm:{<namespace>}:${k.name}`), args: s.args.map((a) => a.name), fields: s.group?.fields.length ?? 0 }
  }
  variants.push({ commit: c, scripts })
}
let nsCounter = 0
function keysFor(ns, script) { return script.keys.map((k) => k.replace('<namespace>', ns)) }
function call(p, ns, script, args) { const keys = keysFor(ns, script); p.evalsha(script.sha, keys.length, ...keys, ...args) }
async function usec(fn) {
  await r.config('RESETSTAT')
  await fn()
  const info = await r.info('commandstats')
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info)
  return Number(m[2]) / Number(m[1])
}
async function exec(p) { const res = await p.exec(); const err = res.find(([e]) => e); if (err) throw err[0] }
async function setup(v, n) {
  const ns = `cmp${process.pid}x${nsCounter++}`
  const s = v.scripts
  let p = r.pipeline()
  call(p, ns, s.init, ['weighted', '', '', '', '', '', '', '', '3600000'])
  for (let i = 0; i < n; i++) call(p, ns, s['register-node'], [`n${String(i).padStart(4, '0')}`, '1', '1000', ''])
  await exec(p)
  p = r.pipeline(); call(p, ns, s.maintain, ['10000']); await exec(p)
  return ns
}
const results = {}
for (let round = 0; round < 5; round++) {
  for (const v of variants) {
    for (const n of sizes) {
      const ns = await setup(v, n)
      const s = v.scripts
      const K = 300
      const hb = await usec(async () => { const p = r.pipeline(); for (let i = 0; i < K; i++) call(p, ns, s.heartbeat, [`n${String(i % n).padStart(4, '0')}`]); await exec(p) })
      const enq = await usec(async () => { const p = r.pipeline(); for (let i = 0; i < K; i++) call(p, ns, s.enqueue, [`t${round}-${i}`, 'x', ...Array(s.enqueue.fields - 2).fill('')]); await exec(p) })
      // start everything assigned, per node, then complete one task per call
      let started = []
      { const p = r.pipeline(); for (let i = 0; i < n; i++) call(p, ns, s.start, [`n${String(i).padStart(4, '0')}`, '1000']); const res = await p.exec(); res.forEach(([, rows], i) => { for (const row of rows) started.push([`n${String(i).padStart(4, '0')}`, row[0], row[1]]) }) }
      const comp = await usec(async () => { const p = r.pipeline(); for (const [node, id, token] of started) call(p, ns, s.complete, [node, '0', id, String(token), '']); await exec(p) })
      const key = `${v.commit} n=${n}`
      const prev = results[key] ?? { hb: Infinity, enq: Infinity, comp: Infinity }
      results[key] = { hb: Math.min(prev.hb, hb), enq: Math.min(prev.enq, enq), comp: Math.min(prev.comp, comp) }
    }
  }
}
console.log('commit      nodes  heartbeat  enqueue  complete   (µs per call, best of 5 interleaved rounds)')
for (const [key, v] of Object.entries(results)) {
  const [c, n] = key.split(' ')
  console.log(c.padEnd(10), n.slice(2).padStart(6), v.hb.toFixed(1).padStart(10), v.enq.toFixed(1).padStart(8), v.comp.toFixed(1).padStart(9))
}
r.disconnect()
