// `npm run bench:swarm`: Grove's swarm on shaped links, as peers on their own machines meet it.
// One seeder and one downloader, each a network namespace on one bridge, with `tc` on both ends
// of each host's cable (its upload and its download), and a local HyperDHT testnet. For every link
// profile it fetches one model several times, each into a fresh home, and reports the time from
// the manifest to the first block (issue #21: a fetch starts in seconds on any link) and to done.
//   node dist/main/testing/in-netns.js node dist/main/bench/swarm.js [--size-mib 64] [--runs 3]
//     [--profiles lan,policed,bloat,loss,asym]
// Exits 0 when targets are missed (it is a measurement), non-zero only when the bench failed.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { GROVE_BIN } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { LabNet, ip, type LabHost } from './lab-hosts.js'
import { Proc, cleanup, cleanups, grove, log, median } from './bench-procs.js'
import { LinkImpairment } from './link-impairment.js'

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    profiles: { type: 'string', default: 'lan,policed,bloat,loss,asym' }
  }
})
const SIZE = Math.floor(Number(values['size-mib']) * 1024 * 1024)
const RUNS = Math.floor(Number(values.runs))
const HERE = dirname(fileURLToPath(import.meta.url))
/** Issue #21: the first block within 1.5 s of the manifest (goal), never later than 3 s. */
const FIRST_BLOCK_GOAL_S = 1.5
const FIRST_BLOCK_LIMIT_S = 3

/**
 * A link profile: the qdisc chain on a host's upload (its side of the veth) and on its download
 * (the bridge side), and a delay and loss on its upload (a relay: this kernel has no netem, see
 * link-impairment.ts). Every profile applies to both hosts, so a packet between them passes the
 * sender's upload and the receiver's download, as between two homes: the round trip is twice the
 * delay, and each direction loses `loss`.
 */
interface LinkProfile {
  name: string
  what: string
  up: string[][]
  down: string[][]
  delayMs: number
  loss: number
}

const tbf = (rate: string, burst: string, latency: string) => ['tbf', 'rate', rate, 'burst', burst, 'latency', latency]

const PROFILES: LinkProfile[] = [
  { name: 'lan', what: 'no shaping (a LAN)', up: [], down: [], delayMs: 0, loss: 0 },
  // The issue's row 3: a token-bucket policer with a small burst, as on many home routers and cloud VMs.
  { name: 'policed', what: '80 Mbit/s policed, 64 KiB burst, 20 ms queue', up: [tbf('80mbit', '64kb', '20ms')], down: [tbf('80mbit', '64kb', '20ms')], delayMs: 0, loss: 0 },
  { name: 'bloat', what: '40 Mbit/s, 20 ms RTT, 100 ms queue (bufferbloat)', up: [tbf('40mbit', '256kb', '100ms')], down: [tbf('40mbit', '256kb', '100ms')], delayMs: 10, loss: 0 },
  { name: 'loss', what: '40 Mbit/s, 40 ms RTT, 1 % loss each way', up: [tbf('40mbit', '256kb', '50ms')], down: [tbf('40mbit', '256kb', '50ms')], delayMs: 20, loss: 0.01 },
  { name: 'asym', what: '100 Mbit/s down, 20 Mbit/s up, 20 ms RTT', up: [tbf('20mbit', '128kb', '50ms')], down: [tbf('100mbit', '256kb', '50ms')], delayMs: 10, loss: 0 }
]

/** Replaces the qdiscs of `dev` (in the namespace of `pid`, or here) by `chain`: each the child of the one before. */
function shape(dev: string, chain: string[][], pid?: number): void {
  try {
    ip(['link', 'set', dev, 'up'], pid) // a no-op that checks the device exists
  } catch (err) {
    throw new Error(`no device ${dev}: ${(err as Error).message}`, { cause: err })
  }
  tc(['qdisc', 'del', 'dev', dev, 'root'], pid, true)
  chain.forEach((qdisc, i) => {
    const where = i === 0 ? ['root', 'handle', '1:'] : ['parent', `${i}:`, 'handle', `${i + 1}:`]
    tc(['qdisc', 'add', 'dev', dev, ...where, ...qdisc], pid)
  })
}

