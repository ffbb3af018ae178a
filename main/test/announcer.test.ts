// The announcer: a seeder's topics go on the DHT a few at a time, each is announced again before
// the DHT nodes drop it, a failed or stalled announcement is retried, and what was announced is
// withdrawn on removal or close, within a time limit.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import HyperDHT from 'hyperdht'
import { Announcer, type AnnounceDht, type DhtQuery, type KeyPair } from '../core/announcer.js'
import { sleep } from '../core/abort.js'

const keyPair = (): KeyPair => HyperDHT.keyPair()
const topic = (n: number) => Buffer.alloc(32, n)

/** A DHT whose announcements finish when the test says; records what was asked of it. */
class FakeDht implements AnnounceDht {
  readonly announces: Array<{ topic: number; clear: boolean; closestNodes: unknown[] | null; finish: (ok?: boolean) => void }> = []
  readonly unannounces: Array<{ topic: number; closestNodes: unknown[] }> = []
  running = 0
  maxRunning = 0
  unannounceHangs = false

  announce(target: Buffer, _keyPair: KeyPair, _relays: unknown[], opts: { clear?: boolean; closestNodes?: unknown[] | null }): DhtQuery {
    let finish!: (ok?: boolean) => void
    const done = new Promise<void>((resolve, reject) => {
      finish = (ok = true) => (ok ? resolve() : reject(new Error('query failed')))
    })
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    const settled = done.finally(() => this.running--)
    settled.catch(() => {})
    const query: DhtQuery = { finished: () => settled, destroy: () => finish(false), closestNodes: [`node-of-${target[0]}`] }
    this.announces.push({ topic: target[0]!, clear: opts.clear === true, closestNodes: opts.closestNodes ?? null, finish })
    return query
  }

  unannounce(target: Buffer, _keyPair: KeyPair, opts: { closestNodes: unknown[] }): Promise<void> {
    this.unannounces.push({ topic: target[0]!, closestNodes: opts.closestNodes })
    return this.unannounceHangs ? new Promise(() => {}) : Promise.resolve()
  }
}

function announcer(dht: AnnounceDht, opts: Partial<ConstructorParameters<typeof Announcer>[0]> = {}): Announcer {
  return new Announcer({ dht, keyPair: keyPair(), listen: async () => {}, relayAddresses: () => [], ...opts })
}

