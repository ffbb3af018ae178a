// Seeding in place: a model's blocks live in its .gguf (file-blocks.ts), between in-process peers
// on a local testnet (run inside a network namespace).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, statfsSync, writeFileSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { diskUsage } from '../core/disk.js'
import { BlockFile, isValidLayout } from '../core/file-blocks.js'
import { sha256File } from '../core/sha256.js'
import type { Grove } from '../core/grove.js'
import { Harness } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { unevenDrive } from '../testing/drives.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

const MB = 1024 * 1024

async function model(name: string, targetBytes: number, dir?: string): Promise<string> {
  const path = join(dir ?? (await h.tmpDir('grove-models-')), `${name}.gguf`)
  await writeLlamaModel(path, { seed: 7, name, license: 'apache-2.0', targetBytes })
  return path
}

async function blobsOf(grove: Grove, keyHex: string) {
  return (await (await grove.openDrive(keyHex)).getBlobs())!.core
}

test('a shared and a fetched model cost their size once: blocks are served out of the .gguf itself', async () => {
  const file = await model('in-place', 24 * MB)
  const a = await h.grove()
  const shared = await a.share(file)
  await a.seedLibrary()
  assert.ok(a.library.get(shared.keyHex)?.blockFile, 'the share seeds from the file')
  // Apparent sizes: RocksDB preallocates its log and manifest (~9 MB, whatever the models).
  const aStore = await apparentSize(a.home.root)
  assert.ok(aStore < shared.size * 0.05, `the sharer's store holds no copy: ${aStore} bytes for a ${shared.size}-byte model`)

  const b = await h.grove()
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
  const bDisk = await apparentSize(b.home.root)
  assert.ok(bDisk < fetched.size * 1.05, `seeding and runnable: ${bDisk} bytes on disk for ${fetched.size}`)
  assert.deepEqual(await b.library.get(fetched.keyHex)?.blockFile?.path, fetched.path)
  await assert.rejects(b.reclaimSeedingCopy(fetched.keyHex), { code: 'BAD_INPUT', message: /in place/ })

  // C gets every block from B's file: A is gone.
  await a.close()
  const c = await h.grove()
  const again = await c.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(again.path), shared.sha256)
  assert.equal(await sha256File(fetched.path), shared.sha256, "serving did not touch B's file")
})

test('a file changed or deleted behind Grove\'s back stops being seeded; a touched but equal one is rechecked and kept', async () => {
  const dir = await h.tmpDir('grove-models-')
  const kept = await model('touched', 3 * MB, dir)
  const changed = await model('changed', 3 * MB + 4096, dir)
  const deleted = await model('deleted', 3 * MB + 8192, dir)
  const home = await h.tmpDir('grove-home-')
  const first = await h.grove({ network: false, home })
  const links = { kept: await first.share(kept), changed: await first.share(changed), deleted: await first.share(deleted) }
  await first.close()

  const later = new Date(Date.now() + 5000)
  await utimes(kept, later, later)
  const handle = await open(changed, 'r+')
  await handle.write(Buffer.from('not the weights'), 0, 15, 2 * MB)
  await handle.close()
  const deletedBytes = await readFile(deleted)
  await rm(deleted)

  const second = await h.grove({ home })
  const seeded = await second.seedLibrary()
  const warnings = second.warnings
  assert.deepEqual(seeded.map((e) => e.keyHex), [links.kept.keyHex], 'only the unchanged model is still seeded')
  assert.equal(warnings.length, 2, warnings.join('\n'))
  assert.match(warnings.join('\n'), /changed\.gguf is missing or changed/)
  assert.match(warnings.join('\n'), /deleted\.gguf is missing or changed/)
  for (const lost of [links.changed, links.deleted]) {
    const entry = second.library.get(lost.keyHex)
    assert.equal(entry?.seeding, false)
    assert.equal(entry?.blocksStored, false)
    assert.equal(entry?.blockFile, undefined)
    assert.equal(await (await blobsOf(second, lost.keyHex)).has(1), false, 'no peer is told we hold its blocks')
  }
  const touched = second.library.get(links.kept.keyHex)
  assert.ok(Math.abs((touched?.blockFile?.mtimeMs ?? 0) - later.getTime()) < 1, 'the new mtime is remembered after the recheck')
  const drive = await second.openDrive(links.kept.keyHex)
  assert.equal((await drive.get('/touched.gguf'))?.equals(await readFile(kept)), true)

  // Put back, the file is shared anew: the old drive's blocks are gone for good.
  await writeFile(deleted, deletedBytes)
  const reshared = await second.share(deleted)
  assert.equal(reshared.existing, false)
  assert.notEqual(reshared.link, links.deleted.link)
  assert.ok(second.library.get(reshared.keyHex)?.blockFile)
})

test('a partial file deleted between runs: the fetch starts that file over and still verifies', async () => {
  const file = await model('partial-lost', 48 * MB)
  const a = await h.grove()
  const shared = await a.share(file)
  await a.seedLibrary()
  const home = await h.tmpDir('grove-home-')
  const b = await h.grove({ home })
  const stop = new AbortController()
  await assert.rejects(
    b.fetch(shared.link, {
      timeoutMs: 20_000,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.event === 'progress' && e.bytes > 4 * MB) stop.abort()
      }
    }),
    { code: 'BAD_INPUT', message: /cancelled/ }
  )
  const partial = b.drives.partialPath(shared.keyHex)
  assert.ok(existsSync(partial))
  await b.close()
  await rm(partial)

  const again = await h.grove({ home })
  const fetched = await again.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
})

