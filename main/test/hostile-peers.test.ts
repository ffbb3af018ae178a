// Peers that lie (drives whose signed entries claim impossible data) or stall (connected, with
// every block, sending none): fetch and info end within --timeout + 20 s, in bounded memory,
// with a one-line error; a stalling peer is dropped while another serves; and the home is
// never poisoned: `grove seed` on it starts within 20 s whatever came in.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { BlobId } from 'hyperblobs'
import { parseLink } from '../../shared/link.js'
import { CARD_PATH, MANIFEST_PATH } from '../../shared/manifest.js'
import { sha256File } from '../core/sha256.js'
import { watchStalls } from '../core/block-download.js'
import type { Grove } from '../core/grove.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { GroveProcess, Harness, REPO_ROOT, withTimeout } from '../testing/harness.js'
import { manifestFor } from '../testing/drives.js'
import { lyingDrive, type LyingDriveSpec } from '../testing/hostile-peer.js'

const MB = 1e6
const TIMEOUT_S = 8
/** The bounds for a lying drive: --timeout + 20 s, under 500 MB, and a seed that starts within 20 s. */
const END_MS = (TIMEOUT_S + 20) * 1000
const PEAK_RSS = 500 * MB
const SEED_START_MS = 20_000
const HOSTILE_PEER = join(REPO_ROOT, 'dist', 'main', 'testing', 'hostile-peer.js')

const h = new Harness()
let publisher: Grove
let bootstrap: string
let weights: Buffer
let sha256: string
let lies: Array<{ what: string; link: string; code: string; reason: RegExp }>

