/**
 * The steps fast-check strings together. A command is generated before the run, so it names
 * the task or node it acts on by a pick (an index taken modulo whatever fits at that moment)
 * and resolves it against the model when it runs; it prints as what it resolved to.
 */
import fc from 'fast-check'
import type { Model, ModelTask } from './model.js'
import type { RealSystem } from './system.js'
import type { Op, RunConfig, TaskSpec } from './types.js'

export const NODE_POOL = ['n1', 'n2', 'n3'] as const
/** Keeps a run's namespace small enough that every dispatch sees the whole ready set. */
const MAX_TASKS = 60
/** The longest a command waits for a deadline to pass. */
const MAX_WAIT_MS = 1500
/** How far short of a deadline an "expire before" stops: more than one call takes, usually. */
const EARLY_MS = 3

type Cmd = fc.AsyncCommand<Model, RealSystem>

function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length]
}

function describe(op: Op): string {
  const { kind, ...rest } = op
  return `${kind}(${JSON.stringify(rest)})`
}

function observedIds(model: Model, op: Op): string[] {
  const ids = new Set(model.tasks.keys())
  if (op.kind === 'enqueue') for (const task of op.tasks) ids.add(task.id)
  return [...ids]
}

/** Runs an op on both sides and lets the model judge it. */
async function step(model: Model, real: RealSystem, op: Op): Promise<void> {
  const outcome = await real.execute(op)
  const obs = await real.observe(observedIds(model, op))
  model.apply(op, outcome, obs)
}

abstract class Command implements Cmd {
  private resolved: string | undefined
  constructor(private readonly name: string) {}
  abstract check(model: Readonly<Model>): boolean
  /** The concrete op for the model as it is now, or undefined when nothing fits. */
  protected abstract build(model: Model): Op | undefined

  async run(model: Model, real: RealSystem): Promise<void> {
    const op = this.build(model)
    if (op === undefined) return
    this.resolved = describe(op)
    await step(model, real, op)
  }

  toString(): string {
    return this.resolved ?? this.name
  }
}

const running = (m: Readonly<Model>): ModelTask[] => [...m.tasks.values()].filter((t) => t.state === 'running')
const held = (m: Readonly<Model>): ModelTask[] => [...m.tasks.values()].filter((t) => t.state === 'running' || t.state === 'assigned')

// Enqueue -----------------------------------------------------------------------------------------

const taskShape = fc.record({
  priority: fc.constantFrom(0, 0, 0, 1, 5, -1),
  queue: fc.constantFrom('default', 'default', 'a', 'b'),
  /** Picks among the latest few tasks (and earlier ones of the batch): chains, fan-ins and fan-outs. */
  dependencies: fc.oneof(fc.constant<number[]>([]), fc.array(fc.nat(), { minLength: 1, maxLength: 2 })),
  delayMs: fc.constantFrom(0, 0, 0, 0, 150),
  maxAttempts: fc.constantFrom(1, 2, 3, 3),
  backoff: fc.constantFrom('fixed' as const, 'exponential' as const),
  backoffMs: fc.constantFrom(0, 50, 100, 250),
  leaseMs: fc.constantFrom(100, 250, 60_000, 60_000),
  onDependencyFailure: fc.constantFrom('fail' as const, 'fail' as const, 'run' as const),
})
type TaskShape = typeof taskShape extends fc.Arbitrary<infer T> ? T : never

class Enqueue extends Command {
  constructor(
    private readonly shapes: TaskShape[],
    /** Also names an existing task, which enqueue must leave alone. */
    private readonly existing: number | null,
    /** Also names a dependency that does not exist: the batch must be refused whole. */
    private readonly unknownDependency: boolean,
  ) {
    super(`enqueue(${shapes.length} tasks)`)
  }

  check(m: Readonly<Model>): boolean {
    return m.tasks.size + this.shapes.length <= MAX_TASKS
  }

