// The library index during a batch (`grove share DIR`): written at most once a second and once
// at the end, never lost, and a write that fails is not swallowed.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Library, type LibraryEntry } from '../core/library.js'

function entry(i: number): LibraryEntry {
  const keyHex = i.toString(16).padStart(64, '0')
  return { keyHex, link: `grove://${keyHex}`, origin: 'shared', complete: true, seeding: true, blocksStored: true, addedAt: new Date(1e12 + i).toISOString() }
}

async function onDisk(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => null)
  return text === null ? 0 : (JSON.parse(text) as { entries: unknown[] }).entries.length
}

test('a batch writes the index at most once a second while it runs, and all of it at the end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'grove-library-batch-'))
  try {
    const file = join(dir, 'library.json')
    const library = new Library(file)
    const seen: number[] = []
    await library.batch(async () => {
      for (let i = 0; i < 30; i++) {
        await library.put(entry(i))
        await new Promise((r) => setTimeout(r, 50))
        seen.push(await onDisk(file))
      }
    })
    assert.equal(await onDisk(file), 30)
    assert.ok(seen[0]! < 1, 'the first put was not written at once')
    assert.ok(seen.some((n) => n > 0 && n < 30), `written during the batch too (within a second): ${seen.join(',')}`)
    assert.ok(new Set(seen).size <= 4, `at most a few writes in ~1.5 s: ${seen.join(',')}`)
    // Outside a batch every put is on disk when it returns.
    await library.put(entry(99))
    assert.equal(await onDisk(file), 31)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a batch whose final write fails fails its caller', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'grove-library-batch-'))
  const library = new Library(join(dir, 'gone', 'library.json'))
  await assert.rejects(library.batch(async () => library.put(entry(1))), /ENOENT/)
  await rm(dir, { recursive: true, force: true })
})
