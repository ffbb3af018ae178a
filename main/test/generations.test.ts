// The generation scheduler (main/inference/scheduler.ts) and the two clients that share it under
// `grove serve`: the UI's `chat.start` and the OpenAI-compatible /v1. A limit on running
// generations that parallel requests cannot overrun, a bounded FIFO queue, then BUSY (429 with
// Retry-After on /v1); a waiter that gives up leaves the queue at once; a wait is bounded. Most
// tests use a fake inference service whose generations end when the test says; the last one
// runs the real worker on a tiny model.
import assert from 'node:assert/strict'
import { request as httpRequest, type ClientRequest } from 'node:http'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { EventPayload } from '../../shared/api.js'
import { isGroveError, type ErrorCode } from '../../shared/errors.js'
import { GroveApi } from '../api/api.js'
import type { Grove } from '../core/grove.js'
import { createOpenAIHandler, libraryModelSource, type ModelSource } from '../inference/openai.js'
import { BusyError, DEFAULT_MAX_QUEUED, DEFAULT_MAX_RUNNING, GenerationScheduler } from '../inference/scheduler.js'
import { InferenceService } from '../inference/service.js'
import { GroveServer } from '../server/server.js'
import { FakeInference } from '../testing/fake-inference.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness, waitFor, withTimeout } from '../testing/harness.js'
import { rawRequest, type RawReply } from '../testing/raw-http.js'

const h = new Harness()
let grove: Grove
let link: string

before(async () => {
  grove = await h.grove({ network: false })
  const path = join(await h.tmpDir('grove-generations-'), 'tiny.gguf')
  await writeLlamaModel(path, { seed: 8, name: 'Scheduled Tiny', embeddingLength: 64, blockCount: 2, license: 'mit' })
  const api = await GroveApi.create({ grove, inference: new FakeInference().service, transport: 'http' })
  link = (await api.call('library.share', { path })).link
  await api.close()
})
after(() => h.teardown())

const CHAT = { messages: [{ role: 'user' as const, content: 'Hello' }], maxTokens: 4 }
const V1_BODY = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 })

/** A Grove API (over the shared test Grove) and `grove serve`'s server with /v1, on one scheduler. */
async function serve(opts: { inference: InferenceService; scheduler?: GenerationScheduler; models?: ModelSource }) {
  const api = await GroveApi.create({ grove, inference: opts.inference, transport: 'http', scheduler: opts.scheduler })
  h.onTeardown(() => api.close())
  const models: ModelSource = opts.models ?? { list: async () => [{ id: 'tiny', created: 0 }], resolve: async () => ({ modelPath: '/fake/tiny.gguf' }) }
  const server = new GroveServer({ api, port: 0, openai: createOpenAIHandler({ service: opts.inference, models, scheduler: opts.scheduler }) })
  h.onTeardown(() => server.close())
  const { port } = await server.listen()
  const headers = (): Array<[string, string]> => [
    ['Host', `127.0.0.1:${port}`],
    ['Content-Type', 'application/json']
  ]
  return {
    api,
    port,
    v1: (body = V1_BODY, timeoutMs = 30_000) => rawRequest(port, { method: 'POST', target: '/v1/chat/completions', headers: headers(), body }, timeoutMs),
    call: (name: string, args: unknown) => rawRequest(port, { method: 'POST', target: `/api/call/${name}`, headers: headers(), body: JSON.stringify(args) })
  }
}

function errorCode(reply: RawReply): string | undefined {
  return (reply.json as { error?: { code?: string } } | null)?.error?.code
}

/** Collects the replies of requests still in flight as they arrive. */
function track(requests: Array<Promise<RawReply>>) {
  const replies: RawReply[] = []
  for (const r of requests) r.then((reply) => replies.push(reply), () => {})
  return replies
}

