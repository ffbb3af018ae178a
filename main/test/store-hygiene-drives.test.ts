// A long-running seeder in a busy room checks every model its neighbours relay by reading the
// drive's manifest and card (a publisher's own entries are signed and need no read); the drives
// it only looked at must not stay open for the life of the process. Their cores live on while a peer that serves them stays connected (hypercore keeps
// a channel open while the other side wants the core), and must go once it leaves. Run in a
// network namespace (local testnet).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import type { Grove } from '../core/grove.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness, waitFor } from '../testing/harness.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

/** The cores open in this Grove's store (corestore's tracker; closed idle cores leave it). */
function openCores(grove: Grove): number {
  return (grove.store as unknown as { cores: { size: number } }).cores.size
}

test('drives opened to verify relayed entries are let go once verified: their cores close when the peer leaves', async () => {
  const publisher = await h.grove()
  const dir = await h.tmpDir()
  const count = 6
  const links: string[] = []
  for (let i = 0; i < count; i++) {
    const path = join(dir, `m${i}.gguf`)
    await writeLlamaModel(path, { seed: i + 1, name: `Lab Model ${i}`, license: 'mit', embeddingLength: 64, blockCount: 2 })
    links.push((await publisher.share(path)).link)
  }
  // A relay that fetched them: its entries carry no publisher's proof, so a peer reads each drive.
  const relay = await h.grove()
  for (const link of links) await relay.fetch(link, { timeoutMs: 20_000 })
  await publisher.close()
  const peer = await h.grove()
  const before = openCores(peer)
  await waitFor(() => [...peer.catalog.records()].filter((r) => r.source === 'drive').length === count, 30_000, `${count} verified entries`)
  assert.ok(openCores(peer) > before, 'the cores are open while the relay serves them')
  await relay.close()
  // Idle cores are closed by corestore's garbage collection, about 8 s later.
  await waitFor(() => openCores(peer) <= before, 30_000, `the verified drives' cores to close (${openCores(peer)} open, ${before} before)`)
})

test("a publisher's signed entries count as read from the drive without reading it; its idle drives close and reopen for a peer", async () => {
  const publisher = await h.grove()
  const dir = await h.tmpDir()
  const count = 4
  const links: string[] = []
  for (let i = 0; i < count; i++) {
    const path = join(dir, `s${i}.gguf`)
    await writeLlamaModel(path, { seed: 50 + i, name: `Signed Model ${i}`, license: 'mit', embeddingLength: 64, blockCount: 2 })
    links.push((await publisher.share(path)).link)
  }
  assert.ok(publisher.library.list().every((e) => e.entryProof), 'each shared model has its proof recorded')
  // Nobody uses them: the publisher closes its drives (their files stay attached).
  assert.equal(await publisher.drives.releaseIdle(), count)
  assert.equal(publisher.drives.openCount, 0)

  const peer = await h.grove()
  const before = openCores(peer)
  await waitFor(() => [...peer.catalog.records()].filter((r) => r.source === 'drive').length === count, 30_000, `${count} entries taken as verified`)
  assert.equal(openCores(peer), before, 'no drive was opened to verify them')
  assert.deepEqual(peer.catalog.list().map((m) => m.name).sort(), links.map((_, i) => `Signed Model ${i}`))

  // A peer asking for a released drive reopens it, and is served out of the file.
  const fetched = await peer.fetch(links[0]!, { timeoutMs: 20_000 })
  assert.equal(fetched.sha256, publisher.library.get(fetched.keyHex)?.manifest?.files[0]?.sha256)
  await publisher.drives.sweep()
  assert.ok(publisher.drives.openCount >= 1, 'the drive a peer asked for is open again')
})

test('a peer that comes within seconds of a release is served on: the drive reopens before Corestore closes its cores', async () => {
  const publisher = await h.grove()
  const path = join(await h.tmpDir(), 'linger.gguf')
  await writeLlamaModel(path, { seed: 77, name: 'Linger Model', license: 'mit', embeddingLength: 64, blockCount: 2 })
  const { link } = await publisher.share(path)
  await publisher.seedLibrary() // announces it, and closes it again at once
  assert.equal(publisher.drives.openCount, 0)
  // Corestore holds the closed drive's cores for 4–6 s and then closes them, peer or not: a fetch
  // then used to stop with "every peer left". No sweep runs here (it comes every 30 s).
  const peer = await h.grove()
  const fetched = await peer.fetch(link, { timeoutMs: 20_000 })
  assert.equal(fetched.sha256, publisher.library.get(fetched.keyHex)?.manifest?.files[0]?.sha256)
  await waitFor(() => publisher.drives.openCount === 1, 5000, 'the released drive reopened for its peer')
})
