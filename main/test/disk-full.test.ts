// A full disk during a fetch: one clear line, nothing lost, nothing half-written under a final
// name, and the same command resumes once there is space. Each disk is a small tmpfs in a mount
// namespace of its own (main/testing/small-disk.ts); peers are on a local testnet (run inside a
// network namespace, as root).
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { open, readdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { afterEach, beforeEach, test, type TestContext } from 'node:test'
import { GroveError } from '../../shared/errors.js'
import Corestore from 'corestore'
import Hyperdrive from 'hyperdrive'
import { hexToBytes } from '../../shared/link.js'
import { allocatedBytes, isDiskFull, storeHeadroom } from '../core/disk-space.js'
import { sha256File } from '../core/sha256.js'
import { readLibrary } from '../core/library.js'
import { removeUnfinishedDeviceFile } from '../core/store-device-file.js'
import { Harness, type GroveRun } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { SmallDisk, canMountSmallDisks } from '../testing/small-disk.js'
import { unevenDrive } from '../testing/drives.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

const MB = 1e6
const MIB = 1024 * 1024

/** A seeder with a generated model of about `bytes`. */
async function seeder(bytes: number, seed = 7) {
  const path = join(await h.tmpDir('grove-models-'), `disk-full-${seed}.gguf`)
  await writeLlamaModel(path, { seed, name: `disk full ${seed}`, license: 'apache-2.0', targetBytes: bytes })
  const grove = await h.grove()
  const shared = await grove.share(path)
  await grove.seedLibrary()
  const uploaded = () => grove.traffic.of(shared.keyHex).uploadedBytes
  return { grove, shared, path, uploaded }
}

async function smallDisk(t: TestContext, bytes: number): Promise<SmallDisk | null> {
  if (!canMountSmallDisks()) {
    t.skip('needs root (a tmpfs in a mount namespace of its own)')
    return null
  }
  return SmallDisk.mount(h, bytes)
}

async function fetchArgs(home: string, link: string, ...extra: string[]): Promise<string[]> {
  return ['--home', home, '--bootstrap', await h.bootstrapArg(), '--json', 'fetch', link, '--timeout', '15', ...extra]
}

const DISK_FULL_LINE = /^grove: disk full: needs ([\d.]+) (B|kB|MB|GB) more at (.+?); (.+)$/
const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }

