// A lab publishes many models at once: `grove share DIR` (or several files) gives one JSON line
// per model, reports and skips a bad file, and through a running seeder everything shared is
// seeded at once; a peer's `browse --json` says how many matched and pages through them.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { Harness } from '../testing/harness.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'
import { hostileGgufCorpus } from '../testing/hostile-gguf.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

async function modelDir(count: number, prefix: string): Promise<string> {
  const dir = await h.tmpDir('grove-many-')
  for (let i = 0; i < count; i++) {
    await writeLlamaModel(join(dir, `${prefix}-${String(i).padStart(3, '0')}.gguf`), { seed: 100 + i, name: `${prefix} ${i}`, license: 'mit', embeddingLength: 64, blockCount: 2 })
  }
  return dir
}

test('grove share DIR shares every .gguf in it, one JSON line each, and reports a bad one without stopping', async () => {
  const dir = await modelDir(4, 'lab')
  await writeFile(join(dir, 'broken.gguf'), 'not a gguf at all')
  await writeFile(join(dir, 'notes.txt'), 'not shared: not a .gguf')
  const home = await h.tmpDir()
  const run = await h.runGrove(['--home', home, '--json', 'share', dir, '--license', 'apache-2.0'], { timeoutMs: 120_000 })
  assert.equal(run.code, 1, 'a file that could not be shared makes the exit status 1')
  const shared = run.json.filter((l) => l.event === 'shared')
  assert.deepEqual(shared.map((l) => l.name), ['lab 0', 'lab 1', 'lab 2', 'lab 3'])
  const errors = run.json.filter((l) => l.event === 'error')
  assert.equal(errors.length, 1)
  assert.match(String(errors[0]!.file), /broken\.gguf$/)
  assert.equal((errors[0]!.error as { code: string }).code, 'NOT_GGUF')
  assert.deepEqual(run.json.at(-1), { ...run.json.at(-1), event: 'done', files: 5, shared: 4, existing: 0, failed: 1 })

  const listed = await h.runGrove(['--home', home, '--json', 'ls'])
  const models = listed.json.at(-1)!.models as Array<{ name: string; license: string }>
  assert.deepEqual(models.map((m) => m.name).sort(), ['lab 0', 'lab 1', 'lab 2', 'lab 3'])
  assert.ok(models.every((m) => m.license === 'apache-2.0'))

  const again = await h.runGrove(['--home', home, '--json', 'share', join(dir, 'lab-000.gguf'), join(dir, 'lab-001.gguf')])
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(again.json.at(-1), { ...again.json.at(-1), shared: 0, existing: 2, failed: 0 })

  const named = await h.runGrove(['--home', home, 'share', dir, '--name', 'one name for all'])
  assert.equal(named.code, 2)
  assert.match(named.stderr, /^grove: --name names one model/)
})

test('through a running seeder: grove share DIR seeds them all; a peer browses them in pages with the total', async () => {
  const boot = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  const bootstrap = `127.0.0.1:${String((await boot.waitForJson((l) => l.event === 'listening', 15_000)).port)}`
  const home = await h.tmpDir()
  const seeder = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  await seeder.waitForJson((l) => l.event === 'seeding', 20_000)
  const dir = await modelDir(12, 'paged')
  const run = await h.runGrove(['--home', home, '--json', 'share', dir], { timeoutMs: 120_000 })
  assert.equal(run.code, 0, run.stderr)
  const links = run.json.filter((l) => l.event === 'shared').map((l) => String(l.link))
  assert.equal(links.length, 12)
  const status = await h.runGrove(['--home', home, '--json', 'status'])
  assert.equal(status.json.at(-1)!.seeding, 12)

  const other = await h.tmpDir()
  const pages: Array<{ total: number; offset: number; returned: number; models: Array<{ link: string }> }> = []
  for (const offset of [0, 5, 10]) {
    const browse = await h.runGrove(['--home', other, '--bootstrap', bootstrap, '--json', 'browse', '--limit', '5', '--offset', String(offset), '--wait', '10'], { timeoutMs: 60_000 })
    assert.equal(browse.code, 0, browse.stderr)
    pages.push(browse.json.at(-1) as (typeof pages)[number])
  }
  assert.deepEqual(pages.map((p) => [p.total, p.offset, p.returned]), [[12, 0, 5], [12, 5, 5], [12, 10, 2]])
  assert.deepEqual(pages.flatMap((p) => p.models.map((m) => m.link)).sort(), [...links].sort())
})

test('one probe process for a row of files: a hostile file among them costs that process, never the files after it', async () => {
  const dir = await h.tmpDir('grove-many-hostile-')
  const base = join(dir, 'base.gguf.src')
  const adapter = join(dir, 'adapter.gguf.src')
  await writeLlamaModel(base, { seed: 1, name: 'base', embeddingLength: 64, blockCount: 2 })
  await writeLoraAdapter(adapter, { base: { embeddingLength: 64, blockCount: 2 }, seed: 2 })
  // The cases llama.cpp itself (or the adapter rules) has to refuse, each followed by a good model.
  const cases = (await hostileGgufCorpus(base, adapter)).filter((c) => c.stage === 'open')
  const expected = new Map<string, RegExp>()
  for (const [i, c] of cases.entries()) {
    const name = `${String(i).padStart(2, '0')}-a-hostile.gguf`
    await writeFile(join(dir, name), c.bytes)
    expected.set(name, c.reason)
    await writeLlamaModel(join(dir, `${String(i).padStart(2, '0')}-b-good.gguf`), { seed: 200 + i, name: `good ${i}`, embeddingLength: 64, blockCount: 2 })
  }
  const home = await h.tmpDir()
  const run = await h.runGrove(['--home', home, '--json', 'share', dir], { timeoutMs: 240_000 })
  assert.equal(run.code, 1)
  assert.equal(run.json.filter((l) => l.event === 'shared').length, cases.length, run.stderr)
  const errors = run.json.filter((l) => l.event === 'error')
  assert.equal(errors.length, cases.length)
  for (const e of errors) {
    const file = String(e.file).split('/').at(-1)!
    assert.match((e.error as { message: string }).message, expected.get(file)!, file)
  }
})
