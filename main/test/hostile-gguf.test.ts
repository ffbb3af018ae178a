// Malformed GGUF files, by class (main/testing/hostile-gguf.ts): every one is refused with its
// reason, in bounded time and memory, by the header reader, the probe, `grove info`, `share`
// and `run`, `library.share` over the API, and `grove serve` stays responsive and stops on
// SIGTERM while it refuses them. Nothing is ever published.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { GroveApi } from '../api/api.js'
import { readGgufHeader } from '../gguf/header.js'
import { probeGguf } from '../gguf/probe.js'
import { InferenceService } from '../inference/service.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'
import { Harness } from '../testing/harness.js'
import { hostileGgufCorpus, type HostileCase } from '../testing/hostile-gguf.js'

const MB = 1e6
/** The bounds: info and share within 20 s, run within 30 s, each under 400 MB. */
const INFO_SHARE_MS = 20_000
const RUN_MS = 30_000
const PEAK_RSS = 400 * MB

const h = new Harness()
let dir: string
let cases: Array<HostileCase & { path: string }>
let modelPath: string
let adapterPath: string

before(async () => {
  dir = await h.tmpDir('grove-hostile-gguf-')
  modelPath = join(dir, 'base.gguf')
  adapterPath = join(dir, 'base-lora.gguf')
  await writeLlamaModel(modelPath, { seed: 3, name: 'Hostile Base' })
  await writeLoraAdapter(adapterPath, { base: { seed: 3 } })
  const corpus = await hostileGgufCorpus(modelPath, adapterPath)
  cases = []
  for (const [i, c] of corpus.entries()) {
    const path = join(dir, `case-${String(i).padStart(3, '0')}.gguf`)
    await writeFile(path, c.bytes)
    cases.push({ ...c, path })
  }
})
after(() => h.teardown())

/** One case of each class that the header refuses, and the readable ones llama.cpp refuses (the adapters' too). */
function sample(): Array<HostileCase & { path: string }> {
  const seen = new Set<string>()
  const picked = cases.filter((c) => c.stage === 'header' && !seen.has(c.class) && seen.add(c.class))
  const names = ['unknown architecture', 'a tensor missing', 'block count 2^31', 'short scores array', 'adapter: alpha not a float32']
  return [...picked, ...cases.filter((c) => names.includes(c.name))]
}

test('the corpus covers every class, and the files it starts from are good', async () => {
  const classes = new Set(cases.map((c) => c.class))
  for (const cls of ['not-gguf', 'version', 'counts', 'lengths', 'nesting', 'types', 'dims', 'offsets', 'alignment', 'truncation', 'duplicates', 'semantics']) {
    assert.ok(classes.has(cls as HostileCase['class']), `no ${cls} case`)
  }
  assert.ok(cases.length >= 70, `${cases.length} cases`)
  // The bounds never refuse a real file: the model and the adapter open.
  assert.equal((await probeGguf(modelPath)).problem, null)
  assert.equal((await probeGguf(adapterPath)).problem, null)
})

test('the header reader refuses what a file cannot hold, at once and in bounded memory', async () => {
  const rssBefore = process.memoryUsage().rss
  for (const c of cases.filter((x) => x.stage === 'header')) {
    const started = performance.now()
    await assert.rejects(readGgufHeader(c.path), (err: { code?: string; message: string }) => {
      assert.equal(err.code, c.code, `${c.name}: ${err.message}`)
      assert.match(err.message, c.reason, c.name)
      assert.ok(!err.message.includes('\n'), `${c.name}: one line`)
      return true
    })
    assert.ok(performance.now() - started < 5000, `${c.name} took ${Math.round(performance.now() - started)} ms`)
  }
  const grown = process.memoryUsage().rss - rssBefore
  assert.ok(grown < 100 * MB, `the reader's process grew by ${Math.round(grown / MB)} MB`)
})

test('the probe finds what only llama.cpp refuses, within its time and memory limits', async () => {
  for (const c of cases.filter((x) => x.stage === 'open')) {
    const started = performance.now()
    const { problem } = await probeGguf(c.path)
    assert.ok(problem !== null, `${c.name}: not refused`)
    assert.match(problem, c.reason, c.name)
    assert.ok(performance.now() - started < INFO_SHARE_MS, `${c.name} took ${Math.round(performance.now() - started)} ms`)
  }
})

