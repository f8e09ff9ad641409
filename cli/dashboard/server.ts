/**
 * The dashboard's HTTP server (node:http): the page and its script and style, a JSON API the page
 * reads, a server-sent event stream with the overview, `/metrics` (Prometheus text of every
 * namespace shown), and the actions (a task's retry, cancel and remove; a queue's pause and
 * resume), which answer 403 unless the server was started with actions allowed.
 *
 * Live updates are server-sent events: the server samples every namespace's stats once per
 * second anyway (the throughput chart needs samples kept on the server, whether or not a page
 * is open), so it pushes each sample to every open page, and any number of pages cost Redis
 * nothing more than one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TaskmillScriptError } from '../../loader/errors.js'
import type { ListedState } from '../../client/list-tasks.js'
import { DashboardData, NotFound, STATES } from './data.js'
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js'

export interface DashboardOptions {
  data: DashboardData
  host: string
  port: number
  allowActions: boolean
}

export interface RunningDashboard {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

const ACTIONS = ['retry', 'cancel', 'remove'] as const
type Action = (typeof ACTIONS)[number]
const QUEUE_ACTIONS = { 'pause-queue': 'pauseQueue', 'resume-queue': 'resumeQueue' } as const
type QueueAction = keyof typeof QUEUE_ACTIONS

/** A queue name as enqueue takes it. */
export const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}

export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const { data } = options
  const streams = new Set<ServerResponse>()
  const unsubscribe = data.subscribe((view) => {
    const message = `data: ${JSON.stringify({ namespaces: view, hidden: data.hidden })}\n\n`
    for (const response of streams) response.write(message)
  })

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        const status = error instanceof NotFound ? 404 : error instanceof TaskmillScriptError || error instanceof RangeError ? 400 : 500
        json(response, status, { error: (error as Error).message, code: (error as { code?: string }).code })
      } else {
        response.end()
      }
    })
  })

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://dashboard')
    const path = url.pathname
    if (request.method === 'GET' || request.method === 'HEAD') {
      if (path === '/') return send(response, 200, 'text/html; charset=utf-8', PAGE_HTML)
      if (path === '/app.js') return send(response, 200, 'text/javascript; charset=utf-8', PAGE_JS)
      if (path === '/app.css') return send(response, 200, 'text/css; charset=utf-8', PAGE_CSS)
      if (path === '/metrics') return send(response, 200, 'text/plain; version=0.0.4; charset=utf-8', await data.metrics())
      if (path === '/api/config') return json(response, 200, { allowActions: options.allowActions, states: STATES })
      if (path === '/api/overview') return json(response, 200, { namespaces: data.overview(), hidden: data.hidden })
      if (path === '/api/live') {
        response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', ...SECURITY_HEADERS })
        response.write(`retry: 2000\ndata: ${JSON.stringify({ namespaces: data.overview(), hidden: data.hidden })}\n\n`)
        streams.add(response)
        request.on('close', () => streams.delete(response))
        return
      }
      if (path === '/api/tasks') {
        const state = url.searchParams.get('state') ?? ''
        if (!(STATES as readonly string[]).includes(state)) return json(response, 400, { error: `state: expected one of ${STATES.join(', ')}` })
        const limit = Number(url.searchParams.get('limit') ?? '25')
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return json(response, 400, { error: 'limit: expected 1 to 1000' })
        const order = url.searchParams.get('order') === 'oldest' ? 'oldest' : 'newest'
        const page = await data.tasks(param(url, 'ns'), state as ListedState, url.searchParams.get('cursor') ?? '', limit, order)
        return json(response, 200, page)
      }
      if (path === '/api/task') {
        const task = await data.task(param(url, 'ns'), param(url, 'id'))
        if (task === null) return json(response, 404, { error: 'no such task: never enqueued, or removed' })
        return json(response, 200, task)
      }
      return json(response, 404, { error: 'not found' })
    }
    if (request.method === 'POST' && path.startsWith('/api/actions/')) {
      const action = path.slice('/api/actions/'.length)
      if (!(ACTIONS as readonly string[]).includes(action) && !Object.hasOwn(QUEUE_ACTIONS, action)) return json(response, 404, { error: 'not found' })
      if (!options.allowActions) {
        return json(response, 403, { error: 'read-only dashboard: start it with --allow-actions to retry, cancel or remove tasks and to pause or resume queues' })
      }
      // A page of another origin cannot send this header without a preflight this server never
      // answers, nor a JSON body; and a browser names its origin, which must be this server's.
      const origin = request.headers.origin
      if (request.headers['x-taskmill-action'] !== '1' || (origin !== undefined && new URL(origin).host !== request.headers.host)) {
        return json(response, 403, { error: 'actions are accepted from the dashboard page only' })
      }
      let body: { ns?: unknown; id?: unknown; queue?: unknown }
      try {
        body = JSON.parse((await readBody(request)) || '{}') as typeof body
      } catch {
        return json(response, 400, { error: 'expected a JSON body' })
      }
      if (Object.hasOwn(QUEUE_ACTIONS, action)) {
        if (typeof body.ns !== 'string' || typeof body.queue !== 'string') return json(response, 400, { error: 'expected {"ns": "...", "queue": "..."}' })
        if (!QUEUE_NAME.test(body.queue)) return json(response, 400, { error: 'queue: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -' })
        const scheduler = await data.scheduler(body.ns)
        const outcome = await scheduler[QUEUE_ACTIONS[action as QueueAction]](body.queue)
        return json(response, 200, { action, queue: body.queue, outcome })
      }
      if (typeof body.ns !== 'string' || typeof body.id !== 'string') return json(response, 400, { error: 'expected {"ns": "...", "id": "..."}' })
      const scheduler = await data.scheduler(body.ns)
      const outcome = await scheduler[action as Action](body.id)
      return json(response, 200, { action, id: body.id, outcome })
    }
    return json(response, 405, { error: 'method not allowed' })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  data.start()
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}/`,
    server,
    async close() {
      unsubscribe()
      for (const response of streams) response.end()
      streams.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
      await data.stop()
    },
  }
}

function param(url: URL, name: string): string {
  const value = url.searchParams.get(name)
  if (value === null || value === '') throw new RangeError(`${name}: required`)
  return value
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...SECURITY_HEADERS })
  response.end(body)
}

function json(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 64 * 1024) throw new RangeError('request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
