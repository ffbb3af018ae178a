// Direct TCP links between swarm peers (main/core/direct-link.ts), between in-process peers on a
// local testnet inside a network namespace.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, test } from 'node:test'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import Corestore from 'corestore'
import type { SwarmConnection } from 'hyperswarm'
import { DirectLinks } from '../core/direct-link.js'
import { sha256File } from '../core/sha256.js'
import type { Grove } from '../core/grove.js'
import { Harness, waitFor, withTimeout } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

async function seededModel(a: Grove, name: string, targetBytes?: number): Promise<{ link: string; sha256: string }> {
  const path = join(await h.tmpDir('grove-models-'), `${name}.gguf`)
  await writeLlamaModel(path, { seed: 7, name, license: 'apache-2.0', targetBytes })
  const shared = await a.share(path)
  await a.seedLibrary()
  return shared
}

function transportTo(from: Grove, to: Grove): string | null | undefined {
  return from.swarm.peers.find((p) => p.publicKey === to.swarm.publicKey)?.transport
}

test('peers that reach each other by TCP replicate over a direct link', async () => {
  const a = await h.grove()
  const b = await h.grove()
  assert.ok(a.swarm.directPort > 0, 'listens for direct links')
  const shared = await seededModel(a, 'direct')
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
  assert.equal(transportTo(b, a), 'tcp')
  assert.equal(transportTo(a, b), 'tcp')
})

test('with direct links off on one side (--no-tcp), both replicate over UDX', async () => {
  const a = await h.grove({ directPort: null })
  const b = await h.grove()
  assert.equal(a.swarm.directPort, 0)
  const shared = await seededModel(a, 'udx-only')
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
  assert.equal(transportTo(b, a), 'udx')
  assert.equal(transportTo(a, b), 'udx')
})

test('a direct link cut mid-download falls back to UDX and the download completes', async () => {
  const a = await h.grove()
  const shared = await seededModel(a, 'cut-link', 96 * 1024 * 1024)
  const b = await h.grove()
  let cut: Promise<unknown> | null = null
  const fetched = await b.fetch(shared.link, {
    timeoutMs: 30_000,
    onEvent: (e) => {
      if (cut || e.event !== 'progress' || e.bytes === 0 || e.bytes >= e.total) return
      assert.equal(transportTo(b, a), 'tcp')
      // Abort every TCP connection to A's direct-link port, as a reset on the wire would.
      cut = promisify(execFile)('ss', ['-K', 'dport', '=', `:${a.swarm.directPort}`])
    }
  })
  assert.ok(cut, 'the link was cut while blocks were still coming')
  await cut
  assert.equal(await sha256File(fetched.path), shared.sha256)
  assert.equal(transportTo(b, a), 'udx', 'went on over the swarm connection')
})

test('strangers on the direct-link port are cut off; peers are not disturbed', async () => {
  const a = await h.grove()
  const port = a.swarm.directPort
  // Not Noise at all.
  const raw = connect({ host: '127.0.0.1', port })
  raw.on('error', () => {})
  raw.write(Buffer.alloc(4096, 0xff))
  await withTimeout(new Promise((resolve) => raw.once('close', resolve)), 10_000, () => 'garbage was not cut off')

  // Noise with a key that is no swarm peer of A's: the handshake completes, then A hangs up.
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  const stranger = new NoiseSecretStream(true, socket)
  stranger.on('error', () => {})
  const closed = new Promise((resolve) => stranger.once('close', resolve))
  assert.equal(await stranger.opened, true)
  await withTimeout(closed, 5000, () => 'a stranger with a valid handshake stayed connected')

  const shared = await seededModel(a, 'after-strangers')
  const b = await h.grove()
  const fetched = await b.fetch(shared.link, { timeoutMs: 20_000 })
  assert.equal(await sha256File(fetched.path), shared.sha256)
  await waitFor(() => transportTo(b, a) === 'tcp', 5000, 'a direct link to A')
})

