// What a request that fails answers. Fastify's own error bodies (`{ statusCode, code, error,
// message }`) never reach a client: whatever fastify reports — a body over a route's limit, a
// content type no parser takes, a URL its router cannot decode, a request Node cannot parse — is
// answered in Grove's shapes and with the security headers. An unexpected error answers 500
// INTERNAL with a generic message; its detail goes to the log.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { INTERNAL_ERROR_MESSAGE, isGroveError, toClientError } from '../../shared/errors.js'
import { SECURITY_HEADERS, setResponseDefaults } from './headers.js'
import { answersJson, refuse, sendApiError, statusOf } from './replies.js'
import { MALFORMED_TARGET_MESSAGE } from './request-target.js'

export type Log = (line: string) => void

/** Fastify's error handler for every route and the not-found handler. */
export function errorHandler(log: Log) {
  return function answerError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (reply.raw.headersSent) {
      // A file or stream failed half-way: nothing can be answered any more.
      reply.raw.destroy()
      return reply.hijack()
    }
    if (isGroveError(error)) return refuse(request, reply, statusOf(error.code), error.code, error.message)
    const status = clientErrorStatus(error)
    if (status === 413) {
      // Fastify stopped reading at the limit; the rest of the body is not read either.
      reply.header('Connection', 'close')
      return refuse(request, reply, 413, 'BAD_INPUT', `The request body is over ${request.routeOptions.bodyLimit} bytes`)
    }
    if (status === 415) return refuse(request, reply, 415, 'BAD_INPUT', 'Send the body as JSON (Content-Type: application/json)')
    if (status !== undefined) {
      // On a page, whatever the static files refuse (a dot-file, a path that is not canonical)
      // is simply not there.
      if (!answersJson(request)) return refuse(request, reply, 404, 'NOT_FOUND', 'Not found')
      // Fastify's own messages are fixed texts ("Request body size did not match Content-Length").
      const { code } = error as { code?: unknown }
      const message = typeof code === 'string' && code.startsWith('FST_') ? error.message : (STATUS_CODES[status] ?? 'Bad request')
      return refuse(request, reply, status, 'BAD_INPUT', message)
    }
    const payload = toClientError(error, (detail) => log(`${request.method} ${request.url.slice(0, 200)} failed: ${detail}`))
    return sendApiError(reply, statusOf(payload.code), payload.code, payload.message)
  }
}

/** The 4xx status fastify or a plugin gave an error (the request's fault), if any. */
function clientErrorStatus(error: Error): number | undefined {
  const { statusCode, status } = error as { statusCode?: unknown; status?: unknown }
  const value = typeof statusCode === 'number' ? statusCode : status
  return typeof value === 'number' && value >= 400 && value < 500 ? value : undefined
}

/**
 * What fastify answers before a request reaches any hook: a URL its router cannot decode
 * (`/%ZZ`). These requests get the security headers here, since no onRequest hook runs for them.
 */
export function frameworkErrorHandler(log: Log) {
  return function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    setResponseDefaults(reply.raw)
    // A refused upgrade has no HTTP server behind its response to close the connection.
    if (request.headers.upgrade !== undefined) {
      reply.header('Connection', 'close')
      reply.raw.once('finish', () => request.raw.socket.end())
    }
    if (error.code === 'FST_ERR_BAD_URL') {
      refuse(request, reply, 400, 'BAD_INPUT', MALFORMED_TARGET_MESSAGE)
      return
    }
    log(`${request.method} ${request.url.slice(0, 200)} failed in routing: ${error.message}`)
    refuse(request, reply, 500, 'INTERNAL', INTERNAL_ERROR_MESSAGE)
  }
}

/**
 * A request Node's parser refused (two Content-Length headers, Content-Length with
 * Transfer-Encoding, a malformed chunk, headers too large, too slow): a short plain answer with
 * the security headers, then the connection is closed, as Node itself does.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  // As Node does: write only when no answer to this connection's request has started.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && !inFlight?.headersSent) {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? 413 : 400
    const text = STATUS_CODES[status] ?? 'Bad Request'
    const headers = Object.entries({ ...SECURITY_HEADERS, 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), Connection: 'close' })
    socket.write(`HTTP/1.1 ${status} ${text}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${text}`)
  }
  socket.destroy(error)
}