test('grove info, share and run refuse each class within the bounds, and publish nothing', async () => {
  const home = await h.tmpDir('grove-hostile-home-')
  for (const c of sample()) {
    const info = await h.runGrove(['--home', home, '--json', 'info', c.path], { measure: true, timeoutMs: INFO_SHARE_MS + 10_000 })
    assert.ok(info.wallMs! < INFO_SHARE_MS, `info ${c.name}: ${Math.round(info.wallMs!)} ms`)
    assert.ok(info.peakRssBytes! < PEAK_RSS, `info ${c.name}: ${Math.round(info.peakRssBytes! / MB)} MB`)
    if (c.stage === 'header') {
      assert.notEqual(info.code, 0, `info ${c.name}`)
      assertOneLineError(info.stderr, c)
    } else {
      // A readable header is described, with why it cannot be loaded.
      assert.equal(info.code, 0, `info ${c.name}: ${info.stderr}`)
      const described = info.json.at(-1)!
      assert.equal(described.loadable, false, c.name)
      assert.match(String(described.problem), c.reason, c.name)
    }

    const share = await h.runGrove(['--home', home, 'share', c.path], { measure: true, timeoutMs: INFO_SHARE_MS + 10_000 })
    assert.notEqual(share.code, 0, `share ${c.name} was published`)
    assert.ok(share.wallMs! < INFO_SHARE_MS, `share ${c.name}: ${Math.round(share.wallMs!)} ms`)
    assert.ok(share.peakRssBytes! < PEAK_RSS, `share ${c.name}: ${Math.round(share.peakRssBytes! / MB)} MB`)
    assertOneLineError(share.stderr, c)

    if (!c.name.startsWith('adapter')) {
      const run = await h.runGrove(['--home', home, 'run', c.path, '--prompt', 'hi', '--max-tokens', '2'], { measure: true, timeoutMs: RUN_MS + 10_000 })
      assert.notEqual(run.code, 0, `run ${c.name} ran`)
      assert.ok(run.wallMs! < RUN_MS, `run ${c.name}: ${Math.round(run.wallMs!)} ms`)
      assert.ok(run.peakRssBytes! < PEAK_RSS, `run ${c.name}: ${Math.round(run.peakRssBytes! / MB)} MB`)
      assert.equal(run.stderr.trim().split('\n').filter((l) => l.startsWith('grove:')).length, 1, `run ${c.name}: ${run.stderr}`)
      assert.doesNotMatch(run.stderr, /\n\s+at |Cannot read properties/, `run ${c.name}`)
    }
  }
  const ls = await h.runGrove(['--home', home, '--json', 'ls'])
  assert.deepEqual(ls.json.at(-1)!.models, [], 'nothing was published')
})

function assertOneLineError(stderr: string, c: HostileCase): void {
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, `${c.name}: ${stderr}`)
  assert.match(lines[0]!, /^grove: /)
  assert.doesNotMatch(stderr, /Cannot read properties|\n\s+at /, c.name)
  if (c.stage === 'header') assert.match(lines[0]!, c.reason, c.name)
}

test('library.share over the API refuses each class with a coded error and publishes nothing', async () => {
  const grove = await h.grove({ network: false })
  const inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  const api = await GroveApi.create({ grove, inference, transport: 'http' })
  h.onTeardown(() => api.close())
  for (const c of sample()) {
    const outcome = await api.dispatch('library.share', { path: c.path })
    assert.equal(outcome.ok, false, `${c.name} was published`)
    if (outcome.ok) continue
    assert.equal(outcome.error.code, c.code, `${c.name}: ${outcome.error.message}`)
    assert.match(outcome.error.message, c.reason, c.name)
  }
  assert.deepEqual(await api.call('library.list', {}), [])
})

test('grove serve answers while it refuses hostile files, and stops within 10 s of SIGTERM', async () => {
  const home = await h.tmpDir('grove-hostile-serve-')
  const proc = h.spawnGrove(['serve', '--json', '--port', '0', '--home', home, '--bootstrap', await h.bootstrapArg()])
  const url = String((await proc.waitForJson((l) => l.event === 'listening', 60_000)).url)
  const call = (name: string, args: unknown) =>
    fetch(new URL(`/api/call/${name}`, url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(args), signal: AbortSignal.timeout(30_000) })
  const hostile = ['unknown architecture', 'block count 2^31', '24 bytes, 2^63-1 key-value pairs', 'string length 1e9', 'n_dims 5'].map((name) => cases.find((c) => c.name === name)!)
  const shares = hostile.map((c) => call('library.share', { path: c.path }).then(async (res) => ({ c, status: res.status, body: (await res.json()) as { ok: boolean } })))
  // Meanwhile the server answers other calls at once.
  const started = performance.now()
  const info = await call('app.info', {})
  assert.equal(info.status, 200)
  await info.arrayBuffer()
  assert.ok(performance.now() - started < 3000, `app.info took ${Math.round(performance.now() - started)} ms while shares ran`)
  for (const { c, status, body } of await Promise.all(shares)) {
    assert.ok(status >= 400 && status < 500, `${c.name}: HTTP ${status}`)
    assert.equal(body.ok, false)
  }
  const stopping = performance.now()
  proc.kill('SIGTERM')
  const run = await proc.finished(30_000)
  assert.equal(run.code, 0, run.stderr)
  assert.ok(performance.now() - stopping < 10_000, `stopped ${Math.round(performance.now() - stopping)} ms after SIGTERM`)
})