  protected build(m: Model): Op {
    const batch: string[] = []
    const tasks: TaskSpec[] = this.shapes.map((shape) => {
      const id = m.freshTaskId()
      const candidates = [...m.tasks.keys(), ...batch].slice(-6)
      const dependsOn = [...new Set(shape.dependencies.map((n) => pick(candidates, n)!).filter((d) => d !== undefined))]
      batch.push(id)
      return {
        id, priority: shape.priority, queue: shape.queue, dependsOn, delayMs: shape.delayMs, maxAttempts: shape.maxAttempts,
        backoff: shape.backoff, backoffMs: shape.backoffMs, backoffCapMs: 1000, leaseMs: shape.leaseMs,
        onDependencyFailure: shape.onDependencyFailure,
      }
    })
    const again = this.existing === null ? undefined : pick([...m.tasks.values()], this.existing)
    if (again) tasks.splice(this.existing! % (tasks.length + 1), 0, { ...again.spec, priority: again.spec.priority + 1, dependsOn: [] })
    if (this.unknownDependency) tasks[tasks.length - 1]!.dependsOn.push('missing')
    return { kind: 'enqueue', tasks }
  }
}

// Nodes -------------------------------------------------------------------------------------------

class Register extends Command {
  constructor(
    private readonly node: string,
    private readonly weight: number,
    private readonly capacity: number,
    private readonly queues: string[],
  ) {
    super(`register(${node})`)
  }
  check(): boolean {
    return true
  }
  protected build(): Op {
    return { kind: 'register', node: this.node, weight: this.weight, capacity: this.capacity, queues: this.queues }
  }
}

/** A heartbeat of a registered node, or (stray) of any node of the pool, which may be unknown. */
class Heartbeat extends Command {
  constructor(
    private readonly n: number,
    private readonly stray: boolean,
  ) {
    super('heartbeat')
  }
  check(m: Readonly<Model>): boolean {
    return this.stray || m.nodes.size > 0
  }
  protected build(m: Model): Op | undefined {
    const node = this.stray ? pick(NODE_POOL, this.n) : pick([...m.nodes.keys()], this.n)
    return node === undefined ? undefined : { kind: 'heartbeat', node }
  }
}

class Deregister extends Command {
  constructor(private readonly n: number) {
    super('deregister')
  }
  check(m: Readonly<Model>): boolean {
    return m.nodes.size > 0
  }
  protected build(m: Model): Op | undefined {
    const node = pick([...m.nodes.keys()], this.n)
    return node === undefined ? undefined : { kind: 'deregister', node }
  }
}

class Drain extends Command {
  constructor(private readonly n: number) {
    super('drain')
  }
  check(m: Readonly<Model>): boolean {
    return m.nodes.size > 0
  }
  protected build(m: Model): Op | undefined {
    const node = pick([...m.nodes.keys()], this.n)
    return node === undefined ? undefined : { kind: 'drain', node }
  }
}

// A worker's calls --------------------------------------------------------------------------------

/** Start on a node that has assigned tasks when there is one. */
class Start extends Command {
  constructor(
    private readonly n: number,
    private readonly max: number,
  ) {
    super('start')
  }
  check(m: Readonly<Model>): boolean {
    return m.nodes.size > 0
  }
  protected build(m: Model): Op | undefined {
    const withWork = [...m.nodes.keys()].filter((id) => m.held(id, 'assigned').length > 0)
    const node = pick(withWork.length > 0 ? withWork : [...m.nodes.keys()], this.n)
    return node === undefined ? undefined : { kind: 'start', node, max: this.max }
  }
}

class Complete extends Command {
  constructor(
    private readonly n: number,
    private readonly picks: number[],
    private readonly claim: number,
  ) {
    super('complete')
  }
  check(m: Readonly<Model>): boolean {
    return running(m).length > 0
  }
  protected build(m: Model): Op | undefined {
    const first = pick(running(m), this.n)
    if (!first) return undefined
    const node = first.node!
    const mine = m.held(node, 'running')
    const chosen = [...new Set([first, ...this.picks.map((p) => pick(mine, p)!)])]
    const results = chosen.map((t) => ({ id: t.spec.id, token: t.token, result: `r:${t.spec.id}:${t.token}` }))
    return { kind: 'complete', node, results, claim: this.claim }
  }
}