/** Two DirectLinks on one machine and the swarm connection between them, as Hyperswarm would hand it over (B dialled A). */
async function linkedPair(replicateA: (s: unknown) => void, replicateB: (s: unknown) => void) {
  const keyA = NoiseSecretStream.keyPair()
  const keyB = NoiseSecretStream.keyPair()
  const a = new DirectLinks({ keyPair: keyA, port: 0, replicate: replicateA })
  const b = new DirectLinks({ keyPair: keyB, port: 0, replicate: replicateB })
  await a.listen()
  await b.listen()
  h.onTeardown(() => a.close())
  h.onTeardown(() => b.close())
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  h.onTeardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const rawB = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port })
  const rawA = await accepted
  const connB = new NoiseSecretStream(true, rawB, { keyPair: keyB })
  const connA = new NoiseSecretStream(false, rawA, { keyPair: keyA })
  connA.on('error', () => {})
  connB.on('error', () => {})
  await Promise.all([connA.opened, connB.opened])
  h.onTeardown(() => { connA.destroy(); connB.destroy() })
  for (const raw of [rawA, rawB]) Object.assign(raw, { remoteHost: '127.0.0.1' })
  return { a, b, connA: connA as unknown as SwarmConnection, connB: connB as unknown as SwarmConnection }
}

/** Makes A's advertised port answer TCP but never the handshake: B's dial hangs until it gives up. */
async function stallDirectPort(links: DirectLinks): Promise<void> {
  const port = links.port
  await new Promise((resolve) => (links as unknown as { server: Server }).server.close(resolve))
  const stalled = createServer((socket) => socket.on('error', () => {}).resume())
  await new Promise<void>((resolve) => stalled.listen(port, resolve))
  h.onTeardown(() => new Promise<void>((resolve) => stalled.close(() => resolve())))
}

test('a dial that is refused falls back to UDX on both sides at once, not after the responder gives up', async () => {
  const replicated: Record<'a' | 'b', unknown[]> = { a: [], b: [] }
  const { a, b, connA, connB } = await linkedPair((s) => replicated.a.push(s), (s) => replicated.b.push(s))
  // A still tells peers its port, but nothing answers there any more: B's dial is refused.
  await new Promise((resolve) => (a as unknown as { server: Server }).server.close(resolve))

  const started = Date.now()
  a.attach(connA)
  b.attach(connB)
  await waitFor(() => a.transportOf(connA) === 'udx' && b.transportOf(connB) === 'udx', 10_000, 'both sides on UDX')
  assert.equal(replicated.a.at(-1), connA, 'A replicates over the swarm connection')
  assert.equal(replicated.b.at(-1), connB, 'B replicates over the swarm connection')
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`)
})

test('blocks flow at once while a direct link is dialled, and go on over the swarm connection when the dial fails', async () => {
  const storeA = new Corestore(await h.tmpDir('grove-store-a-'))
  const storeB = new Corestore(await h.tmpDir('grove-store-b-'))
  h.onTeardown(() => storeA.close())
  h.onTeardown(() => storeB.close())
  const source = storeA.get({ name: 'blocks' })
  await source.ready()
  await source.append([Buffer.from('first'), Buffer.from('second'), Buffer.from('third')])
  const copy = storeB.get({ key: source.key! })
  await copy.ready()
  const replicated: unknown[] = []
  const { a, b, connA, connB } = await linkedPair((s) => storeA.replicate(s as never), (s) => { replicated.push(s); storeB.replicate(s as never) })
  await stallDirectPort(a)

  const started = Date.now()
  a.attach(connA)
  b.attach(connB)
  const first = await copy.get(0, { timeout: 10_000 })
  const firstMs = Date.now() - started
  assert.equal(String(first), 'first')
  assert.ok(firstMs < 1500, `the first block took ${firstMs} ms (the dial gives up after 3 s): it waited for the link`)
  assert.equal(b.transportOf(connB), null, 'still deciding when the first block came')
  assert.notEqual(replicated[0], connB, 'it came through the tunnel')

  await waitFor(() => b.transportOf(connB) === 'udx' && a.transportOf(connA) === 'udx', 10_000, 'both on the swarm connection once the dial gave up')
  await source.append(Buffer.from('fourth'))
  assert.equal(String(await copy.get(3, { timeout: 10_000 })), 'fourth', 'replication went on after the move')
  assert.equal(replicated.at(-1), connB)
})

test('a peer that never opens the direct-link channel (a stock Hyperdrive reader) gets UDX within a moment', async () => {
  const replicated: unknown[] = []
  const { a, connA } = await linkedPair((s) => replicated.push(s), () => {})
  const started = Date.now()
  a.attach(connA) // B does not attach: it speaks no grove/direct
  await waitFor(() => replicated.length > 0, 5000, 'A replicating')
  assert.equal(replicated[0], connA)
  assert.ok(Date.now() - started < 1600, `took ${Date.now() - started} ms`)
})
