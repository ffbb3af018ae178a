// The OpenAI-compatible endpoint (main/inference/openai.ts) mounted on a plain node:http server
// on 127.0.0.1: model list, chat completions with and without streaming, text completions,
// errors in OpenAI's shape, and the loopback-only guard.
import assert from 'node:assert/strict'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { GroveError } from '../../shared/errors.js'
import { createOpenAIHandler, type ModelSource } from '../inference/openai.js'
import { InferenceService } from '../inference/service.js'
import { Harness } from '../testing/harness.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'

const h = new Harness()
let base = ''
let service: InferenceService

before(async () => {
  const dir = await h.tmpDir('grove-openai-')
  const model = join(dir, 'tiny.gguf')
  const adapter = join(dir, 'tiny-lora.gguf')
  const shape = { seed: 5, name: 'Tiny', embeddingLength: 64, blockCount: 2 }
  await writeLlamaModel(model, shape)
  await writeLoraAdapter(adapter, { base: shape, seed: 9, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'] })
  service = new InferenceService({ gpu: false })
  h.onTeardown(() => service.close())
  const models: ModelSource = {
    list: async () => [{ id: 'grove://tiny', created: 1700000000 }],
    resolve: async (id, adapters) => {
      if (id !== 'grove://tiny') throw new GroveError('NOT_FOUND', `No library model "${id}"`)
      return { modelPath: model, contextSize: 256, adapters: adapters.map((a) => ({ path: a.id === 'tiny-lora' ? adapter : '/nowhere.gguf', scale: a.scale })) }
    }
  }
  const handler = createOpenAIHandler({ service, models })
  const server: Server = createServer((req, res) => {
    handler(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404, { 'Content-Type': 'text/plain' })
        res.end('not an OpenAI route')
      }
    }, (err: unknown) => {
      res.writeHead(500)
      res.end(String(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  h.onTeardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => h.teardown())

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

/** The JSON payloads of a server-sent event stream, and whether it ended with [DONE]. */
async function events(res: Response): Promise<{ events: Array<Record<string, unknown>>; done: boolean }> {
  const text = await res.text()
  const data = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice('data: '.length))
  return { events: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Record<string, unknown>), done: data.at(-1) === '[DONE]' }
}

const CHAT = { model: 'grove://tiny', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }], max_tokens: 12, temperature: 0 }

test('GET /v1/models lists the models', async () => {
  const res = await fetch(`${base}/v1/models`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { object: 'list', data: [{ id: 'grove://tiny', object: 'model', created: 1700000000, owned_by: 'grove' }] })
  const one = await fetch(`${base}/v1/models/${encodeURIComponent('grove://tiny')}`)
  assert.equal(((await one.json()) as { id: string }).id, 'grove://tiny')
  assert.equal((await fetch(`${base}/v1/models/nope`)).status, 404)
})

test('chat completions, without and with streaming, give the same text', async () => {
  const res = await post('/v1/chat/completions', CHAT)
  assert.equal(res.status, 200)
  const body = (await res.json()) as {
    id: string
    object: string
    model: string
    choices: Array<{ index: number; message: { role: string; content: string }; finish_reason: string }>
    usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
  }
  assert.match(body.id, /^chatcmpl-/)
  assert.equal(body.object, 'chat.completion')
  assert.equal(body.model, 'grove://tiny')
  assert.equal(body.choices[0]?.message.role, 'assistant')
  assert.ok((body.choices[0]?.message.content.length ?? 0) > 0)
  assert.equal(body.choices[0]?.finish_reason, 'length')
  assert.equal(body.usage.completion_tokens, 12)
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + 12)

  const streamed = await post('/v1/chat/completions', { ...CHAT, stream: true, stream_options: { include_usage: true } })
  assert.equal(streamed.status, 200)
  assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/)
  const { events: chunks, done } = await events(streamed)
  assert.ok(done, 'ends with [DONE]')
  type Chunk = { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>; usage?: { completion_tokens: number } }
  const typed = chunks as unknown as Chunk[]
  assert.ok(typed.every((c) => c.object === 'chat.completion.chunk'))
  assert.equal(typed[0]?.choices[0]?.delta.role, 'assistant')
  const content = typed.map((c) => c.choices[0]?.delta.content ?? '').join('')
  assert.equal(content, body.choices[0]?.message.content)
  assert.ok(typed.filter((c) => (c.choices[0]?.delta.content ?? '').length > 0).length > 1, 'streamed in several chunks')
  assert.equal(typed.at(-2)?.choices[0]?.finish_reason, 'length')
  assert.equal(typed.at(-1)?.usage?.completion_tokens, 12)
})

