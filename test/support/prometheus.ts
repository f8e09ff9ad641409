/**
 * A strict reader of the Prometheus text exposition format, as much of it as taskmill writes:
 * `# HELP name text` and `# TYPE name gauge|counter` before a metric's samples, then sample lines
 * `name{label="value",…} number`. Anything else is an error, so a test that parses the text also
 * checks its form.
 */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface MetricFamily {
  readonly help: string
  readonly type: string
  readonly samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (\\S+)$`)

function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
}

export function parsePrometheus(text: string): Map<string, MetricFamily> {
  if (!text.endsWith('\n')) throw new Error('the text does not end with a newline')
  const families = new Map<string, { help?: string; type?: string; samples: Sample[] }>()
  const family = (name: string) => {
    let known = families.get(name)
    if (!known) families.set(name, (known = { samples: [] }))
    return known
  }
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1} "${line}"`
    const comment = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line)
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string]
      const f = family(name)
      if (f.samples.length > 0) throw new Error(`${where}: ${kind} after the samples of ${name}`)
      if (kind === 'HELP') f.help = rest
      else if (rest === 'gauge' || rest === 'counter') f.type = rest
      else throw new Error(`${where}: unknown type`)
      continue
    }
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`${where}: not a sample line`)
    const name = match[1]!
    const value = Number(match.at(-1))
    if (match.at(-1) === '' || Number.isNaN(value)) throw new Error(`${where}: not a number`)
    const labels: Record<string, string> = {}
    for (const [, key, raw] of (match[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) {
      if (key! in labels) throw new Error(`${where}: label ${key} twice`)
      labels[key!] = unescape(raw!)
    }
    const f = families.get(name)
    if (!f?.help || !f.type) throw new Error(`${where}: ${name} has no HELP and TYPE before its samples`)
    f.samples.push({ name, labels, value })
  }
  for (const [name, f] of families) {
    if (!f.help || !f.type) throw new Error(`${name} lacks its HELP or TYPE line`)
  }
  return families as Map<string, MetricFamily>
}

/** The value of the one sample of `name` whose labels include `labels`; throws unless exactly one. */
export function valueOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const found = (families.get(name)?.samples ?? []).filter((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]!.value
}
