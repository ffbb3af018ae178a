// An OpenAI-compatible endpoint over Grove's inference service, so existing clients (SDKs, chat
// front-ends, editors) can use models from the swarm: GET /v1/models, POST /v1/chat/completions
// and POST /v1/completions, streaming as server-sent events with `stream: true`.
//
// `createOpenAIHandler` returns a node:http handler that answers its routes and returns false for
// any other request, for `grove serve` to mount next to its own. By default it serves only
// loopback clients that name a loopback Host (no DNS rebinding) and only JSON bodies (a web page
// cannot post one without a CORS preflight, which is never granted). Extension: a body may name
// LoRA adapters from the library, `"adapters": [{ "model": "<link or name>", "scale": 1 }]`.
//
// Generations wait for their turn in a GenerationScheduler (shared with the UI's chats under
// `grove serve`); a full queue answers 429 with Retry-After. Errors that are not GroveErrors
// reach the client as a generic 500; their detail goes to the log.
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { GroveError, toClientError, type ErrorCode, type ErrorPayload } from '../../shared/errors.js'
import { describeSchemaIssues } from '../../shared/manifest.js'
import { resolveHome } from '../core/home.js'
import { readLibrary } from '../core/library.js'
import type { ChatMessage, GenerateInput, LoadSpec, SamplingOptions } from './protocol.js'
import { resolveLoadSpec } from './resolve.js'
import { BusyError, GenerationScheduler } from './scheduler.js'
import type { GenerateRequest, GenerateResult, InferenceService } from './service.js'

export interface ModelListing {
  id: string
  /** Unix seconds. */
  created: number
}

/** Which models clients may name, and how to load one (with adapters). */
export interface ModelSource {
  list(): Promise<ModelListing[]>
  resolve(id: string, adapters: Array<{ id: string; scale: number }>): Promise<LoadSpec>
}

export interface OpenAIHandlerOptions {
  service: InferenceService
  models: ModelSource
  /** Serve clients on other hosts too (default false: loopback only). */
  allowRemote?: boolean
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number
  /** Who runs when on `service`: pass the one its other clients use (default: one of its own). */
  scheduler?: GenerationScheduler
  /** Where the detail of unexpected errors goes (default: stderr). */
  log?: (line: string) => void
}

/** What every request needs of the handler's options, defaults filled in. */
interface Context {
  service: InferenceService
  models: ModelSource
  scheduler: GenerationScheduler
  log: (line: string) => void
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

/** The library's complete models, by link (a model's library name is accepted too). Never a file path. */
export function libraryModelSource(opts: { home?: string; load?: Omit<LoadSpec, 'modelPath' | 'adapters'> } = {}): ModelSource {
  return {
    async list() {
      const entries = await readLibrary(resolveHome(opts.home).libraryFile)
      return entries
        .filter((e) => e.manifest?.kind === 'model' && e.complete && e.path !== undefined)
        .map((e) => ({ id: e.link, created: Math.floor(Date.parse(e.manifest?.created ?? e.addedAt) / 1000) || 0 }))
    },
    resolve(id, adapters) {
      return resolveLoadSpec({ model: id, adapters: adapters.map((a) => ({ target: a.id, scale: a.scale })), home: opts.home, libraryOnly: true }, opts.load ?? {})
    }
  }
}

const TextPart = z.object({ type: z.literal('text'), text: z.string() })
const Content = z.union([z.string(), z.array(TextPart), z.null()])
const Stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(8)]).nullish()
const Adapters = z.array(z.object({ model: z.string().min(1).max(500), scale: z.number().finite().min(-16).max(16).optional() })).max(8).optional()

const Common = {
  model: z.string().min(1).max(500),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).max(1 << 22).nullish(),
  temperature: z.number().finite().min(0).max(2).nullish(),
  top_p: z.number().finite().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: Stop,
  n: z.literal(1).nullish(),
  adapters: Adapters
}

const ChatBody = z.object({
  ...Common,
  max_completion_tokens: z.number().int().min(1).max(1 << 22).nullish(),
  messages: z
    .array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant']), content: Content }))
    .min(1)
    .max(10_000)
})

const CompletionBody = z.object({
  ...Common,
  prompt: z.union([z.string(), z.array(z.string()).length(1)])
})

type Body = z.infer<typeof ChatBody> | z.infer<typeof CompletionBody>

