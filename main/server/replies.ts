// How `grove serve` answers: the API's JSON envelope, plain text and the small HTML pages, and
// which of them a path gets (API and /v1/ paths answer JSON, everything else is a page). The
// HTTP status of each of the API's error codes lives here too.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorCode } from '../../shared/errors.js'

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

/** The path of a request target (still percent-encoded), without its query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/')
}

/** A refusal of this request is JSON (API and /v1/ paths) rather than text for a person. */
export function answersJson(request: FastifyRequest): boolean {
  const path = pathOf(request.url)
  return isApiPath(path) || path.startsWith('/v1/')
}

export function sendApiError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ ok: false, error: { code, message } })
}

export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(text)
}

export function sendHtml(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}code{background:#eee;padding:0 .3em}</style>` +
    `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`
  return reply.code(status).type('text/html; charset=utf-8').send(html)
}

/** A coded refusal: `{ ok: false, error }` on API and /v1/ paths, the message as text on pages. */
export function refuse(request: FastifyRequest, reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  // A refused WebSocket upgrade: the connection ends with the answer.
  if (request.ws === true) reply.header('Connection', 'close')
  return answersJson(request) ? sendApiError(reply, status, code, message) : sendText(reply, status, message)
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}