before(async () => {
  const dir = await h.tmpDir('grove-liars-')
  const file = join(dir, 'model.gguf')
  await writeLlamaModel(file, { seed: 5, name: 'Liar' })
  weights = await readFile(file)
  sha256 = await sha256File(file)
  publisher = await h.grove()
  bootstrap = await h.bootstrapArg()
  const truth: LyingDriveSpec['files'] = {
    [MANIFEST_PATH]: manifestFor({ path: '/model.gguf', size: weights.length, sha256 }),
    [CARD_PATH]: '---\nlicense: mit\n---\n# Liar\n',
    '/model.gguf': weights
  }
  const over = (path: string, change: (real: BlobId) => Record<string, unknown>) => ({ files: truth, entries: { [path]: (real: BlobId | null) => change(real!) } })
  const cases: Array<[string, LyingDriveSpec, string, RegExp]> = [
    ['a manifest "in 3,000,000 blocks"', over(MANIFEST_PATH, (b) => ({ ...b, blockLength: 3e6 })), 'BAD_MANIFEST', /claims 3000000 blocks for \d+ bytes/],
    ['a manifest of 3 MB "in 3,000,000 blocks"', over(MANIFEST_PATH, (b) => ({ ...b, blockLength: 3e6, byteLength: 3e6 })), 'BAD_MANIFEST', /is 3000000 bytes \(at most 262144/],
    ['a card "in 3,000,000 blocks"', over(CARD_PATH, (b) => ({ ...b, blockLength: 3e6 })), 'BAD_MANIFEST', /README\.md: its entry claims 3000000 blocks/],
    ['weights "in 200,000,000 blocks"', over('/model.gguf', (b) => ({ ...b, blockLength: 2e8 })), 'BAD_MANIFEST', /model\.gguf: its entry claims 200000000 blocks/],
    ['weights past the end of the data', over('/model.gguf', (b) => ({ ...b, blockOffset: 1e9 })), 'BAD_MANIFEST', /past the end of the drive's data/],
    ['weights through a block map', over('/model.gguf', (b) => ({ ...b, blockMap: { blockOffset: 0, blockLength: 1 } })), 'BAD_MANIFEST', /does not point at plain data/],
    ['a manifest with negative and fractional counts', over(MANIFEST_PATH, (b) => ({ ...b, blockLength: -1, byteOffset: 1.5 })), 'BAD_MANIFEST', /does not point at plain data/],
    ['a manifest shorter than its entry', over(MANIFEST_PATH, (b) => ({ ...b, byteLength: b.byteLength + 1000 })), 'BAD_MANIFEST', /shorter than its entry says/],
    ['a card longer than its entry', over(CARD_PATH, (b) => ({ ...b, byteLength: 10 })), 'BAD_MANIFEST', /longer than its entry says/]
  ]
  lies = []
  for (const [what, spec, code, reason] of cases) lies.push({ what, link: await lyingDrive(publisher, spec), code, reason })
})
after(() => h.teardown())

test('lying entries are refused before anything is allocated, by fetch and by info', async () => {
  const downloader = await h.grove()
  const rssBefore = process.memoryUsage().rss
  for (const lie of lies) {
    const started = Date.now()
    await assert.rejects(downloader.fetch(lie.link, { timeoutMs: TIMEOUT_S * 1000 }), (err: { code?: string; message: string }) => {
      assert.equal(err.code, lie.code, `${lie.what}: ${err.message}`)
      assert.match(err.message, lie.reason, lie.what)
      assert.ok(!err.message.includes('\n'), lie.what)
      return true
    })
    assert.ok(Date.now() - started < END_MS, `${lie.what}: ${Date.now() - started} ms`)
  }
  const grown = process.memoryUsage().rss - rssBefore
  assert.ok(grown < 150 * MB, `the downloader grew by ${Math.round(grown / MB)} MB`)
  assert.deepEqual(downloader.library.list(), [], 'no lying model is kept')
})

test('grove fetch and info on lying drives: one line, within --timeout + 20 s and 500 MB; grove seed on that home starts within 20 s', async () => {
  const home = await h.tmpDir('grove-liar-home-')
  for (const lie of lies) {
    for (const command of ['fetch', 'info']) {
      const run = await h.runGrove(['--home', home, '--bootstrap', bootstrap, command, lie.link, '--timeout', String(TIMEOUT_S)], { measure: true, timeoutMs: END_MS + 10_000 })
      assert.equal(run.code, 1, `${command} ${lie.what}: ${run.stderr}`)
      assert.ok(run.wallMs! < END_MS, `${command} ${lie.what}: ${Math.round(run.wallMs!)} ms`)
      assert.ok(run.peakRssBytes! < PEAK_RSS, `${command} ${lie.what}: ${Math.round(run.peakRssBytes! / MB)} MB`)
      const errors = run.stderr.split('\n').filter((l) => l.startsWith('grove:'))
      assert.equal(errors.length, 1, `${command} ${lie.what}: ${run.stderr}`)
      assert.match(errors[0]!, lie.reason, `${command} ${lie.what}`)
      assert.doesNotMatch(run.stderr, /TypeError|\n\s+at /, `${command} ${lie.what}`)
    }
  }
  await assertSeedStarts(home)
})

test('a peer that stalls: alone, the fetch ends with a clear error; beside a good peer, the other serves what it sits on', async () => {
  const dir = await h.tmpDir('grove-stall-')
  const file = join(dir, 'stall.gguf')
  await writeLlamaModel(file, { seed: 9, name: 'Stalled', targetBytes: 6 * 1024 * 1024 })
  const stallHome = await h.tmpDir('grove-stall-home-')
  const share = await h.runGrove(['--home', stallHome, '--json', 'share', file])
  assert.equal(share.code, 0, share.stderr)
  const link = String(share.json.at(-1)!.link)

  // Alone: connected, it has every block, it sends none but the first.
  const staller = startHostilePeer(stallHome, link)
  await labelled('the staller starts', staller.waitForJson((l) => l.event === 'seeding', 30_000))
  const lonely = await h.tmpDir('grove-stall-lonely-')
  const alone = await h.runGrove(['--home', lonely, '--bootstrap', bootstrap, 'fetch', link, '--timeout', String(TIMEOUT_S)], { measure: true, timeoutMs: END_MS + 10_000 })
  assert.equal(alone.code, 1, alone.stderr)
  assert.ok(alone.wallMs! < END_MS, `${Math.round(alone.wallMs!)} ms`)
  assert.ok(alone.peakRssBytes! < PEAK_RSS)
  assert.match(alone.stderr, /^grove: Stalled: \d+ peer\(s\) connected, but none sent a block/m)
  assert.equal(alone.stderr.split('\n').filter((l) => l.startsWith('grove:')).length, 1, alone.stderr)
  await assertSeedStarts(lonely)

  // Beside a good seeder (the same model, fetched before the staller turned hostile).
  staller.kill('SIGTERM')
  await staller.finished(20_000)
  const honest = h.spawnGrove(['--home', stallHome, '--bootstrap', bootstrap, '--json', 'seed'])
  await labelled('the honest seeder starts', honest.waitForJson((l) => l.event === 'seeding', 30_000))
  const goodHome = await h.tmpDir('grove-stall-good-')
  const copy = await h.runGrove(['--home', goodHome, '--bootstrap', bootstrap, '--json', 'fetch', link, '--timeout', '30'])
  assert.equal(copy.code, 0, copy.stderr)
  honest.kill('SIGTERM')
  await honest.finished(20_000)
  const good = h.spawnGrove(['--home', goodHome, '--bootstrap', bootstrap, '--json', 'seed'])
  await labelled('the good seeder starts', good.waitForJson((l) => l.event === 'seeding', 30_000))
  const staller2 = startHostilePeer(stallHome, link)
  await labelled('the staller starts again', staller2.waitForJson((l) => l.event === 'seeding', 30_000))

  const mixed = await h.tmpDir('grove-stall-mixed-')
  const fetch = await h.runGrove(['--home', mixed, '--bootstrap', bootstrap, '--json', 'fetch', link, '--timeout', '20'], { timeoutMs: 90_000, measure: true })
  assert.equal(fetch.code, 0, fetch.stderr)
  assert.equal(fetch.json.at(-1)!.sha256, await sha256File(file))
  // The blocks it sat on came from the other peer, well before the stall timeout.
  assert.ok(fetch.wallMs! < 20_000, `${Math.round(fetch.wallMs!)} ms`)
})

test('a peer that holds requests and sends no block is reported once, and only when another peer is connected', () => {
  let now = 0
  const core = new EventEmitter() as EventEmitter & { core: { replicator: { peers: Array<{ inflight: number; remotePublicKey: Uint8Array }> } } }
  const slow = { inflight: 4, remotePublicKey: Buffer.from('aa', 'hex') }
  const fast = { inflight: 4, remotePublicKey: Buffer.from('bb', 'hex') }
  core.core = { replicator: { peers: [slow] } }
  const dropped: string[] = []
  const stalls = watchStalls(core as never, 10_000, (key) => dropped.push(Buffer.from(key).toString('hex')), () => now)
  stalls.check()
  now = 30_000
  stalls.check()
  assert.deepEqual(dropped, [], 'alone, it is the download that times out, not the peer that is dropped')
  core.core.replicator.peers.push(fast)
  for (now = 30_000; now <= 45_000; now += 1000) {
    core.emit('download', 0, 1, fast)
    stalls.check()
  }
  assert.deepEqual(dropped, ['aa'], 'the one that sent nothing, once')
  slow.inflight = 0
  stalls.check()
  stalls.stop()
  assert.equal(core.listenerCount('download'), 0)
})

test('a home whose library holds a drive with a lying card opens at once and sets the model aside', async () => {
  const home = await h.tmpDir('grove-poisoned-home-')
  const liar = lies.find((l) => l.what === 'a card "in 3,000,000 blocks"')!
  // What an older Grove left: the model recorded as complete, with the lying entry in the store.
  const victim = await h.grove({ home })
  const drive = await victim.openDrive(parseLink(liar.link).keyHex)
  victim.swarm.join(drive.discoveryKey, { server: false, client: true })
  await withTimeout((async () => {
    // update() answers at once while no peer is connected: look again a moment later.
    while (drive.core.length === 0) await Promise.all([drive.update({ wait: true }), new Promise((r) => setTimeout(r, 100))])
  })(), 20_000, () => 'the liar never showed its drive')
  const lying = await withTimeout(drive.entry(CARD_PATH, { timeout: 15_000 }), 16_000, () => 'no card entry')
  assert.equal(lying?.value.blob?.blockLength, 3e6, 'the lying entry is in the store')
  const manifest = JSON.parse(manifestFor({ path: '/model.gguf', size: weights.length, sha256 }))
  await victim.library.put({ keyHex: parseLink(liar.link).keyHex, link: liar.link, origin: 'fetched', manifest, complete: true, seeding: true, blocksStored: true, addedAt: new Date().toISOString() })
  await victim.close()

  const seed = await assertSeedStarts(home)
  assert.match(seed.stderr, /Warning: hostile is set aside: its model card cannot be read: .*claims 3000000 blocks/)
  const ls = await h.runGrove(['--home', home, '--json', 'ls'])
  const entry = (ls.json.at(-1)!.models as Array<{ quarantined?: string }>)[0]
  assert.match(String(entry?.quarantined), /claims 3000000 blocks/)
  // Told once: the next start does not read the card again.
  const again = await assertSeedStarts(home)
  assert.doesNotMatch(again.stderr, /set aside/)
})

test('info racing its own shutdown never crashes (a drive closed before its blobs are open)', async () => {
  const home = await h.tmpDir('grove-info-race-')
  const link = lies[0]!.link
  for (let i = 0; i < 6; i++) {
    const run = await h.runGrove(['--home', home, '--bootstrap', bootstrap, 'info', link, '--timeout', '0.2'], { timeoutMs: 40_000 })
    assert.equal(run.code, 1, run.stderr)
    assert.doesNotMatch(run.stderr, /TypeError|Cannot read properties|\n\s+at /)
  }
})

async function labelled<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err })
  }
}

function startHostilePeer(home: string, link: string): GroveProcess {
  const child = spawn(process.execPath, [HOSTILE_PEER, '--home', home, '--bootstrap', bootstrap, '--link', link, '--stall-weights'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const proc = new GroveProcess(child)
  h.onTeardown(() => proc.kill('SIGKILL'))
  return proc
}

/** `grove seed` on `home` prints that it serves within 20 s; returns what it printed, stopped. */
async function assertSeedStarts(home: string): Promise<{ stderr: string }> {
  const started = Date.now()
  const seed = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  await seed.waitForJson((l) => l.event === 'seeding', SEED_START_MS)
  assert.ok(Date.now() - started < SEED_START_MS, `seed took ${Date.now() - started} ms to start`)
  seed.kill('SIGTERM')
  const run = await seed.finished(30_000)
  return { stderr: run.stderr }
}