class Fail extends Command {
  constructor(
    private readonly n: number,
    private readonly retryable: boolean,
  ) {
    super('fail')
  }
  check(m: Readonly<Model>): boolean {
    return running(m).length > 0
  }
  protected build(m: Model): Op | undefined {
    const task = pick(running(m), this.n)
    if (!task) return undefined
    const message = `boom ${task.spec.id}/${task.token}`
    return { kind: 'fail', node: task.node!, id: task.spec.id, token: task.token, message, retryable: this.retryable }
  }
}

class Release extends Command {
  constructor(private readonly n: number) {
    super('release')
  }
  check(m: Readonly<Model>): boolean {
    return held(m).length > 0
  }
  protected build(m: Model): Op | undefined {
    const task = pick(held(m), this.n)
    return task && { kind: 'release', node: task.node!, id: task.spec.id, token: task.token }
  }
}

/** A completion, failure or hand-back the scripts must refuse: an old token, a task not held, or no such task. */
class Stale extends Command {
  constructor(
    private readonly kind: 'complete' | 'fail' | 'release',
    private readonly n: number,
  ) {
    super(`stale ${kind}`)
  }
  check(m: Readonly<Model>): boolean {
    return [...m.tasks.values()].some((t) => t.token > 0)
  }
  protected build(m: Model): Op | undefined {
    const candidates: { id: string; token: number; node: string }[] = [{ id: 'missing', token: 1, node: 'n1' }]
    for (const task of m.tasks.values()) {
      if (task.node === undefined) continue
      if (task.token > 1) candidates.push({ id: task.spec.id, token: task.token - 1, node: task.node })
      const allowed = this.kind === 'release' ? ['assigned', 'running'] : ['running']
      if (!allowed.includes(task.state)) candidates.push({ id: task.spec.id, token: task.token, node: task.node })
    }
    const { id, token, node } = pick(candidates, this.n)!
    if (this.kind === 'complete') return { kind: 'complete', node, results: [{ id, token, result: 'stale' }], claim: 0 }
    if (this.kind === 'fail') return { kind: 'fail', node, id, token, message: 'stale', retryable: true }
    return { kind: 'release', node, id, token }
  }
}

/** Cancel of any task, of a running one (its node is told at its next heartbeat), or of no such task. */
class Cancel extends Command {
  constructor(
    private readonly n: number,
    private readonly target: 'any' | 'running' | 'missing',
  ) {
    super(`cancel ${target}`)
  }
  check(m: Readonly<Model>): boolean {
    return this.target === 'missing' || (this.target === 'running' ? running(m).length > 0 : m.tasks.size > 0)
  }
  protected build(m: Model): Op | undefined {
    const id =
      this.target === 'missing' ? 'missing'
      : this.target === 'running' ? pick(running(m), this.n)?.spec.id
      : pick([...m.tasks.keys()], this.n)
    return id === undefined ? undefined : { kind: 'cancel', id }
  }
}

// Time --------------------------------------------------------------------------------------------

class Maintain extends Command {
  constructor() {
    super('maintain')
  }
  check(): boolean {
    return true
  }
  protected build(): Op {
    return { kind: 'maintain' }
  }
}

/**
 * Lets time run up to the next deadline of a kind (a lease runs out, a node falls silent, a
 * delayed task comes due), to just past it or to just before it, then runs housekeeping and
 * dispatch (maintain). It waits on the server clock for the very deadline the model computed,
 * never a fixed time: "before" checks that nothing happens early, "after" that it happens.
 */
class Expire implements Cmd {
  private resolved: string | undefined
  constructor(
    private readonly kind: 'lease' | 'node' | 'grace' | 'delay',
    private readonly edge: 'before' | 'after',
  ) {}

  check(m: Readonly<Model>): boolean {
    const at = m.nextDeadline(this.kind)
    return at !== undefined && at - m.timeLo <= MAX_WAIT_MS
  }

