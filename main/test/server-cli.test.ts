// `grove serve` as a command: it prints where it listens (and the token off loopback), serves
// the API, and closes everything on SIGTERM so the home is free again.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { DEFAULT_MAX_QUEUED, DEFAULT_MAX_RUNNING } from '../inference/scheduler.js'
import { CONTENT_SECURITY_POLICY } from '../server/server.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness, waitFor } from '../testing/harness.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

async function post(url: string, name: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; csp: string | null }> {
  const res = await fetch(new URL(`/api/call/${name}`, url), { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}', signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: await res.json(), csp: res.headers.get('content-security-policy') }
}

test('grove serve: prints the address, serves the API on loopback, stops cleanly on SIGTERM', async () => {
  const home = await h.tmpDir('grove-serve-home-')
  const proc = h.spawnGrove(['serve', '--json', '--port', '0', '--home', home, '--bootstrap', await h.bootstrapArg()])
  const listening = await proc.waitForJson((l) => l.event === 'listening', 60_000)
  const url = String(listening.url)
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  assert.equal(listening.token, undefined, 'no token on loopback')
  const info = await post(url, 'app.info')
  assert.equal(info.status, 200)
  assert.equal(info.csp, CONTENT_SECURITY_POLICY)
  const result = (info.body as { result: { transport: string; home: string; peerKey: string } }).result
  assert.equal(result.transport, 'http')
  assert.equal(result.home, home)
  assert.match(result.peerKey, /^[0-9a-f]{64}$/)
  const page = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY)
  await page.arrayBuffer()

  proc.kill('SIGTERM')
  // Generous: closing the swarm may wait for its unannouncements.
  const run = await proc.finished(90_000)
  assert.equal(run.code, 0, run.stderr)
  const ls = await h.runGrove(['ls', '--json', '--home', home])
  assert.equal(ls.code, 0, 'the home is usable again')
  const reuse = h.spawnGrove(['serve', '--json', '--port', '0', '--home', home, '--bootstrap', await h.bootstrapArg()])
  await reuse.waitForJson((l) => l.event === 'listening', 60_000)
  reuse.kill('SIGINT')
  assert.equal((await reuse.finished(90_000)).code, 0, 'the lock was released')
})

test('grove serve off loopback: a token is generated, printed and required', async () => {
  const home = await h.tmpDir('grove-serve-home-')
  const proc = h.spawnGrove(['serve', '--json', '--host', '0.0.0.0', '--port', '0', '--home', home, '--bootstrap', await h.bootstrapArg()])
  const listening = await proc.waitForJson((l) => l.event === 'listening', 60_000)
  const token = String(listening.token)
  assert.ok(token.length >= 32)
  assert.match(String(listening.openUrl), new RegExp(`\\?token=${token}$`))
  const port = new URL(String(listening.url)).port
  const url = `http://127.0.0.1:${port}/`
  assert.equal((await post(url, 'library.list')).status, 401)
  assert.equal((await post(url, 'library.list', { Authorization: `Bearer ${token}` })).status, 200)
  proc.kill('SIGTERM')
  assert.equal((await proc.finished(90_000)).code, 0)
})

test('grove serve with /v1 queued full: 429s beyond the queue, the UI still answers, and SIGTERM exits within 10 s', async () => {
  const home = await h.tmpDir('grove-serve-home-')
  const file = join(await h.tmpDir('grove-serve-model-'), 'busy.gguf')
  await writeLlamaModel(file, { seed: 4, name: 'Busy Tiny', embeddingLength: 64, blockCount: 2, license: 'mit' })
  const shared = await h.runGrove(['--home', home, '--json', 'share', file])
  assert.equal(shared.code, 0, shared.stderr)
  const link = String(shared.json.at(-1)?.link)
  const proc = h.spawnGrove(['serve', '--json', '--port', '0', '--home', home, '--bootstrap', await h.bootstrapArg()])
  const url = String((await proc.waitForJson((l) => l.event === 'listening', 60_000)).url)

  // Long streamed generations, more than run and wait together; their bodies are never read to the end.
  const clients = new AbortController()
  const statuses: number[] = []
  const body = JSON.stringify({ model: link, messages: [{ role: 'user', content: 'Tell me a long story' }], max_tokens: 400, stream: true })
  const capacity = DEFAULT_MAX_RUNNING + DEFAULT_MAX_QUEUED
  for (let i = 0; i < capacity + 3; i++) {
    fetch(new URL('/v1/chat/completions', url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: clients.signal }).then(
      (res) => statuses.push(res.status),
      () => {}
    )
  }
  await waitFor(() => statuses.filter((s) => s === 429).length === 3, 30_000, 'three 429s')
  const started = Date.now()
  assert.equal((await post(url, 'library.list')).status, 200)
  assert.ok(Date.now() - started < 2000, 'the UI is answered at once')

  const stopping = Date.now()
  proc.kill('SIGTERM')
  const run = await proc.finished(30_000)
  const took = Date.now() - stopping
  clients.abort()
  assert.equal(run.code, 0, run.stderr)
  assert.ok(took < 10_000, `exited ${took} ms after SIGTERM`)
})

test('grove serve refuses bad options', async () => {
  const home = await h.tmpDir('grove-serve-home-')
  const badPort = await h.runGrove(['serve', '--port', '70000', '--home', home])
  assert.equal(badPort.code, 2)
  assert.match(badPort.stderr, /--port/)
  const weak = await h.runGrove(['serve', '--token', 'short', '--home', home])
  assert.equal(weak.code, 2)
  assert.match(weak.stderr, /--token/)
  const badHost = await h.runGrove(['serve', '--allow-host', 'evil.example:80', '--home', home])
  assert.equal(badHost.code, 2)
})
