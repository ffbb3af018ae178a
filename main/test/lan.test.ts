// Offline LAN: Grove hosts on simulated LANs (network namespaces on a bridge, no route to anywhere
// else, no bootstrap configured) find each other by multicast DNS and share, fetch and browse as
// they do online; a seeder whose cable is pulled mid-transfer, or that moves to another LAN,
// recovers without a restart; nothing is sent beyond the LAN; another LAN sees nothing.
// Every host runs the real `grove` command line. Needs root inside the test network namespace.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { sha256File } from '../core/sha256.js'
import { Harness, waitFor, type GroveProcess, type GroveRun } from '../testing/harness.js'
import { LanLab, inTestNetns, type LanHost } from '../testing/lan-hosts.js'
import { LAN_SERVICE, isPrivateIPv4, onLocalNetwork, onSubnet, parseNodes } from '../core/lan.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'

const skip = inTestNetns() ? false : 'needs root inside the test network namespace (node dist/main/testing/in-netns.js ...)'
const TRACE = { GROVE_TRACE: '1' }

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

async function modelFile(name: string, targetBytes: number): Promise<string> {
  const dir = await h.tmpDir('grove-lan-models-')
  const path = join(dir, `${name}.gguf`)
  await writeLlamaModel(path, { seed: 11, name, license: 'mit', targetBytes })
  return path
}

/** Milliseconds from `startedAt` to the first `[trace] <ms> <what>` line on a process's stderr. */
function traceDelay(stderr: string, what: string, startedAt: number): number | null {
  const match = new RegExp(`^\\[trace\\] (\\d+) ${what}`, 'm').exec(stderr)
  return match ? Number(match[1]) - startedAt : null
}

/** Every DHT node a process knew or bootstrapped from (its `[trace] … dht` line at close). */
function dhtAddresses(stderr: string): string[] {
  const hosts: string[] = []
  for (const match of stderr.matchAll(/^\[trace\] \d+ dht \w+ (.*)$/gm)) {
    const tables = JSON.parse(match[1]!) as { nodes: Node[]; bootstrap: Node[]; lanNode?: { nodes: Node[]; bootstrap: Node[] } }
    for (const n of [...tables.nodes, ...tables.bootstrap, ...(tables.lanNode?.nodes ?? []), ...(tables.lanNode?.bootstrap ?? [])]) hosts.push(n.host)
  }
  return hosts
}
type Node = { host: string; port: number }

async function share(host: LanHost, home: string, file: string): Promise<{ link: string; sha256: string }> {
  const run = await host.runGrove(['--home', home, '--json', 'share', file])
  assert.equal(run.code, 0, run.stderr)
  const result = run.json.at(-1)!
  return { link: String(result.link), sha256: String(result.sha256) }
}

