// /v1 and /v1/* go to the OpenAI-compatible handler (main/inference/openai.ts), which is written
// against node:http: it routes its own paths, reads and limits its own body (its own 415 and
// 413, errors in OpenAI's shape), streams server-sent events and cancels a generation when the
// client hangs up. Fastify leaves the body unread for it and hands it the raw request and
// response (reply.hijack()) once the access checks have passed; the security headers are already
// on the raw response, so its answers carry them too. A path it does not know is a 404.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { toClientError } from '../../shared/errors.js'
import type { RequestHandler } from '../inference/openai.js'
import type { Log } from './error-replies.js'
import { statusOf } from './replies.js'

const NOT_AVAILABLE = { error: { message: 'The OpenAI-compatible endpoint is not available here', type: 'invalid_request_error', code: 'not_found' } }

export function registerOpenAIRoutes(app: FastifyInstance, handler: RequestHandler | undefined, log: Log): void {
  app.register(async (v1) => {
    v1.removeAllContentTypeParsers()
    v1.addContentTypeParser('*', (_request, _body, done) => done(null))

    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      if (!handler) return reply.code(404).send(NOT_AVAILABLE)
      reply.hijack()
      const res = reply.raw
      try {
        if (!(await handler(request.raw, res))) writeJson(res, 404, NOT_AVAILABLE)
      } catch (err) {
        const error = toClientError(err, (detail) => log(`${request.method} ${request.url.slice(0, 200)} failed: ${detail}`))
        if (res.headersSent) res.destroy()
        else writeJson(res, statusOf(error.code), { ok: false, error })
      }
    }
    v1.all('/v1', serve)
    v1.all('/v1/*', serve)
  })
}

/** A JSON answer on a hijacked response, which fastify no longer writes for us. */
function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}
