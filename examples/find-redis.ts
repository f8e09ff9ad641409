/**
 * The demo's Redis: REDIS_URL, a redis-server on PATH, or Docker, as the tests find theirs.
 * On a fresh Debian or Ubuntu machine where none of these exists and we run as root,
 * redis-server is installed with apt-get first, so `npm run demo` works there as it stands.
 */
import { spawnSync } from 'node:child_process'
import { dockerConfigured, findExecutable, startRedis, type TestRedis } from '../test/support/redis.js'

export async function findRedis(): Promise<TestRedis> {
  if (!process.env.REDIS_URL && !findExecutable('redis-server') && !dockerConfigured()) installRedisServer()
  return startRedis()
}

function installRedisServer(): void {
  const root = process.getuid?.() === 0
  if (!root || !findExecutable('apt-get')) {
    throw new Error(
      'no Redis found: set REDIS_URL=redis://host:port, or install redis-server (e.g. `sudo apt-get install redis-server`)',
    )
  }
  console.log('redis-server is not installed: installing it with apt-get (one time, about a minute)…')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-q'], ['install', '-y', '-q', 'redis-server', 'redis-tools']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env })
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: install redis-server yourself or set REDIS_URL`)
  }
}
