// Requests from strangers to `grove serve` (main/server), sent byte for byte: a malformed
// percent-encoding or a repeated Host is a 400, never a 500 or a guess; the token redirect
// never leaves the server; `library.share` of a path that is not a regular file (a device, a
// FIFO, /proc) is refused before anything reads it; and an unexpected error reaches the client
// as a code and a generic message, its detail only in the server's log.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EventPayload } from '../../shared/api.js'
import { INTERNAL_ERROR_MESSAGE } from '../../shared/errors.js'
import { GroveApi } from '../api/api.js'
import type { ApiEndpoint } from '../api/events.js'
import type { Grove } from '../core/grove.js'
import { createOpenAIHandler, type ModelSource } from '../inference/openai.js'
import { GroveServer, type GroveServerOptions } from '../server/server.js'
import { FakeInference } from '../testing/fake-inference.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness, waitFor } from '../testing/harness.js'
import { rawRequest, type RawReply } from '../testing/raw-http.js'

const h = new Harness()
let grove: Grove
let uiDir: string
let modelPath: string
const SECRET = 'sk-grove-secret-4f1c /home/alice/.config/token'

before(async () => {
  grove = await h.grove({ network: false })
  uiDir = await h.tmpDir('grove-ui-')
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Grove UI</title>')
  modelPath = join(await h.tmpDir('grove-requests-model-'), 'tiny.gguf')
  await writeLlamaModel(modelPath, { seed: 3, name: 'Requests Tiny', embeddingLength: 64, blockCount: 2, license: 'mit' })
})
after(() => h.teardown())

async function serve(options: Partial<GroveServerOptions> & { api: ApiEndpoint }): Promise<{ port: number; token?: string }> {
  const server = new GroveServer({ port: 0, staticDir: uiDir, ...options })
  h.onTeardown(() => server.close())
  return server.listen()
}

async function groveApi(inference = new FakeInference(), log?: (line: string) => void): Promise<GroveApi> {
  const api = await GroveApi.create({ grove, inference: inference.service, transport: 'http', log })
  h.onTeardown(() => api.close())
  return api
}

function get(port: number, target: string, headers: Array<[string, string]> = [], timeoutMs?: number): Promise<RawReply> {
  return rawRequest(port, { target, headers: [['Host', `127.0.0.1:${port}`], ...headers] }, timeoutMs)
}

