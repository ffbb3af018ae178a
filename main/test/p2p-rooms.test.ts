// Rooms, catalogs and the model tree across several peers on a local testnet.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import c from 'compact-encoding'
import Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import { lineageOf } from '../../shared/lineage/graph.js'
import { bytesToHex, formatLink } from '../../shared/link.js'
import { MANIFEST_PATH } from '../../shared/manifest.js'
import type { Grove } from '../core/grove.js'
import { entryFromDrive } from '../core/catalog-entries.js'
import { describeRemote } from '../core/fetch.js'
import { CATALOG_PROTOCOL, namedRoom, privateRoom, publicRoom, type Room } from '../core/rooms.js'
import { Harness, waitFor } from '../testing/harness.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

const BASE_DIMS = { embeddingLength: 64, blockCount: 2 }

async function file(name: string, write: (path: string) => Promise<unknown>): Promise<string> {
  const path = join(await h.tmpDir('grove-rooms-'), `${name}.gguf`)
  await write(path)
  return path
}

async function groveIn(rooms: Room[]): Promise<Grove> {
  const { Grove } = await import('../core/grove.js')
  const home = await h.tmpDir('grove-home-')
  const grove = new Grove({ home, network: true, bootstrap: await h.bootstrap(), rooms })
  await grove.ready()
  h.onTeardown(() => grove.close())
  return grove
}

test('a peer who never downloaded anything sees the whole tree, verified, after the publisher left', async () => {
  const room = [publicRoom()]
  const a = await groveIn(room)
  const base = await a.share(await file('base', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 1, name: 'Base One', license: 'apache-2.0' })))
  const base2 = await a.share(await file('base2', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 2, name: 'Base Two', license: 'mit' })))
  await a.seedLibrary()

  const b = await groveIn(room)
  await b.fetch(base.link, { timeoutMs: 20_000 })
  const adapter = await b.share(
    await file('adapter', (p) => writeLoraAdapter(p, { base: BASE_DIMS, seed: 3, name: 'Base One LoRA', baseModels: [{ name: 'Base One' }] })),
    { parents: [base.link], relation: 'adapter' }
  )

  const c = await groveIn(room)
  await c.fetch(base.link, { timeoutMs: 20_000 })
  await c.fetch(base2.link, { timeoutMs: 20_000 })
  const quantized = await c.share(await file('quant', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 4, name: 'Base One Q', matrixType: 'f32' })), {
    parents: [base.link],
    relation: 'quantized'
  })
  const merge = await c.share(await file('merge', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 5, name: 'Merged' })), {
    parents: [base.link, base2.link],
    relation: 'merge'
  })
  // A fork whose manifest names the right parent with the wrong hash: claimed, not verified.
  const liar = await a.createDrive('liar')
  const liarLink = formatLink(bytesToHex(liar.key))
  const liarManifest = {
    schemaVersion: 1, kind: 'model', name: 'Liar', files: [{ path: '/model.gguf', size: 1000, sha256: 'a'.repeat(64), role: 'weights' }],
    parents: [{ link: base.link, sha256: 'e'.repeat(64), relation: 'finetune' }], publisher: 'd'.repeat(64), created: new Date().toISOString()
  } as const
  await liar.put('/model.gguf', Buffer.from('x'.repeat(1000)))
  await liar.put(MANIFEST_PATH, Buffer.from(JSON.stringify(liarManifest)))
  await a.seedDrive(bytesToHex(liar.key), { lookup: false })
  // C holds and seeds the liar's drive (manifest included) so it outlives A.
  const seen = await describeRemote(c, liarLink, 15_000)
  await c.seedDrive(seen.keyHex, { lookup: false })
  c.catalog.addFromDrive(entryFromDrive(liarLink, seen.manifest)!, { local: true })

  await a.close()

  const d = await groveIn(room)
  await waitFor(() => d.catalog.size >= 6, 30_000, 'D to learn the catalog')
  await d.settleCatalog({ waitMs: 5000 })
  const graph = lineageOf(d.catalog, base.link)
  const names = new Set(graph.nodes.map((n) => n.name))
  for (const name of ['Base One', 'Base One LoRA', 'Base One Q', 'Merged', 'Liar']) assert.ok(names.has(name), `${name} in the tree: ${[...names].join(', ')}`)
  const edge = (parent: string, child: string) => graph.edges.find((e) => e.parent === parent && e.child === child)
  assert.deepEqual({ r: edge(base.link, adapter.link)?.relation, v: edge(base.link, adapter.link)?.verified }, { r: 'adapter', v: true })
  assert.deepEqual({ r: edge(base.link, quantized.link)?.relation, v: edge(base.link, quantized.link)?.verified }, { r: 'quantized', v: true })
  assert.equal(edge(base.link, merge.link)?.relation, 'merge')
  assert.equal(edge(base.link, merge.link)?.verified, true)
  const mergeTree = lineageOf(d.catalog, merge.link)
  const mergeParents = mergeTree.edges.filter((e) => e.child === merge.link)
  assert.deepEqual(mergeParents.map((e) => [e.parent, e.relation, e.verified]).sort(), [[base.link, 'merge', true], [base2.link, 'merge', true]].sort())
  const lie = edge(base.link, liarLink)
  assert.equal(lie?.verified, false)
  assert.equal(lie?.reason, 'hash-differs')
  const baseNode = graph.nodes.find((n) => n.link === base.link)
  assert.ok(baseNode && baseNode.seeders >= 2, 'B and C seed the base after A left')

  const adapters = d.catalog.search({ kind: 'adapter' }).items.map((i) => i.name)
  assert.deepEqual(adapters, ['Base One LoRA'])
  assert.deepEqual(d.catalog.search({ relation: 'quantized' }).items.map((i) => i.name), ['Base One Q'])
  assert.deepEqual(d.catalog.search({ license: 'mit' }).items.map((i) => i.name), ['Base Two'])
  assert.deepEqual(d.catalog.search({ text: 'merged' }).items.map((i) => i.name), ['Merged'])
})

