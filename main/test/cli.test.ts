// The `grove` command line as scripts use it: child processes, --json output, exit codes,
// signals and kill -9 (run inside a network namespace, with `grove bootstrap` as the DHT).
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { sha256File } from '../core/sha256.js'
import { Harness, type GroveProcess } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

/** Starts `grove bootstrap` on a free loopback port and returns its --bootstrap argument. */
async function startBootstrap(): Promise<string> {
  const proc = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  const line = await proc.waitForJson((l) => l.event === 'listening', 15_000)
  return `127.0.0.1:${String(line.port)}`
}

async function modelFile(name: string, targetBytes?: number): Promise<string> {
  const dir = await h.tmpDir('grove-cli-models-')
  const path = join(dir, `${name}.gguf`)
  await writeLlamaModel(path, { seed: 7, name, license: 'mit', targetBytes })
  return path
}

async function startSeeder(home: string, bootstrap: string): Promise<GroveProcess> {
  const seeder = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  await seeder.waitForJson((l) => l.event === 'seeding', 15_000)
  return seeder
}

test('share, seed, fetch, ls and info with --json, through a `grove bootstrap` DHT', async () => {
  const bootstrap = await startBootstrap()
  const file = await modelFile('cli-model')
  const homeA = await h.tmpDir()
  const homeB = await h.tmpDir()

  const share = await h.runGrove(['--home', homeA, '--json', 'share', file, '--license', 'apache-2.0'])
  assert.equal(share.code, 0, share.stderr)
  const shared = share.json.at(-1)!
  assert.match(String(shared.link), /^grove:\/\//)
  assert.equal(shared.sha256, await sha256File(file))
  assert.equal(shared.kind, 'model')

  const seeder = await startSeeder(homeA, bootstrap)
  const fetch = await h.runGrove(['--home', homeB, '--bootstrap', bootstrap, '--json', 'fetch', String(shared.link), '--timeout', '30'])
  assert.equal(fetch.code, 0, fetch.stderr)
  const progress = fetch.json.filter((l) => l.event === 'progress')
  assert.ok(progress.length > 0, 'progress lines')
  for (const p of progress) assert.deepEqual(Object.keys(p).sort(), ['bytes', 'event', 'peers', 'total'])
  const done = fetch.json.at(-1)!
  assert.equal(done.event, 'done')
  assert.equal(done.sha256, shared.sha256)
  assert.equal(await sha256File(String(done.path)), shared.sha256)

  const ls = await h.runGrove(['--home', homeB, '--json', 'ls'])
  assert.equal(ls.code, 0, ls.stderr)
  const listing = ls.json[0] as { models: Array<Record<string, unknown>>; disk: { storeBytes: number; filesBytes: number } }
  assert.equal(listing.models.length, 1)
  assert.equal(listing.models[0]!.link, shared.link)
  assert.equal(listing.models[0]!.seeding, true)
  assert.ok(listing.disk.filesBytes >= Number(listing.models[0]!.size), 'the exported file is counted')

  const infoFile = await h.runGrove(['--json', 'info', file])
  assert.equal(infoFile.code, 0, infoFile.stderr)
  assert.equal(infoFile.json[0]!.architecture, 'llama')
  assert.equal(infoFile.json[0]!.sha256, shared.sha256)

  const homeC = await h.tmpDir()
  const infoLink = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, '--json', 'info', String(shared.link), '--timeout', '30'])
  assert.equal(infoLink.code, 0, infoLink.stderr)
  assert.equal(infoLink.json[0]!.name, 'cli-model')
  assert.equal(infoLink.json[0]!.license, 'apache-2.0')
  assert.match(String(infoLink.json[0]!.card), /^---\nlicense: apache-2.0/)

  seeder.kill('SIGTERM')
  const stopped = await seeder.finished(15_000)
  assert.equal(stopped.code, 0, `seed exits cleanly on SIGTERM: ${stopped.stderr}`)
})

test('kill -9 during fetch, then the same fetch resumes without starting over', async () => {
  const bootstrap = await startBootstrap()
  const file = await modelFile('resume', 96 * 1024 * 1024)
  const homeA = await h.tmpDir()
  const homeB = await h.tmpDir()
  const share = await h.runGrove(['--home', homeA, '--json', 'share', file])
  const link = String(share.json.at(-1)!.link)
  await startSeeder(homeA, bootstrap)

  const first = h.spawnGrove(['--home', homeB, '--bootstrap', bootstrap, '--json', 'fetch', link, '--timeout', '30'])
  const midway = await first.waitForJson((l) => l.event === 'progress' && Number(l.bytes) > Number(l.total) * 0.2, 60_000)
  first.kill('SIGKILL')
  const killed = await first.finished(10_000)
  assert.equal(killed.signal, 'SIGKILL')

  const second = await h.runGrove(['--home', homeB, '--bootstrap', bootstrap, '--json', 'fetch', link, '--timeout', '30'], { timeoutMs: 120_000 })
  assert.equal(second.code, 0, second.stderr)
  const firstProgress = second.json.find((l) => l.event === 'progress')!
  assert.ok(Number(firstProgress.bytes) >= Number(midway.bytes), `resumed at ${String(firstProgress.bytes)} bytes, had ${String(midway.bytes)} before the kill`)
  const done = second.json.at(-1)!
  assert.equal(done.event, 'done')
  assert.equal(await sha256File(String(done.path)), await sha256File(file))
})