test('text completions and LoRA adapters (a Grove extension)', async () => {
  const plain = (await (await post('/v1/completions', { model: 'grove://tiny', prompt: 'The quick brown fox', max_tokens: 10, temperature: 0 })).json()) as {
    object: string
    choices: Array<{ text: string }>
  }
  assert.equal(plain.object, 'text_completion')
  const adapted = (await (await post('/v1/completions', { model: 'grove://tiny', prompt: 'The quick brown fox', max_tokens: 10, temperature: 0, adapters: [{ model: 'tiny-lora' }] })).json()) as {
    choices: Array<{ text: string }>
  }
  assert.notEqual(adapted.choices[0]?.text, plain.choices[0]?.text)
  const zero = (await (await post('/v1/completions', { model: 'grove://tiny', prompt: 'The quick brown fox', max_tokens: 10, temperature: 0, adapters: [{ model: 'tiny-lora', scale: 0 }] })).json()) as {
    choices: Array<{ text: string }>
  }
  assert.equal(zero.choices[0]?.text, plain.choices[0]?.text)
})

test('errors come back in OpenAI shape with the right status', async () => {
  const unknown = await post('/v1/chat/completions', { ...CHAT, model: 'grove://nope' })
  assert.equal(unknown.status, 404)
  assert.deepEqual(((await unknown.json()) as { error: { code: string } }).error.code, 'model_not_found')

  const invalid = await post('/v1/chat/completions', { model: 'grove://tiny', messages: [] })
  assert.equal(invalid.status, 400)
  const error = ((await invalid.json()) as { error: { message: string; type: string } }).error
  assert.equal(error.type, 'invalid_request_error')
  assert.match(error.message, /Invalid request body: messages/)

  const notJson = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' })
  assert.equal(notJson.status, 400)
  const form = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(CHAT) })
  assert.equal(form.status, 415, 'a web page cannot post a simple (preflight-free) request')
  assert.equal((await fetch(`${base}/v1/chat/completions`)).status, 405)

  const tooLong = await post('/v1/chat/completions', { ...CHAT, messages: [{ role: 'user', content: 'word '.repeat(400) }] })
  assert.equal(tooLong.status, 400)
  assert.equal(((await tooLong.json()) as { error: { code: string } }).error.code, 'context_length_exceeded')
  const streamedTooLong = await post('/v1/chat/completions', { ...CHAT, stream: true, messages: [{ role: 'user', content: 'word '.repeat(400) }] })
  assert.equal(streamedTooLong.status, 400, 'an error before the first token is a plain HTTP error')

  const badAdapter = await post('/v1/chat/completions', { ...CHAT, adapters: [{ model: 'missing' }] })
  assert.equal(badAdapter.status, 404)

  const other = await fetch(`${base}/not-openai`)
  assert.equal(other.status, 404)
  assert.equal(await other.text(), 'not an OpenAI route', 'other routes are left to the host server')
})

test('only loopback clients that name a loopback host are served', async () => {
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(`${base}/v1/models`)
      const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname, headers: { Host: host } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
  assert.equal(await status(`localhost:${new URL(base).port}`), 200)
  assert.equal(await status('127.0.0.1'), 200)
  assert.equal(await status('evil.example:80'), 403, 'a DNS-rebound name is refused')
})

test('a client that hangs up mid-stream stops the generation; the next request is served', async () => {
  const controller = new AbortController()
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...CHAT, max_tokens: 200, stream: true }),
    signal: controller.signal
  })
  const reader = res.body!.getReader()
  await reader.read()
  await reader.read()
  controller.abort()
  await reader.cancel().catch(() => {})
  const next = await post('/v1/chat/completions', CHAT)
  assert.equal(next.status, 200)
  assert.equal(((await next.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens, 12)
})