  async run(m: Model, r: RealSystem): Promise<void> {
    const deadline = m.nextDeadline(this.kind)!
    const at = this.edge === 'after' ? deadline : deadline - EARLY_MS
    this.resolved = `expire(${this.kind} ${this.edge} ${deadline})`
    if (at > m.timeLo) m.advanceClock(await r.waitUntil(at))
    await step(m, r, { kind: 'maintain' })
  }

  toString(): string {
    return this.resolved ?? `expire(${this.kind} ${this.edge})`
  }
}

const registration = fc.record({
  node: fc.constantFrom(...NODE_POOL),
  weight: fc.integer({ min: 1, max: 5 }),
  capacity: fc.integer({ min: 1, max: 3 }),
  queues: fc.constantFrom<string[]>([], [], ['a'], ['b'], ['default'], ['default', 'a']),
})

// The mix -----------------------------------------------------------------------------------------

const nat = fc.nat({ max: 1000 })
/** True one time in ten. */
const rarely = fc.nat({ max: 9 }).map((n) => n === 0)

export const commandArbitrary: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.array(taskShape, { minLength: 1, maxLength: 3 }), nat, rarely, rarely)
      .map(([shapes, n, again, unknownDependency]) => new Enqueue(shapes, again ? n : null, unknownDependency)),
  },
  { weight: 3, arbitrary: registration.map((r) => new Register(r.node, r.weight, r.capacity, r.queues)) },
  { weight: 4, arbitrary: fc.tuple(nat, rarely).map(([n, stray]) => new Heartbeat(n, stray)) },
  { weight: 1, arbitrary: nat.map((n) => new Deregister(n)) },
  { weight: 1, arbitrary: nat.map((n) => new Drain(n)) },
  { weight: 5, arbitrary: fc.tuple(nat, fc.constantFrom(1, 2, 100)).map(([n, max]) => new Start(n, max)) },
  {
    weight: 7,
    arbitrary: fc
      .tuple(nat, fc.array(nat, { maxLength: 2 }), fc.constantFrom(0, 1, 3, 3))
      .map(([n, picks, claim]) => new Complete(n, picks, claim)),
  },
  { weight: 4, arbitrary: fc.tuple(nat, rarely).map(([n, fatal]) => new Fail(n, !fatal)) },
  { weight: 1, arbitrary: nat.map((n) => new Release(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('complete' as const, 'fail' as const, 'release' as const), nat).map(([k, n]) => new Stale(k, n)) },
  {
    weight: 2,
    arbitrary: fc.tuple(nat, fc.constantFrom('any' as const, 'running' as const, 'running' as const, 'missing' as const)).map(([n, target]) => new Cancel(n, target)),
  },
  { weight: 1, arbitrary: fc.constant(null).map(() => new Maintain()) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('lease' as const, 'node' as const, 'grace' as const, 'delay' as const), fc.constantFrom('before' as const, 'after' as const))
      .map(([kind, edge]) => new Expire(kind, edge)),
  },
)

/** A run's configuration and the nodes registered before its first command. */
export interface RunSetup extends RunConfig {
  nodes: { node: string; weight: number; capacity: number; queues: string[] }[]
}

export const setupArbitrary: fc.Arbitrary<RunSetup> = fc.record({
  strategy: fc.constantFrom('round-robin' as const, 'weighted' as const, 'least-loaded' as const, 'random' as const),
  // Short timeouts make nodes fall silent within a run; the long one leaves node loss to deregister.
  nodeTimeoutMs: fc.constantFrom(150, 400, 86_400_000),
  nodes: fc.uniqueArray(registration, { selector: (r) => r.node, minLength: 1, maxLength: 3 }),
})

/** Registers the run's first nodes, each a step the model judges like any other. */
export async function registerNodes(model: Model, real: RealSystem, setup: RunSetup): Promise<void> {
  for (const node of setup.nodes) await step(model, real, { kind: 'register', ...node })
}