/** `grove seed --lan`; with `joined`, also waits until it is connected to a peer and has announced on the LAN's DHT. */
async function seed(host: LanHost, home: string, opts: { joined?: boolean } = {}): Promise<{ proc: GroveProcess; startedAt: number }> {
  const startedAt = Date.now()
  const proc = host.spawnGrove(['--home', home, '--lan', '--json', 'seed'], { env: TRACE })
  await proc.waitForJson((l) => l.event === 'seeding', 20_000)
  if (opts.joined) {
    // Connected, and announced to every DHT node it has found (not only its own).
    await waitFor(() => /^\[trace\] \d+ connection /m.test(proc.stderr) && /^\[trace\] \d+ lan: announced and looked up \d+ topics again \([1-9]/m.test(proc.stderr), 20_000, `${host.name} to join the LAN swarm`)
  }
  return { proc, startedAt }
}

function mbPerS(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(1)
}

test('offline LAN: hosts find each other with no configuration; share, fetch, rooms, a cable pulled mid-transfer; nothing leaves the LAN', { skip, timeout: 150_000 }, async () => {
  const lab = new LanLab(h)
  const lan1 = lab.bridge('10.213.0')
  const lan2 = lab.bridge('10.214.0')
  // A router with no uplink: every LAN 1 host routes "the internet" to it, so anything sent
  // beyond the LAN shows in its counters (it does not forward).
  const gateway = await lab.host('gateway', lan1, 254)
  const a = await lab.host('a', lan1, 1)
  const b = await lab.host('b', lan1, 2)
  const c = await lab.host('c', lan1, 3)
  for (const host of [a, b, c]) host.defaultRoute(gateway)
  const d = await lab.host('d', lan2, 1)
  const [homeA, homeB, homeC, homeC2, homeD, homeD2] = (await Promise.all([1, 2, 3, 4, 5, 6].map(() => h.tmpDir()))) as [string, string, string, string, string, string]

  const file = await modelFile('campus-model', 64 * 1024 * 1024)
  const shared = await share(a, homeA, file)
  const seederA = await seed(a, homeA)

  // B fetches it from A.
  const startedB = Date.now()
  const fetchB = await b.runGrove(['--home', homeB, '--lan', '--json', 'fetch', shared.link, '--timeout', '30'], { env: TRACE, timeoutMs: 60_000 })
  assert.equal(fetchB.code, 0, fetchB.stderr)
  const doneB = fetchB.json.at(-1)!
  assert.equal(doneB.event, 'done')
  assert.equal(await sha256File(String(doneB.path)), shared.sha256)
  const firstPeerB = traceDelay(fetchB.stderr, 'connection', startedB)
  const firstNodeB = traceDelay(fetchB.stderr, 'lan: found DHT node', startedB)
  const tookB = Date.now() - startedB
  const downloadB = traceDelay(fetchB.stderr, 'download done', startedB)! - traceDelay(fetchB.stderr, 'download start', startedB)!
  console.log(`# B: first LAN DHT node after ${firstNodeB} ms, first peer after ${firstPeerB} ms (from process start); ${(Number(doneB.size) / 1e6).toFixed(0)} MB downloaded in ${downloadB} ms (${mbPerS(Number(doneB.size), downloadB)} MB/s, 1 seeder); whole fetch ${tookB} ms`)
  assert.ok(firstPeerB !== null && firstPeerB < 15_000, `B found a peer (${firstPeerB} ms)`)

  // B sees A's room catalog; meanwhile D, on another LAN, sees nothing at all.
  const [browseB, browseD, fetchD] = await Promise.all([
    b.runGrove(['--home', homeB, '--lan', '--json', 'browse', '--wait', '10'], { timeoutMs: 40_000 }),
    d.runGrove(['--home', homeD, '--lan', '--json', 'browse', '--wait', '3'], { timeoutMs: 40_000 }),
    d.runGrove(['--home', homeD2, '--lan', 'fetch', shared.link, '--timeout', '3'], { timeoutMs: 40_000 })
  ])
  assert.equal(browseB.code, 0, browseB.stderr)
  const listedB = (browseB.json[0]!.models as Array<Record<string, unknown>>).find((m) => m.link === shared.link)
  assert.ok(listedB, `B's browse lists A's model: ${browseB.stdout}`)
  assert.equal(listedB.name, 'campus-model')
  assert.ok(Number(listedB.seeders) >= 1)
  assert.equal(browseD.code, 0, browseD.stderr)
  assert.deepEqual(browseD.json[0]!.models, [], 'a host on another LAN sees no model')
  assert.notEqual(fetchD.code, 0)
  assert.match(fetchD.stderr.trimEnd().split('\n').at(-1)!, /^grove: No peer serves grove:\/\/\S+ \(waited 3 s\)/)

  // B seeds too; C comes later and fetches from A and B at once; A's cable is pulled mid-transfer.
  const seederB = await seed(b, homeB, { joined: true })
  const startedC = Date.now()
  const fetchC = c.spawnGrove(['--home', homeC, '--lan', '--json', 'fetch', shared.link, '--timeout', '30'], { env: TRACE })
  const both = await fetchC
    .waitForJson((l) => l.event === 'progress' && Number(l.peers) >= 2 && Number(l.bytes) > 0 && Number(l.bytes) < Number(l.total) * 0.7, 60_000)
    .catch((err: Error) => {
      throw new Error(`${err.message}\nC's progress: ${fetchC.stdout.split('\n').slice(0, 40).join(' | ')}\nC's trace: ${fetchC.stderr.split('\n').filter((l) => !l.includes('rss=')).join(' | ')}`)
    })
  a.link(false)
  const cutAt = Date.now()
  const runC = await fetchC.finished(90_000)
  assert.equal(runC.code, 0, runC.stderr)
  const doneC = runC.json.at(-1)!
  assert.equal(doneC.event, 'done')
  assert.equal(await sha256File(String(doneC.path)), shared.sha256, 'C has the right bytes, from B')
  const afterCut = runC.json.filter((l) => l.event === 'progress' && Number(l.bytes) > Number(both.bytes))
  assert.ok(afterCut.length > 0, 'bytes kept coming after the cut')
  console.log(`# C: first peer after ${traceDelay(runC.stderr, 'connection', startedC)} ms; both seeders at ${(Number(both.bytes) / 1e6).toFixed(1)} MB, A cut then; done ${Date.now() - cutAt} ms after the cut, ${Date.now() - startedC} ms after start`)

  // Nothing so far went beyond the LAN: the gateway got no packet for any other address, and
  // every DHT node anyone knew is on 10.213.0.0/24.
  const gatewayAfterLan = gateway.ipStats()
  assert.equal(gatewayAfterLan.InAddrErrors, 0, `packets sent beyond the LAN: ${JSON.stringify(gatewayAfterLan)}`)
  const seenB = await stopped(seederB.proc)
  const tables = [...dhtAddresses(fetchB.stderr), ...dhtAddresses(runC.stderr), ...dhtAddresses(seenB.stderr)]
  assert.ok(tables.length >= 3, `DHT tables traced: ${tables.join(', ')}`)
  for (const host of tables) assert.match(host, /^10\.213\.0\.\d+$/, 'LAN mode knows only LAN addresses')

  // A polls its interfaces every 2 s; C may be done sooner than that after the cut.
  await waitFor(() => /network change: lan0 10\.213\.0\.1 -> none/.test(seederA.proc.stderr), 15_000, 'A noticing its cable was pulled')

  // A's cable goes back in; with B gone, a newcomer that was given no --lan (it switches to LAN
  // mode by itself when no public bootstrap node answers) sees A's catalog again: A recovered.
  a.link(true)
  const startedC2 = Date.now()
  const browseC2 = await c.runGrove(['--home', homeC2, '--json', 'browse', '--wait', '15'], { env: { ...TRACE, GROVE_LAN_FALLBACK_MS: '1500' }, timeoutMs: 60_000 })
  assert.equal(browseC2.code, 0, browseC2.stderr)
  assert.match(browseC2.stderr, /Network: no DHT bootstrap node answered within 1\.5 s; switched to LAN mode/)
  const listedC2 = (browseC2.json[0]!.models as Array<Record<string, unknown>>).find((m) => m.link === shared.link)
  assert.ok(listedC2, `after the cable is back, A serves its catalog again: ${browseC2.stdout} ${browseC2.stderr.slice(-800)}`)
  console.log(`# auto-LAN newcomer: first peer after ${traceDelay(browseC2.stderr, 'connection', startedC2)} ms (1.5 s of it waiting for the public DHT)`)
  // The auto-mode newcomer did try the public DHT first: the gateway saw it (so the zero above is real).
  assert.ok(gateway.ipStats().InAddrErrors! > 0, 'the gateway counts packets meant for beyond the LAN')

  const seenA = await stopped(seederA.proc)
  assert.match(seenA.stderr, /network change: lan0 10\.213\.0\.1 -> none/, 'A noticed its cable was pulled')
  for (const host of dhtAddresses(seenA.stderr)) assert.match(host, /^10\.213\.0\.\d+$/)
})

test('a seeder that moves to another LAN is found there, without a restart', { skip, timeout: 90_000 }, async () => {
  const lab = new LanLab(h)
  const lan1 = lab.bridge('10.213.0')
  const lan2 = lab.bridge('10.214.0')
  const laptop = await lab.host('laptop', lan1, 10)
  const other = await lab.host('other', lan2, 20)
  const homeL = await h.tmpDir()
  const homeO = await h.tmpDir()
  const shared = await share(laptop, homeL, await modelFile('roaming-model', 4 * 1024 * 1024))
  const seeder = await seed(laptop, homeL)

  const before = await other.runGrove(['--home', homeO, '--lan', 'fetch', shared.link, '--timeout', '3'], { timeoutMs: 30_000 })
  assert.notEqual(before.code, 0, 'not reachable from the other LAN yet')

  laptop.attach(lan2, 30)
  const movedAt = Date.now()
  const after = await other.runGrove(['--home', homeO, '--lan', '--json', 'fetch', shared.link, '--timeout', '30'], { env: TRACE, timeoutMs: 60_000 })
  assert.equal(after.code, 0, after.stderr)
  assert.equal(await sha256File(String(after.json.at(-1)!.path)), shared.sha256)
  console.log(`# moved laptop: fetched on its new LAN ${Date.now() - movedAt} ms after the move`)
  const seen = await stopped(seeder.proc)
  assert.match(seen.stderr, /Network: network changed to lan0 10\.214\.0\.30; LAN DHT node moved to 10\.214\.0\.30/)
})

test('mDNS answers are parsed into DHT nodes; only nodes on our own subnets count', () => {
  const id = '0123456789abcdef'
  const instance = `${id}.${LAN_SERVICE}`
  const answer = {
    answers: [{ name: LAN_SERVICE, type: 'PTR', ttl: 120, data: instance }],
    additionals: [
      { name: instance, type: 'SRV', ttl: 120, data: { port: 40000, target: `grove-${id}.local`, priority: 0, weight: 0 } },
      { name: `grove-${id}.local`, type: 'A', ttl: 120, data: '10.213.0.7' }
    ]
  }
  assert.deepEqual(parseNodes(answer, { address: '10.213.0.9' }), [{ id, host: '10.213.0.7', port: 40000 }])
  // No A record: the sender's address. A goodbye (TTL 0), a bad id or port, or another service: nothing.
  assert.deepEqual(parseNodes({ ...answer, additionals: answer.additionals.slice(0, 1) }, { address: '10.213.0.9' }), [{ id, host: '10.213.0.9', port: 40000 }])
  assert.deepEqual(parseNodes({ ...answer, answers: [{ ...answer.answers[0]!, ttl: 0 }] }, { address: '10.213.0.9' }), [])
  assert.deepEqual(parseNodes({ ...answer, answers: [{ ...answer.answers[0]!, data: `nope.${LAN_SERVICE}` }] }, { address: '10.213.0.9' }), [])
  assert.deepEqual(parseNodes({ answers: [{ name: '_http._tcp.local', type: 'PTR', data: instance }], additionals: answer.additionals }, { address: '10.213.0.9' }), [])
  const badPort = { ...answer, additionals: [{ ...answer.additionals[0]!, data: { port: 0, target: `grove-${id}.local` } }] }
  assert.deepEqual(parseNodes(badPort, { address: '10.213.0.9' }), [])

  const lan = { name: 'lan0', address: '10.213.0.1', netmask: '255.255.255.0' }
  assert.ok(onSubnet('10.213.0.200', lan))
  assert.ok(!onSubnet('10.213.1.2', lan))
  assert.ok(!onSubnet('88.99.3.86', lan))
  assert.ok(onLocalNetwork('127.0.0.1', [lan]) && onLocalNetwork('10.213.0.9', [lan]) && !onLocalNetwork('8.8.8.8', [lan]))
  assert.ok(isPrivateIPv4('10.1.2.3') && isPrivateIPv4('172.16.0.1') && isPrivateIPv4('192.168.1.1') && !isPrivateIPv4('172.32.0.1') && !isPrivateIPv4('88.99.3.86'))
})

async function stopped(proc: GroveProcess): Promise<GroveRun> {
  proc.kill('SIGTERM')
  const run = await proc.finished(20_000)
  assert.equal(run.code, 0, `exits cleanly: ${run.stderr.slice(-500)}`)
  return run
}