function tc(args: string[], pid?: number, mayFail = false): void {
  const [cmd, argv] = pid === undefined ? ['tc', args] : ['nsenter', ['-t', String(pid), '-n', '--', 'tc', ...args]]
  const result = spawnSync(cmd, argv, { stdio: 'ignore', timeout: 10_000 })
  if (result.status !== 0 && !mayFail) throw new Error(`${cmd} ${argv.join(' ')} failed`)
}

async function applyProfile(profile: LinkProfile, hosts: Array<{ host: LabHost; impairment: LinkImpairment }>): Promise<void> {
  for (const { host, impairment } of hosts) {
    shape('lan0', profile.up, host.pid)
    shape(host.outerLink, profile.down)
    await impairment.set(profile.delayMs, profile.loss)
  }
}

interface FetchRun {
  manifestS: number
  firstBlockS: number
  doneS: number
  ok: boolean
  error?: string
}

async function fetchOnce(host: LabHost, bootstrap: string, link: string): Promise<FetchRun> {
  const home = await mkdtemp(join(tmpdir(), 'grove-bench-swarm-home-'))
  try {
    const started = performance.now()
    const at = () => (performance.now() - started) / 1000
    let manifestS = NaN
    let firstBlockS = NaN
    const proc = new Proc('downloader', host.spawn(process.execPath, [GROVE_BIN, '--home', home, '--bootstrap', bootstrap, '--json', 'fetch', link, '--no-seed']), { keepJson: false })
    const manifest = proc.waitFor((m) => m.event === 'manifest', 60_000, 'manifest').then(() => (manifestS = at()))
    const first = proc.waitFor((m) => m.event === 'progress' && Number(m.bytes) > 0, 120_000, 'first block').then(() => (firstBlockS = at()))
    manifest.catch(() => {})
    first.catch(() => {})
    const exit = await proc.finished(180_000)
    const doneS = at()
    return { manifestS, firstBlockS, doneS, ok: exit.code === 0, error: exit.code === 0 ? undefined : proc.stderrTail.split('\n').filter(Boolean).at(-1) }
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

async function bench(): Promise<void> {
  if (process.env.GROVE_IN_NETNS !== '1' || process.getuid?.() !== 0) throw new Error('run as root inside a fresh network namespace: node dist/main/testing/in-netns.js node dist/main/bench/swarm.js')
  const chosen = String(values.profiles).split(',').map((name) => {
    const profile = PROFILES.find((p) => p.name === name.trim())
    if (!profile) throw new Error(`unknown profile "${name}" (${PROFILES.map((p) => p.name).join(', ')})`)
    return profile
  })
  if (!(SIZE >= 1024 * 1024) || !(RUNS >= 1 && RUNS <= 20)) throw new Error('--size-mib must be ≥ 1 and --runs 1-20')
  const work = await mkdtemp(join(tmpdir(), 'grove-bench-swarm-'))
  cleanups.push(() => rm(work, { recursive: true, force: true }))
  const model = join(work, 'model.gguf')
  await writeLlamaModel(model, { seed: 21, name: 'swarm-bench', license: 'mit', targetBytes: SIZE })
  const bytes = (await stat(model)).size

  const net = new LabNet('10.78.0')
  cleanups.push(() => net.destroy())
  const testnet = new Proc('dht testnet', spawn(process.execPath, [join(HERE, 'lab-testnet.js'), net.gateway, '10'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  cleanups.push(() => testnet.stop(10_000))
  const bootstrap = String((await testnet.waitFor((m) => typeof m.bootstrap === 'string', 120_000, 'bootstrap address')).bootstrap)
  const seederHost = await net.host('seeder', 2)
  const downloaderHost = await net.host('downloader', 3)
  const hosts = await Promise.all([seederHost, downloaderHost].map(async (host, i) => {
    const impairment = await LinkImpairment.start(host, net.subnet, 21 + i)
    cleanups.push(() => impairment.stop())
    return { host, impairment }
  }))

  const seederHome = join(work, 'seeder-home')
  const share = grove(seederHost, 'share', ['--home', seederHome, '--bootstrap', bootstrap, '--json', 'share', model], { keepJson: true })
  const shared = await share.finished(120_000)
  const link = String(share.json.find((m) => typeof m.link === 'string')?.link ?? '')
  if (shared.code !== 0 || !link) throw new Error(`share failed: ${share.stderrTail}`)
  const seeder = grove(seederHost, 'seeder', ['--home', seederHome, '--bootstrap', bootstrap, '--json', 'seed'])
  cleanups.push(() => seeder.stop())
  await seeder.waitFor((m) => m.event === 'seeding', 60_000, 'seeding line')
  log(`model of ${(bytes / 1e6).toFixed(1)} MB shared and seeded; ${RUNS} fetches per profile`)

  const results: Array<{ profile: LinkProfile; runs: FetchRun[] }> = []
  for (const profile of chosen) {
    await applyProfile(profile, hosts)
    const runs: FetchRun[] = []
    for (let i = 0; i < RUNS; i++) {
      const run = await fetchOnce(downloaderHost, bootstrap, link)
      runs.push(run)
      log(`${profile.name} #${i + 1}: manifest ${run.manifestS.toFixed(2)} s, first block +${(run.firstBlockS - run.manifestS).toFixed(2)} s, done ${run.doneS.toFixed(1)} s${run.ok ? '' : ` FAILED: ${run.error}`}`)
    }
    results.push({ profile, runs })
  }
  await applyProfile(PROFILES[0]!, hosts)
  process.stdout.write(report(results, bytes) + '\n')
  process.stdout.write(JSON.stringify({ bench: 'swarm', bytes, runs: RUNS, profiles: results.map(({ profile, runs }) => ({ profile: profile.name, runs })) }) + '\n')
}

function report(results: Array<{ profile: LinkProfile; runs: FetchRun[] }>, bytes: number): string {
  const rows = results.map(({ profile, runs }) => {
    const gaps = runs.map((r) => r.firstBlockS - r.manifestS)
    const worst = Math.max(...gaps.map((g) => (Number.isFinite(g) ? g : Infinity)))
    const done = median(runs.map((r) => r.doneS))
    const verdict = worst <= FIRST_BLOCK_GOAL_S ? '✓' : worst <= FIRST_BLOCK_LIMIT_S ? '✓ (over the goal)' : '✗'
    return [
      profile.name,
      profile.what,
      `${median(runs.map((r) => r.manifestS)).toFixed(2)} s`,
      `${median(gaps).toFixed(2)} / ${worst.toFixed(2)} s ${verdict}`,
      `${done.toFixed(1)} s (${(bytes / 1e6 / done).toFixed(1)} MB/s)`,
      runs.every((r) => r.ok) ? '' : `${runs.filter((r) => !r.ok).length} failed`
    ]
  })
  const head = ['profile', 'link', 'manifest (median)', 'first block after manifest, median / worst', 'done (median)', '']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [`bench:swarm — one seeder, one downloader, ${(bytes / 1e6).toFixed(1)} MB model, ${RUNS} fetches per profile (target: first block ≤ ${FIRST_BLOCK_GOAL_S} s after the manifest, never > ${FIRST_BLOCK_LIMIT_S} s)`, line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

try {
  await bench()
} catch (err) {
  process.stderr.write(`bench:swarm: ${(err as Error).message}\n`)
  process.exitCode = 2
} finally {
  await cleanup()
}
