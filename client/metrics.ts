/**
 * Prometheus text exposition of a namespace, from the replies of the `metrics` script, one per
 * partition: counts and totals are summed over the partitions, a node's figures over the
 * partitions it serves, and the oldest ready task is the oldest of the partitions' heads.
 * Several namespaces at once share one `# HELP` and `# TYPE` pair per metric, as the text
 * format requires, their samples told apart by the `namespace` label.
 */
import type { MetricsReply } from '../loader/generated/scripts.js'

/** The states counted per namespace, in the order `metrics` and `stats` give them. */
const STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'] as const

type Labels = Readonly<Record<string, string>>

interface Family {
  name: string
  type: 'gauge' | 'counter'
  help: string
  samples: [Labels, number][]
}

/** A label value as the text format spells it: backslash, double quote and newline escaped. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([key, v]) => `${key}="${labelValue(v)}"`)
  return `${name}{${pairs.join(',')}} ${value}`
}

function render(families: readonly Family[]): string {
  const lines: string[] = []
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    for (const [labels, value] of family.samples) lines.push(sample(family.name, labels, value))
  }
  return lines.join('\n') + '\n'
}

/** The namespace's metrics, added up over its partitions' `metrics` replies, as Prometheus text. */
export function formatMetrics(namespace: string, each: readonly MetricsReply[]): string {
  return render(families(namespace, each))
}

/**
 * Several namespaces' metrics as one Prometheus text: each metric's HELP and TYPE once, then
 * the samples of every namespace, in the order given.
 */
export function formatNamespacesMetrics(namespaces: readonly { namespace: string; replies: readonly MetricsReply[] }[]): string {
  const merged = new Map<string, Family>()
  for (const { namespace, replies } of namespaces) {
    for (const family of families(namespace, replies)) {
      const known = merged.get(family.name)
      if (known) known.samples.push(...family.samples)
      else merged.set(family.name, { ...family, samples: [...family.samples] })
    }
  }
  if (merged.size === 0) return ''
  return render([...merged.values()])
}

/** The metric families of one namespace, from its partitions' `metrics` replies. */
function families(namespace: string, each: readonly MetricsReply[]): Family[] {
  const ns = { namespace }
  const sum = (pick: (reply: MetricsReply) => number): number => each.reduce((total, reply) => total + pick(reply), 0)

  const queues = new Map<string, number>()
  for (const reply of each) {
    for (const [queue, state, count] of reply.queues) {
      const key = `${queue}\n${state}`
      queues.set(key, (queues.get(key) ?? 0) + count)
    }
  }
  const queueSamples = [...queues]
    .map(([key, count]): [Labels, number] => {
      const [queue, state] = key.split('\n') as [string, string]
      return [{ ...ns, queue, state }, count]
    })
  const paused = [...new Set(each.flatMap((reply) => reply.pausedQueues))].sort()

  const nodes = new Map<string, { inflight: number; capacity: number; stale: boolean }>()
  for (const reply of each) {
    for (const node of reply.nodes) {
      const known = nodes.get(node.id)
      if (known) {
        known.inflight += node.inflight
        known.capacity += node.capacity
        // Stale only where it is stale in every partition it serves, as `stats` adds it up.
        known.stale &&= node.stale === 1
      } else {
        nodes.set(node.id, { inflight: node.inflight, capacity: node.capacity, stale: node.stale === 1 })
      }
    }
  }
  const nodeIds = [...nodes.keys()].sort()
  const perNode = (pick: (node: { inflight: number; capacity: number; stale: boolean }) => number): [Labels, number][] =>
    nodeIds.map((id) => [{ ...ns, node: id }, pick(nodes.get(id)!)])

  return [
    {
      name: 'taskmill_tasks',
      type: 'gauge',
      help: 'Tasks in each state.',
      samples: STATES.map((state) => [{ ...ns, state }, sum((reply) => reply[state])]),
    },
    {
      name: 'taskmill_queue_tasks',
      type: 'gauge',
      help: 'Unfinished tasks of each queue in each state.',
      samples: queueSamples,
    },
    {
      name: 'taskmill_queue_paused',
      type: 'gauge',
      help: '1 for each paused queue.',
      samples: paused.map((queue) => [{ ...ns, queue }, 1]),
    },
    {
      name: 'taskmill_tasks_completed_total',
      type: 'counter',
      help: 'Tasks completed since the namespace was created.',
      samples: [[ns, sum((reply) => reply.completedTotal)]],
    },
    {
      name: 'taskmill_attempts_failed_total',
      type: 'counter',
      help: 'Attempts whose handler failed since the namespace was created, whether the task then retried, died or ended canceled.',
      samples: [[ns, sum((reply) => reply.failedTotal)]],
    },
    {
      name: 'taskmill_node_inflight',
      type: 'gauge',
      help: 'Tasks assigned to or running on each worker node.',
      samples: perNode((node) => node.inflight),
    },
    {
      name: 'taskmill_node_capacity',
      type: 'gauge',
      help: 'Tasks each worker node may hold at once.',
      samples: perNode((node) => node.capacity),
    },
    {
      name: 'taskmill_node_stale',
      type: 'gauge',
      help: "1 when a worker node's last heartbeat is older than the node timeout, on the Redis server clock.",
      samples: perNode((node) => (node.stale ? 1 : 0)),
    },
    {
      name: 'taskmill_oldest_ready_task_age_seconds',
      type: 'gauge',
      help: 'Age of the ready task dispatched next (highest priority, then earliest enqueued), since it could first run; 0 when none is ready.',
      samples: [[ns, Math.max(0, ...each.map((reply) => reply.oldestReadyAgeMs)) / 1000]],
    },
  ]
}