test('a private room is invisible to peers without its secret; named rooms are separate', async () => {
  const secret = 'class-of-2026-secret'
  const lab = await groveIn([privateRoom(secret)])
  await lab.share(await file('private', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 9, name: 'Lab Only' })))
  const outsider = await groveIn([publicRoom()])
  const otherRoom = await groveIn([namedRoom('physics')])
  const member = await groveIn([privateRoom(secret)])
  await waitFor(() => member.catalog.has(lab.library.list()[0]!.link), 30_000, 'the member to see the lab model')
  await outsider.settleCatalog({ waitMs: 3000 })
  await otherRoom.settleCatalog({ waitMs: 1000 })
  assert.equal(outsider.catalog.size, 0)
  assert.equal(otherRoom.catalog.size, 0)
})

test('a peer sending garbage, oversized or endless catalogs is disconnected; others are unaffected', async () => {
  const room = publicRoom()
  const honest = await groveIn([room])
  const shared = await honest.share(await file('honest', (p) => writeLlamaModel(p, { ...BASE_DIMS, seed: 11, name: 'Honest' })))
  const victim = await groveIn([room])
  await waitFor(() => victim.catalog.has(shared.link), 30_000, 'victim to learn the honest model')

  const violations: string[] = []
  victim.events.on('violation', (v: { reason: string }) => violations.push(v.reason))
  const attack = async (send: (msg: { send(data: Uint8Array): boolean }) => void) => {
    const swarm = new Hyperswarm({ bootstrap: await h.bootstrap() })
    h.onTeardown(() => swarm.destroy())
    const closed = new Promise<void>((resolve) => {
      swarm.on('connection', (conn) => {
        conn.on('error', () => {})
        if (!conn.remotePublicKey.equals(Buffer.from(victim.swarm.publicKey, 'hex'))) return
        conn.once('close', () => resolve())
        const channel = Protomux.from(conn).createChannel({ protocol: CATALOG_PROTOCOL, id: room.topic, handshake: c.buffer })!
        const msg = channel.addMessage({ encoding: c.buffer })
        channel.open(Buffer.alloc(0))
        send(msg)
      })
    })
    swarm.join(room.topic, { server: false, client: true })
    await closed
    await swarm.destroy()
  }
  await attack((m) => m.send(Buffer.from('{not json')))
  await attack((m) => m.send(Buffer.alloc(3 * 1024 * 1024, 0x20)))
  await attack((m) => m.send(Buffer.from(JSON.stringify({ version: 1, entries: [{ link: 'grove://bogus' }] }))))
  const bogus = (i: number) => ({
    link: formatLink(i.toString(16).padStart(64, '0')), name: `bogus ${i}`, kind: 'model', sha256: 'b'.repeat(64), size: 1,
    parents: [], publisher: 'c'.repeat(64), created: new Date(0).toISOString()
  })
  await attack((m) => {
    for (let batch = 0; batch < 100; batch++) {
      const entries = Array.from({ length: 1000 }, (_, i) => bogus(batch * 1000 + i + 1))
      m.send(Buffer.from(JSON.stringify({ version: 1, entries })))
    }
  })
  assert.ok(violations.length >= 4, `each attacker was cut off: ${violations.join('; ')}`)
  assert.ok(victim.catalog.size <= victim.catalog.maxEntriesPerPeer + 10, `catalog bounded: ${victim.catalog.size}`)
  const started = performance.now()
  const found = victim.catalog.search({ text: 'honest' })
  console.log(`# search after the flood: ${(performance.now() - started).toFixed(1)} ms over ${victim.catalog.size} entries`)
  assert.deepEqual(found.items.map((i) => i.name), ['Honest'])
  assert.ok(honest.swarm.connectionCount > 0, 'the honest peer is still connected')
})