test('announces a few topics at a time, in the order they came, and flushed() waits for all', async () => {
  const dht = new FakeDht()
  const a = announcer(dht, { atOnce: 3 })
  for (let i = 1; i <= 10; i++) a.add(topic(i))
  a.add(topic(1)) // twice: once
  let flushed = false
  void a.flushed().then(() => (flushed = true))
  for (let round = 0; round < 50 && !flushed; round++) {
    await sleep(5)
    for (const x of dht.announces) x.finish()
  }
  assert.deepEqual(dht.announces.map((x) => x.topic), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal(dht.maxRunning, 3)
  assert.ok(dht.announces.every((x) => x.clear && x.closestNodes === null), 'a first announcement clears, and starts from the routing table')
  assert.equal(flushed, true)
  await a.close(100)
})

test('each topic is announced again after refreshMs, from the nodes the last one found; a failure is retried after retryMs', async () => {
  const dht = new FakeDht()
  const a = announcer(dht, { refreshMs: 1200, retryMs: 30 })
  a.add(topic(1))
  a.add(topic(2))
  await sleep(5)
  dht.announces[0]!.finish()
  dht.announces[1]!.finish(false)
  await sleep(300) // topic 2 retried (30 ms), topic 1 not yet (first refresh after 600–1200 ms)
  assert.deepEqual(dht.announces.map((x) => x.topic), [1, 2, 2])
  assert.equal(dht.announces[2]!.clear, true, 'a retry of a first announcement still clears')
  dht.announces[2]!.finish()
  await sleep(1300)
  const refresh = dht.announces.find((x, i) => i > 2 && x.topic === 1)
  assert.ok(refresh, `topic 1 refreshed: ${JSON.stringify(dht.announces.map((x) => x.topic))}`)
  assert.equal(refresh.clear, false)
  assert.deepEqual(refresh.closestNodes, ['node-of-1'])
  await a.close(100)
})

test('the first refreshes of topics announced together are spread over the second half of the period', async () => {
  const dht = new FakeDht()
  const a = announcer(dht, { refreshMs: 1000, atOnce: 20 })
  for (let i = 1; i <= 20; i++) a.add(topic(i))
  await sleep(5)
  const announcedAt = Date.now()
  for (const x of dht.announces) x.finish()
  const refreshedAt = new Map<number, number>()
  for (let waited = 0; waited < 2000 && refreshedAt.size < 20; waited += 10) {
    await sleep(10)
    for (const x of dht.announces.slice(20)) if (!refreshedAt.has(x.topic)) refreshedAt.set(x.topic, Date.now() - announcedAt)
  }
  const delays = [...refreshedAt.values()]
  assert.equal(delays.length, 20)
  assert.ok(Math.min(...delays) >= 480, `none before half the period: ${delays}`)
  assert.ok(Math.max(...delays) - Math.min(...delays) > 150, `not in one burst: ${delays}`)
  await a.close(100)
})

test('a stalled announcement gives its turn to the next after timeoutMs', async () => {
  const dht = new FakeDht()
  const a = announcer(dht, { atOnce: 1, timeoutMs: 30, retryMs: 10_000 })
  a.add(topic(1))
  a.add(topic(2))
  await sleep(80)
  assert.deepEqual(dht.announces.map((x) => x.topic), [1, 2])
  dht.announces[1]!.finish()
  await a.flushed()
  await a.close(100)
})

test('remove withdraws from the nodes of the last announcement; close withdraws the rest within its grace', async () => {
  const dht = new FakeDht()
  const a = announcer(dht)
  a.add(topic(1))
  a.add(topic(2))
  a.add(topic(3))
  await sleep(5)
  for (const x of dht.announces) x.finish()
  await a.flushed()
  await a.remove(topic(1))
  assert.deepEqual(dht.unannounces, [{ topic: 1, closestNodes: ['node-of-1'] }])
  await a.remove(topic(2), { withdraw: false })
  assert.equal(dht.unannounces.length, 1)
  assert.equal(a.size, 1)
  dht.unannounceHangs = true
  const started = Date.now()
  await a.close(150)
  assert.ok(Date.now() - started < 1000, 'close waits no longer than its grace')
  assert.deepEqual(dht.unannounces.map((x) => x.topic), [1, 3])
  a.add(topic(4))
  assert.equal(dht.announces.length, 3, 'nothing is announced after close')
})

test('on a real DHT whose nodes forget after ~2 s, a refreshed announcement is still found; one not refreshed is gone', async () => {
  const nodes: HyperDHT[] = []
  const first = new HyperDHT({ ephemeral: false, firewalled: false, bootstrap: [], host: '127.0.0.1', maxAge: 2000 })
  await first.fullyBootstrapped()
  const bootstrap = [{ host: '127.0.0.1', port: first.address().port }]
  nodes.push(first)
  for (let i = 0; i < 5; i++) {
    const node = new HyperDHT({ ephemeral: false, firewalled: false, bootstrap, host: '127.0.0.1', maxAge: 2000 })
    await node.fullyBootstrapped()
    nodes.push(node)
  }
  const client = (): HyperDHT => new HyperDHT({ ephemeral: true, bootstrap, host: '127.0.0.1' })
  const refreshing = { dht: client(), keyPair: keyPair() }
  const once = { dht: client(), keyPair: keyPair() }
  const looker = client()
  const kept = announcer(refreshing.dht, { keyPair: refreshing.keyPair, refreshMs: 700 })
  const lapsed = announcer(once.dht, { keyPair: once.keyPair, refreshMs: 600_000 })
  try {
    const t = topic(7)
    kept.add(t)
    lapsed.add(t)
    await Promise.all([kept.flushed(), lapsed.flushed()])
    const announced = async (): Promise<Set<string>> => {
      const found = new Set<string>()
      const query = looker.lookup(t)
      for await (const reply of query) for (const peer of reply.peers) found.add(peer.publicKey.toString('hex'))
      return found
    }
    const before = await announced()
    assert.ok(before.has(refreshing.keyPair.publicKey.toString('hex')) && before.has(once.keyPair.publicKey.toString('hex')), 'both announced at first')
    await sleep(6000) // records live between maxAge and twice that
    const after = await announced()
    assert.ok(after.has(refreshing.keyPair.publicKey.toString('hex')), 'the refreshed announcement is still there')
    assert.ok(!after.has(once.keyPair.publicKey.toString('hex')), 'the one never refreshed has lapsed (so the check above can fail)')
  } finally {
    await kept.close(500)
    await lapsed.close(500)
    for (const dht of [refreshing.dht, once.dht, looker, ...nodes]) await dht.destroy()
  }
})