/** The run failed with exactly one line on stderr, the disk-full one, naming `dir`; returns the bytes it says are needed and what it says is kept. */
function diskFullLine(run: GroveRun, dir: string): { needed: number; kept: string } {
  assert.equal(run.code, 1, `exit status; stderr: ${run.stderr}`)
  const lines = run.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line on stderr: ${run.stderr}`)
  const match = DISK_FULL_LINE.exec(lines[0]!)
  assert.ok(match, `a disk-full line: ${lines[0]}`)
  assert.doesNotMatch(lines[0]!, /ENOSPC|EDQUOT|Invalid device file|\bat .*\.js:\d/)
  assert.equal(match[3], dir, 'names the folder whose disk is full')
  return { needed: Number(match[1]) * UNITS[match[2]!]!, kept: match[4]! }
}

/** Starts `grove fetch` on a small disk and fills the disk, but for `leaveBytes`, once the download is under way. */
async function fillDuringFetch(disk: SmallDisk, args: string[], leaveBytes: number): Promise<GroveRun> {
  const fetching = disk.spawnGrove(args)
  await fetching.waitForJson((line) => line.event === 'progress', 30_000)
  disk.fill(leaveBytes)
  return fetching.finished(30_000)
}

test('a disk that fills up mid-fetch stops it with one "disk full" line; what was written stays, and the bitfield vouches only for blocks the file holds', async (t) => {
  const disk = await smallDisk(t, 128 * MIB)
  if (!disk) return
  const { shared, path: source } = await seeder(40 * MIB)
  const home = join(disk.path, 'home')
  const run = await fillDuringFetch(disk, await fetchArgs(home, shared.link), 12 * MIB)
  const { needed, kept } = diskFullLine(run, home)
  assert.match(kept, /^[\d.]+ [kM]B of [\d.]+ MB are saved; free some space and run the same command again to resume$/)

  const partial = disk.outside(join(home, 'tmp', `${shared.keyHex}.partial`))
  const onDisk = await allocatedBytes(partial)
  assert.ok(onDisk > 0, 'the partial file is kept')
  const rest = shared.size - onDisk
  assert.ok(needed >= rest - 0.1 * MB && needed <= rest + storeHeadroom(shared.size) + 1 * MB, `needs ${needed} more for the ${rest} bytes left`)

  // Every block the store says it holds is in the partial file, byte for byte. (The store is
  // read as it is, with Hypercore alone: a Grove would check the blocks' file at its own path.)
  const layout = (await readLibrary(disk.outside(join(home, 'library.json')))).find((e) => e.keyHex === shared.keyHex)?.blockFile
  assert.equal(layout?.path, join(home, 'tmp', `${shared.keyHex}.partial`), 'the partial file is still where the blocks are kept')
  const store = new Corestore(disk.outside(join(home, 'store')))
  h.onTeardown(() => store.close())
  const drive = new Hyperdrive(store, Buffer.from(hexToBytes(shared.keyHex)))
  await drive.ready()
  const core = (await drive.getBlobs())!.core
  const [got, want] = [await open(partial), await open(source)]
  h.onTeardown(async () => {
    await got.close()
    await want.close()
  })
  let held = 0
  for (let index = layout.first; index < layout.blockOffset + layout.blockLength; index++) {
    if (!(await core.has(index))) continue
    held++
    const offset = (index - layout.blockOffset) * layout.blockBytes
    const length = Math.min(layout.blockBytes, layout.byteLength - offset)
    const [a, b] = [Buffer.alloc(length), Buffer.alloc(length)]
    await got.read(a, 0, length, offset)
    await want.read(b, 0, length, offset)
    assert.ok(a.equals(b), `block ${index} is marked as held and is in the file`)
  }
  assert.ok(held > 0, 'some blocks were saved')
})

test('once space is freed the same fetch resumes, counting what is on disk, and downloads only the rest', async (t) => {
  const disk = await smallDisk(t, 128 * MIB)
  if (!disk) return
  const { shared, uploaded } = await seeder(40 * MIB)
  const home = join(disk.path, 'home')
  const args = await fetchArgs(home, shared.link)
  const failed = await fillDuringFetch(disk, args, 20 * MIB)
  assert.equal(failed.code, 1, failed.stderr)

  // Free less than the whole model: enough for the rest and for the store (which takes ~9 MB
  // for its log while Grove runs), but a space check that ignored the partial file would refuse.
  const onDisk = await allocatedBytes(disk.outside(join(home, 'tmp', `${shared.keyHex}.partial`)))
  const room = shared.size - onDisk + 14 * MB
  assert.ok(room < shared.size, `${onDisk} bytes were saved before the disk filled`)
  disk.unfill()
  disk.fill(room)
  const before = uploaded()
  const run = await disk.runGrove(args)
  assert.equal(run.code, 0, run.stderr)
  const done = run.json.at(-1)
  assert.equal(done?.event, 'done')
  assert.equal(done?.sha256, shared.sha256)
  assert.equal(await sha256File(disk.outside(String(done?.path))), shared.sha256)
  const resumedAt = Number(run.json.find((line) => line.event === 'progress')?.bytes)
  assert.ok(resumedAt > 0, 'the fetch started from what was saved')
  const sent = uploaded() - before
  assert.ok(sent <= shared.size - resumedAt + 1 * MIB, `the seeder sent ${sent} bytes for the ${shared.size - resumedAt} that were missing`)
})

test('a disk full at the very start of a fetch on a fresh home: the same line, and once space is freed the next fetch works (the store is not left broken)', async (t) => {
  const disk = await smallDisk(t, 32 * MIB)
  if (!disk) return
  const { shared } = await seeder(2 * MIB)
  // No room at all; one page (the store's device file is created and then cannot be written);
  // 64 kB (RocksDB starts its files and then cannot finish them).
  for (const leave of [0, 4096, 64 * 1024]) {
    const home = join(disk.path, `home-${leave}`)
    const args = await fetchArgs(home, shared.link)
    disk.fill(leave)
    const { kept } = diskFullLine(await disk.runGrove(args), home)
    assert.match(kept, /run the same command again/)
    disk.unfill()
    const run = await disk.runGrove(args)
    assert.equal(run.code, 0, `with ${leave} bytes left at first: ${run.stderr}`)
    assert.equal(run.json.at(-1)?.sha256, shared.sha256)
  }
})

test('--out on a disk that fills up: no file under the final name, the download is kept, and the same command finishes without fetching again', async (t) => {
  const disk = await smallDisk(t, 32 * MIB)
  if (!disk) return
  const { shared, uploaded, path: source } = await seeder(24 * MIB)
  const home = await h.tmpDir('grove-home-')
  const out = join(disk.path, 'out')
  const args = await fetchArgs(home, shared.link, '--out', out)
  const { needed, kept } = diskFullLine(await fillDuringFetch(disk, args, 8 * MIB), out)
  assert.ok(needed > shared.size - 9 * MIB && needed < shared.size, `needs ${needed} more for a ${shared.size}-byte copy into 8 MiB`)
  assert.match(kept, /^all [\d.]+ MB are saved;/)
  assert.deepEqual(await readdir(disk.outside(out)).catch(() => []), [], 'nothing under the final name, no temporary copy left')
  assert.equal(await allocatedBytes(join(home, 'tmp', `${shared.keyHex}.partial`)) >= shared.size, true, 'the whole download is kept in the home')

  disk.unfill()
  const before = uploaded()
  const run = await disk.runGrove(args)
  assert.equal(run.code, 0, run.stderr)
  const path = String(run.json.at(-1)?.path)
  assert.equal(path, join(out, basename(source)))
  assert.equal(await sha256File(disk.outside(path)), shared.sha256)
  assert.deepEqual(await readdir(disk.outside(out)), [basename(source)])
  assert.ok(uploaded() - before < 1 * MIB, 'nothing downloaded again')
})

test('--out on a disk too small for the model is refused before anything is downloaded', async (t) => {
  const disk = await smallDisk(t, 16 * MIB)
  if (!disk) return
  const { shared, uploaded, path: source } = await seeder(24 * MIB)
  const out = join(disk.path, 'out')
  const { needed } = diskFullLine(await disk.runGrove(await fetchArgs(await h.tmpDir('grove-home-'), shared.link, '--out', out)), out)
  const short = shared.size - disk.freeBytes()
  assert.ok(Math.abs(needed - short) < 0.1 * MB, `needs ${needed} more; ${short} bytes are missing`)
  assert.ok(uploaded() < 1 * MIB, 'no weights were downloaded')
  assert.equal(existsSync(disk.outside(join(out, basename(source)))), false)
})

test("a small model's space check asks for what the fetch needs, not tens of MB more", async (t) => {
  const disk = await smallDisk(t, 24 * MIB)
  if (!disk) return
  const home = disk.outside(join(disk.path, 'home'))
  const b = await h.grove({ home })
  // ~15 MB are free once the store is open: plenty for a 1 MB model.
  const small = await seeder(1 * MIB, 1)
  const fetched = await b.fetch(small.shared.link, { timeoutMs: 15_000 })
  assert.equal(await sha256File(fetched.path), small.shared.sha256)

  const next = await seeder(1 * MIB, 2)
  disk.fill(300 * 1000)
  const free = disk.freeBytes()
  const err = await b.fetch(next.shared.link, { timeoutMs: 15_000 }).then(() => null, (e: Error) => e)
  assert.ok(err, 'refused')
  assert.equal((err as { code?: string }).code, 'DISK_FULL', err.message)
  const match = /^disk full: needs ([\d.]+) (kB|MB) more at (.+?); nothing is saved;/.exec(err.message)
  assert.ok(match, err.message)
  assert.equal(match[3], home)
  const needed = Number(match[1]) * UNITS[match[2]!]!
  const expected = next.shared.size + storeHeadroom(next.shared.size) - free
  assert.ok(Math.abs(needed - expected) < 0.15 * MB, `asks for ${needed} more; the model and the store's headroom need ${expected} more`)
  assert.ok(storeHeadroom(1e6) < 1.1 * MIB && storeHeadroom(1e9) < 6 * MB, 'headroom in proportion to the model')
})