export function createOpenAIHandler(options: OpenAIHandlerOptions): RequestHandler {
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024
  const context: Context = {
    service: options.service,
    models: options.models,
    scheduler: options.scheduler ?? new GenerationScheduler(),
    log: options.log ?? ((line) => process.stderr.write(`grove: ${line}\n`))
  }
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const route = routeOf(path)
    if (!route) return false
    const log = (detail: string) => context.log(`${req.method ?? 'GET'} ${path.slice(0, 200)} failed: ${detail}`)
    try {
      if (route.kind === 'malformed') throw new HttpError(400, 'invalid_request_error', 'The path has a malformed percent-encoding')
      if (!options.allowRemote && !isLoopbackRequest(req)) throw new HttpError(403, 'forbidden', 'This endpoint serves this machine only')
      if (route.kind === 'models') {
        if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'Use GET')
        const models = await options.models.list()
        const data = models.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'grove' }))
        if (route.id === undefined) sendJson(res, 200, { object: 'list', data })
        else {
          const model = data.find((m) => m.id === route.id)
          if (!model) throw new GroveError('NOT_FOUND', `No library model "${route.id}"`)
          sendJson(res, 200, model)
        }
        return true
      }
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'Use POST')
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'unsupported_media_type', 'Send a JSON body (Content-Type: application/json)')
      const raw = await readJson(req, maxBody)
      if (route.kind === 'chat') await chatCompletion(context, parse(ChatBody, raw), req, res, log)
      else await textCompletion(context, parse(CompletionBody, raw), req, res, log)
    } catch (err) {
      sendError(res, err, log)
    }
    return true
  }
}

type Route = { kind: 'models'; id?: string } | { kind: 'chat' } | { kind: 'completions' } | { kind: 'malformed' }

function routeOf(path: string): Route | null {
  if (path === '/v1/models') return { kind: 'models' }
  if (path.startsWith('/v1/models/')) {
    try {
      return { kind: 'models', id: decodeURIComponent(path.slice('/v1/models/'.length)) }
    } catch {
      return { kind: 'malformed' }
    }
  }
  if (path === '/v1/chat/completions') return { kind: 'chat' }
  if (path === '/v1/completions') return { kind: 'completions' }
  return null
}

type Log = (detail: string) => void

async function chatCompletion(context: Context, body: z.infer<typeof ChatBody>, req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join('')
  }))
  if (messages.at(-1)?.role !== 'user') throw new GroveError('BAD_INPUT', 'The last message must be from the user')
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined
  await run(context, body, { kind: 'chat', messages }, maxTokens, 'chat.completion', req, res, log)
}

async function textCompletion(context: Context, body: z.infer<typeof CompletionBody>, req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
  const prompt = typeof body.prompt === 'string' ? body.prompt : (body.prompt[0] ?? '')
  // OpenAI's default for /v1/completions is 16 tokens.
  await run(context, body, { kind: 'completion', prompt }, body.max_tokens ?? 16, 'text_completion', req, res, log)
}

