// Who may talk to `grove serve`, checked in one onRequest hook before any route runs (the UI's
// files, the API, /v1 and the WebSocket upgrade alike), in this order:
// 0. Shape (request-target.ts): a target that is not a plain path, a malformed percent-encoding,
//    or a repeated Host, Authorization or Origin header is a 400. An upgrade anywhere but the
//    events WebSocket is a 404.
// 1. Host: the Host header must name this server (the bound address and port; on loopback also
//    localhost/127.0.0.1/[::1] with the port; on a wildcard bind this machine's addresses and
//    name). A page on a rebound DNS name (DNS rebinding) sends its own name and is refused: 421.
// 2. Origin: a request that can change something (any method but GET and HEAD) or a WebSocket
//    upgrade that carries an Origin must come from this server's own origin, so no other site's
//    page can drive the API through the browser: 403.
// 3. Token: off loopback (or when asked) every request carries the token that `grove serve`
//    printed: `Authorization: Bearer <token>`, or the HttpOnly SameSite=Strict cookie that the
//    first page load with `?token=` sets (answered with a 303 to the same path without it); the
//    WebSocket may also use `?token=`. Else 401.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { hostname, networkInterfaces } from 'node:os'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { API_EVENTS_PATH } from '../../shared/api.js'
import { answersJson, isApiPath, refuse, sendHtml, sendText } from './replies.js'
import { MALFORMED_TARGET_MESSAGE, parseRequestTarget, repeatedHeader, sameOriginPath } from './request-target.js'

export interface AccessPolicyOptions {
  /** The address the server is bound to. */
  host: string
  /** The port it listens on (known after listen). */
  port: number
  /** Required on every request when set. */
  token?: string
  /** More host names (no port) this server answers to, e.g. a DNS name people use for it. */
  allowedHosts?: readonly string[]
}

export type AccessDenial = { status: 401 | 403 | 421; code: 'UNAUTHORIZED' | 'FORBIDDEN'; message: string }

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h)
}

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === ''
}

/** `host:port` as it appears in a Host header and a URL (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `${h}:${port}`.toLowerCase()
}

export class AccessPolicy {
  readonly hosts: ReadonlySet<string>
  readonly cookieName: string
  private readonly tokenDigest: Buffer | null

  constructor(readonly options: AccessPolicyOptions) {
    this.hosts = allowedHostHeaders(options)
    this.cookieName = `grove_token_${options.port}`
    this.tokenDigest = options.token ? digest(options.token) : null
  }

  get requiresToken(): boolean {
    return this.tokenDigest !== null
  }

  /** The Host header names this server. */
  checkHost(headers: IncomingHttpHeaders): AccessDenial | null {
    const host = (headers.host ?? '').trim().toLowerCase()
    if (this.hosts.has(host)) return null
    return { status: 421, code: 'FORBIDDEN', message: `This Grove server does not answer to the host "${host.slice(0, 100)}"` }
  }

  /** A request with an Origin comes from this server's own origin. */
  checkOrigin(headers: IncomingHttpHeaders): AccessDenial | null {
    const origin = headers.origin
    if (origin === undefined) return null
    if (origin.toLowerCase() === `http://${(headers.host ?? '').toLowerCase()}`) return null
    return { status: 403, code: 'FORBIDDEN', message: 'Cross-origin requests are refused' }
  }

  /** One of the tokens a request offers is the right one (always, when none is required). */
  checkToken(offered: ReadonlyArray<string | undefined>): AccessDenial | null {
    if (!this.tokenDigest) return null
    if (offered.some((t) => t !== undefined && this.tokenMatches(t))) return null
    return { status: 401, code: 'UNAUTHORIZED', message: 'This Grove server needs the token `grove serve` printed (Authorization: Bearer <token>, or open the printed URL with ?token=)' }
  }

  tokenMatches(candidate: string): boolean {
    return this.tokenDigest !== null && timingSafeEqual(digest(candidate), this.tokenDigest)
  }
}

/** Every Host header value that names this server. */
export function allowedHostHeaders(options: AccessPolicyOptions): Set<string> {
  const { host, port } = options
  const names = new Set<string>()
  // Names are bare hosts or IPv6 addresses; browsers leave the port out only for port 80.
  const add = (name: string) => {
    const h = name.toLowerCase()
    const bracketed = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h
    names.add(`${bracketed}:${port}`)
    if (port === 80) names.add(bracketed)
  }
  add(host)
  if (isLoopbackHost(host) || isWildcardHost(host)) for (const name of LOOPBACK_NAMES) add(name)
  if (isWildcardHost(host)) {
    const own = hostname()
    add(own)
    add(`${own}.local`)
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address.replace(/%.*$/, ''))
  }
  for (const extra of options.allowedHosts ?? []) add(extra)
  return names
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')
  return match?.[1]
}

/**
 * The onRequest hook that applies the policy (null until the server listens and knows its port).
 * It runs after @fastify/cookie's and @fastify/websocket's own onRequest hooks, which give it
 * `request.cookies` and `request.ws` (whether this request is a WebSocket upgrade).
 */
export function accessChecks(policyOf: () => AccessPolicy | null) {
  return async function checkAccess(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const policy = policyOf()
    if (!policy) return sendText(reply, 503, 'Starting')
    const target = parseRequestTarget(request.raw.url)
    if (!target) return refuse(request, reply, 400, 'BAD_INPUT', MALFORMED_TARGET_MESSAGE)
    const repeated = repeatedHeader(request.raw)
    if (repeated) return refuse(request, reply, 400, 'BAD_INPUT', `The ${repeated} header must appear once`)
    if (request.ws && target.path !== API_EVENTS_PATH) return refuse(request, reply, 404, 'NOT_FOUND', 'Not found')

    const mayAct = request.ws || (request.method !== 'GET' && request.method !== 'HEAD')
    const denial = policy.checkHost(request.headers) ?? (mayAct ? policy.checkOrigin(request.headers) : null)
    if (denial) return refuse(request, reply, denial.status, denial.code, denial.message)

    // A page load with the right ?token= becomes a cookie, and the token leaves the address bar.
    const pageLoad = !request.ws && !isApiPath(target.path) && (request.method === 'GET' || request.method === 'HEAD')
    const pageToken = pageLoad ? target.query.get('token') : null
    if (pageToken !== null && policy.tokenMatches(pageToken)) {
      target.query.delete('token')
      const query = target.query.toString()
      reply.setCookie(policy.cookieName, pageToken, { httpOnly: true, sameSite: 'strict', path: '/' })
      // Never off this server: "/.//evil.example/x" must not become "//evil.example/x".
      return reply.redirect(sameOriginPath(target.path) + (query ? `?${query}` : ''), 303)
    }

    const offered = [bearerToken(request.headers), request.cookies[policy.cookieName], request.ws ? (target.query.get('token') ?? undefined) : undefined]
    const noToken = policy.checkToken(offered)
    if (!noToken) return undefined
    if (answersJson(request)) return refuse(request, reply, noToken.status, noToken.code, noToken.message)
    return sendHtml(reply, 401, 'Grove: token needed', '<p>This Grove server needs its access token. Open the address <code>grove serve</code> printed (it ends in <code>?token=…</code>).</p>')
  }
}
