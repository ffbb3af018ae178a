// The HTTP/WebSocket transport of the API contract (shared/api.ts), for `grove serve`:
//   POST /api/call/<name>   JSON arguments → 200 { ok: true, result } | 4xx/5xx { ok: false, error }
//   GET  /api/events        WebSocket; every event as a `{ event, payload }` JSON text message
//   /v1/*                   the OpenAI-compatible endpoint (main/inference/openai.ts), when given
//   anything else (GET)     the built renderer (renderer/dist), index.html for client routes
// Every response carries a strict CSP and no-sniff/no-referrer headers. A malformed request
// (request-target.ts) is refused with 400 first; then access: see security.ts. A handler that
// fails unexpectedly answers 500 INTERNAL with a generic message; the detail goes to the log.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { networkInterfaces } from 'node:os'
import type { Duplex } from 'node:stream'
import { API_CALL_PATH, API_EVENTS_PATH } from '../../shared/api.js'
import { toClientError, type ErrorCode } from '../../shared/errors.js'
import type { ApiEndpoint } from '../api/events.js'
import type { RequestHandler } from '../inference/openai.js'
import { parseRequestTarget, repeatedHeader, sameOriginPath } from './request-target.js'
import { AccessPolicy, hostPort, isLoopbackHost, isWildcardHost, type AccessDenial } from './security.js'
import { DEFAULT_STATIC_DIR, sendHtml, sendText, serveStatic } from './static.js'
import { EventSocket } from './event-socket.js'
import { SECURITY_HEADERS } from './headers.js'

export { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from './headers.js'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 7420
export const MAX_CALL_BODY_BYTES = 1024 * 1024

export interface GroveServerOptions {
  api: ApiEndpoint
  /** Default 127.0.0.1. Any other than loopback requires a token. */
  host?: string
  /** Default 7420; 0 picks a free port. */
  port?: number
  /** The access token (default: generated when one is required). */
  token?: string
  /** Require a token on loopback too (a token given is always required). */
  requireToken?: boolean
  /** More host names (no port) the server answers to. */
  allowedHosts?: readonly string[]
  /** The built renderer (default: renderer/dist). */
  staticDir?: string
  /** The OpenAI-compatible handler for /v1/*. */
  openai?: RequestHandler
  /** Where the detail of unexpected errors goes (default: stderr); clients get a generic message. */
  log?: (line: string) => void
}

export interface ListenInfo {
  /** The server's address, e.g. http://127.0.0.1:7420/ */
  url: string
  /** The URL to open in a browser (with `?token=` when a token is required). */
  openUrl: string
  host: string
  port: number
  token?: string
}

const STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  BAD_LINK: 400,
  NOT_GGUF: 400,
  BAD_GGUF: 422,
  BAD_MANIFEST: 422,
  UNSAFE_PATH: 400,
  HASH_MISMATCH: 502,
  NO_PEERS: 504,
  TIMEOUT: 504,
  NOT_FOUND: 404,
  IN_USE: 409,
  DISK_FULL: 507,
  CLOSED: 503,
  INCOMPATIBLE_ADAPTER: 400,
  WONT_FIT: 409,
  WORKER_CRASHED: 500,
  CONTEXT_OVERFLOW: 400,
  LICENSE_NOT_ACCEPTED: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BUSY: 429,
  INTERNAL: 500
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code]
}

export class GroveServer {
  private readonly server: Server
  private readonly sockets: EventSocket
  private readonly host: string
  /** The access token every request must carry (undefined: none needed, loopback only). */
  readonly token: string | undefined
  private policy: AccessPolicy | null = null
  private closing: Promise<void> | null = null
  private readonly log: (line: string) => void