async function run(
  context: Context,
  body: Body,
  input: GenerateInput,
  maxTokens: number | undefined,
  object: 'chat.completion' | 'text_completion',
  req: IncomingMessage,
  res: ServerResponse,
  log: Log
): Promise<void> {
  const abort = new AbortController()
  // A client that hangs up stops the generation, or leaves the queue while it still waits.
  res.on('close', () => {
    if (!res.writableFinished) abort.abort()
  })
  req.on('error', () => abort.abort())
  if (req.socket.destroyed) abort.abort()
  const spec = await context.models.resolve(body.model, (body.adapters ?? []).map((a) => ({ id: a.model, scale: a.scale ?? 1 })))
  const sampling: SamplingOptions = {
    maxTokens,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    seed: body.seed === null || body.seed === undefined ? undefined : body.seed >>> 0,
    stop: body.stop === null || body.stop === undefined ? undefined : typeof body.stop === 'string' ? [body.stop] : body.stop
  }
  const request: GenerateRequest = { spec, input, options: sampling }
  const id = `${object === 'chat.completion' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  if (abort.signal.aborted) return
  const admission = context.scheduler.admit(abort.signal)
  try {
    try {
      await admission.turn
    } catch (err) {
      if (abort.signal.aborted) return // hung up while it waited: nobody to answer
      throw err
    }
    if (!body.stream) {
      const result = await context.service.generate(request, { signal: abort.signal })
      const choice =
        object === 'chat.completion'
          ? { index: 0, message: { role: 'assistant', content: result.text }, finish_reason: finishReason(result), logprobs: null }
          : { index: 0, text: result.text, finish_reason: finishReason(result), logprobs: null }
      sendJson(res, 200, { id, object, created, model: body.model, choices: [choice], usage: usage(result) })
      return
    }
    await stream(context, request, { id, created, object, model: body.model, includeUsage: body.stream_options?.include_usage === true }, abort.signal, res, log)
  } finally {
    admission.release()
  }
}

interface StreamHead {
  id: string
  created: number
  object: 'chat.completion' | 'text_completion'
  model: string
  includeUsage: boolean
}

async function stream(context: Context, request: GenerateRequest, head: StreamHead, signal: AbortSignal, res: ServerResponse, log: Log): Promise<void> {
  const { id, created, object, model } = head
  const chunkObject = object === 'chat.completion' ? 'chat.completion.chunk' : 'text_completion'
  let started = false
  const start = () => {
    if (started) return
    started = true
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    if (object === 'chat.completion') event(res, { id, object: chunkObject, created, model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })
  }
  const piece = (text: string, finish: string | null) =>
    object === 'chat.completion'
      ? { index: 0, delta: text.length > 0 ? { content: text } : {}, finish_reason: finish }
      : { index: 0, text, finish_reason: finish, logprobs: null }
  let result: GenerateResult
  try {
    result = await context.service.generate(request, {
      signal,
      onToken: ({ text }) => {
        if (text.length === 0) return
        start()
        event(res, { id, object: chunkObject, created, model, choices: [piece(text, null)] })
      }
    })
  } catch (err) {
    // Before the first token the client gets a plain HTTP error; after it, an error event.
    if (!started) throw err
    const { code, message } = toClientError(err, log)
    event(res, { error: { message, type: errorType(code), code: code.toLowerCase() } })
    res.end()
    return
  }
  start()
  event(res, { id, object: chunkObject, created, model, choices: [piece('', finishReason(result))] })
  if (head.includeUsage) event(res, { id, object: chunkObject, created, model, choices: [], usage: usage(result) })
  res.end('data: [DONE]\n\n')
}

function finishReason(result: GenerateResult): 'stop' | 'length' {
  return result.stopReason === 'maxTokens' ? 'length' : 'stop'
}

function usage(result: GenerateResult) {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.tokens.length, total_tokens: result.promptTokens + result.tokens.length }
}

function event(res: ServerResponse, value: unknown): void {
  if (!res.writableEnded) res.write(`data: ${JSON.stringify(value)}\n\n`)
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_INPUT: 400,
  BAD_LINK: 400,
  NOT_GGUF: 400,
  BAD_GGUF: 400,
  BUSY: 429,
  INCOMPATIBLE_ADAPTER: 400,
  CONTEXT_OVERFLOW: 400,
  NOT_FOUND: 404,
  WONT_FIT: 503,
  CLOSED: 503,
  WORKER_CRASHED: 500
}

function errorType(code: ErrorCode): string {
  return (STATUS[code] ?? 500) < 500 ? 'invalid_request_error' : 'server_error'
}

/** OpenAI's `error.code` for a Grove error code. */
function openAICode(payload: ErrorPayload): string {
  switch (payload.code) {
    case 'CONTEXT_OVERFLOW':
      return 'context_length_exceeded'
    case 'NOT_FOUND':
      return 'model_not_found'
    case 'BUSY':
      return 'rate_limit_exceeded'
    default:
      return payload.code.toLowerCase()
  }
}

function sendError(res: ServerResponse, err: unknown, log: Log): void {
  let status: number
  let code: string
  let message: string
  let type: string
  const headers: Record<string, string> = {}
  if (err instanceof HttpError) {
    status = err.status
    code = err.code
    message = err.message
    type = status < 500 ? 'invalid_request_error' : 'server_error'
  } else {
    const payload = toClientError(err, log)
    status = STATUS[payload.code] ?? 500
    code = openAICode(payload)
    message = payload.message
    type = payload.code === 'BUSY' ? 'rate_limit_error' : errorType(payload.code)
    // OpenAI's clients wait this long and retry (up to 60 s; their own backoff otherwise).
    if (err instanceof BusyError) headers['Retry-After'] = String(err.retryAfterSeconds)
  }
  if (res.headersSent) {
    res.end()
    return
  }
  sendJson(res, status, { error: { message, type, code, param: null } }, headers)
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new GroveError('BAD_INPUT', `Invalid request body: ${describeSchemaIssues(parsed.error)}`)
  return parsed.data
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new HttpError(413, 'request_too_large', `The request body is over ${limit} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, 'request_too_large', `The request body is over ${limit} bytes`)
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    throw new GroveError('BAD_INPUT', 'The request body is not valid JSON')
  }
}

const LOOPBACK_HOSTS = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i

/** A client on this machine that addressed us by a loopback name (a rebound DNS name is refused). */
export function isLoopbackRequest(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? ''
  const loopbackPeer = address === '::1' || /^(::ffff:)?127\./.test(address)
  return loopbackPeer && LOOPBACK_HOSTS.test(req.headers.host ?? '')
}
