// The API contract over real Groves on a local testnet (run in a network namespace): the
// dispatch boundary (unknown calls, bad arguments, results stripped to the contract, coded
// errors), the library, catalog, model page, licences, transfers, lineage, rooms and peers
// across two peers, pushed events, and chat through the inference worker.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { CALL_NAMES, Calls, type CallName, type EventName, type EventPayload } from '../../shared/api.js'
import { isGroveError, type ErrorCode } from '../../shared/errors.js'
import { formatLink, parseLink } from '../../shared/link.js'
import { GroveApi } from '../api/api.js'
import type { ApiEvent } from '../api/events.js'
import { SpeedMeter } from '../api/transfers.js'
import { estimateFit, fitsThisMachine } from '../api/views.js'
import type { Grove } from '../core/grove.js'
import { InferenceService } from '../inference/service.js'
import { Harness, waitFor } from '../testing/harness.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

const DIMS = { embeddingLength: 64, blockCount: 2 }

interface Peer {
  grove: Grove
  api: GroveApi
  events: ApiEvent[]
  /** Resolves with the first event (seen so far or later) that passes `test`. */
  next<E extends EventName>(event: E, test?: (payload: EventPayload<E>) => boolean, timeoutMs?: number): Promise<EventPayload<E>>
}

async function peer(opts: { network?: boolean; rooms?: [] } = {}): Promise<Peer> {
  const grove = await h.grove({ network: opts.network ?? true, rooms: opts.rooms })
  const inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  const api = await GroveApi.create({ grove, inference, transport: 'http', remoteTimeoutMs: 20_000, fetchTimeoutMs: 20_000 })
  h.onTeardown(() => api.close())
  const events: ApiEvent[] = []
  api.onEvent((m) => events.push(m))
  const next = async <E extends EventName>(event: E, test: (payload: EventPayload<E>) => boolean = () => true, timeoutMs = 30_000) => {
    let found: EventPayload<E> | undefined
    await waitFor(
      () => {
        const hit = events.find((m) => m.event === event && test(m.payload as EventPayload<E>))
        found = hit?.payload as EventPayload<E> | undefined
        return hit !== undefined
      },
      timeoutMs,
      `a ${event} event`
    )
    return found!
  }
  return { grove, api, events, next }
}