test('the scheduler: turns in order, a bounded queue, BUSY beyond it, bounded waits, withdrawals and close', async () => {
  const scheduler = new GenerationScheduler({ maxRunning: 1, maxQueued: 2, maxWaitMs: 300 })
  const order: string[] = []
  const first = scheduler.admit()
  const second = scheduler.admit()
  const third = scheduler.admit()
  assert.deepEqual([scheduler.running, scheduler.queued], [1, 2])
  assert.throws(
    () => scheduler.admit(),
    (err: unknown) => err instanceof BusyError && err.code === 'BUSY' && /1 generation running, 2 waiting/.test(err.message) && err.retryAfterSeconds >= 1 && err.retryAfterSeconds <= 60
  )
  void second.turn.then(() => order.push('second'))
  void third.turn.then(() => order.push('third'))
  await first.turn
  first.release()
  first.release()
  await second.turn
  assert.deepEqual([scheduler.running, scheduler.queued], [1, 1], 'a second release gives nothing back twice')
  second.release()
  await third.turn
  assert.deepEqual(order, ['second', 'third'], 'first come, first served')

  // A waiter that gives up leaves at once; one that waits too long gets BUSY.
  const controller = new AbortController()
  const leaving = scheduler.admit(controller.signal)
  const waiting = scheduler.admit()
  controller.abort()
  assert.equal(scheduler.queued, 1)
  await assert.rejects(leaving.turn, { name: 'AbortError' })
  const started = Date.now()
  await assert.rejects(waiting.turn, (err: unknown) => isGroveError(err) && err.code === 'BUSY' && /waited/.test(err.message))
  assert.ok(Date.now() - started < 2000)
  assert.equal(scheduler.queued, 0)

  const last = scheduler.admit()
  scheduler.close()
  await assert.rejects(last.turn, { code: 'CLOSED' })
  assert.throws(() => scheduler.admit(), { code: 'CLOSED' })
  third.release()
  assert.equal(scheduler.running, 0)
})

test('chat.start: parallel calls cannot overrun the limit (admission is atomic); the rest get BUSY', async () => {
  const fake = new FakeInference()
  // The API's own scheduler, with the default limits: the same as an app that passes none.
  const api = await GroveApi.create({ grove, inference: fake.service, transport: 'http' })
  h.onTeardown(() => api.close())
  const done = new Set<string>()
  api.on('chat.done', (d) => done.add(d.id))
  const outcomes = await Promise.all(Array.from({ length: 40 }, () => api.dispatch('chat.start', { link, ...CHAT })))
  const admitted = outcomes.filter((o) => o.ok).map((o) => (o.ok ? (o.result as { id: string }).id : ''))
  const refused = outcomes.flatMap((o) => (o.ok ? [] : [o.error.code as ErrorCode]))
  assert.equal(admitted.length, DEFAULT_MAX_RUNNING + DEFAULT_MAX_QUEUED, `${admitted.length} admitted`)
  assert.deepEqual(new Set(refused), new Set(['BUSY']))
  await waitFor(() => fake.active === DEFAULT_MAX_RUNNING, 5000, 'the first generation to start')
  for (let i = 0; i < admitted.length; i++) {
    await waitFor(() => fake.finishOne(), 5000, `generation ${i + 1} to run`)
    await waitFor(() => done.size === i + 1, 5000, `chat ${i + 1} to be done`)
  }
  assert.equal(fake.maxActive, DEFAULT_MAX_RUNNING, 'never more at once in the worker than the limit')
  assert.deepEqual(new Set(admitted), done)
})

