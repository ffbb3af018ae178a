// `grove serve`'s HTTP/WebSocket transport (main/server): security headers, the Host, Origin and
// token checks, the call endpoint's validation and status codes, static files, and events over
// the WebSocket. The API underneath is the real GroveApi over a Grove without the network.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { EventMessage } from '../../shared/api.js'
import { GroveApi } from '../api/api.js'
import { InferenceService } from '../inference/service.js'
import { CONTENT_SECURITY_POLICY, GroveServer, type GroveServerOptions, type ListenInfo } from '../server/server.js'
import { Harness, waitFor, withTimeout } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { rawConnection } from '../testing/raw-http.js'

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  json: unknown
}

function http(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return withTimeout(
    new Promise<Reply>((resolve, reject) => {
      const headers: Record<string, string> = { Host: `127.0.0.1:${port}`, ...opts.headers }
      // Host "" means: send no Host header at all.
      const setHost = headers.Host !== ''
      if (!setHost) delete headers.Host
      const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, setHost }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown = null
          try {
            json = JSON.parse(text)
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
      })
      req.on('error', reject)
      req.end(opts.body)
    }),
    10_000,
    () => `no answer to ${opts.method ?? 'GET'} ${opts.path ?? '/'}`
  )
}

function call(port: number, name: string, args: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return http(port, { method: 'POST', path: `/api/call/${name}`, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(args) })
}

