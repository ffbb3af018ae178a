// LiveExport: blocks written into the .gguf at their place as they arrive, in any order.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { LiveExport } from '../core/live-export.js'
import { Harness } from '../testing/harness.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

function blocksOf(sizes: number[]): Buffer[] {
  return sizes.map((size, i) => Buffer.alloc(size, 0x41 + i))
}

async function exportInOrder(sizes: number[], order: number[]): Promise<{ live: LiveExport; bytes: Buffer; expected: Buffer }> {
  const offset = 10
  const blocks = blocksOf(sizes)
  const expected = Buffer.concat(blocks)
  const path = join(await h.tmpDir(), 'out.partial')
  const blob = { blockOffset: offset, blockLength: blocks.length, byteOffset: 12345, byteLength: expected.length }
  const live = await LiveExport.create(path, blob)
  await Promise.all(order.map((i) => live.write(offset + i, blocks[i]!)))
  await live.write(offset - 1, Buffer.alloc(1000, 1)) // outside the blob: ignored
  await live.write(offset + blocks.length, Buffer.alloc(1000, 1))
  await live.finish()
  return { live, bytes: await readFile(path), expected }
}

test('blocks arriving in any order, the short last one first, make the file', async () => {
  const { live, bytes, expected } = await exportInOrder([1000, 1000, 1000, 500], [3, 1, 0, 2])
  assert.equal(live.usable, true)
  assert.equal(live.written, expected.length)
  assert.deepEqual(bytes, expected)
})

test('a blob whose blocks are not equal turns the live export off', async () => {
  const { live } = await exportInOrder([1000, 700, 800], [0, 1, 2])
  assert.equal(live.usable, false, 'the fetch must export from the drive instead')
})

test('a first block too small for the blob turns the live export off', async () => {
  const { live } = await exportInOrder([100, 5000, 5000], [0, 1, 2])
  assert.equal(live.usable, false)
})

test('a block never written stays a hole, and the writer says how much it wrote', async () => {
  const blocks = blocksOf([64, 64, 64, 10])
  const path = join(await h.tmpDir(), 'holes.partial')
  const live = await LiveExport.create(path, { blockOffset: 0, blockLength: 4, byteOffset: 0, byteLength: 202 })
  for (const i of [3, 0, 1]) await live.write(i, blocks[i]!)
  await live.finish()
  const bytes = await readFile(path)
  assert.equal(bytes.length, 202)
  assert.equal(live.written, 138)
  assert.deepEqual(bytes.subarray(0, 128), Buffer.concat(blocks.slice(0, 2)))
  assert.deepEqual(bytes.subarray(192), blocks[3])
  assert.ok(bytes.subarray(128, 192).every((b) => b === 0))
})