test('/v1 beyond the queue answers 429 with Retry-After; the UI is still answered, and its chat runs once the queue drains', async () => {
  const fake = new FakeInference()
  const scheduler = new GenerationScheduler()
  const { api, v1, call } = await serve({ inference: fake.service, scheduler })
  const done: Array<EventPayload<'chat.done'>> = []
  api.on('chat.done', (d) => done.push(d))
  const capacity = DEFAULT_MAX_RUNNING + DEFAULT_MAX_QUEUED
  const replies = track(Array.from({ length: capacity + 3 }, () => v1()))
  await waitFor(() => replies.length === 3, 10_000, 'the requests beyond the queue to be refused')
  for (const reply of replies) {
    assert.equal(reply.status, 429)
    const retryAfter = Number(reply.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${reply.headers['retry-after']}`)
    const error = (reply.json as { error: { message: string; type: string; code: string } }).error
    assert.equal(error.code, 'rate_limit_exceeded')
    assert.equal(error.type, 'rate_limit_error')
    assert.match(error.message, /busy/i)
  }
  assert.deepEqual([scheduler.running, scheduler.queued], [DEFAULT_MAX_RUNNING, DEFAULT_MAX_QUEUED])

  // The UI: its calls are answered at once, and a chat is refused quickly rather than left hanging.
  const started = Date.now()
  assert.equal((await call('library.list', {})).status, 200)
  const busy = await call('chat.start', { link, ...CHAT })
  assert.equal(busy.status, 429)
  assert.equal(errorCode(busy), 'BUSY')
  assert.ok(Date.now() - started < 2000, 'answered within 2 s')

  // One finishes: a place frees up, and the chat takes it; it runs after the /v1 ahead of it.
  fake.finishOne()
  await waitFor(() => scheduler.queued === DEFAULT_MAX_QUEUED - 1, 5000, 'the next in line to start')
  const accepted = await call('chat.start', { link, ...CHAT })
  assert.equal(accepted.status, 200, accepted.body)
  const id = (accepted.json as { result: { id: string } }).result.id
  await waitFor(
    () => {
      fake.finishOne()
      return done.some((d) => d.id === id)
    },
    10_000,
    'the chat to run'
  )
  await waitFor(() => replies.length === capacity + 3, 10_000, 'every /v1 request to be answered')
  assert.equal(replies.filter((r) => r.status === 200).length, capacity)
  assert.equal(fake.maxActive, 1)
})

test('a /v1 client that hangs up while queued leaves the queue at once; a queued chat that is stopped ends cancelled', async () => {
  const fake = new FakeInference()
  const scheduler = new GenerationScheduler()
  const { api, port, v1 } = await serve({ inference: fake.service, scheduler })
  const running = v1()
  await waitFor(() => fake.active === 1, 5000, 'a generation to run')
  const hangingUp = openV1(port)
  await waitFor(() => scheduler.queued === 1, 5000, 'the second request to queue')
  hangingUp.destroy()
  await waitFor(() => scheduler.queued === 0, 1000, 'the hung-up request to leave the queue')

  const done: Array<EventPayload<'chat.done'>> = []
  api.on('chat.done', (d) => done.push(d))
  const { id } = await api.call('chat.start', { link, ...CHAT })
  assert.equal(scheduler.queued, 1)
  await api.call('chat.stop', { id })
  await waitFor(() => done.some((d) => d.id === id), 1000, 'the stopped chat to end')
  assert.equal(done.find((d) => d.id === id)?.stopReason, 'cancelled')
  assert.equal(scheduler.queued, 0)
  fake.finishAll()
  assert.equal((await running).status, 200)
  assert.equal(fake.calls, 1, 'neither the hung-up request nor the stopped chat reached the worker')
})

test('a request that waits longer than the bound gets BUSY (429 on /v1, chat.error for a chat)', async () => {
  const fake = new FakeInference()
  const scheduler = new GenerationScheduler({ maxWaitMs: 300 })
  const { api, v1 } = await serve({ inference: fake.service, scheduler })
  const running = v1()
  await waitFor(() => fake.active === 1, 5000, 'a generation to run')
  const started = Date.now()
  const late = await v1(V1_BODY, 5000)
  assert.equal(late.status, 429)
  assert.ok(Number(late.headers['retry-after']) >= 1)
  assert.ok(Date.now() - started < 3000)
  const errors: Array<EventPayload<'chat.error'>> = []
  api.on('chat.error', (e) => errors.push(e))
  const { id } = await api.call('chat.start', { link, ...CHAT })
  await waitFor(() => errors.some((e) => e.id === id), 3000, 'the waiting chat to give up')
  assert.equal(errors[0]?.code, 'BUSY')
  fake.finishAll()
  assert.equal((await running).status, 200)
})

test('with the real worker and a tiny model: one streams, one waits, the next is refused with 429; the waiting one is served when the first hangs up', async () => {
  const inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  const scheduler = new GenerationScheduler({ maxQueued: 1 })
  const models = libraryModelSource({ home: grove.home.root, load: { contextSize: 2048 } })
  const { api, port, v1, call } = await serve({ inference, scheduler, models })
  const body = (maxTokens: number, stream = false) => JSON.stringify({ model: link, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: maxTokens, temperature: 0, stream })

  const streaming = openV1(port, body(1800, true))
  await withTimeout(new Promise<void>((resolve) => streaming.once('response', (res) => res.once('data', () => resolve()))), 60_000, () => 'no first token')
  const waiting = v1(body(8), 60_000)
  await waitFor(() => scheduler.queued === 1, 5000, 'the second request to queue')
  const refused = await v1(body(8), 5000)
  assert.equal(refused.status, 429)
  assert.ok(Number(refused.headers['retry-after']) >= 1)
  assert.equal((await call('chat.start', { link, ...CHAT })).status, 429)

  streaming.destroy()
  const served = await waiting
  assert.equal(served.status, 200, served.body)
  assert.equal((served.json as { usage: { completion_tokens: number } }).usage.completion_tokens, 8)

  const done: Array<EventPayload<'chat.done'>> = []
  api.on('chat.done', (d) => done.push(d))
  const accepted = await call('chat.start', { link, ...CHAT, contextSize: 256 })
  assert.equal(accepted.status, 200, accepted.body)
  const id = (accepted.json as { result: { id: string } }).result.id
  await waitFor(() => done.some((d) => d.id === id), 60_000, 'the chat to finish')
  assert.deepEqual([scheduler.running, scheduler.queued], [0, 0])
})

/** A /v1 request whose connection the test can drop (node:http, so the reply can be read as it streams). */
function openV1(port: number, body = V1_BODY): ClientRequest {
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { 'Content-Type': 'application/json', Host: `127.0.0.1:${port}` } })
  req.on('error', () => {})
  req.end(body)
  return req
}
