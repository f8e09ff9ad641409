/**
 * The systems under test, loaded on demand: a system's module (and its library) is imported
 * only when a scenario runs it, so one that fails to load spoils only its own figures.
 */
import type { SystemModule, SystemName } from './types.js'

export const SYSTEM_NAMES: readonly SystemName[] = ['taskmill', 'taskmill-tuned', 'bullmq', 'beequeue', 'floor']

export async function loadSystem(name: SystemName): Promise<SystemModule> {
  switch (name) {
    case 'taskmill':
      return (await import('./taskmill.js')).taskmill
    case 'taskmill-tuned':
      return (await import('./taskmill.js')).taskmillTuned
    case 'bullmq':
      return (await import('./bullmq.js')).bullmq
    case 'beequeue':
      return (await import('./beequeue.js')).beequeue
    case 'floor':
      return (await import('./floor.js')).floor
  }
}
