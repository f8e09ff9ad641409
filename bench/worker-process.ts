/**
 * The benchmark's side of a worker process (see worker-child.ts): spawn it, start its worker,
 * wait until it has run the expected tasks, stop it and collect what it saw. A child that dies
 * or reports an error rejects whatever is being waited for, so a run fails instead of hanging.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildMessage, ChildResult, ChildSpec, ParentMessage } from './worker-child.js'

const CHILD_ENTRY = fileURLToPath(new URL('./worker-child.ts', import.meta.url))

export class WorkerProcess {
  /** Handler calls so far, as last reported. */
  handled = 0
  private readonly waiters = new Map<ChildMessage['type'], ((message: ChildMessage) => void)[]>()
  private readonly seen = new Map<ChildMessage['type'], ChildMessage>()
  private failure: Error | undefined
  private readonly failed: Promise<never>
  private rejectAll!: (error: Error) => void

  private constructor(private readonly child: ChildProcess) {
    this.failed = new Promise<never>((_, reject) => (this.rejectAll = reject))
    this.failed.catch(() => undefined)
    child.on('message', (message: ChildMessage) => this.receive(message))
    child.once('exit', (code, signal) => {
      if (!this.seen.has('result')) this.fail(new Error(`worker process exited (${signal ?? code}) before reporting`))
    })
  }

  /** Spawns the child and waits until it has loaded the system's module. */
  static async spawn(spec: ChildSpec): Promise<WorkerProcess> {
    // The child inherits the parent's execArgv, which carries tsx's loader.
    const child = fork(CHILD_ENTRY, [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const process = new WorkerProcess(child)
    await process.next('ready')
    return process
  }

  /** Starts the system's worker in the child and waits until it runs. */
  async go(): Promise<void> {
    this.post({ type: 'go' })
    await this.next('started')
  }

  /** Waits until the child has run `expected` distinct tasks, or `timeoutMs` passes. */
  async untilHandled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s with ${this.handled} tasks run`)), timeoutMs)
    })
    try {
      await Promise.race([this.next('handled'), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stops the worker (running tasks finish) and returns what the child saw. */
  async stop(): Promise<ChildResult> {
    this.post({ type: 'stop' })
    const message = await this.next('result')
    if (message.type !== 'result') throw new Error('unexpected reply')
    return message.result
  }

  /** Ends the child at once, when a run is abandoned. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) {
      process.kill(this.child.pid, 'SIGKILL')
    }
  }

  private post(message: ParentMessage): void {
    if (this.failure) throw this.failure
    this.child.send(message)
  }

  private receive(message: ChildMessage): void {
    if (message.type === 'progress' || message.type === 'handled') this.handled = message.handled
    if (message.type === 'error') return this.fail(new Error(`worker process failed: ${message.message}`))
    this.seen.set(message.type, message)
    for (const resolve of this.waiters.get(message.type) ?? []) resolve(message)
    this.waiters.delete(message.type)
  }

  private fail(error: Error): void {
    if (this.failure) return
    this.failure = error
    this.rejectAll(error)
  }

  private next(type: ChildMessage['type']): Promise<ChildMessage> {
    const already = this.seen.get(type)
    if (already) return Promise.resolve(already)
    const arrived = new Promise<ChildMessage>((resolve) => {
      const list = this.waiters.get(type) ?? []
      list.push(resolve)
      this.waiters.set(type, list)
    })
    return Promise.race([arrived, this.failed])
  }
}