  constructor(private readonly options: GroveServerOptions) {
    this.host = options.host ?? DEFAULT_HOST
    const needsToken = options.requireToken === true || options.token !== undefined || !isLoopbackHost(this.host)
    this.token = needsToken ? (options.token ?? randomBytes(24).toString('base64url')) : undefined
    this.log = options.log ?? ((line) => process.stderr.write(`grove serve: ${line}\n`))
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const error = toClientError(err, (detail) => this.log(`${req.method ?? '?'} ${(req.url ?? '').slice(0, 200)} failed: ${detail}`))
        if (!res.headersSent) sendJson(res, statusOf(error.code), { ok: false, error })
        else res.destroy()
      })
    })
    this.server.headersTimeout = 20_000
    this.server.requestTimeout = 60_000
    this.sockets = new EventSocket(options.api)
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head))
  }

  async listen(): Promise<ListenInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      this.server.once('error', onError)
      this.server.listen(this.options.port ?? DEFAULT_PORT, this.host, () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    const address = this.server.address()
    const port = typeof address === 'object' && address ? address.port : (this.options.port ?? DEFAULT_PORT)
    this.policy = new AccessPolicy({ host: this.host, port, token: this.token, allowedHosts: this.options.allowedHosts })
    const url = `http://${hostPort(displayHost(this.host), port)}/`
    return { url, openUrl: this.token ? `${url}?token=${encodeURIComponent(this.token)}` : url, host: this.host, port, token: this.token }
  }

  /** Stops accepting, closes event sockets and open connections. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.sockets.close()
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve())
        this.server.closeIdleConnections()
        setTimeout(() => this.server.closeAllConnections(), 2000).unref()
      })
    })()
    return this.closing
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
    const policy = this.policy
    if (!policy) return sendText(req, res, 503, 'Starting')
    const target = parseRequestTarget(req.url)
    const path = target?.path ?? req.url ?? '/'
    const isApi = path.startsWith('/api/') || path === '/api'
    const wantsJson = isApi || path.startsWith('/v1/')
    const refuse = (status: number, code: ErrorCode, message: string) => (wantsJson ? sendJson(res, status, { ok: false, error: { code, message } }) : sendText(req, res, status, message))
    const deny = (denial: AccessDenial) => refuse(denial.status, denial.code, denial.message)

    if (!target) return refuse(400, 'BAD_INPUT', 'Malformed request path: it must be a plain path with valid percent-encoding')
    const repeated = repeatedHeader(req)
    if (repeated) return refuse(400, 'BAD_INPUT', `The ${repeated} header must appear once`)
    const badHost = policy.checkHost(req)
    if (badHost) return deny(badHost)
    // A page load with the right ?token= becomes a cookie, and the token leaves the address bar.
    const pageToken = !isApi && (req.method === 'GET' || req.method === 'HEAD') ? (target.query.get('token') ?? undefined) : undefined
    if (pageToken !== undefined && policy.requiresToken && policy.tokenMatches(pageToken)) {
      target.query.delete('token')
      const query = target.query.toString()
      // Never off this server: "/.//evil.example/x" must not become "//evil.example/x".
      res.writeHead(303, { Location: sameOriginPath(path) + (query ? `?${query}` : ''), 'Set-Cookie': policy.sessionCookie(pageToken), 'Cache-Control': 'no-store' })
      res.end()
      return
    }
    const noToken = policy.checkToken(req, { allowQuery: false })
    if (noToken) {
      if (wantsJson) return deny(noToken)
      return sendHtml(req, res, 401, 'Grove: token needed', '<p>This Grove server needs its access token. Open the address <code>grove serve</code> printed (it ends in <code>?token=…</code>).</p>')
    }

    if (path.startsWith(API_CALL_PATH)) return this.call(req, res, path.slice(API_CALL_PATH.length))
    if (path === API_EVENTS_PATH) return sendJson(res, 426, { ok: false, error: { code: 'BAD_INPUT', message: 'Open this path as a WebSocket' } })
    if (isApi) return sendJson(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: `No API at ${path.slice(0, 100)}` } })
    if (path.startsWith('/v1/') || path === '/v1') {
      if (req.method !== 'GET') {
        const badOrigin = policy.checkOrigin(req)
        if (badOrigin) return deny(badOrigin)
      }
      if (this.options.openai && (await this.options.openai(req, res))) return
      return sendJson(res, 404, { error: { message: 'The OpenAI-compatible endpoint is not available here', type: 'invalid_request_error', code: 'not_found' } })
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return sendText(req, res, 405, 'Method not allowed')
    }
    await serveStatic(req, res, this.options.staticDir ?? DEFAULT_STATIC_DIR, path)
  }

  private async call(req: IncomingMessage, res: ServerResponse, rawName: string): Promise<void> {
    res.setHeader('Cache-Control', 'no-store')
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST')
      return sendJson(res, 405, { ok: false, error: { code: 'BAD_INPUT', message: 'Use POST' } })
    }
    const badOrigin = this.policy?.checkOrigin(req)
    if (badOrigin) return sendJson(res, badOrigin.status, { ok: false, error: { code: badOrigin.code, message: badOrigin.message } })
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return sendJson(res, 415, { ok: false, error: { code: 'BAD_INPUT', message: 'Send the arguments as JSON (Content-Type: application/json)' } })
    }
    let name: string
    try {
      name = decodeURIComponent(rawName)
    } catch {
      return sendJson(res, 400, { ok: false, error: { code: 'BAD_INPUT', message: 'Malformed call name' } })
    }
    const body = await readBody(req, MAX_CALL_BODY_BYTES)
    if (body === 'too-large') {
      res.shouldKeepAlive = false
      return sendJson(res, 413, { ok: false, error: { code: 'BAD_INPUT', message: `The arguments are over ${MAX_CALL_BODY_BYTES} bytes` } })
    }
    let args: unknown = {}
    if (body.length > 0) {
      try {
        args = JSON.parse(body.toString('utf8'))
      } catch {
        return sendJson(res, 400, { ok: false, error: { code: 'BAD_INPUT', message: 'The body is not valid JSON' } })
      }
    }
    const outcome = await this.options.api.dispatch(name, args)
    if (outcome.ok) return sendJson(res, 200, outcome)
    const unknownCall = outcome.error.code === 'BAD_INPUT' && outcome.error.message.startsWith('Unknown call')
    sendJson(res, unknownCall ? 404 : statusOf(outcome.error.code), outcome)
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`)
    }
    const policy = this.policy
    if (!policy || this.closing) return refuse(503, 'Unavailable')
    const target = parseRequestTarget(req.url)
    if (!target || repeatedHeader(req)) return refuse(400, 'Bad Request')
    if (target.path !== API_EVENTS_PATH) return refuse(404, 'Not Found')
    const denial = policy.checkHost(req) ?? policy.checkOrigin(req) ?? policy.checkToken(req, { allowQuery: true })
    if (denial) return refuse(denial.status, denial.status === 421 ? 'Misdirected Request' : denial.status === 401 ? 'Unauthorized' : 'Forbidden')
    this.sockets.accept(req, socket, head)
  }
}

function displayHost(host: string): string {
  return isWildcardHost(host) ? firstAddress() : host
}

/** For a wildcard bind: an address others can reach (the first non-internal IPv4), else loopback. */
function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

/** The request body, or 'too-large' as soon as it passes `limit` (the rest is drained and the connection closed). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      req.resume()
      req.once('end', () => req.socket.end())
      resolve('too-large')
    }
    if (Number(req.headers['content-length'] ?? 0) > limit) return tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > limit) {
        over = true
        chunks.length = 0
        tooLarge()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}
