/**
 * A Redis for the tests, the demo and the benchmark, found in this order:
 * 1. `REDIS_URL` from the environment (never stopped or restarted by us);
 * 2. a `redis-server` on PATH, spawned on a free loopback port with no persistence and its own
 *    temporary directory, stopped by pid;
 * 3. a container from `@testcontainers/redis`, only when a Docker engine is configured
 *    (testcontainers is imported lazily: the import alone costs about half a second);
 * 4. on a Debian or Ubuntu machine where we run as root, `redis-server` installed with apt-get,
 *    then as in 2. Anywhere else the error says what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

export interface TestRedis {
  url: string
  host: string
  port: number
  /** Where it came from, for messages. */
  source: 'env' | 'redis-server' | 'testcontainers'
  stop(): Promise<void>
  /** Stop and start again on the same port and directory; only for servers we spawned. */
  restart?: () => Promise<void>
}

const HOST = '127.0.0.1'
const READY_TIMEOUT_MS = 10_000

/** The absolute path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

export function dockerConfigured(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock')
}

export async function startRedis(): Promise<TestRedis> {
  const fromEnv = process.env.REDIS_URL
  if (fromEnv) {
    const url = new URL(fromEnv)
    return {
      url: fromEnv,
      host: url.hostname,
      port: Number(url.port || 6379),
      source: 'env',
      stop: async () => {},
    }
  }
  const server = findExecutable('redis-server')
  if (server !== undefined) return spawnRedisServer(server, [])
  if (dockerConfigured()) return startContainer()
  installRedisServer()
  return spawnRedisServer(findExecutable('redis-server') as string, [])
}

/** Installs redis-server and redis-tools with apt-get, when we are root on a Debian-like machine. */
function installRedisServer(): void {
  if (process.getuid?.() !== 0 || findExecutable('apt-get') === undefined) {
    throw new Error(
      'no Redis found: set REDIS_URL=redis://host:port, install redis-server (e.g. `sudo apt-get install redis-server redis-tools`), or run a Docker engine',
    )
  }
  console.error('redis-server is not installed: installing it with apt-get (one time, about a minute)…')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-q'], ['install', '-y', '-q', 'redis-server', 'redis-tools']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env })
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: install redis-server yourself or set REDIS_URL`)
  }
  if (findExecutable('redis-server') === undefined) throw new Error('apt-get installed redis-server, but it is not on PATH')
}

/** A free TCP port on loopback (free when asked; the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.once('error', reject)
    probe.listen(0, HOST, () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

/** A redis-server child process on a free port; `extraArgs` are appended (cluster mode uses this). */
export async function spawnRedisServer(executable: string, extraArgs: readonly string[]): Promise<SpawnedRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmill-redis-'))
  // Another process may take the free port before redis-server binds it: try a few ports.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const server = new SpawnedRedis(executable, port, dir, extraArgs)
    try {
      await server.start()
      return server
    } catch (error) {
      await server.stopProcess()
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
}

export class SpawnedRedis implements TestRedis {
  readonly host = HOST
  readonly source = 'redis-server' as const
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private output = ''

  constructor(
    private readonly executable: string,
    readonly port: number,
    readonly dir: string,
    private readonly extraArgs: readonly string[],
  ) {}

  get url(): string {
    return `redis://${HOST}:${this.port}`
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', HOST,
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--daemonize', 'no',
      ...this.extraArgs,
    ]
    this.output = ''
    const child = spawn(this.executable, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    const collect = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    let exitedEarly = false
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        exitedEarly = true
        resolve()
      })
      child.once('error', () => {
        exitedEarly = true
        resolve()
      })
    })
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (!(await pingOnce(HOST, this.port))) {
      if (exitedEarly || Date.now() > deadline) {
        throw new Error(`redis-server on port ${this.port} did not start:\n${this.output}`)
      }
      await sleep(20)
    }
  }

  /** SIGTERM the process and wait for it to exit, keeping the directory. */
  async stopProcess(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    this.child = undefined
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await this.exited
  }

  readonly restart = async (): Promise<void> => {
    await this.stopProcess()
    await this.start()
  }

  readonly stop = async (): Promise<void> => {
    await this.stopProcess()
    await rm(this.dir, { recursive: true, force: true })
  }
}

async function startContainer(): Promise<TestRedis> {
  const { RedisContainer } = await import('@testcontainers/redis')
  const container = await new RedisContainer('redis:7').start()
  const url = container.getConnectionUrl()
  const parsed = new URL(url)
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port),
    source: 'testcontainers',
    stop: async () => {
      await container.stop()
    },
  }
}

/** Sends one inline PING and resolves whether the server answered `+PONG`. */
export function pingOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let answer = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8')
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
    socket.connect(port, host, () => socket.write('PING\r\n'))
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
