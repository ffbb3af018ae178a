// Requests from strangers to `grove serve` (main/server), sent byte for byte: a malformed
// percent-encoding or a repeated Host is a 400, never a 500 or a guess; the token redirect
// never leaves the server; `library.share` of a path that is not a regular file (a device, a
// FIFO, /proc) is refused before anything reads it; and an unexpected error reaches the client
// as a code and a generic message, its detail only in the server's log. Whatever answers —
// Grove, fastify underneath, Node's parser — every answer carries the security headers and
// Grove's shapes; a body over the limit is cut off, and request-smuggling shapes are a 400.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EventPayload } from '../../shared/api.js'
import { ErrorCodes, INTERNAL_ERROR_MESSAGE } from '../../shared/errors.js'
import { GroveApi } from '../api/api.js'
import type { ApiEndpoint } from '../api/events.js'
import type { Grove } from '../core/grove.js'
import { createOpenAIHandler, type ModelSource } from '../inference/openai.js'
import { GroveServer, MAX_CALL_BODY_BYTES, SECURITY_HEADERS, type GroveServerOptions } from '../server/server.js'
import { FakeInference } from '../testing/fake-inference.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness, waitFor } from '../testing/harness.js'
import { rawConnection, rawRequest, rawSend, type RawReply } from '../testing/raw-http.js'

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