test('errors are one line on stderr with a non-zero exit status', async () => {
  const home = await h.tmpDir()
  const dir = await h.tmpDir()
  const notModel = join(dir, 'x.gguf')
  const { writeFile } = await import('node:fs/promises')
  await writeFile(notModel, 'hello')

  const bad = await h.runGrove(['--home', home, 'share', notModel])
  assert.notEqual(bad.code, 0)
  assert.match(bad.stderr, /^grove: Not a GGUF file: .*\n$/)

  const badLink = await h.runGrove(['--home', home, 'fetch', 'grove://nope'])
  assert.notEqual(badLink.code, 0)
  assert.match(badLink.stderr, /^grove: Malformed Grove link key/)

  const bootstrap = await startBootstrap()
  const started = Date.now()
  const noPeer = await h.runGrove(['--home', home, '--bootstrap', bootstrap, 'fetch', `grove://${'f'.repeat(64)}`, '--timeout', '2'])
  assert.notEqual(noPeer.code, 0)
  assert.match(lastLine(noPeer.stderr), /^grove: No peer serves grove:\/\/\S+ \(waited 2 s\)/)
  assert.ok(Date.now() - started < 15_000)
})

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? ''
}

test('lineage and browse --json show a fork tree to a peer that downloaded nothing', async () => {
  const bootstrap = await startBootstrap()
  const homeA = await h.tmpDir()
  const homeB = await h.tmpDir()
  const homeC = await h.tmpDir()
  const base = (await h.runGrove(['--home', homeA, '--json', 'share', await modelFile('tree-base')])).json.at(-1)!
  await startSeeder(homeA, bootstrap)
  const fetched = await h.runGrove(['--home', homeB, '--bootstrap', bootstrap, '--json', 'fetch', String(base.link), '--timeout', '30'])
  assert.equal(fetched.code, 0, fetched.stderr)
  const adapterFile = join(await h.tmpDir(), 'tree-adapter.gguf')
  const { writeLoraAdapter } = await import('../testing/gguf-fixture.js')
  await writeLoraAdapter(adapterFile, { base: { embeddingLength: 64, blockCount: 2 }, seed: 8, name: 'tree-adapter' })
  const adapter = await h.runGrove(['--home', homeB, '--json', 'share', adapterFile, '--parent', String(base.link), '--relation', 'adapter'])
  assert.equal(adapter.code, 0, adapter.stderr)
  await startSeeder(homeB, bootstrap)

  const lineage = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, '--json', 'lineage', String(base.link), '--wait', '10'])
  assert.equal(lineage.code, 0, lineage.stderr)
  const graph = lineage.json[0] as { nodes: Array<Record<string, unknown>>; edges: Array<Record<string, unknown>> }
  const adapterLink = String(adapter.json.at(-1)!.link)
  for (const node of graph.nodes) for (const key of ['link', 'name', 'kind', 'sha256', 'seeders']) assert.ok(key in node, `node has ${key}`)
  assert.deepEqual(graph.nodes.map((n) => n.name).sort(), ['tree-adapter', 'tree-base'])
  assert.deepEqual(graph.edges.map((e) => [e.parent, e.child, e.relation, e.verified]), [[base.link, adapterLink, 'adapter', true]])

  const browse = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, '--json', 'browse', '--kind', 'adapter', '--wait', '10'])
  assert.equal(browse.code, 0, browse.stderr)
  const page = browse.json[0] as { total: number; offset: number; returned: number; models: Array<Record<string, unknown>> }
  assert.deepEqual([page.total, page.offset, page.returned], [1, 0, 1])
  const models = page.models
  assert.deepEqual(models.map((m) => [m.name, m.kind, m.link]), [['tree-adapter', 'adapter', adapterLink]])
  assert.ok(Number(models[0]!.seeders) >= 1)
})

test('the grove command runs libuv with two threads unless UV_THREADPOOL_SIZE says otherwise', async () => {
  // Counted as the threads a running `grove bootstrap` has: everything else about it is the same.
  const threads = async (size: string | undefined): Promise<number> => {
    const proc = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'], { env: { UV_THREADPOOL_SIZE: size } })
    await proc.waitForJson((l) => l.event === 'listening', 15_000)
    const count = (await readdir(`/proc/${String(proc.child.pid)}/task`)).length
    proc.kill('SIGKILL')
    return count
  }
  const byDefault = await threads(undefined)
  assert.equal(byDefault, await threads('2'), 'without UV_THREADPOOL_SIZE the pool should have two threads')
  assert.equal(await threads('4'), byDefault + 2, 'UV_THREADPOOL_SIZE=4 should still give four')
})

test('a reader that goes away (grove … | head) ends the command quietly, not with an EPIPE stack trace', async () => {
  // `grove bootstrap` prints its listening line and would run on: the write into the closed pipe ends it.
  const proc = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  proc.child.stdout!.destroy()
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('grove kept running after its reader went away')), 20_000)
    proc.child.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  assert.equal(code, 0)
  assert.doesNotMatch(proc.stderr, /EPIPE|Unhandled|at /)
})
