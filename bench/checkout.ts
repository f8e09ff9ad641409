/**
 * What a benchmark run measured and where: the commit checked out and the machine, for the
 * line under each generated table.
 */
import { execFileSync } from 'node:child_process'
import { arch, cpus, release, totalmem, type as osType } from 'node:os'
import { fileURLToPath } from 'node:url'

export interface Checkout {
  head: string
  dirty: boolean
}

/** The commit checked out, and whether the tree outside bench/ and the README differs from it. */
export function checkout(): Checkout | undefined {
  try {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const changed = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench', ':!README.md'], { cwd: root, encoding: 'utf8' }).trim()
    return { head, dirty: changed !== '' }
  } catch {
    return undefined
  }
}

/** What the run measured: one commit, or the range the tree moved through while it ran. */
export function describeRevision(start: Checkout | undefined, end: Checkout | undefined): string {
  if (!start || !end) return 'unknown'
  const dirty = start.dirty || end.dirty ? ' with uncommitted changes' : ''
  if (start.head === end.head && start.dirty === end.dirty) return `${start.head}${dirty}`
  return `${start.head}${start.dirty ? '+changes' : ''} to ${end.head}${end.dirty ? '+changes' : ''} (the code changed during the run)`
}

/** This machine's processors, memory and system, as the tables name them. */
export function hostDescription(): { cpus: string; memory: string; os: string } {
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${osType()} ${release()} (${arch()})`,
  }
}