describe('what every answer carries, whoever gives it', () => {
  let port: number
  let tokenPort: number
  let token: string
  let throwingPort: number
  const upgrade: Array<[string, string]> = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']]
  before(async () => {
    await mkdir(join(uiDir, 'assets'), { recursive: true })
    await writeFile(join(uiDir, 'assets', 'app-5678.js'), 'console.log("grove")')
    const models: ModelSource = { list: async () => [{ id: 'grove://tiny', created: 0 }], resolve: async () => ({ modelPath: '/nowhere.gguf' }) }
    port = (await serve({ api: await groveApi(), openai: createOpenAIHandler({ service: new FakeInference().service, models }) })).port
    const withToken = await serve({ api: await groveApi(), requireToken: true })
    tokenPort = withToken.port
    token = withToken.token!
    const throwing: ApiEndpoint = {
      dispatch: async () => {
        throw new Error(SECRET)
      },
      onEvent: () => () => {}
    }
    throwingPort = (await serve({ api: throwing, log: () => {} })).port
  })

  /** One of each kind of answer: Grove's routes, its refusals, fastify's parsing and routing, @fastify/static, the hijacked /v1, Node's parser. */
  function everyKindOfAnswer(): Array<[string, number, Promise<RawReply>]> {
    const own: [string, string] = ['Host', `127.0.0.1:${port}`]
    const json: [string, string] = ['Content-Type', 'application/json']
    return [
      ['the UI page', 200, get(port, '/')],
      ['a UI file', 200, get(port, '/assets/app-5678.js')],
      ['a client route', 200, get(port, '/models/abc')],
      ['a call', 200, post(port, '/api/call/app.info', {})],
      ['/v1, hijacked', 200, get(port, '/v1/models')],
      ['a missing UI file (not-found handler)', 404, get(port, '/missing.js')],
      ['a path @fastify/static refuses', 404, get(port, '/./index.html')],
      ['another method on a page', 405, rawRequest(port, { method: 'DELETE', target: '/', headers: [own] })],
      ['a URL the router cannot decode (fastify frameworkErrors)', 400, get(port, '/%ZZ')],
      ['a target that is not a plain path', 400, get(port, '/caf\u00e9')],
      ['two Host headers', 400, rawRequest(port, { target: '/', headers: [own, own] })],
      ['another Host', 421, rawRequest(port, { target: '/', headers: [['Host', 'evil.example']] })],
      ['a foreign Origin', 403, post(port, '/api/call/app.info', {}, [['Origin', 'http://evil.example']])],
      ['an unknown API path', 404, get(port, '/api/nothing')],
      ['the events path without an upgrade', 426, get(port, '/api/events')],
      ['GET of a call', 405, get(port, '/api/call/app.info')],
      ['a call that is not JSON', 415, rawRequest(port, { method: 'POST', target: '/api/call/app.info', headers: [own, ['Content-Type', 'text/plain']], body: '{}' })],
      ['a body that is not JSON (fastify parser)', 400, rawRequest(port, { method: 'POST', target: '/api/call/app.info', headers: [own, json], body: '{' })],
      ['a body over the limit (fastify bodyLimit)', 413, rawRequest(port, { method: 'POST', target: '/api/call/app.info', headers: [own, json, ['Content-Length', String(64 * 1024 * 1024)]] })],
      ['a content type fastify cannot parse on /v1', 415, rawRequest(port, { method: 'POST', target: '/v1/chat/completions', headers: [own, ['Content-Type', ';;']], body: '{}' })],
      ['an unknown /v1 path', 404, get(port, '/v1/other')],
      ['two Content-Length headers (Node parser)', 400, rawSend(port, `POST /api/call/app.info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} `)],
      ['an upgrade to another path', 404, rawRequest(port, { target: '/', headers: [own, ...upgrade] })],
      ['an upgrade from a foreign Origin', 403, rawRequest(port, { target: '/api/events', headers: [own, ['Origin', 'http://evil.example'], ...upgrade] })],
      ['an unexpected error', 500, post(throwingPort, '/api/call/app.info', {})],
      ['a call without the token', 401, post(tokenPort, '/api/call/app.info', {})],
      ['a page without the token', 401, get(tokenPort, '/')],
      ['the token redirect', 303, get(tokenPort, `/models?token=${encodeURIComponent(token)}`)],
      ['an upgrade without the token', 401, rawRequest(tokenPort, { target: '/api/events', headers: [['Host', `127.0.0.1:${tokenPort}`], ...upgrade] })]
    ]
  }

  test('every kind of answer carries all the security headers and no server banner; API answers are never cached', async () => {
    for (const [what, status, pending] of everyKindOfAnswer()) {
      const reply = await pending
      assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.body.slice(0, 200)}`)
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(reply.headers[name.toLowerCase()], value, `${what}: ${name}`)
      assert.equal(reply.headers.server, undefined, what)
      assert.equal(reply.headers['x-powered-by'], undefined, what)
      const isUiFile = status === 200 && !what.startsWith('a call') && !what.startsWith('/v1')
      if (!isUiFile) assert.equal(reply.headers['cache-control'], 'no-store', `${what}: Cache-Control`)
    }
  })

  test("fastify's own error bodies never reach a client: every refusal is Grove's { ok: false, error } or plain text", async () => {
    for (const [what, status, pending] of everyKindOfAnswer()) {
      const reply = await pending
      if (status < 400) continue
      assert.doesNotMatch(reply.body, /FST_|"statusCode"|Route \w+:/, what)
      if (reply.json === null) {
        assert.match(reply.headers['content-type'] ?? '', /^text\/(plain|html)/, `${what}: ${reply.body.slice(0, 100)}`)
        continue
      }
      const body = reply.json as { ok?: unknown; error?: { code?: string; message?: string } }
      if (what.includes('/v1 path')) {
        assert.deepEqual(Object.keys(body.error ?? {}).sort(), ['code', 'message', 'type'], `${what}: OpenAI's shape`)
        continue
      }
      assert.deepEqual(Object.keys(body).sort(), ['error', 'ok'], what)
      assert.equal(body.ok, false, what)
      assert.deepEqual(Object.keys(body.error ?? {}).sort(), ['code', 'message'], what)
      assert.ok((ErrorCodes as readonly string[]).includes(body.error?.code ?? ''), `${what}: ${body.error?.code}`)
    }
    const broken = await rawRequest(port, { method: 'POST', target: '/api/call/app.info', headers: [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']], body: '{"a":' })
    assert.deepEqual(broken.json, { ok: false, error: { code: 'BAD_INPUT', message: 'The body is not valid JSON' } })
    const poisoned = await post(port, '/api/call/library.list', JSON.parse('{"__proto__":{"isAdmin":true}}'))
    assert.equal(poisoned.status, 400, 'a __proto__ key is refused by the parser')
    assert.equal(errorOf(poisoned).code, 'BAD_INPUT')
  })

  test('a body over 1 MiB is cut off where it passes the limit, not read to its end', async () => {
    const head = (extra: string) => `POST /api/call/library.share HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${extra}\r\n`
    // Declared too large: answered before a byte of it is sent.
    const declared = rawConnection(port, 5000)
    declared.socket.write(head(`Content-Length: ${10 * 1024 * 1024 * 1024}\r\n`))
    const refused = await declared.reply
    assert.equal(refused.status, 413)
    assert.equal(refused.headers.connection, 'close')
    // Streamed without a length and never finished: answered (and the connection closed) once
    // it passed 1 MiB; had the server waited for the end, this would time out.
    const streamed = rawConnection(port, 5000)
    streamed.socket.write(head('Transfer-Encoding: chunked\r\n'))
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    for (let sent = 0; sent <= MAX_CALL_BODY_BYTES; sent += chunk.length) streamed.socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]))
    const cut = await streamed.reply
    assert.equal(cut.status, 413)
    assert.equal(errorOf(cut).code, 'BAD_INPUT')
    assert.equal((await post(port, '/api/call/app.info', {})).status, 200, 'the server answers on')
  })

  test('request-smuggling shapes (two lengths, a length with chunked, a transfer-encoding that does not end in chunked) are a 400', async () => {
    const shapes = [
      'Content-Length: 2\r\nContent-Length: 2',
      'Content-Length: 2\r\nContent-Length: 30',
      'Content-Length: 2, 30',
      'Content-Length: 2\r\nTransfer-Encoding: chunked',
      'Transfer-Encoding: chunked\r\nContent-Length: 2',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
      'Transfer-Encoding: chunked, identity',
      'Transfer-Encoding: xchunked',
      'Content-Length : 2'
    ]
    for (const shape of shapes) {
      const reply = await rawSend(port, `POST /api/call/app.info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${shape}\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /api/call/app.info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
      assert.equal(reply.status, 400, `${JSON.stringify(shape)}: ${reply.status}`)
      assert.equal(reply.headers.connection, 'close', shape)
      assert.equal(reply.body.match(/HTTP\/1\.1/g), null, `${JSON.stringify(shape)}: the smuggled request got no answer`)
    }
  })

  test('X-Forwarded-* headers are not trusted: the Host check reads the Host header', async () => {
    const own = `127.0.0.1:${port}`
    const forwarded = await rawRequest(port, { method: 'POST', target: '/api/call/app.info', headers: [['Host', 'evil.example'], ['X-Forwarded-Host', own], ['X-Forwarded-Proto', 'http'], ['Content-Type', 'application/json']], body: '{}' })
    assert.equal(forwarded.status, 421)
    const origin = await post(port, '/api/call/app.info', {}, [['Origin', 'http://evil.example'], ['X-Forwarded-Host', 'evil.example']])
    assert.equal(origin.status, 403)
  })
})
