// `npm run bench:lab` (issue #22, "A lab seeds a thousand models"): one home seeding N tiny
// models (default 1000) on a local HyperDHT testnet of ~20 nodes, as a lab's headless seeder
// would for months. Measures publishing all N, seeder start-up, its RSS / fds / idle CPU, its DHT
// packets per model per hour over an idle window, and how long another peer's `grove browse`
// takes to list all N; transmission-daemon seeding the same N files is the reference for idle
// CPU, RSS and fds. Every host is a network namespace on one bridge (main/bench/lab-hosts.ts).
//   node dist/main/testing/in-netns.js node dist/main/bench/lab.js [--n 1000] [--quick]
//     [--window-min 25] [--dht-nodes 20] [--skip-transmission] [--reference-dht on|off] [--profile DIR]
// GROVE_LAB_N sets N too; --quick is N=200 and a 3-minute window (less than one announce
// refresh period: its DHT figure then counts the start-up announces, not the steady state).
// Exits 0 when targets are missed (it is a measurement), non-zero only when the bench failed.
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatLink, parseLink } from '../../shared/link.js'
import { ANNOUNCE_REFRESH_MS } from '../core/announcer.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { LabNet, type LabHost } from './lab-hosts.js'
import { Proc, cleanup, cleanups, grove, log, median, runCommand, sleep } from './bench-procs.js'

const { values } = parseArgs({
  options: {
    n: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'window-min': { type: 'string' },
    'dht-nodes': { type: 'string', default: '20' },
    'skip-transmission': { type: 'boolean', default: false },
    'reference-dht': { type: 'string', default: 'on' },
    profile: { type: 'string' }
  }
})
/** --profile DIR: the restarted seeder runs with --cpu-prof into DIR (written when it stops). */
const PROFILE_DIR = values.profile
/** transmission-daemon's DHT: on (its default, on a mainline testnet) or off. */
const REFERENCE_DHT = values['reference-dht'] !== 'off'
const N = Math.floor(Number(values.n ?? process.env.GROVE_LAB_N ?? (values.quick ? 200 : 1000)))
const WINDOW_S = Number(values['window-min'] ?? (values.quick ? 3 : 25)) * 60
const DHT_NODES = Math.floor(Number(values['dht-nodes']))
if (!(N >= 1 && N <= 10_000) || !(WINDOW_S > 0) || !(DHT_NODES >= 3)) fail('--n must be 1-10000, --window-min > 0, --dht-nodes ≥ 3')

/**
 * How models are published. 'auto' tries one `grove share DIR` and falls back to one
 * `grove share FILE` per model (2 at a time) when that exits with an error. Once `grove share`
 * takes a folder everywhere, 'dir' skips the probe.
 */
const SHARE_MODE: 'auto' | 'dir' | 'per-file' = 'auto'
const SHARE_POOL = 2

// main/core/announcer.ts announces each seeded topic again every ANNOUNCE_REFRESH_MS (10 min).
const REFRESH_MEAN_S = ANNOUNCE_REFRESH_MS / 1000
// dht-rpc's routing table and queries keep the k = 20 closest nodes; an announce is a LOOKUP query
// (one request and one reply per node it visits: on a testnet of 20 nodes, about all of them)
// then an ANNOUNCE to each of the k closest (request + reply).
const K = 20

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
const HERE = dirname(fileURLToPath(import.meta.url))

if (process.env.GROVE_IN_NETNS !== '1' || process.getuid?.() !== 0) fail('run as root inside a fresh network namespace: node dist/main/testing/in-netns.js node dist/main/bench/lab.js')

// ---------------------------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------------------------

interface ProcReading {
  at: number
  rssBytes: number
  hwmBytes: number
  fds: number
  cpuTicks: number
}

function readProc(pid: number): ProcReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  // /proc/PID/stat: fields after the command name's closing parenthesis; utime and stime are 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { at: performance.now(), rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), fds: readdirSync(`/proc/${pid}/fd`).length, cpuTicks: Number(fields[11]) + Number(fields[12]) }
}

/**
 * The seeder's RSS sampled every half second from its spawn, the largest per phase of the bench:
 * VmHWM says how high it went, not when.
 */