/** Opens the events WebSocket; resolves with it once open, or with the HTTP status it was refused with. */
function openEvents(port: number, opts: { query?: string; headers?: Record<string, string> } = {}): Promise<WebSocket | number> {
  return withTimeout(
    new Promise<WebSocket | number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events${opts.query ?? ''}`, { headers: opts.headers })
      ws.once('open', () => resolve(ws))
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.once('error', (err) => reject(err))
    }),
    10_000,
    () => 'the events WebSocket neither opened nor was refused'
  )
}

const h = new Harness()
let api: GroveApi
let inference: InferenceService
let uiDir: string
let modelPath: string

before(async () => {
  const grove = await h.grove({ network: false })
  inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  api = await GroveApi.create({ grove, inference, transport: 'http' })
  h.onTeardown(() => api.close())
  uiDir = await h.tmpDir('grove-ui-')
  await mkdir(join(uiDir, 'assets'))
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Grove UI</title><script type="module" src="/assets/app-1234.js"></script>')
  await writeFile(join(uiDir, 'assets', 'app-1234.js'), 'console.log("grove")')
  await writeFile(join(uiDir, '.secret'), 'hidden')
  modelPath = join(await h.tmpDir('grove-serve-model-'), 'tiny.gguf')
  await writeLlamaModel(modelPath, { seed: 5, name: 'Served Tiny', embeddingLength: 64, blockCount: 2, license: 'mit' })
})
after(() => h.teardown())

async function serve(options: Partial<GroveServerOptions> = {}): Promise<ListenInfo> {
  const server = new GroveServer({ api, port: 0, staticDir: uiDir, ...options })
  h.onTeardown(() => server.close())
  return server.listen()
}

describe('on loopback without a token', () => {
  let port: number
  before(async () => {
    const info = await serve()
    port = info.port
    assert.equal(info.token, undefined)
    assert.equal(info.url, `http://127.0.0.1:${port}/`)
  })

  test('every response carries the CSP and the no-sniff and no-referrer headers', async () => {
    for (const reply of [await http(port), await call(port, 'app.info', {}), await http(port, { path: '/nope.js' }), await call(port, 'nope', {})]) {
      assert.equal(reply.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
      assert.equal(reply.headers['x-content-type-options'], 'nosniff')
      assert.equal(reply.headers['referrer-policy'], 'no-referrer')
    }
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'; script-src 'self';.*object-src 'none'; base-uri 'none'; frame-ancestors 'none'/)
  })

  test('serves the built renderer: files with their types, index.html for client routes, nothing outside', async () => {
    const index = await http(port)
    assert.equal(index.status, 200)
    assert.match(index.headers['content-type'] ?? '', /^text\/html/)
    assert.match(index.text, /Grove UI/)
    const script = await http(port, { path: '/assets/app-1234.js' })
    assert.equal(script.status, 200)
    assert.match(script.headers['content-type'] ?? '', /^text\/javascript/)
    assert.match(script.headers['cache-control'] ?? '', /immutable/)
    const route = await http(port, { path: '/models/grove%3A%2F%2Fabc' })
    assert.equal(route.status, 200)
    assert.match(route.text, /Grove UI/)
    assert.equal((await http(port, { path: '/missing.js' })).status, 404)
    assert.equal((await http(port, { path: '/.secret' })).status, 404)
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/..%5cpackage.json']) {
      const reply = await http(port, { path })
      assert.ok(!reply.text.includes('"name": "grove"'), `${path} must not leave the UI folder`)
    }
    // `..` never climbs out of the UI folder, and a NUL byte names no file.
    for (const path of ['/../etc/passwd', '/assets/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd']) assert.doesNotMatch((await http(port, { path })).text, /root:/, path)
    assert.equal((await http(port, { path: '/a/%00b' })).status, 404)
    assert.equal((await http(port, { method: 'DELETE', path: '/' })).status, 405)
  })

  test('without a built renderer it says how to build one', async () => {
    const info = await serve({ staticDir: join(uiDir, 'not-there') })
    const reply = await http(info.port)
    assert.equal(reply.status, 503)
    assert.match(reply.text, /npm run build/)
    assert.equal(reply.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
  })

  test('a request for another Host is refused (DNS rebinding); loopback names with the port are served', async () => {
    // Node itself answers 400 to an HTTP/1.1 request with no Host at all.
    assert.equal((await http(port, { headers: { Host: '' } })).status, 400)
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1', `127.0.0.1:${port + 1}`, `[::1]:${port}.evil.example`]) {
      const page = await http(port, { headers: { Host: host } })
      assert.equal(page.status, 421, `Host "${host}"`)
      const api = await call(port, 'app.info', {}, { Host: host })
      assert.equal(api.status, 421)
      assert.deepEqual((api.json as { error: { code: string } }).error.code, 'FORBIDDEN')
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`]) assert.equal((await call(port, 'app.info', {}, { Host: host })).status, 200, host)
    assert.equal(await openEvents(port, { headers: { Host: `rebound.example:${port}` } }), 421)
  })

  test('a POST or WebSocket from a foreign Origin is refused; our own origin is served', async () => {
    const foreign = await call(port, 'library.list', {}, { Origin: 'http://evil.example' })
    assert.equal(foreign.status, 403)
    assert.deepEqual(foreign.json, { ok: false, error: { code: 'FORBIDDEN', message: 'Cross-origin requests are refused' } })
    assert.equal((await call(port, 'library.list', {}, { Origin: 'null' })).status, 403)
    assert.equal((await call(port, 'library.list', {}, { Origin: `http://localhost:${port}` })).status, 403, 'another name for the same server is another origin')
    assert.equal((await call(port, 'library.list', {}, { Origin: `http://127.0.0.1:${port}` })).status, 200)
    assert.equal(await openEvents(port, { headers: { Origin: 'http://evil.example' } }), 403)
    const ws = await openEvents(port, { headers: { Origin: `http://127.0.0.1:${port}` } })
    assert.ok(ws instanceof WebSocket)
    ws.close()
  })

  test('bad calls are refused with coded errors and status codes; good calls answer', async () => {
    const bad = await call(port, 'library.setSeeding', { link: 'http://not-a-grove-link', seeding: 'yes' })
    assert.equal(bad.status, 400)
    const badBody = bad.json as { ok: boolean; error: { code: string; message: string } }
    assert.equal(badBody.ok, false)
    assert.equal(badBody.error.code, 'BAD_INPUT')
    assert.match(badBody.error.message, /library\.setSeeding/)
    assert.equal((await call(port, 'library.list', { extra: true })).status, 400)
    const unknown = await call(port, 'fs.readFile', { path: '/etc/passwd' })
    assert.equal(unknown.status, 404)
    assert.equal((unknown.json as { error: { code: string } }).error.code, 'BAD_INPUT')
    const notJson = await http(port, { method: 'POST', path: '/api/call/app.info', headers: { 'Content-Type': 'text/plain' }, body: '{}' })
    assert.equal(notJson.status, 415)
    const broken = await http(port, { method: 'POST', path: '/api/call/app.info', headers: { 'Content-Type': 'application/json' }, body: '{' })
    assert.equal(broken.status, 400)
    const huge = await http(port, { method: 'POST', path: '/api/call/library.share', headers: { 'Content-Type': 'application/json' }, body: Buffer.alloc(2 * 1024 * 1024, 0x20) })
    assert.equal(huge.status, 413)
    assert.equal((await http(port, { path: '/api/call/app.info' })).status, 405)
    const missing = await call(port, 'library.setSeeding', { link: `grove://${'a'.repeat(64)}`, seeding: true })
    assert.equal(missing.status, 404)
    assert.equal((missing.json as { error: { code: string } }).error.code, 'NOT_FOUND')

    const info = await call(port, 'app.info', {})
    assert.equal(info.status, 200)
    const body = info.json as { ok: true; result: { transport: string; version: string; hardware: { cpuCores: number } } }
    assert.equal(body.ok, true)
    assert.equal(body.result.transport, 'http')
    assert.equal(body.result.version, '0.1.0')
    assert.ok(body.result.hardware.cpuCores >= 1)
    const empty = await http(port, { method: 'POST', path: '/api/call/library.list', headers: { 'Content-Type': 'application/json' } })
    assert.equal(empty.status, 200, 'an empty body is {}')
    assert.ok(Array.isArray((empty.json as { result: unknown[] }).result))
  })

  test('the events WebSocket delivers events as { event, payload }', async () => {
    const ws = await openEvents(port)
    assert.ok(ws instanceof WebSocket)
    const received: EventMessage[] = []
    ws.on('message', (data) => received.push(EventMessage.parse(JSON.parse(String(data)))))
    const shared = await call(port, 'library.share', { path: modelPath, name: 'Served Tiny' })
    assert.equal(shared.status, 200, shared.text)
    const link = (shared.json as { result: { link: string } }).result.link
    await withTimeout(
      (async () => {
        while (!received.some((m) => m.event === 'library' && Array.isArray(m.payload) && m.payload.some((i: { link?: string }) => i.link === link))) await new Promise((r) => setTimeout(r, 20))
      })(),
      10_000,
      () => `no library event; got ${JSON.stringify(received.map((m) => m.event))}`
    )
    const list = await call(port, 'library.list', {})
    const items = (list.json as { result: Array<Record<string, unknown>> }).result
    const item = items.find((i) => i.link === link)
    assert.ok(item)
    assert.deepEqual(Object.keys(item).sort(), ['complete', 'disk', 'kind', 'license', 'link', 'name', 'origin', 'path', 'quarantined', 'seeding', 'sha256', 'size'])
    assert.deepEqual(Object.keys(item.disk as object).sort(), ['blockBytes', 'fileBytes', 'inPlace'], 'nothing outside the contract leaks')
    ws.close()
  })

  test('/v1 goes to the OpenAI handler; other /api paths are 404', async () => {
    const info = await serve({
      openai: async (req, res) => {
        if (!req.url?.startsWith('/v1/models')) return false
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ object: 'list', data: [] }))
        return true
      }
    })
    const models = await http(info.port, { path: '/v1/models' })
    assert.equal(models.status, 200)
    assert.deepEqual(models.json, { object: 'list', data: [] })
    assert.equal(models.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    assert.equal((await http(info.port, { path: '/v1/other' })).status, 404)
    assert.equal((await http(info.port, { path: '/api/nothing' })).status, 404)
    assert.equal((await http(info.port, { path: '/api/events' })).status, 426)
  })
})