test('blocks that are not all the same size go through the store, and reclaiming that copy frees the disk', async () => {
  const bytes = await readFile(await model('uneven', 24 * MB))
  const a = await h.grove()
  const link = await unevenDrive(a, bytes)
  const b = await h.grove()
  const fetched = await b.fetch(link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), fetched.sha256)
  assert.equal(b.library.get(fetched.keyHex)?.blockFile, undefined, 'kept in the store, not in place')
  assert.ok(!existsSync(b.drives.partialPath(fetched.keyHex)))

  const before = await diskUsage(b.home.root)
  assert.ok(before > fetched.size * 1.8, `a seeding copy and the file: ${before} bytes for ${fetched.size}`)
  const { freedBytes } = await b.reclaimSeedingCopy(fetched.keyHex)
  assert.equal(freedBytes, fetched.size)
  // Deleted blocks stay in RocksDB's blob files until a forced garbage collection moves the
  // small live values (bitfield pages) out: without it the store kept ~47 MB here.
  const after = await diskUsage(b.home.root)
  assert.ok(after < fetched.size * 1.4, `${after} bytes on disk after reclaiming a ${fetched.size}-byte model`)
  assert.equal(await sha256File(fetched.path), fetched.sha256)
})

test('a disk that fills up mid-download stops the fetch with DISK_FULL; with space again it resumes', async (t) => {
  const mount = await h.tmpDir('grove-small-disk-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', mount], { stdio: 'ignore' })
  } catch {
    t.skip('cannot mount a small tmpfs here (needs root)')
    return
  }
  h.onTeardown(() => {
    execFileSync('umount', ['-l', mount])
  })
  const file = await model('disk-full', 40 * MB)
  const a = await h.grove()
  const shared = await a.share(file)
  await a.seedLibrary()
  const home = join(mount, 'home')
  await mkdir(home)
  const b = await h.grove({ home })
  // The space check before the download passes; then, as it starts, the disk fills up but for
  // 8 MB. (Synchronous, so no block is written in between.)
  const fillers = [join(mount, 'filler-1'), join(mount, 'filler-2')]
  const fillTo = (path: string, leave: number) => {
    const s = statfsSync(mount)
    writeFileSync(path, Buffer.alloc(Math.max(0, s.bavail * s.bsize - leave)))
  }
  let started = false
  await assert.rejects(
    b.fetch(shared.link, {
      timeoutMs: 20_000,
      onEvent: (e) => {
        if (e.event === 'manifest') fillTo(fillers[0]!, e.size + 70 * MB)
        if (e.event === 'progress' && !started) {
          started = true
          fillTo(fillers[1]!, 8 * MB)
        }
      }
    }),
    { code: 'DISK_FULL', message: /run the same command again to resume/ }
  )
  assert.ok(started)
  assert.equal(b.library.get(shared.keyHex)?.complete, false, 'kept as an unfinished download')
  for (const filler of fillers) await rm(filler)
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
})

test('block layouts: only even ones, and a block file reads only blocks the core holds', async () => {
  assert.equal(isValidLayout({ blockOffset: 2, blockLength: 3, byteLength: 10, blockBytes: 4, first: 3 }), true)
  assert.equal(isValidLayout({ blockOffset: 0, blockLength: 3, byteLength: 8, blockBytes: 4, first: 0 }), false, 'an empty last block')
  assert.equal(isValidLayout({ blockOffset: 0, blockLength: 3, byteLength: 13, blockBytes: 4, first: 0 }), false, 'too long for its blocks')
  assert.equal(isValidLayout({ blockOffset: 5, blockLength: 3, byteLength: 10, blockBytes: 4, first: 4 }), false, 'starts before the blob')
  assert.equal(isValidLayout({ blockOffset: 0, blockLength: 1, byteLength: 3, blockBytes: 4, first: 0 }), true)

  const path = join(await h.tmpDir(), 'blocks.partial')
  const layout = { blockOffset: 2, blockLength: 3, byteLength: 10, blockBytes: 4, first: 3 }
  const { file, resumed } = await BlockFile.openDownload(path, layout)
  assert.equal(resumed, false)
  h.onTeardown(() => file.close())
  assert.equal(file.fits(4, Buffer.from('zz')), true, 'the last block holds the remainder')
  assert.equal(file.fits(3, Buffer.from('abcd')), true)
  assert.equal(file.misfit, false)
  assert.equal(file.fits(3, Buffer.from('abcde')), false)
  assert.equal(file.misfit, true)
  await file.write(2, Buffer.from('0123'))
  await file.write(4, Buffer.from('zz'))
  const held = new Set([4])
  file.has = (i) => held.has(i)
  assert.equal(await file.read(3), null, 'a block the core does not hold is not read out of the hole')
  assert.equal((await file.read(4))?.toString(), 'zz')
  assert.equal(file.contains(2), false, 'the first block stays in the store')
  assert.equal((await readFile(path)).subarray(0, 4).toString(), '0123')
  const reopened = await BlockFile.openDownload(path, layout)
  assert.equal(reopened.resumed, true)
  await reopened.file.close()
  await assert.rejects(BlockFile.openSource(path, { ...layout, byteLength: 11 }), { code: 'BAD_INPUT' })
})

/** Bytes in a folder's files (their lengths, not the blocks allocated for them). */
async function apparentSize(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}