function post(port: number, target: string, body: unknown, headers: Array<[string, string]> = []): Promise<RawReply> {
  return rawRequest(port, { method: 'POST', target, headers: [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json'], ...headers], body: JSON.stringify(body) })
}

function errorOf(reply: RawReply): { code?: string; message?: string } {
  return (reply.json as { error?: { code?: string; message?: string } } | null)?.error ?? {}
}

describe('request hygiene', () => {
  let port: number
  let api: GroveApi
  before(async () => {
    api = await groveApi()
    const models: ModelSource = { list: async () => [{ id: 'grove://tiny', created: 0 }], resolve: async () => ({ modelPath: '/nowhere.gguf' }) }
    port = (await serve({ api, openai: createOpenAIHandler({ service: new FakeInference().service, models }) })).port
  })

  test('a malformed percent-encoding anywhere in the path is a 400, not a 500 or a 404', async () => {
    for (const target of ['/v1/models/%ZZ', '/v1/models/%E0%A4%A', '/api/call/%ZZ', '/api/call/app.info%', '/%ZZ', '/assets/%C0%AF.js', '/models/50%']) {
      const reply = target.startsWith('/api/') ? await post(port, target, {}) : await get(port, target)
      assert.equal(reply.status, 400, `${target}: ${reply.status} ${reply.body}`)
      assert.doesNotMatch(reply.body, /URIError|URI malformed/, target)
    }
    assert.equal(errorOf(await get(port, '/v1/models/%ZZ')).code, 'BAD_INPUT')
    // Well-formed escapes still work.
    assert.equal((await get(port, `/v1/models/${encodeURIComponent('grove://tiny')}`)).status, 200)
    assert.equal((await post(port, '/api/call/app%2Einfo', {})).status, 200)
    // Bad escapes in a query are the query's business (URLSearchParams keeps them as text).
    assert.equal((await get(port, '/?q=%ZZ')).status, 200)
    // The WebSocket upgrade too.
    const upgrade = await rawRequest(port, { target: '/api/events%ZZ', headers: [['Host', `127.0.0.1:${port}`], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']] })
    assert.equal(upgrade.status, 400)
  })

  test('the standalone /v1 handler refuses a malformed model id with 400 in OpenAI shape', async () => {
    const models: ModelSource = { list: async () => [], resolve: async () => ({ modelPath: '/nowhere.gguf' }) }
    const handler = createOpenAIHandler({ service: new FakeInference().service, models })
    const plain = createServer((req, res) => void handler(req, res))
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
    h.onTeardown(() => new Promise<void>((resolve) => plain.close(() => resolve())))
    const reply = await get((plain.address() as AddressInfo).port, '/v1/models/%ZZ')
    assert.equal(reply.status, 400)
    assert.equal((reply.json as { error: { type: string } }).error.type, 'invalid_request_error')
  })

  test('a request with two Host headers (or two Authorization headers) is refused with 400', async () => {
    const own = `127.0.0.1:${port}`
    for (const hosts of [[own, own], [own, 'evil.example'], ['evil.example', own]]) {
      const reply = await rawRequest(port, { target: '/api/call/app.info', method: 'POST', headers: [...hosts.map((v): [string, string] => ['Host', v]), ['Content-Type', 'application/json']], body: '{}' })
      assert.equal(reply.status, 400, `Host ${hosts.join(' + ')}: ${reply.status}`)
      assert.match(errorOf(reply).message ?? '', /host/i)
      assert.equal((await rawRequest(port, { target: '/', headers: hosts.map((v): [string, string] => ['Host', v]) })).status, 400)
    }
    const twoTokens = await rawRequest(port, { target: '/', headers: [['Host', own], ['Authorization', 'Bearer a'], ['Authorization', 'Bearer b']] })
    assert.equal(twoTokens.status, 400)
    const upgrade = await rawRequest(port, {
      target: '/api/events',
      headers: [['Host', own], ['Host', 'evil.example'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']]
    })
    assert.equal(upgrade.status, 400)
    assert.equal((await get(port, '/')).status, 200, 'one Host is served')
  })

  test('a FIFO or a link to a device among the UI files is not served (and does not hang the request)', async () => {
    execFileSync('mkfifo', [join(uiDir, 'pipe.js')])
    await symlink('/dev/zero', join(uiDir, 'zero.js'))
    for (const target of ['/pipe.js', '/zero.js']) assert.equal((await get(port, target, [], 3000)).status, 404, target)
  })

  test('a target that is not a plain path is refused', async () => {
    for (const target of [`http://127.0.0.1:${port}/`, '*', '/caf\u00e9']) {
      const reply = await rawRequest(port, { target, headers: [['Host', `127.0.0.1:${port}`]] }).catch(() => null)
      // Node may refuse some of these itself (also a 400) before Grove sees them.
      assert.ok(reply === null || reply.status === 400, `${target}: ${reply?.status}`)
    }
  })
})

describe('the token redirect', () => {
  let port: number
  let token: string
  before(async () => {
    const info = await serve({ api: await groveApi(), requireToken: true })
    port = info.port
    token = info.token!
  })

  test('never sends the browser to another site, whatever the path looks like', async () => {
    const hostile = ['//evil.example/x', '/.//evil.example/x', '/\\evil.example/x', '/\\/evil.example/x', '/./\\/evil.example/x', '/..//evil.example/x', '///evil.example/x', '/%2f%2fevil.example/x', '/%5c%5cevil.example/x', '/.%2f/evil.example/x', '/x/../..//evil.example/x']
    const origin = `http://127.0.0.1:${port}`
    for (const path of hostile) {
      const reply = await get(port, `${path}?token=${encodeURIComponent(token)}&tab=models`)
      assert.equal(reply.status, 303, `${path}: ${reply.status}`)
      const location = reply.headers.location ?? ''
      assert.match(location, /^\/(?![/\\])/, `${path} → ${location}`)
      const landed = new URL(location, `${origin}/`)
      assert.equal(landed.origin, origin, `${path} → ${location}`)
      assert.equal(landed.searchParams.get('token'), null, 'the token leaves the address bar')
      assert.equal(landed.searchParams.get('tab'), 'models', 'the rest of the query stays')
      assert.match(reply.headers['set-cookie'] ?? '', /HttpOnly/)
    }
    assert.equal((await get(port, `/models/grove%3A%2F%2Fabc?token=${token}`)).headers.location, '/models/grove%3A%2F%2Fabc', 'a client route keeps its encoding')
    assert.equal((await get(port, `/?token=${token}`)).headers.location, '/')
  })
})

describe('library.share of what is not a model file', () => {
  let port: number
  let dir: string
  before(async () => {
    port = (await serve({ api: await groveApi() })).port
    dir = await h.tmpDir('grove-share-odd-')
  })

  test('/proc/self/mem, a FIFO, /dev/zero, a folder and a link to /proc are refused with 400 BAD_INPUT, at once', async () => {
    const fifo = join(dir, 'pipe.gguf')
    execFileSync('mkfifo', [fifo])
    const link = join(dir, 'mem.gguf')
    await symlink('/proc/self/mem', link)
    for (const path of ['/proc/self/mem', fifo, '/dev/zero', dir, link, '/proc/self/status']) {
      const started = Date.now()
      const reply = await post(port, '/api/call/library.share', { path }, [])
      assert.equal(reply.status, 400, `${path}: ${reply.status} ${reply.body}`)
      assert.equal(errorOf(reply).code, 'BAD_INPUT', path)
      assert.ok(Date.now() - started < 2000, `${path} answered within 2 s`)
    }
    const missing = await post(port, '/api/call/library.share', { path: join(dir, 'nothing.gguf') })
    assert.equal(missing.status, 404)
    const model = await post(port, '/api/call/library.share', { path: modelPath })
    assert.equal(model.status, 200, model.body)
  })
})

describe('unexpected errors', () => {
  test('a handler that throws answers 500 INTERNAL with a generic message; the detail goes to the log', async () => {
    const log: string[] = []
    const throwing: ApiEndpoint = {
      dispatch: async () => {
        throw new Error(SECRET)
      },
      onEvent: () => () => {}
    }
    const { port } = await serve({ api: throwing, log: (line) => log.push(line) })
    const reply = await post(port, '/api/call/app.info', {})
    assert.equal(reply.status, 500)
    assert.deepEqual(reply.json, { ok: false, error: { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE } })
    assert.ok(!reply.body.includes('sk-grove-secret'), 'the client never sees it')
    assert.ok(log.some((line) => line.includes(SECRET) && line.includes('app.info')), `the log has it: ${JSON.stringify(log)}`)
  })

  test('a call whose core throws a plain Error, and a chat that fails that way, show the client no detail', async () => {
    const fake = new FakeInference()
    fake.fail = new Error(SECRET)
    const log: string[] = []
    const api = await groveApi(fake, (line) => log.push(line))
    const { port } = await serve({ api })
    const { link } = await api.call('library.share', { path: modelPath })
    const fit = await post(port, '/api/call/chat.fit', { link })
    assert.equal(fit.status, 500)
    assert.deepEqual(errorOf(fit), { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE })
    assert.ok(log.some((line) => line.includes(SECRET) && line.includes('chat.fit')), `logged: ${JSON.stringify(log)}`)

    const errors: Array<EventPayload<'chat.error'>> = []
    api.on('chat.error', (e) => errors.push(e))
    const { id } = await api.call('chat.start', { link, messages: [{ role: 'user', content: 'hi' }] })
    await waitFor(() => errors.some((e) => e.id === id), 5000, 'chat.error')
    assert.deepEqual(errors[0], { id, code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE })
    assert.ok(log.some((line) => line.includes(SECRET) && line.includes(id)))
  })

  test('a /v1 generation that throws a plain Error answers 500 with a generic message, streamed or not', async () => {
    const fake = new FakeInference()
    fake.fail = new Error(SECRET)
    const log: string[] = []
    const models: ModelSource = { list: async () => [], resolve: async () => ({ modelPath: '/nowhere.gguf' }) }
    const { port } = await serve({ api: await groveApi(), openai: createOpenAIHandler({ service: fake.service, models, log: (line) => log.push(line) }) })
    for (const stream of [false, true]) {
      const reply = await post(port, '/v1/chat/completions', { model: 'x', messages: [{ role: 'user', content: 'hi' }], stream })
      assert.equal(reply.status, 500)
      assert.ok(!reply.body.includes('sk-grove-secret'), reply.body)
      assert.equal(errorOf(reply).message, INTERNAL_ERROR_MESSAGE)
    }
    assert.equal(log.filter((line) => line.includes(SECRET)).length, 2)
  })
})
