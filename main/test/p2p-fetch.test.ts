// Share and fetch between in-process peers on a local testnet (run inside a network namespace).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { formatLink } from '../../shared/link.js'
import { MANIFEST_PATH } from '../../shared/manifest.js'
import { bytesToHex } from '../../shared/link.js'
import type { FetchEvent } from '../core/fetch.js'
import { sha256File } from '../core/sha256.js'
import { readGgufHeader } from '../gguf/header.js'
import { summarizeGguf } from '../gguf/summary.js'
import type { Grove } from '../core/grove.js'
import { Harness } from '../testing/harness.js'
import { writeLlamaModel, writeTruncatedCopy } from '../testing/gguf-fixture.js'
import { manifestFor } from '../testing/drives.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

async function model(name: string, opts: { seed?: number; targetBytes?: number } = {}): Promise<string> {
  const dir = await h.tmpDir('grove-models-')
  const path = join(dir, `${name}.gguf`)
  await writeLlamaModel(path, { seed: opts.seed ?? 1, name, license: 'apache-2.0', targetBytes: opts.targetBytes })
  return path
}

test('two peers: a shared model is fetched, verified, loadable and seeded on', async () => {
  const file = await model('tiny-base')
  const a = await h.grove()
  const shared = await a.share(file, { license: 'mit' })
  await a.seedLibrary()
  assert.equal(shared.kind, 'model')
  assert.equal(shared.sha256, await sha256File(file))

  const b = await h.grove()
  const events: FetchEvent[] = []
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000, onEvent: (e) => events.push(e) })
  assert.equal(fetched.sha256, shared.sha256)
  assert.equal(await sha256File(fetched.path), shared.sha256)
  assert.ok(fetched.path.startsWith(b.home.modelsDir), 'exported into the library')
  assert.equal(summarizeGguf(await readGgufHeader(fetched.path)).architecture, 'llama')
  assert.equal(events[0]?.event, 'manifest', 'the manifest (name, size, licence) comes before the weights')
  assert.equal(events[0]?.event === 'manifest' && events[0].license, 'mit')
  const last = events.filter((e) => e.event === 'progress').at(-1)
  assert.ok(last && last.event === 'progress' && last.bytes === last.total)

  const entry = b.library.get(fetched.keyHex)
  assert.ok(entry?.complete && entry.seeding && entry.blocksStored, 'kept for seeding')
  const again = await b.fetch(shared.link, { timeoutMs: 5000 })
  assert.equal(again.alreadyHad, true)
})

test('three peers: the download completes when one seeder leaves mid-way', async () => {
  const file = await model('leaving-seeder', { targetBytes: 48 * 1024 * 1024 })
  const a = await h.grove()
  const shared = await a.share(file)
  await a.seedLibrary()
  const b = await h.grove()
  await b.fetch(shared.link, { timeoutMs: 20_000 })

  const c = await h.grove()
  let closing: Promise<void> | null = null
  const fetched = await c.fetch(shared.link, {
    timeoutMs: 20_000,
    onEvent: (e) => {
      if (e.event === 'progress' && e.bytes > 0 && e.bytes < e.total && !closing) closing = a.close()
    }
  })
  assert.ok(closing, 'the first seeder left while the download was under way')
  await closing
  assert.equal(await sha256File(fetched.path), shared.sha256)
})

test('a link that no peer serves fails with NO_PEERS within --timeout', async () => {
  const b = await h.grove()
  const started = Date.now()
  await assert.rejects(b.fetch(formatLink('c'.repeat(64)), { timeoutMs: 1500 }), (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'NO_PEERS')
    assert.match(err.message, /No peer serves grove:\/\//)
    return true
  })
  assert.ok(Date.now() - started < 8000, `gave up after ${Date.now() - started} ms`)
})

test('a home past its announce limit serves the rest to peers its links send to it', async () => {
  const home = await h.tmpDir('grove-home-')
  const offline = await h.grove({ home, network: false })
  const older = await offline.share(await model('older', { seed: 2 }))
  const newer = await offline.share(await model('newer', { seed: 3 }))
  await offline.close()
  assert.match(older.shareLink, /^grove:\/\/[a-z0-9]{52}\?seeder=[a-z0-9]{52}$/, 'the link to give others names this home')

  // In no room, so the peers meet only through the models' topics or the seeder's key.
  const lab = await h.grove({ home, rooms: [] })
  lab.setAnnounceLimit(1)
  assert.equal((await lab.seedLibrary()).length, 2)
  assert.equal(lab.announcedCount, 1)
  assert.ok(older.shareLink.includes(formatLink(lab.swarm.publicKey).slice('grove://'.length)), 'the seeder named is the home\'s swarm key')

  const b = await h.grove({ rooms: [] })
  await assert.rejects(b.fetch(older.link, { timeoutMs: 2000 }), { code: 'NO_PEERS' }, 'the older model is not announced on its own')
  const fetched = await b.fetch(older.shareLink, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), older.sha256)
  assert.equal(fetched.link, older.link, 'the library keeps the link without its seeders')

  const c = await h.grove({ rooms: [] })
  assert.equal((await c.fetch(newer.link, { timeoutMs: 20_000 })).sha256, newer.sha256, 'the newest is announced')
})

