// The API contract (shared/api.ts) over HTTP:
//   POST /api/call/<name>   JSON arguments → 200 { ok: true, result } | 4xx/5xx { ok: false, error }
// Another method is a 405, another content type a 415 (both before the body is read). Fastify
// reads the body and stops at 1 MiB (413, and the connection is closed rather than read on);
// its JSON parser (which also refuses `__proto__` keys) parses it; an empty body is `{}`.
// Any other /api path is a 404. The events WebSocket is events-route.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { API_CALL_PATH } from '../../shared/api.js'
import { GroveError } from '../../shared/errors.js'
import type { ApiEndpoint } from '../api/events.js'
import { pathOf, sendApiError, statusOf } from './replies.js'

export const MAX_CALL_BODY_BYTES = 1024 * 1024

export function registerApiRoutes(app: FastifyInstance, api: ApiEndpoint): void {
  app.register(async (calls) => {
    calls.removeAllContentTypeParsers()
    const json = calls.getDefaultJsonParser('error', 'error')
    calls.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_CALL_BODY_BYTES }, (request, body, done) => {
      const text = body.toString()
      if (text === '') return done(null, {})
      json(request, text, (err, value) => (err ? done(new GroveError('BAD_INPUT', 'The body is not valid JSON')) : done(null, value)))
    })

    calls.all<{ Params: { '*': string } }>(`${API_CALL_PATH}*`, { bodyLimit: MAX_CALL_BODY_BYTES, onRequest: onlyJsonPosts }, async (request, reply) => {
      // The router has decoded the name ("app%2Einfo" is "app.info").
      const outcome = await api.dispatch(request.params['*'], request.body ?? {})
      if (outcome.ok) return reply.send(outcome)
      const unknownCall = outcome.error.code === 'BAD_INPUT' && outcome.error.message.startsWith('Unknown call')
      return reply.code(unknownCall ? 404 : statusOf(outcome.error.code)).send(outcome)
    })
  })

  const noApi = async (request: FastifyRequest, reply: FastifyReply) => sendApiError(reply, 404, 'NOT_FOUND', `No API at ${pathOf(request.url).slice(0, 100)}`)
  app.all('/api', noApi)
  app.all('/api/*', noApi)
}

async function onlyJsonPosts(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (request.method !== 'POST') return sendApiError(reply.header('Allow', 'POST'), 405, 'BAD_INPUT', 'Use POST')
  if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
    return sendApiError(reply, 415, 'BAD_INPUT', 'Send the arguments as JSON (Content-Type: application/json)')
  }
  return undefined
}
