// `grove serve`'s HTTP server: one fastify instance that composes
//   GET  /api/events        the events WebSocket (events-route.ts)
//   POST /api/call/<name>   the API's calls (api-routes.ts)
//   /v1/*                   the OpenAI-compatible endpoint, when given (openai-route.ts)
//   anything else           the built renderer (static-ui.ts)
// Every response carries the security headers (headers.ts); every request passes the access
// checks (access.ts) before any route runs; a failure is answered in Grove's shapes, never
// fastify's (error-replies.ts). Fastify logs nothing itself and trusts no proxy headers.
import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ApiEndpoint } from '../api/events.js'
import type { RequestHandler } from '../inference/openai.js'
import { AccessPolicy, accessChecks, hostPort, isLoopbackHost, isWildcardHost } from './access.js'
import { registerApiRoutes } from './api-routes.js'
import { answerClientError, errorHandler, frameworkErrorHandler } from './error-replies.js'
import { registerEventsRoute } from './events-route.js'
import { setResponseDefaults } from './headers.js'
import { registerOpenAIRoutes } from './openai-route.js'
import { DEFAULT_STATIC_DIR, staticUi } from './static-ui.js'
import { DEFAULT_HOST, DEFAULT_PORT } from './listen-defaults.js'

export { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from './headers.js'
export { MAX_CALL_BODY_BYTES } from './api-routes.js'
export { statusOf } from './replies.js'

/** Busy connections (a streaming /v1 answer) get this long after close() before they are cut. */
const CLOSE_GRACE_MS = 2000

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

export class GroveServer {
  private readonly app: FastifyInstance
  private readonly host: string
  /** The access token every request must carry (undefined: none needed, loopback only). */
  readonly token: string | undefined
  private policy: AccessPolicy | null = null
  private closing: Promise<void> | null = null

  constructor(private readonly options: GroveServerOptions) {
    this.host = options.host ?? DEFAULT_HOST
    const needsToken = options.requireToken === true || options.token !== undefined || !isLoopbackHost(this.host)
    this.token = needsToken ? (options.token ?? randomBytes(24).toString('base64url')) : undefined
    const log = options.log ?? ((line) => process.stderr.write(`grove serve: ${line}\n`))

    const app = Fastify({
      logger: false,
      trustProxy: false,
      requestTimeout: 60_000,
      // Node's default; fastify's own (72 s) would hold idle connections open longer.
      keepAliveTimeout: 5_000,
      // Requests on open connections are still answered while closing (fastify would answer 503
      // in its own shape); close() cuts the connections that stay busy.
      return503OnClosing: false,
      clientErrorHandler: answerClientError,
      frameworkErrors: frameworkErrorHandler(log)
    })
    app.server.headersTimeout = 20_000
    // First, so that every route and plugin registered below inherits it.
    app.setErrorHandler(errorHandler(log))
    app.addHook('onRequest', async (_request, reply) => setResponseDefaults(reply.raw))
    app.register(fastifyCookie)
    registerEventsRoute(app, options.api)
    app.addHook('onRequest', accessChecks(() => this.policy))
    registerApiRoutes(app, options.api)
    registerOpenAIRoutes(app, options.openai, log)
    app.register(staticUi, { root: options.staticDir ?? DEFAULT_STATIC_DIR })
    this.app = app
  }

  async listen(): Promise<ListenInfo> {
    await this.app.listen({ port: this.options.port ?? DEFAULT_PORT, host: this.host })
    const address = this.app.server.address()
    const port = typeof address === 'object' && address ? address.port : (this.options.port ?? DEFAULT_PORT)
    this.policy = new AccessPolicy({ host: this.host, port, token: this.token, allowedHosts: this.options.allowedHosts })
    const url = `http://${hostPort(displayHost(this.host), port)}/`
    return { url, openUrl: this.token ? `${url}?token=${encodeURIComponent(this.token)}` : url, host: this.host, port, token: this.token }
  }

  /** Stops accepting, closes the event sockets and idle connections, and cuts busy ones after a grace period. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const cut = setTimeout(() => this.app.server.closeAllConnections(), CLOSE_GRACE_MS)
      cut.unref()
      try {
        await this.app.close()
      } finally {
        clearTimeout(cut)
      }
    })()
    return this.closing
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