async function gguf(name: string, write: (path: string) => Promise<unknown>): Promise<string> {
  const path = join(await h.tmpDir('grove-api-'), `${name}.gguf`)
  await write(path)
  return path
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  try {
    await promise
  } catch (err) {
    assert.ok(isGroveError(err), `expected a GroveError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    if (message) assert.match(err.message, message)
    return
  }
  assert.fail(`expected ${code}`)
}

test('dispatch refuses unknown calls and bad arguments, maps errors to codes, and returns only what the contract names', async () => {
  const { api, grove, next } = await peer({ network: false })
  const bad = async (name: string, args: unknown) => {
    const outcome = await api.dispatch(name, args)
    assert.equal(outcome.ok, false, `${name} ${JSON.stringify(args)}`)
    if (!outcome.ok) assert.equal(outcome.error.code, 'BAD_INPUT', `${name}: ${outcome.error.message}`)
  }
  await bad('no.such.call', {})
  await bad('constructor', {})
  await bad('__proto__', {})
  await bad('library.list', { extra: 1 })
  await bad('library.list', 'text')
  await bad('library.setSeeding', { link: 'https://example.com/model.gguf', seeding: true })
  const malformed = await api.dispatch('library.setSeeding', { link: 'grove://short', seeding: true })
  assert.equal(malformed.ok ? 'ok' : malformed.error.code, 'BAD_LINK', 'a grove:// link with a bad key is a BAD_LINK')
  await bad('library.setSeeding', { link: `grove://${'a'.repeat(64)}`, seeding: 'yes' })
  await bad('rooms.join', { name: 'x', secret: 'both-at-once' })
  await bad('rooms.leave', { id: 'A'.repeat(64) })
  await bad('catalog.search', { limit: 0 })
  await bad('chat.start', { link: `grove://${'a'.repeat(64)}`, messages: [{ role: 'root', content: 'hi' }] })
  await bad('lineage.get', { link: 'x'.repeat(201) })

  // Every call of the contract has a handler.
  for (const name of CALL_NAMES) assert.ok(name in Calls)
  const info = await api.dispatch('app.info', undefined)
  assert.ok(info.ok)
  if (info.ok) {
    const result = info.result as { transport: string; peerKey: string; home: string }
    assert.equal(result.transport, 'http')
    assert.equal(result.peerKey, '', 'no swarm without the network')
    assert.equal(result.home, grove.home.root)
  }

  // Thrown errors travel as { code, message }.
  const missing = await api.dispatch('library.reclaim', { link: `grove://${'b'.repeat(64)}` })
  assert.deepEqual(missing, { ok: false, error: { code: 'NOT_FOUND', message: 'That model is not in the library' } })
  const notGguf = await api.dispatch('library.share', { path: join(await h.tmpDir(), 'nothing.gguf') })
  assert.equal(notGguf.ok, false)

  // The library item carries only the contract's fields (the core's extra disk figure stays home).
  const path = await gguf('boundary', (p) => writeLlamaModel(p, { ...DIMS, seed: 11, name: 'Boundary Model', license: 'apache-2.0' }))
  const shared = await api.call('library.share', { path, description: 'for the boundary test' })
  assert.equal(shared.kind, 'model')
  assert.equal(shared.name, 'Boundary Model')
  const items = await api.call('library.list', {})
  assert.equal(items.length, 1)
  assert.deepEqual(Object.keys(items[0]!.disk).sort(), ['blockBytes', 'fileBytes', 'inPlace'])
  assert.deepEqual(items[0]!.disk, { blockBytes: 0, fileBytes: 0, inPlace: true }, 'a shared model seeds from its own file: no copy')
  assert.equal(items[0]!.license, 'apache-2.0')
  assert.equal(items[0]!.origin, 'shared')
  const library = await next('library', (list) => list.some((i) => i.link === shared.link))
  assert.equal(library[0]?.name, 'Boundary Model')

  const detail = await api.call('model.get', { link: shared.link })
  assert.equal(detail.inLibrary, true)
  assert.equal(detail.licenseNeedsAcceptance, false)
  assert.match(detail.card ?? '', /Boundary Model/)

  await api.close()
  assert.deepEqual(await api.dispatch('app.info', {}), { ok: false, error: { code: 'CLOSED', message: 'Grove is shutting down' } })

  // A download left unfinished by an earlier run shows as a paused transfer, ready to resume.
  const entry = grove.library.get(parseLink(shared.link).keyHex)!
  const keyHex = 'd'.repeat(64)
  await grove.library.put({ ...entry, keyHex, link: formatLink(keyHex), origin: 'fetched', complete: false, path: undefined })
  const later = await GroveApi.create({ grove, inference: api.inference, transport: 'http' })
  h.onTeardown(() => later.close())
  const [unfinished] = await later.call('transfers.list', {})
  assert.deepEqual([unfinished?.link, unfinished?.state, unfinished?.name, unfinished?.total], [formatLink(keyHex), 'paused', 'Boundary Model', shared.size])
})

test('two peers: catalog, model page, licence acceptance before download, transfers, lineage, rooms, peers, seeding and reclaim', async () => {
  const a = await peer()
  const basePath = await gguf('base', (p) => writeLlamaModel(p, { ...DIMS, seed: 1, name: 'Gated Base', license: 'llama3.1' }))
  const base = await a.api.call('library.share', { path: basePath })
  const adapterPath = await gguf('adapter', (p) => writeLoraAdapter(p, { base: { ...DIMS, seed: 1 }, seed: 2, name: 'Gated Base LoRA' }))
  const adapter = await a.api.call('library.share', { path: adapterPath, parents: [base.link], relation: 'adapter', license: 'mit' })
  await a.next('catalog', (c) => c.size >= 2)
  // Our own model needs no acceptance to run or seed.
  assert.equal((await a.api.call('model.get', { link: base.link })).licenseAccepted, true)

  const b = await peer()
  await waitFor(() => b.grove.catalog.has(base.link) && b.grove.catalog.has(adapter.link), 30_000, 'B to see A’s catalog')
  await b.next('catalog', (c) => c.size >= 2)
  await b.next('peers', (list) => list.some((p) => p.publicKey === a.grove.swarm.publicKey))

  const found = await b.api.call('catalog.search', { text: 'gated' })
  assert.deepEqual(found.items.map((i) => i.name).sort(), ['Gated Base', 'Gated Base LoRA'])
  assert.equal(found.total, 2)
  assert.deepEqual(Object.keys(found.items[0]!).filter((k) => !['architecture', 'license', 'quantization', 'parameterCount'].includes(k)).sort(), ['kind', 'link', 'local', 'name', 'parents', 'seeders', 'sha256', 'size', 'source'])
  assert.deepEqual((await b.api.call('catalog.search', { kind: 'adapter' })).items.map((i) => i.name), ['Gated Base LoRA'])
  assert.deepEqual((await b.api.call('catalog.search', { relation: 'adapter', fitsThisMachine: true })).items.map((i) => i.name), ['Gated Base LoRA'])
  const fitting = await b.api.call('catalog.search', { fitsThisMachine: true, limit: 1 })
  assert.equal(fitting.total, 2, 'tiny models fit')
  assert.equal(fitting.items.length, 1)
  const estimate = await b.api.call('chat.fit', { link: base.link })
  assert.match(estimate.summary, /rough estimate/)
  assert.equal(estimate.verdict, 'fits')

  // The model page, read from the swarm.
  const page = await b.api.call('model.get', { link: base.link })
  assert.equal(page.manifest.name, 'Gated Base')
  assert.equal(page.manifest.license, 'llama3.1')
  assert.equal(page.inLibrary, false)
  assert.equal(page.licenseNeedsAcceptance, true)
  assert.equal(page.licenseAccepted, false)
  assert.ok(page.seeders >= 1)
  assert.match(page.card ?? '', /license: llama3\.1/)

  // No download before the licence is accepted; the acceptance is recorded in the home.
  await rejectsWith(b.api.call('transfers.start', { link: base.link }), 'LICENSE_NOT_ACCEPTED', /llama3\.1/)
  assert.deepEqual(await b.api.call('license.accept', { link: base.link }), { accepted: true })
  const record = JSON.parse(await readFile(join(b.grove.home.root, 'licenses.json'), 'utf8')) as { accepted: Array<{ link: string; license: string }> }
  assert.deepEqual(record.accepted.map((r) => [r.link, r.license]), [[base.link, 'llama3.1']])
  assert.equal((await b.api.call('model.get', { link: base.link })).licenseAccepted, true)

  const started = await b.api.call('transfers.start', { link: base.link })
  assert.equal(started.link, base.link)
  assert.ok(['connecting', 'downloading', 'verifying', 'done'].includes(started.state))
  const done = await b.next('transfer', (t) => t.link === base.link && t.state === 'done')
  assert.equal(done.bytes, base.size)
  assert.equal(done.total, base.size)
  assert.equal(done.etaSeconds, 0)
  assert.equal(done.name, 'Gated Base')
  const states = b.events.filter((m): m is Extract<ApiEvent, { event: 'transfer' }> => m.event === 'transfer').map((m) => m.payload.state)
  assert.equal(states[0], 'connecting')
  assert.ok(states.includes('downloading'), states.join(' → '))
  assert.deepEqual((await b.api.call('transfers.list', {})).map((t) => [t.link, t.state]), [[base.link, 'done']])
  const fetched = (await b.api.call('library.list', {})).find((i) => i.link === base.link)
  assert.equal(fetched?.complete, true)
  assert.equal(fetched?.origin, 'fetched')
  assert.equal(fetched?.seeding, true)
  await b.next('library', (list) => list.some((i) => i.link === base.link && i.complete))

  // The adapter has an open licence: no acceptance needed.
  await b.api.call('transfers.start', { link: adapter.link })
  await b.next('transfer', (t) => t.link === adapter.link && t.state === 'done')

  const graph = await b.api.call('lineage.get', { link: adapter.link })
  assert.equal(graph.root, adapter.link)
  assert.ok(graph.nodes.some((n) => n.link === base.link && n.role === 'ancestor'))
  const edge = graph.edges.find((e) => e.parent === base.link && e.child === adapter.link)
  assert.equal(edge?.relation, 'adapter')
  await rejectsWith(b.api.call('lineage.get', { link: 'grove://not-a-key' }), 'BAD_LINK')

  // Peers: who, which rooms, bytes exchanged.
  const rooms = await b.api.call('rooms.list', {})
  assert.equal(rooms.length, 1)
  assert.equal(rooms[0]?.kind, 'public')
  await waitFor(async () => ((await b.api.call('rooms.list', {}))[0]?.peers ?? 0) >= 1, 10_000, 'A in the public room')
  const peers = await b.api.call('peers.list', {})
  const seenA = peers.find((p) => p.publicKey === a.grove.swarm.publicKey)
  assert.ok(seenA, 'A is a peer of B')
  assert.deepEqual(seenA.rooms, [rooms[0]?.id])
  assert.ok(seenA.downloadedBytes >= base.size, `B downloaded ${seenA.downloadedBytes} bytes from A`)
  assert.ok(seenA.connectedAt > 0)
  await waitFor(async () => ((await a.api.call('peers.list', {})).find((p) => p.publicKey === b.grove.swarm.publicKey)?.uploadedBytes ?? 0) >= base.size, 10_000, 'A to count its upload')
  await a.next('peers', (list) => list.some((p) => p.publicKey === b.grove.swarm.publicKey && p.uploadedBytes >= base.size), 10_000)

  // Rooms: join a named one, leave it; bad requests are coded.
  const physics = await b.api.call('rooms.join', { name: 'physics' })
  assert.deepEqual([physics.kind, physics.name], ['named', 'physics'])
  const lab = await b.api.call('rooms.join', { secret: 'a-long-lab-secret', label: 'lab' })
  assert.deepEqual([lab.kind, lab.name], ['private', 'lab'])
  assert.equal((await b.api.call('rooms.list', {})).length, 3)
  assert.deepEqual(await b.api.call('rooms.leave', { id: physics.id }), {})
  assert.deepEqual(await b.api.call('rooms.leave', { id: lab.id }), {})
  assert.equal((await b.api.call('rooms.list', {})).length, 1)
  await rejectsWith(b.api.call('rooms.leave', { id: physics.id }), 'NOT_FOUND')
  await rejectsWith(b.api.call('rooms.join', { secret: 'short' }), 'BAD_INPUT')

  // Seeding on/off, and reclaiming the seeding copy.
  assert.equal((await b.api.call('library.setSeeding', { link: base.link, seeding: false })).seeding, false)
  assert.equal(b.grove.seededKeys.length, 1, 'only the adapter is still announced')
  assert.equal((await b.api.call('library.setSeeding', { link: base.link, seeding: true })).seeding, true)
  const { freedBytes } = await b.api.call('library.reclaim', { link: base.link })
  assert.equal(freedBytes, base.size)
  const reclaimed = (await b.api.call('library.list', {})).find((i) => i.link === base.link)
  assert.deepEqual([reclaimed?.seeding, reclaimed?.disk.blockBytes, reclaimed?.complete], [false, 0, true])
  await rejectsWith(b.api.call('library.setSeeding', { link: base.link, seeding: true }), 'BAD_INPUT', /reclaimed/)

  // Running a model whose licence was never accepted here is refused too.
  await rm(join(b.grove.home.root, 'licenses.json'))
  const fresh = await GroveApi.create({ grove: b.grove, inference: b.api.inference, transport: 'http' })
  h.onTeardown(() => fresh.close())
  await rejectsWith(fresh.call('chat.start', { link: base.link, messages: [{ role: 'user', content: 'hi' }] }), 'LICENSE_NOT_ACCEPTED')
  await rejectsWith(fresh.call('transfers.start', { link: base.link }), 'LICENSE_NOT_ACCEPTED')
})

test('pause stops a download and resume finishes it; unknown transfers are NOT_FOUND', async () => {
  const a = await peer()
  const model = await a.api.call('library.share', { path: await gguf('open', (p) => writeLlamaModel(p, { ...DIMS, seed: 3, name: 'Open Model', license: 'MIT' })) })
  const b = await peer()
  await waitFor(() => b.grove.catalog.has(model.link), 30_000, 'B to see the model')

  await rejectsWith(b.api.call('transfers.pause', { link: model.link }), 'NOT_FOUND')
  await rejectsWith(b.api.call('transfers.resume', { link: model.link }), 'NOT_FOUND')
  b.api.transfers.start(model.link)
  const paused = await b.api.call('transfers.pause', { link: model.link })
  assert.equal(paused.state, 'paused')
  assert.equal(paused.bytesPerSecond, 0)
  assert.equal(paused.etaSeconds, null)
  // The run winds down and stays paused.
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal((await b.api.call('transfers.list', {}))[0]?.state, 'paused')
  assert.notEqual(b.grove.library.get(parseLink(model.link).keyHex)?.complete, true)

  const resumed = await b.api.call('transfers.resume', { link: model.link })
  assert.ok(['connecting', 'downloading', 'verifying', 'done'].includes(resumed.state))
  const done = await b.next('transfer', (t) => t.link === model.link && t.state === 'done')
  assert.equal(done.bytes, model.size)
  // Starting a finished model again is harmless: it is already there.
  await b.api.call('transfers.start', { link: model.link })
  await waitFor(async () => (await b.api.call('transfers.list', {}))[0]?.state === 'done', 10_000, 'done again')
  const again = await b.api.call('transfers.pause', { link: model.link })
  assert.equal(again.state, 'done', 'pausing a finished transfer changes nothing')
})

test('a transfer started from a link with a seeder reaches a home that does not announce the model', async () => {
  // In no room, so B meets A only through the seeder the link names.
  const a = await peer({ rooms: [] })
  a.grove.setAnnounceLimit(0)
  const model = await a.api.call('library.share', { path: await gguf('lab', (p) => writeLlamaModel(p, { ...DIMS, seed: 4, name: 'Lab Model', license: 'MIT' })) })
  assert.equal(a.grove.announcedCount, 0)
  const b = await peer({ rooms: [] })
  const withSeeder = formatLink(parseLink(model.link).keyHex, undefined, [a.grove.swarm.publicKey])
  const started = await b.api.call('transfers.start', { link: withSeeder })
  assert.equal(started.link, model.link, 'the transfer is known by the model\'s own link')
  const done = await b.next('transfer', (t) => t.link === model.link && (t.state === 'done' || t.state === 'error'))
  assert.equal(done.state, 'done', JSON.stringify(done.error))
  assert.equal(done.bytes, model.size)
})

test('chat: fit verdict, streamed tokens, done with timings, stop, and refusals', async () => {
  const a = await peer({ network: false })
  const model = await a.api.call('library.share', { path: await gguf('chat', (p) => writeLlamaModel(p, { ...DIMS, seed: 42, name: 'Chat Tiny' })) })
  const fit = await a.api.call('chat.fit', { link: model.link, contextSize: 256 })
  assert.equal(fit.verdict, 'fits')
  assert.ok(fit.needRam > 0 && fit.freeRam > 0)
  assert.doesNotMatch(fit.summary, /rough estimate/, 'a downloaded model gets llama.cpp’s estimate')

  const { id } = await a.api.call('chat.start', { link: model.link, messages: [{ role: 'user', content: 'Hello there' }], maxTokens: 12, temperature: 0, seed: 7, contextSize: 256 })
  const done = await a.next('chat.done', (d) => d.id === id, 60_000)
  const tokens = a.events.filter((m): m is Extract<ApiEvent, { event: 'chat.token' }> => m.event === 'chat.token' && m.payload.id === id)
  assert.ok(tokens.length > 0, 'tokens are streamed')
  assert.equal(tokens.map((t) => t.payload.text).join(''), done.text)
  assert.ok(['eos', 'maxTokens', 'stop'].includes(done.stopReason))
  assert.ok(done.timings.tokensPerSecond > 0)

  const long = await a.api.call('chat.start', { link: model.link, messages: [{ role: 'user', content: 'Tell me everything' }], maxTokens: 4000, temperature: 0.8, seed: 1, contextSize: 4096 })
  await a.next('chat.token', (t) => t.id === long.id, 60_000)
  assert.deepEqual(await a.api.call('chat.stop', { id: long.id }), {})
  const stopped = await a.next('chat.done', (d) => d.id === long.id, 60_000)
  assert.equal(stopped.stopReason, 'cancelled')
  assert.deepEqual(await a.api.call('chat.stop', { id: 'never-started' }), {}, 'stopping is idempotent')

  await rejectsWith(a.api.call('chat.start', { link: model.link, messages: [{ role: 'assistant', content: 'hi' }] }), 'BAD_INPUT', /last message/)
  await rejectsWith(a.api.call('chat.start', { link: `grove://${'c'.repeat(64)}`, messages: [{ role: 'user', content: 'hi' }] }), 'NOT_FOUND')
  const adapter = await a.api.call('library.share', { path: await gguf('lora', (p) => writeLoraAdapter(p, { base: { ...DIMS, seed: 42 }, seed: 9 })) })
  await rejectsWith(a.api.call('chat.start', { link: adapter.link, messages: [{ role: 'user', content: 'hi' }] }), 'BAD_INPUT', /adapter/)
  // A generation that fails in the worker ends with chat.error.
  const wrong = await a.api.call('chat.start', { link: model.link, adapters: [{ link: model.link, scale: 1 }], messages: [{ role: 'user', content: 'hi' }] }).catch((err: unknown) => err)
  assert.ok(isGroveError(wrong) && wrong.code === 'BAD_INPUT', 'a model is not an adapter')
  const info = await a.api.call('app.info', {})
  assert.equal(info.hardware.gpu, false)
})

test('speed, ETA history and the rough memory estimate', () => {
  const meter = new SpeedMeter(3000, 1000, 5)
  meter.sample(0, 1000)
  assert.equal(meter.bytesPerSecond, 0, 'the first sample is only the baseline (a resumed download)')
  meter.sample(1000, 11_000)
  assert.equal(meter.bytesPerSecond, 10_000)
  for (let t = 2000; t <= 10_000; t += 1000) meter.sample(t, 11_000 + (t - 1000) * 20)
  assert.equal(Math.round(meter.bytesPerSecond), 20_000)
  assert.equal(meter.history().length, 5, 'the history is bounded')
  meter.restart()
  assert.equal(meter.bytesPerSecond, 0)
  const memory = { ramFree: 8e9, ramTotal: 16e9 }
  assert.ok(fitsThisMachine(4e9, memory))
  assert.ok(!fitsThisMachine(8e9, memory))
  assert.equal(estimateFit(10e9, memory).verdict, 'tight')
  assert.equal(estimateFit(20e9, memory).verdict, 'wontFit')
})

// Keep the call table honest: a contract call without a test mention is easy to forget.
const covered: CallName[] = ['app.info', 'library.list', 'library.share', 'library.setSeeding', 'library.reclaim', 'catalog.search', 'model.get', 'lineage.get', 'rooms.list', 'rooms.join', 'rooms.leave', 'peers.list', 'transfers.list', 'transfers.start', 'transfers.pause', 'transfers.resume', 'license.accept', 'chat.fit', 'chat.start', 'chat.stop']
test('every call of the contract is exercised here', () => {
  assert.deepEqual([...covered].sort(), [...CALL_NAMES].sort())
})

