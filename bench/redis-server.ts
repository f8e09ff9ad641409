/**
 * One fresh redis-server per measured scenario, so no scenario pays for another's keys, script
 * cache or fragmentation. Every server is started by the harness in devtools/ from the same
 * binary with the same settings (persistence off) on a free loopback port in a temporary
 * directory, and stopped by its pid.
 *
 * Redis CPU is read from `INFO cpu` (`used_cpu_user + used_cpu_sys`, getrusage of the whole
 * server process); commands from `INFO stats` and `INFO commandstats`; memory from `INFO memory`.
 */
import { existsSync } from 'node:fs'
import { Redis } from 'ioredis'
import { spawnRedisServer, type SpawnedRedis } from '../devtools/redis-server.js'

/** `REDIS_SERVER` when set; else `/usr/bin/redis-server` when present; else `redis-server` from PATH. */
export const REDIS_SERVER_BINARY =
  process.env.REDIS_SERVER ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server')


export interface CommandStat {
  calls: number
  usec: number
}

export interface InfoSnapshot {
  /** used_cpu_user + used_cpu_sys, in µs. */
  cpuUs: number
  /** used_cpu_sys alone, in µs: the kernel's part (socket reads and writes, epoll). */
  cpuSysUs: number
  /** Commands the server executed (`total_commands_processed`): in Redis 7 those a script calls count too, besides the script call. */
  commandsProcessed: number
  /** `used_memory` in bytes. */
  usedMemory: number
  /** `used_memory_scripts_eval`: the script cache, a one-time cost rather than a per-task one. */
  scriptMemory: number
  /** `mem_clients_normal`: client buffers, transient. */
  clientMemory: number
  /** Per command (lower case), from `INFO commandstats`; Redis 7 counts commands that scripts call too. */
  commandStats: Map<string, CommandStat>
  /** Wall clock of the snapshot (ms, from performance.now()). */
  at: number
}

export interface InfoDelta {
  cpuUs: number
  cpuSysUs: number
  commandsProcessed: number
  usedMemory: number
  /** used_memory less what the script cache and client buffers added. */
  dataMemory: number
  wallMs: number
  /** Commands whose counters moved, busiest (by CPU) first; the snapshots' own INFO calls left out. */
  commands: { name: string; calls: number; usec: number; usecPerCall: number }[]
}

export class RedisServer {
  private constructor(
    private readonly server: SpawnedRedis,
    readonly admin: Redis,
  ) {}

  get port(): number {
    return this.server.port
  }

  get url(): string {
    return this.server.url
  }

  /** Starts a server on a free port (the harness the tests use) and connects an admin client. */
  static async start(): Promise<RedisServer> {
    const server = await spawnRedisServer(REDIS_SERVER_BINARY, ['--loglevel', 'warning'])
    const admin = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 0, retryStrategy: () => null })
    admin.on('error', () => undefined)
    await admin.ping()
    return new RedisServer(server, admin)
  }

  /** Reads CPU, command counters and memory in one INFO call. */
  async snapshot(): Promise<InfoSnapshot> {
    const text = await this.admin.info('everything')
    return parseInfo(text)
  }

  /**
   * Turns on logging of every command with its duration, for a profile of which script costs
   * what. It costs Redis CPU itself, so measured runs never have it on.
   */
  async startCommandLog(maxEntries: number): Promise<void> {
    await this.admin.config('SET', 'slowlog-max-len', String(maxEntries))
    await this.admin.slowlog('RESET')
    await this.admin.config('SET', 'slowlog-log-slower-than', '0')
  }

  /** Entries logged since {@link startCommandLog}: the command's arguments and its duration in µs. */
  async readCommandLog(): Promise<{ args: string[]; usec: number }[]> {
    await this.admin.config('SET', 'slowlog-log-slower-than', '-1')
    const entries = (await this.admin.slowlog('GET', '-1')) as [number, number, number, string[]][]
    return entries.map(([, , usec, args]) => ({ args, usec }))
  }

  async stop(): Promise<void> {
    this.admin.disconnect()
    await this.server.stop()
  }
}

export function parseInfo(text: string): InfoSnapshot {
  const fields = new Map<string, string>()
  const commandStats = new Map<string, CommandStat>()
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0 || line.startsWith('#')) continue
    const name = line.slice(0, colon)
    const value = line.slice(colon + 1)
    if (name.startsWith('cmdstat_')) {
      const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0)
      const usec = Number(/usec=(\d+)/.exec(value)?.[1] ?? 0)
      commandStats.set(name.slice('cmdstat_'.length), { calls, usec })
    } else {
      fields.set(name, value)
    }
  }
  const number = (name: string): number => {
    const value = fields.get(name)
    if (value === undefined) throw new Error(`INFO has no ${name}`)
    return Number(value)
  }
  return {
    cpuUs: Math.round((number('used_cpu_user') + number('used_cpu_sys')) * 1e6),
    cpuSysUs: Math.round(number('used_cpu_sys') * 1e6),
    commandsProcessed: number('total_commands_processed'),
    usedMemory: number('used_memory'),
    scriptMemory: number('used_memory_scripts_eval'),
    clientMemory: number('mem_clients_normal'),
    commandStats,
    at: performance.now(),
  }
}

/** What happened between two snapshots; the INFO calls of the snapshots themselves are left out. */
export function diff(before: InfoSnapshot, after: InfoSnapshot): InfoDelta {
  const commands: InfoDelta['commands'] = []
  for (const [name, stat] of after.commandStats) {
    if (name === 'info') continue
    const previous = before.commandStats.get(name) ?? { calls: 0, usec: 0 }
    const calls = stat.calls - previous.calls
    const usec = stat.usec - previous.usec
    if (calls > 0) commands.push({ name, calls, usec, usecPerCall: usec / calls })
  }
  commands.sort((a, b) => b.usec - a.usec)
  const infoCalls = (after.commandStats.get('info')?.calls ?? 0) - (before.commandStats.get('info')?.calls ?? 0)
  return {
    cpuUs: after.cpuUs - before.cpuUs,
    cpuSysUs: after.cpuSysUs - before.cpuSysUs,
    // The `after` snapshot's own INFO is counted in `after`; the `before` one's too.
    commandsProcessed: after.commandsProcessed - before.commandsProcessed - infoCalls,
    usedMemory: after.usedMemory - before.usedMemory,
    dataMemory:
      after.usedMemory - before.usedMemory - (after.scriptMemory - before.scriptMemory) - (after.clientMemory - before.clientMemory),
    wallMs: after.at - before.at,
    commands,
  }
}

export { sleep } from '../devtools/redis-server.js'
