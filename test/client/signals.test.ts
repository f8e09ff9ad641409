/**
 * `handleSignals: true`: a worker process sent SIGTERM or SIGINT stops gracefully (its running
 * task completes, or is handed back when `stopTimeoutMs` runs out) and then exits 0 on its own;
 * a second signal ends it at once; the listeners are gone once the Worker has stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { Scheduler, Worker, type TaskInfo } from '../../client/index.js'
import { randomNamespace, redisInfo } from '../support/context.js'

const url = redisInfo.url
const open: { close(): Promise<void> }[] = []
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(open.splice(0).map((o) => o.close()))
})

interface WorkerProcess {
  child: ChildProcess
  lines: string[]
  /** Resolves when the process has printed `line`. */
  printed(line: string): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startWorkerProcess(namespace: string, nodeId: string, stopTimeoutMs = 30_000): WorkerProcess {
  const script = fileURLToPath(new URL('./signal-worker-process.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, url, namespace, nodeId, String(stopTimeoutMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: string[] = []
  const waiting: { line: string; resolve: () => void }[] = []
  let partial = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString()
    const complete = text.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      lines.push(line)
      for (const wait of waiting.filter((w) => w.line === line)) wait.resolve()
    }
  })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return {
    child,
    lines,
    exited,
    printed: (line) =>
      lines.includes(line)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiting.push({ line, resolve })
            void exited.then(() => reject(new Error(`the worker process exited without printing "${line}": ${lines.join(' | ')}`)))
          }),
  }
}

async function scheduler(): Promise<Scheduler> {
  const s = await Scheduler.open({ connection: url, namespace: randomNamespace('sig').name })
  open.push(s)
  return s
}

it('SIGTERM mid-task: the task completes on that node, the node leaves, and the process exits 0', async () => {
  const s = await scheduler()
  const worker = startWorkerProcess(s.namespace, 'managed')
  await worker.printed('ready')
  await s.enqueue({ id: 'slow', payload: '800' })
  await worker.printed('started slow')
  worker.child.kill('SIGTERM')
  expect(await worker.exited).toEqual({ code: 0, signal: null })
  expect(worker.lines).toEqual(['ready', 'started slow', 'finished slow', 'exit 0'])
  const task = (await s.getTask('slow')) as TaskInfo
  expect([task.state, task.result?.toString(), task.attempts, task.lostAttempts]).toEqual(['completed', 'done on managed', 1, 0])
  expect((await s.stats()).nodes).toEqual([])
})

it('SIGINT with a handler longer than stopTimeoutMs: the task is handed back and the process exits 0', async () => {
  const s = await scheduler()
  const worker = startWorkerProcess(s.namespace, 'hurried', 200)
  await worker.printed('ready')
  await s.enqueue({ id: 'long', payload: '60000' })
  await worker.printed('started long')
  worker.child.kill('SIGINT')
  expect(await worker.exited).toEqual({ code: 0, signal: null })
  const task = (await s.getTask('long')) as TaskInfo
  // Handed back: ready for another node, no attempt used up.
  expect([task.state, task.attempts, task.lostAttempts]).toEqual(['ready', 0, 0])
})

it('a second signal during the stop ends the process at once', async () => {
  const s = await scheduler()
  const worker = startWorkerProcess(s.namespace, 'impatient')
  await worker.printed('ready')
  await s.enqueue({ id: 'long', payload: '60000' })
  await worker.printed('started long')
  worker.child.kill('SIGINT')
  // The first signal starts the stop, which drains the node before it waits for the handler.
  while ((await s.stats()).nodes[0]?.capacity !== 0) await new Promise((resolve) => setTimeout(resolve, 20))
  worker.child.kill('SIGINT')
  expect(await worker.exited).toEqual({ code: null, signal: 'SIGINT' })
})

it('listens only while it runs, and only when asked', async () => {
  const s = await scheduler()
  const counts = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
  const before = counts()
  const quiet = await Worker.start({ connection: url, namespace: s.namespace, handler: async () => 'ok' })
  expect(counts()).toEqual(before)
  await quiet.stop()
  const listening = await Worker.start({ connection: url, namespace: s.namespace, handler: async () => 'ok', handleSignals: true })
  expect(counts()).toEqual(before.map((n) => n + 1))
  const stopping = listening.stop()
  expect(listening.stop()).toBe(stopping)
  await stopping
  expect(counts()).toEqual(before)
})