describe('with a token (as off loopback)', () => {
  let port: number
  let token: string
  before(async () => {
    const info = await serve({ requireToken: true })
    port = info.port
    assert.ok(info.token && info.token.length >= 32, 'a strong token is generated')
    token = info.token
    assert.equal(info.openUrl, `${info.url}?token=${encodeURIComponent(token)}`)
  })

  test('a request without the token is refused with 401', async () => {
    const reply = await call(port, 'app.info', {})
    assert.equal(reply.status, 401)
    assert.equal((reply.json as { error: { code: string } }).error.code, 'UNAUTHORIZED')
    assert.equal((await call(port, 'app.info', {}, { Authorization: 'Bearer wrong-token-wrong-token' })).status, 401)
    assert.equal((await http(port)).status, 401)
    assert.equal((await http(port, { path: '/assets/app-1234.js' })).status, 401)
    assert.equal(await openEvents(port), 401)
    assert.equal(await openEvents(port, { query: '?token=wrong' }), 401)
    // ?token= is for page loads and the WebSocket, not for calls.
    assert.equal((await http(port, { method: 'POST', path: `/api/call/app.info?token=${token}`, headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 401)
  })

  test('the token works as a Bearer header, as ?token= on the first page load (then a cookie), and for the WebSocket', async () => {
    assert.equal((await call(port, 'app.info', {}, { Authorization: `Bearer ${token}` })).status, 200)
    const first = await http(port, { path: `/models?token=${encodeURIComponent(token)}` })
    assert.equal(first.status, 303)
    assert.equal(first.headers.location, '/models', 'the token leaves the address bar')
    const cookie = first.headers['set-cookie']?.[0] ?? ''
    assert.match(cookie, /HttpOnly/)
    assert.match(cookie, /SameSite=Strict/)
    const pair = cookie.split(';')[0] ?? ''
    assert.equal((await http(port, { path: '/models', headers: { Cookie: pair } })).status, 200)
    assert.equal((await call(port, 'library.list', {}, { Cookie: pair })).status, 200)
    const ws = await openEvents(port, { query: `?token=${encodeURIComponent(token)}` })
    assert.ok(ws instanceof WebSocket)
    ws.close()
    const viaCookie = await openEvents(port, { headers: { Cookie: pair } })
    assert.ok(viaCookie instanceof WebSocket)
    viaCookie.close()
    // The Host and Origin checks still apply with the token.
    assert.equal((await call(port, 'app.info', {}, { Authorization: `Bearer ${token}`, Host: 'evil.example' })).status, 421)
    assert.equal((await call(port, 'app.info', {}, { Authorization: `Bearer ${token}`, Origin: 'http://evil.example' })).status, 403)
  })

  test('the session cookie is named for the port, HttpOnly, SameSite=Strict, for the whole site, and for this session only', async () => {
    const first = await http(port, { path: `/?token=${encodeURIComponent(token)}` })
    assert.equal(first.status, 303)
    const cookie = first.headers['set-cookie']?.[0] ?? ''
    assert.equal(cookie.split(';')[0], `grove_token_${port}=${encodeURIComponent(token)}`)
    assert.deepEqual(cookie.split(';').slice(1).map((a) => a.trim().toLowerCase()).sort(), ['httponly', 'path=/', 'samesite=strict'], 'no Domain, Max-Age or Expires')
    // A cookie that does not decode is no token (and no 500).
    assert.equal((await call(port, 'app.info', {}, { Cookie: `grove_token_${port}=%ZZ` })).status, 401)
    assert.equal((await call(port, 'app.info', {}, { Cookie: `other=1; grove_token_${port}=${encodeURIComponent(token)}` })).status, 200)
  })

  test('a server bound off loopback always has a token', () => {
    const server = new GroveServer({ api, host: '0.0.0.0', port: 0 })
    const explicit = new GroveServer({ api, host: '127.0.0.1', port: 0, token: 'a-token-given-on-the-command-line' })
    // Not listening: the token is decided at construction.
    assert.ok(server.token)
    assert.equal(explicit.token, 'a-token-given-on-the-command-line')
    void server.close()
    void explicit.close()
  })
})

describe('closing', () => {
  test('close() ends idle keep-alive connections and event sockets (1001) at once, and cuts a busy connection after a grace period', async () => {
    const server = new GroveServer({
      api,
      port: 0,
      staticDir: uiDir,
      // A generation that streams and never ends, until its connection is cut.
      openai: async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' })
        res.write('data: {}\n\n')
        await new Promise((resolve) => res.once('close', resolve))
        return true
      }
    })
    h.onTeardown(() => server.close())
    const { port } = await server.listen()
    const host = `Host: 127.0.0.1:${port}\r\n`

    const idle = rawConnection(port, 10_000, 'the idle keep-alive connection')
    let idleAnswered = false
    idle.socket.once('data', () => (idleAnswered = true))
    idle.socket.write(`GET / HTTP/1.1\r\n${host}\r\n`)
    const busy = rawConnection(port, 10_000, 'the busy connection')
    let busyStreaming = false
    busy.socket.once('data', () => (busyStreaming = true))
    busy.socket.write(`POST /v1/chat/completions HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`)
    const ws = await openEvents(port)
    assert.ok(ws instanceof WebSocket)
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    await waitFor(() => idleAnswered && busyStreaming, 5000, 'both connections to be answered')

    const started = Date.now()
    const closing = server.close()
    const idleReply = await idle.reply
    assert.equal(idleReply.status, 200)
    assert.ok(Date.now() - started < 1000, `the idle connection closed after ${Date.now() - started} ms`)
    assert.equal(await withTimeout(wsClosed, 1500, () => 'the event socket was not closed'), 1001)
    await busy.reply
    const busyTook = Date.now() - started
    assert.ok(busyTook >= 1500 && busyTook < 4000, `the busy connection was cut after ${busyTook} ms`)
    await withTimeout(closing, 5000, () => 'close() did not finish')
    await assert.rejects(http(port), { code: 'ECONNREFUSED' }, 'no new connection is accepted')
  })
})