test('malformed links are refused before touching the network', async () => {
  const b = await h.grove({ network: false })
  await assert.rejects(b.fetch('grove://not-a-key'), { code: 'BAD_LINK' })
  await assert.rejects(b.fetch('https://example.com/model.gguf'), { code: 'BAD_LINK' })
})

test('a file that is not GGUF, or a truncated GGUF, is refused and nothing is imported', async () => {
  const dir = await h.tmpDir()
  const a = await h.grove({ network: false })
  const notGguf = join(dir, 'notes.gguf')
  await writeFile(notGguf, 'this is not a model\n'.repeat(100))
  await assert.rejects(a.share(notGguf), (err: { code?: string; message: string }) => err.code === 'NOT_GGUF' && !err.message.includes('\n'))

  const whole = await model('to-truncate')
  const truncated = join(dir, 'truncated.gguf')
  const { stat } = await import('node:fs/promises')
  await writeTruncatedCopy(whole, truncated, Math.floor((await stat(whole)).size * 0.6))
  await assert.rejects(a.share(truncated), { code: 'BAD_GGUF' })
  assert.deepEqual(a.library.list(), [])
})

/** A hand-made drive on peer `a` holding `files`; returns its link, seeded. */
async function hostileDrive(a: Grove, files: Record<string, Buffer | string>): Promise<string> {
  const drive = await a.createDrive(`hostile/${Math.random()}`)
  for (const [path, data] of Object.entries(files)) await drive.put(path, Buffer.from(data))
  const keyHex = bytesToHex(drive.key)
  await a.seedDrive(keyHex, { lookup: false })
  return formatLink(keyHex)
}


test('hostile drives: escaping paths, absurd sizes and lying manifests are refused; nothing lands outside the library', async () => {
  const weights = await model('hostile-weights')
  const { readFile } = await import('node:fs/promises')
  const bytes = await readFile(weights)
  const sha256 = await sha256File(weights)
  const a = await h.grove()
  const b = await h.grove()
  const outside = join(b.home.root, '..')
  const before = await readdir(outside)

  const cases: Array<[string, Record<string, Buffer | string>, string]> = [
    ['dot-dot path', { [MANIFEST_PATH]: manifestFor({ path: '/../../escape.gguf', size: bytes.length, sha256 }), '/model.gguf': bytes }, 'UNSAFE_PATH'],
    ['absolute nested path', { [MANIFEST_PATH]: manifestFor({ path: '/etc/passwd.gguf', size: bytes.length, sha256 }), '/model.gguf': bytes }, 'UNSAFE_PATH'],
    ['absurd size', { [MANIFEST_PATH]: manifestFor({ path: '/model.gguf', size: 2 ** 60, sha256 }), '/model.gguf': bytes }, 'BAD_MANIFEST'],
    ['size that disagrees with the drive', { [MANIFEST_PATH]: manifestFor({ path: '/model.gguf', size: bytes.length + 1, sha256 }), '/model.gguf': bytes }, 'BAD_MANIFEST'],
    ['no manifest', { '/model.gguf': bytes }, 'BAD_MANIFEST'],
    ['manifest that is not JSON', { [MANIFEST_PATH]: '{not json', '/model.gguf': bytes }, 'BAD_MANIFEST'],
    ['oversized manifest', { [MANIFEST_PATH]: ' '.repeat(300 * 1024), '/model.gguf': bytes }, 'BAD_MANIFEST']
  ]
  for (const [what, files, code] of cases) {
    const link = await hostileDrive(a, files)
    await assert.rejects(b.fetch(link, { timeoutMs: 15_000 }), (err: { code?: string }) => {
      assert.equal(err.code, code, `${what}: ${String(err)}`)
      return true
    })
  }
  assert.deepEqual(await readdir(outside), before, 'nothing written next to the home')
  assert.deepEqual(await readdir(b.home.modelsDir), [], 'no model file exported')
})

test('weights whose sha256 does not match the manifest never become a file', async () => {
  const weights = await model('lying-hash')
  const { readFile } = await import('node:fs/promises')
  const bytes = await readFile(weights)
  const a = await h.grove()
  const b = await h.grove()
  const link = await hostileDrive(a, {
    [MANIFEST_PATH]: manifestFor({ path: '/model.gguf', size: bytes.length, sha256: 'e'.repeat(64) }),
    '/model.gguf': bytes
  })
  await assert.rejects(b.fetch(link, { timeoutMs: 15_000 }), { code: 'HASH_MISMATCH' })
  assert.deepEqual(await readdir(b.home.modelsDir), [])
  assert.deepEqual(await readdir(b.home.tmpDir), [], 'the partial file is removed')
  assert.equal(b.library.list().length, 0, 'the bad model is dropped from the library')
})

test('reclaiming the seeding copy frees the blocks and keeps the loadable file', async () => {
  const file = await model('reclaim')
  const a = await h.grove()
  const shared = await a.share(file)
  await a.seedLibrary()
  const b = await h.grove()
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  const { freedBytes } = await b.reclaimSeedingCopy(fetched.keyHex)
  assert.equal(freedBytes, fetched.size)
  const entry = b.library.get(fetched.keyHex)
  assert.equal(entry?.seeding, false)
  assert.equal(entry?.blocksStored, false)
  assert.ok(existsSync(fetched.path))
  const drive = await b.openDrive(fetched.keyHex)
  const blobs = (await drive.getBlobs())!
  assert.equal(await blobs.core.has(0), false, 'block 0 is gone from the store')
})