test('a full disk when the library index is written ends as the same line, and the same Grove fetches once space is freed', async (t) => {
  const disk = await smallDisk(t, 48 * MIB)
  if (!disk) return
  const { shared } = await seeder(4 * MIB)
  const home = disk.outside(join(disk.path, 'home'))
  const b = await h.grove({ home })
  // The index is written as soon as the manifest is in (a synchronous fill: nothing runs between).
  const err = await b.fetch(shared.link, { timeoutMs: 15_000, onEvent: (e) => e.event === 'manifest' && disk.fill(0) }).then(() => null, (e: Error) => e)
  assert.ok(err, 'refused')
  assert.equal((err as { code?: string }).code, 'DISK_FULL', err.message)
  assert.match(err.message, new RegExp(`^disk full: needs [\\d.]+ MB more at ${home}; nothing is saved; `))
  disk.unfill()
  const fetched = await b.fetch(shared.link, { timeoutMs: 15_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
})

test('a full disk in the store itself (a drive whose blocks are kept there) stops the fetch at once with the same line, not as a stall', async (t) => {
  const disk = await smallDisk(t, 128 * MIB)
  if (!disk) return
  const a = await h.grove()
  const bytes = randomBytes(24 * MIB)
  const link = await unevenDrive(a, bytes)
  const home = disk.outside(join(disk.path, 'home'))
  const b = await h.grove({ home })
  let filled = false
  const started = Date.now()
  const err = await b
    .fetch(link, {
      timeoutMs: 20_000,
      onEvent: (e) => {
        if (e.event !== 'progress' || filled) return
        filled = true
        disk.fill(2 * MIB)
      }
    })
    .then(() => null, (e: Error) => e)
  assert.ok(filled && err, 'refused')
  assert.equal((err as { code?: string }).code, 'DISK_FULL', err.message)
  assert.match(err.message, new RegExp(`^disk full: needs [\\d.]+ MB more at ${home}; [\\d.]+ [kM]B of [\\d.]+ MB are saved; `))
  assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms, not after the 20 s stall timeout`)

  // RocksDB stops writing after a failed write and starts again a few seconds after space is
  // freed; a new process (the next `grove fetch`) opens it afresh.
  disk.unfill()
  await b.close()
  const again = await h.grove({ home })
  const fetched = await again.fetch(link, { timeoutMs: 15_000 })
  assert.equal(await sha256File(fetched.path), createHash('sha256').update(bytes).digest('hex'))
})

test('a full disk is recognised in every shape the stack reports it, and never from text a peer wrote', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
  const rocksdb = new Error('Batch was not applied', { cause: Object.assign(new Error('While appending to file: /h/store/db/000008.log: No space left on device'), { code: 'ENOSPC' }) })
  const rocksdbIo = Object.assign(new Error('IO error: No space left on device: While appending to file: /h/store/db/OPTIONS-000006.dbtmp'), { code: 'EIO' })
  const quota = Object.assign(new Error('EDQUOT: disk quota exceeded, write'), { code: 'EDQUOT' })
  const blockWrite = Object.assign(new Error('Could not write block 3 into x.partial'), { code: 'WRITE_FAILED', cause: enospc })
  for (const err of [enospc, rocksdb, rocksdbIo, quota, blockWrite, new AggregateError([new Error('x'), enospc], 'Batch was not applied')]) {
    assert.equal(isDiskFull(err), true, err.message)
  }
  const peerText = new GroveError('BAD_MANIFEST', 'grove://… has an invalid manifest: name "No space left on device"')
  for (const err of [peerText, new Error('Invalid signature'), Object.assign(new Error('INVALID_SIGNATURE: x'), { code: 'INVALID_SIGNATURE' }), null, 'ENOSPC']) {
    assert.equal(isDiskFull(err), false, String(err))
  }
})

test("the store's device file: a half-written one is removed before the store opens, a finished one never", async () => {
  const dir = await h.tmpDir()
  const file = join(dir, 'CORESTORE')
  for (const [text, removed] of [
    ['', true],
    ['device/platform=linux\n', true],
    ['device/platform=linux\ndevice/inode=81', true],
    ['device/platform=linux\ndevice/inode=8\ndevice/created=1796308004540\ndevice/attribute=original\n', false],
    ['id=abc\r\ndevice/platform=win32\r\ndevice/inode=8\r\n', false]
  ] as const) {
    await writeFile(file, text)
    assert.equal(await removeUnfinishedDeviceFile(dir), removed, JSON.stringify(text))
    assert.equal(existsSync(file), !removed)
  }
  assert.equal(await removeUnfinishedDeviceFile(join(dir, 'none')), false)
})

