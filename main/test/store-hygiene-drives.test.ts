// A long-running seeder in a busy room checks every model its neighbours name by reading the
// drive's manifest and card; the drives it only looked at must not stay open for the life of
// the process. Their cores live on while a peer that serves them stays connected (hypercore keeps
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
  const seeder = await h.grove()
  const dir = await h.tmpDir()
  const count = 6
  for (let i = 0; i < count; i++) {
    const path = join(dir, `m${i}.gguf`)
    await writeLlamaModel(path, { seed: i + 1, name: `Lab Model ${i}`, license: 'mit', embeddingLength: 64, blockCount: 2 })
    await seeder.share(path)
  }
  const peer = await h.grove()
  const before = openCores(peer)
  await waitFor(() => [...peer.catalog.records()].filter((r) => r.source === 'drive').length === count, 30_000, `${count} verified entries`)
  assert.ok(openCores(peer) > before, 'the cores are open while the seeder serves them')
  await seeder.close()
  // Idle cores are closed by corestore's garbage collection, about 8 s later.
  await waitFor(() => openCores(peer) <= before, 30_000, `the verified drives' cores to close (${openCores(peer)} open, ${before} before)`)
})