class RssByPhase {
  private phase = 'start-up'
  readonly peaks = new Map<string, number>()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 500)
  }

  enter(phase: string): void {
    this.sample()
    this.phase = phase
  }

  stop(): void {
    this.sample()
    clearInterval(this.timer)
  }

  private sample(): void {
    let rss: number
    try {
      rss = readProc(this.pid).rssBytes
    } catch {
      return // exited
    }
    if (Number.isFinite(rss)) this.peaks.set(this.phase, Math.max(this.peaks.get(this.phase) ?? 0, rss))
  }
}

interface WindowStats {
  seconds: number
  cpuPercent: number
  rssMedianBytes: number
  rssMaxBytes: number
  hwmBytes: number
  fdsMax: number
  packets?: { sent: number; received: number }
}

/** Samples the processes every `everyS` for `seconds`; CPU is Δ(utime+stime) / Δt as % of one core. */
async function idleWindow(targets: Array<{ key: string; pid: number; host?: LabHost }>, seconds: number, everyS = 10): Promise<Map<string, WindowStats>> {
  const first = new Map(targets.map((t) => [t.key, { proc: readProc(t.pid), packets: t.host?.packets() }]))
  const samples = new Map(targets.map((t) => [t.key, [first.get(t.key)!.proc]]))
  const end = performance.now() + seconds * 1000
  let lastLog = performance.now()
  while (performance.now() < end) {
    await sleep(Math.min(everyS * 1000, end - performance.now()))
    for (const t of targets) samples.get(t.key)!.push(readProc(t.pid))
    if (performance.now() - lastLog > 60_000) {
      lastLog = performance.now()
      log(`idle window: ${((end - performance.now()) / 60_000).toFixed(1)} min left`)
    }
  }
  const out = new Map<string, WindowStats>()
  for (const t of targets) {
    const list = samples.get(t.key)!
    const a = list[0]!
    const b = list.at(-1)!
    const seconds = (b.at - a.at) / 1000
    const p0 = first.get(t.key)!.packets
    const p1 = t.host?.packets()
    out.set(t.key, {
      seconds,
      cpuPercent: (100 * (b.cpuTicks - a.cpuTicks)) / CLK_TCK / seconds,
      rssMedianBytes: median(list.map((s) => s.rssBytes)),
      rssMaxBytes: Math.max(...list.map((s) => s.rssBytes)),
      hwmBytes: b.hwmBytes,
      fdsMax: Math.max(...list.map((s) => s.fds)),
      packets: p0 && p1 ? { sent: p1.sent - p0.sent, received: p1.received - p0.received } : undefined
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------------------------

interface Results {
  generateSeconds: number
  modelBytes: number
  publish: { seconds: number; mode: string; shared: number; packetsPerModel: number; dirError?: string }
  /** The seeder's largest sampled RSS (bytes) in each phase, from its restart on. */
  rssPeakByPhase: Record<string, number>
  startup: { seedingSeconds: number; announced: number; announcedOneByOne: number; firstFetchSeconds: number | null; firstFetchError?: string; announcesSeconds: number }
  browse: { seconds: number; listed: number; total: number | null; wait: number; attempts: number }
  grove: WindowStats
  transmission: (WindowStats & { torrents: number; addSeconds: number }) | { error: string }
  dhtNodes: number
}

const work = await mkdtemp(join(tmpdir(), 'grove-bench-lab-'))
cleanups.push(() => rm(work, { recursive: true, force: true }))

try {
  const results = await bench()
  console.log('\n' + report(results))
} catch (err) {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
}

async function bench(): Promise<Results> {
  const modelsDir = join(work, 'models')
  await mkdir(modelsDir)
  log(`generating ${N} models…`)
  const t = performance.now()
  const files: string[] = []
  for (let i = 0; i < N; i++) {
    const file = join(modelsDir, `lab-model-${String(i).padStart(5, '0')}.gguf`)
    await writeLlamaModel(file, { seed: 1000 + i, name: `Lab model ${i}`, license: 'apache-2.0', embeddingLength: 64, blockCount: 1 })
    files.push(file)
  }
  const generateSeconds = (performance.now() - t) / 1000
  const modelBytes = (await stat(files[0]!)).size
  log(`${N} models of ${(modelBytes / 1e3).toFixed(0)} kB in ${generateSeconds.toFixed(1)} s`)

  const net = new LabNet('10.77.0')
  cleanups.push(() => net.destroy())
  const testnet = new Proc('dht testnet', spawn(process.execPath, [join(HERE, 'lab-testnet.js'), net.gateway, String(DHT_NODES)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  cleanups.push(() => testnet.stop(10_000))
  const bootstrap = String((await testnet.waitFor((m) => typeof m.bootstrap === 'string', 120_000, 'bootstrap address')).bootstrap)
  log(`DHT testnet of ${DHT_NODES} nodes, bootstrap ${bootstrap}`)
  const seederHost = await net.host('seeder', 2)
  const peerHost = await net.host('peer', 3)
  const trHost = await net.host('transmission', 4)
  const home = join(work, 'seeder-home')
  const seedArgs = ['--home', home, '--bootstrap', bootstrap, '--json', 'seed']

  // 1. Publishing all N into a running seeder (commands on its home are forwarded to it).
  const first = grove(seederHost, 'seeder (publishing)', seedArgs)
  cleanups.push(() => first.stop())
  await first.waitFor((m) => m.event === 'seeding', 60_000, 'seeding line')
  log('publishing…')
  const packets0 = seederHost.packets()
  const publish = await publishAll(seederHost, home, modelsDir, files)
  await sleep(20_000) // the last announces
  const packets1 = seederHost.packets()
  const packetsPerModel = (packets1.sent + packets1.received - packets0.sent - packets0.received) / publish.shared
  log(`published ${publish.shared} in ${publish.seconds.toFixed(1)} s (${publish.mode}); ${packetsPerModel.toFixed(0)} packets per model while publishing and 20 s after`)
  await first.stop()

  // 2. Start-up with N models, then a fetch and a browse from another host.
  log('restarting the seeder…')
  const seeder = grove(seederHost, 'seeder', seedArgs, { nodeArgs: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [] })
  cleanups.push(() => seeder.stop())
  const rssByPhase = new RssByPhase(seeder.pid)
  cleanups.push(() => rssByPhase.stop())
  const seeding = await seeder.waitFor((m) => m.event === 'seeding', 120_000, 'seeding line')
  const seedingSeconds = (performance.now() - seeder.started) / 1000
  const links = Array.isArray(seeding.links) ? (seeding.links as string[]) : []
  log(`seeding ${links.length} models ${seedingSeconds.toFixed(1)} s after spawn`)
  let firstFetchSeconds: number | null = null
  let firstFetchError: string | undefined
  const oneByOne = typeof seeding.announced === 'number' ? seeding.announced : links.length
  log(`${oneByOne} of them announced one by one`)
  rssByPhase.enter('a fetch')
  if (links[0] && typeof seeding.peer === 'string') {
    // The oldest model, which a seeder past its announce limit does not announce on its own, by
    // the link `grove share` printed (it names the seeder); in a room of its own, so the fetch
    // does not meet the seeder in the public room instead.
    const link = formatLink(parseLink(links[0]).keyHex, undefined, [seeding.peer])
    const fetch = grove(peerHost, 'fetch', ['--home', join(work, 'fetch-home'), '--bootstrap', bootstrap, '--room', 'bench-lab-fetch', '--json', 'fetch', link, '--timeout', '60'])
    try {
      await fetch.waitFor((m) => m.event === 'done', 90_000, 'done line')
      firstFetchSeconds = (performance.now() - seeder.started) / 1000
    } catch (err) {
      firstFetchError = String(err instanceof Error ? err.message : err).slice(0, 300)
    }
    await fetch.stop()
  }
  rssByPhase.enter('a browse')
  const browse = await browseAll(peerHost, join(work, 'browse-home'), bootstrap)
  rssByPhase.enter('reference set-up, start-up announces')
  log(`browse listed ${browse.listed} of ${N} in ${browse.seconds.toFixed(1)} s`)

  // 3. The reference, then both idle over the same window.
  const transmission = values['skip-transmission'] ? { error: 'skipped (--skip-transmission)' } : await startTransmission(trHost, net.gateway, modelsDir, files).catch((err: unknown) => ({ error: String(err instanceof Error ? err.message : err) }))
  if ('error' in transmission) log(`transmission: ${transmission.error}`)
  // The idle window starts once the start-up announces are through (dht-rpc's congestion window
  // paces N announces over minutes): before, it measured start-up, not a seeder at rest.
  const announcing = await startupAnnounces(seederHost, seeder.started)
  log(`start-up announces through ${announcing.seconds.toFixed(0)} s after the seeder started (${announcing.rate.toFixed(0)} packets/s then)`)
  await sleep(10_000)
  log(`idle window of ${(WINDOW_S / 60).toFixed(1)} min…`)
  rssByPhase.enter('idle window')
  const targets = [{ key: 'grove', pid: seeder.pid, host: seederHost }]
  if ('proc' in transmission) targets.push({ key: 'transmission', pid: transmission.proc.pid, host: trHost })
  const window = await idleWindow(targets, WINDOW_S)
  if (seeder.child.exitCode !== null) throw new Error(`the seeder exited during the window: ${seeder.stderrTail}`)
  const groveStats = window.get('grove')!
  groveStats.hwmBytes = Math.max(groveStats.hwmBytes, readProc(seeder.pid).hwmBytes)
  rssByPhase.stop()
  await seeder.stop()
  if ('proc' in transmission) await transmission.proc.stop()
  return {
    generateSeconds,
    modelBytes,
    publish: { ...publish, packetsPerModel },
    startup: { seedingSeconds, announced: links.length, announcedOneByOne: oneByOne, firstFetchSeconds, firstFetchError, announcesSeconds: announcing.seconds },
    browse,
    grove: groveStats,
    rssPeakByPhase: Object.fromEntries(rssByPhase.peaks),
    transmission: 'proc' in transmission ? { ...window.get('transmission')!, torrents: transmission.torrents, addSeconds: transmission.addSeconds } : transmission,
    dhtNodes: DHT_NODES
  }
}

async function publishAll(host: LabHost, home: string, dir: string, files: string[]): Promise<{ seconds: number; mode: string; shared: number; dirError?: string }> {
  const started = performance.now()
  let dirError: string | undefined
  if (SHARE_MODE !== 'per-file') {
    const proc = grove(host, 'share DIR', ['--home', home, '--json', 'share', dir], { keepJson: true })
    const run = await proc.finished(30 * 60_000)
    const shared = proc.json.filter((m) => typeof m.link === 'string').length
    if (run.code === 0 && shared > 0) return { seconds: (performance.now() - started) / 1000, mode: 'one `grove share DIR`', shared }
    dirError = proc.stderrTail.trim().split('\n').at(-1)?.slice(0, 200)
    if (SHARE_MODE === 'dir') throw new Error(`grove share DIR failed (${run.code}): ${proc.stderrTail}`)
    log(`grove share DIR is not supported here (${run.code}: ${dirError}); one grove share per file, ${SHARE_POOL} at a time`)
  }
  const fallbackStarted = performance.now()
  let next = 0
  let shared = 0
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!
      const proc = grove(host, 'share', ['--home', home, '--json', 'share', file], { keepJson: true })
      const run = await proc.finished(120_000)
      if (run.code !== 0 || !proc.json.some((m) => typeof m.link === 'string')) throw new Error(`grove share ${file} failed (${run.code}): ${proc.stderrTail}`)
      if (++shared % 100 === 0) log(`  ${shared} shared`)
    }
  }
  await Promise.all(Array.from({ length: SHARE_POOL }, worker))
  return { seconds: (performance.now() - fallbackStarted) / 1000, mode: `one \`grove share FILE\` per model, ${SHARE_POOL} at a time`, shared, dirError }
}

/**
 * Waits until the seeder's DHT traffic over 30 s is at most twice the steady rate of one refresh
 * per model (at most 15 min): the first announce of every topic is behind it.
 */
async function startupAnnounces(host: LabHost, startedAt: number): Promise<{ seconds: number; rate: number }> {
  const steady = (N * 4 * Math.min(DHT_NODES, K)) / REFRESH_MEAN_S
  const deadline = performance.now() + 15 * 60_000
  let rate = Infinity
  while (performance.now() < deadline) {
    const a = host.packets()
    await sleep(30_000)
    const b = host.packets()
    rate = (b.sent + b.received - a.sent - a.received) / 30
    if (rate <= 2 * steady) break
  }
  return { seconds: (performance.now() - startedAt) / 1000, rate }
}

/** `grove browse` from another host until it lists all N (each try waits up to `wait` s for the catalog to settle). */
async function browseAll(host: LabHost, home: string, bootstrap: string): Promise<Results['browse']> {
  const started = performance.now()
  let best = { listed: 0, total: null as number | null }
  const waits = [30, 30, 60]
  for (let attempt = 0; attempt < waits.length; attempt++) {
    const wait = waits[attempt]!
    const proc = grove(host, 'browse', ['--home', home, '--bootstrap', bootstrap, '--json', 'browse', '--wait', String(wait), '--timeout', String(wait + 60), '--limit', String(Math.max(N, 1))], { keepJson: true })
    const run = await proc.finished((wait + 90) * 1000)
    // browse --json: { total, offset, returned, models }.
    const out = proc.json.at(-1)
    const items = Array.isArray(out?.models) ? (out.models as unknown[]) : []
    const total = typeof out?.total === 'number' ? out.total : null
    if (run.code !== 0) log(`browse exited ${run.code}: ${proc.stderrTail.slice(-300)}`)
    if (items.length > best.listed) best = { listed: items.length, total }
    if (items.length >= N) return { seconds: run.seconds, listed: items.length, total, wait, attempts: attempt + 1 }
    log(`browse ${attempt + 1}: ${items.length} of ${N} listed after ${run.seconds.toFixed(1)} s`)
  }
  return { seconds: (performance.now() - started) / 1000, ...best, wait: waits.at(-1)!, attempts: waits.length }
}

/** The mainline DHT testnet transmission-daemon announces on (lab-mainline-dht.ts). */
async function startMainlineDht(host: string): Promise<{ nodes: string[] }> {
  const proc = new Proc('mainline dht testnet', spawn(process.execPath, [join(HERE, 'lab-mainline-dht.js'), host, String(DHT_NODES)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  cleanups.push(() => proc.stop(10_000))
  const ready = await proc.waitFor((m) => Array.isArray(m.nodes), 60_000, 'mainline DHT nodes')
  log(`mainline DHT testnet of ${(ready.nodes as string[]).length} nodes (each knows ${String(ready.known)} others)`)
  return { nodes: ready.nodes as string[] }
}

async function startTransmission(host: LabHost, gateway: string, modelsDir: string, files: string[]): Promise<{ proc: Proc; torrents: number; addSeconds: number }> {
  for (const bin of ['transmission-daemon', 'transmission-create', 'transmission-remote']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed (apt-get install transmission-daemon transmission-cli)`)
  }
  const dir = join(work, 'transmission')
  const torrents = join(dir, 'torrents')
  const config = join(dir, 'config')
  await mkdir(torrents, { recursive: true })
  await mkdir(config, { recursive: true })
  log(`transmission-create × ${files.length}…`)
  let next = 0
  const worker = async () => {
    while (next < files.length) {
      const i = next++
      const out = join(torrents, `${String(i).padStart(5, '0')}.torrent`)
      const run = await runCommand('transmission-create', ['-o', out, '-s', '256', files[i]!], 60_000)
      if (run.code !== 0) throw new Error(`transmission-create failed: ${run.output}`)
    }
  }
  await Promise.all([worker(), worker()])
  // Its DHT (on by default) on a mainline testnet of the same size as Grove's, so it announces
  // every torrent as Grove's seeder announces every model; no PEX, local peer discovery, port
  // mapping or trackers. --reference-dht off: no DHT at all (a daemon that only holds the files).
  const dht = REFERENCE_DHT ? await startMainlineDht(gateway) : null
  if (dht) await writeFile(join(config, 'dht.bootstrap'), dht.nodes.join('\n') + '\n')
  await writeFile(join(config, 'settings.json'), JSON.stringify({
    'dht-enabled': REFERENCE_DHT,
    'pex-enabled': false,
    'lpd-enabled': false,
    'port-forwarding-enabled': false,
    'utp-enabled': true,
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': 9091,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': false,
    'rpc-host-whitelist-enabled': false,
    'download-dir': modelsDir,
    'incomplete-dir-enabled': false,
    'start-added-torrents': true,
    'peer-port': 51413,
    'message-level': 1
  }, null, 2))
  const proc = new Proc('transmission-daemon', host.spawn('transmission-daemon', ['-f', '-g', config]))
  cleanups.push(() => proc.stop())
  const remote = (args: string[], timeoutMs = 60_000) => runCommand('nsenter', ['-t', String(host.pid), '-n', '--', 'transmission-remote', '127.0.0.1:9091', ...args], timeoutMs)
  const deadline = Date.now() + 30_000
  while ((await remote(['-si'], 5000)).code !== 0) {
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`transmission-daemon did not answer RPC: ${proc.stderrTail}`)
    await sleep(500)
  }
  const started = performance.now()
  const names = (await readdir(torrents)).sort().map((f) => join(torrents, f))
  for (let i = 0; i < names.length; i += 100) {
    const run = await remote(names.slice(i, i + 100).flatMap((f) => ['-a', f]), 120_000)
    if (run.code !== 0) throw new Error(`transmission-remote -a failed: ${run.output.slice(-500)}`)
  }
  // Each torrent is verified against the file already there, then seeds.
  let done: number
  const verifyDeadline = Date.now() + 10 * 60_000
  for (;;) {
    const list = await remote(['-l'], 60_000)
    done = list.output.split('\n').filter((l) => /\s100%\s/.test(l) && /Seeding|Idle/.test(l)).length
    if (done >= files.length) break
    if (Date.now() > verifyDeadline) throw new Error(`transmission seeds only ${done} of ${files.length} after 10 min`)
    await sleep(2000)
  }
  const addSeconds = (performance.now() - started) / 1000
  log(`transmission-daemon seeds ${done} torrents (added and verified in ${addSeconds.toFixed(1)} s)`)
  return { proc, torrents: done, addSeconds }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function report(r: Results): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`
  const g = r.grove
  const tr = 'error' in r.transmission ? null : r.transmission
  const hours = g.seconds / 3600
  const packets = g.packets ? g.packets.sent + g.packets.received : NaN
  const perModelHour = packets / N / hours
  // One announce refresh per model: LOOKUP to the nodes visited (all of a 20-node testnet, k at most)
  // and ANNOUNCE to the k closest, a request and a reply each, every REFRESH_MEAN_S.
  const visited = Math.min(r.dhtNodes, K)
  const perAnnounce = 2 * visited + 2 * Math.min(r.dhtNodes, K)
  const refreshPerModelHour = (perAnnounce * 3600) / REFRESH_MEAN_S
  // A reference that used no CPU tick in the window counts as one tick (the clock's resolution).
  const oneTick = tr ? (100 / CLK_TCK / tr.seconds) : NaN
  const trCpu = tr ? Math.max(tr.cpuPercent, oneTick) : NaN
  const trCpuText = tr ? (tr.cpuPercent > 0 ? `${tr.cpuPercent.toFixed(3)} %` : `< ${oneTick.toFixed(3)} %, no tick`) : ''
  const rows: Array<[string, string, string, boolean | null]> = [
    [`publish ${r.publish.shared}`, `${r.publish.seconds.toFixed(1)} s`, N === 1000 ? '< 60 s' : `< ${(60 * N / 1000).toFixed(0)} s (60 s per 1000)`, r.publish.seconds < (60 * N) / 1000],
    ['seeder start → seeding line', `${r.startup.seedingSeconds.toFixed(1)} s`, '≤ 10 s', r.startup.seedingSeconds <= 10],
    ['seeder start → a peer fetched a model (an unannounced one)', r.startup.firstFetchSeconds === null ? `failed: ${r.startup.firstFetchError ?? 'no link'}` : `${r.startup.firstFetchSeconds.toFixed(1)} s`, '(≤ 10 s)', r.startup.firstFetchSeconds === null ? false : r.startup.firstFetchSeconds <= 10],
    ['RSS steady (median) / peak (VmHWM)', `${mb(g.rssMedianBytes)} / ${mb(g.hwmBytes)}`, '< 200 MB (both)', g.hwmBytes < 200e6],
    ['open fds (max in window)', String(g.fdsMax), `≤ ${Math.floor(1.2 * N + 50)}`, g.fdsMax <= 1.2 * N + 50],
    ['idle CPU, % of one core', `${g.cpuPercent.toFixed(2)} %` + (tr ? ` (transmission ${trCpuText}, ${(g.cpuPercent / trCpu).toFixed(1)}×)` : ''), '≤ 2× transmission', tr ? g.cpuPercent <= 2 * trCpu : null],
    ['DHT packets / model / hour', Number.isFinite(perModelHour) ? `${perModelHour.toFixed(0)} (${(perModelHour / refreshPerModelHour).toFixed(2)}× one refresh)` : '-', `≤ ${(2 * refreshPerModelHour).toFixed(0)} (2 × ${refreshPerModelHour.toFixed(0)})`, Number.isFinite(perModelHour) ? perModelHour <= 2 * refreshPerModelHour : null],
    [`browse lists all ${N}`, `${r.browse.seconds.toFixed(1)} s (${r.browse.listed} listed${r.browse.total !== null ? `, total ${r.browse.total}` : ''}, try ${r.browse.attempts})`, '≤ 5 s', r.browse.listed >= N && r.browse.seconds <= 5]
  ]
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => String(row[i]).length), ['measure', 'Grove', 'target'][i]!.length))
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()
  const out = [
    `bench:lab — N = ${N} models of ${(r.modelBytes / 1e3).toFixed(0)} kB, DHT testnet of ${r.dhtNodes} nodes, idle window ${(g.seconds / 60).toFixed(1)} min`,
    line(['measure', 'Grove', 'target', '']),
    line(widths.map((w) => '-'.repeat(w)).concat('-')),
    ...rows.map(([a, b, c, ok]) => line([a, b, c, ok === null ? '?' : ok ? '✓' : '✗'])),
    '',
    `Reference: transmission-daemon seeding the same files (${REFERENCE_DHT ? `its DHT on, on a mainline testnet of ${r.dhtNodes} nodes` : 'no DHT'}; no PEX, LPD or tracker; same window)`,
    tr
      ? `  ${tr.torrents} torrents added and verified in ${tr.addSeconds.toFixed(1)} s; idle CPU ${tr.cpuPercent.toFixed(2)} %, RSS ${mb(tr.rssMedianBytes)} (peak ${mb(tr.hwmBytes)}), fds ${tr.fdsMax}, packets ${tr.packets ? tr.packets.sent + tr.packets.received : '-'}`
      : `  not measured: ${(r.transmission as { error: string }).error}`,
    '',
    'Details',
    `  publishing: ${r.publish.mode}${r.publish.dirError ? ` (grove share DIR: ${r.publish.dirError})` : ''}; ${r.publish.packetsPerModel.toFixed(0)} packets per model through the seeder's link while publishing (+20 s): the first announce of each`,
    `  seeder start-up seeded ${r.startup.announced} models, ${r.startup.announcedOneByOne} of them announced one by one (grove seed --announce-limit); the fetch is of one that is not, by a link naming the seeder; the DHT announces of all of them were through ${r.startup.announcesSeconds.toFixed(0)} s after start (the idle window starts after)`,
    `  DHT window: ${g.packets ? `${g.packets.sent} sent + ${g.packets.received} received packets in ${(g.seconds / 60).toFixed(1)} min` : 'no counters'}; ${(packets / hours / 3600).toFixed(1)} packets/s for the home`,
    `  one announce refresh per model: the seeder announces every topic again after ${REFRESH_MEAN_S / 60} min; an announce is a LOOKUP to the ${visited} nodes it visits and an ANNOUNCE to the k = ${K} closest, request + reply each: ${perAnnounce} packets, ${refreshPerModelHour.toFixed(0)} per model per hour` +
      (g.seconds < 2 * REFRESH_MEAN_S ? `\n  NOTE: the window (${(g.seconds / 60).toFixed(1)} min) is shorter than two refresh periods (${((2 * REFRESH_MEAN_S) / 60).toFixed(0)} min): the DHT figure is not the steady state` : ''),
    `  the seeder's RSS, largest sample (every 0.5 s) per phase: ${Object.entries(r.rssPeakByPhase).map(([phase, bytes]) => `${phase} ${mb(bytes)}`).join(', ')}`,
    `  generating the models: ${r.generateSeconds.toFixed(1)} s`
  ]
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function fail(message: string): never {
  process.stderr.write(`bench:lab: ${message}\n`)
  process.exit(2)
}

