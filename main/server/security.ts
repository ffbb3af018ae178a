// Who may talk to `grove serve`. Three checks, in this order, on every request:
// 1. Host: the Host header must name this server (the bound address and port; on loopback also
//    localhost/127.0.0.1/[::1] with the port; on a wildcard bind this machine's addresses and
//    name). A page on a rebound DNS name (DNS rebinding) sends its own name and is refused.
// 2. Token: off loopback (or when asked) every request carries the token that `grove serve`
//    printed: `Authorization: Bearer <token>`, or the HttpOnly SameSite=Strict cookie the first
//    page load with `?token=` sets (the WebSocket may also use `?token=`).
// 3. Origin: a POST or WebSocket upgrade that carries an Origin must come from this server's own
//    origin, so no other site's page can drive the API through the browser.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { hostname, networkInterfaces } from 'node:os'
import { parseRequestTarget } from './request-target.js'

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
  checkHost(req: IncomingMessage): AccessDenial | null {
    const host = (req.headers.host ?? '').trim().toLowerCase()
    if (this.hosts.has(host)) return null
    return { status: 421, code: 'FORBIDDEN', message: `This Grove server does not answer to the host "${host.slice(0, 100)}"` }
  }

  /** A request with an Origin comes from this server's own origin. */
  checkOrigin(req: IncomingMessage): AccessDenial | null {
    const origin = req.headers.origin
    if (origin === undefined) return null
    if (origin.toLowerCase() === `http://${(req.headers.host ?? '').toLowerCase()}`) return null
    return { status: 403, code: 'FORBIDDEN', message: 'Cross-origin requests are refused' }
  }

  /** The request carries the token (header or cookie; `?token=` too when `allowQuery`). */
  checkToken(req: IncomingMessage, opts: { allowQuery: boolean }): AccessDenial | null {
    if (!this.tokenDigest) return null
    const offered = [bearerToken(req), cookieValue(req, this.cookieName)]
    if (opts.allowQuery) offered.push(queryToken(req))
    if (offered.some((t) => t !== undefined && this.tokenMatches(t))) return null
    return { status: 401, code: 'UNAUTHORIZED', message: 'This Grove server needs the token `grove serve` printed (Authorization: Bearer <token>, or open the printed URL with ?token=)' }
  }

  tokenMatches(candidate: string): boolean {
    return this.tokenDigest !== null && timingSafeEqual(digest(candidate), this.tokenDigest)
  }

  /** The cookie a page load with the right `?token=` gets, so later requests need no header. */
  sessionCookie(token: string): string {
    return `${this.cookieName}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`
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

export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return match?.[1]
}

export function queryToken(req: IncomingMessage): string | undefined {
  return parseRequestTarget(req.url)?.query.get('token') ?? undefined
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    try {
      return decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      return undefined
    }
  }
  return undefined
}
