// `npm run bench:transfer`: Grove's swarm transfer of a generated GGUF (default 1 GiB), 1 seeder
// → 1 downloader and 1 seeder → 4 downloaders at once, against references measured in the
// same run: BitTorrent (webtorrent, aria2c + opentracker), a plain TCP copy and sha256sum.
// Runs inside a fresh network namespace (npm script), every process on loopback.
//   node dist/main/bench/transfer.js [--size-mib 1024] [--downloaders 1,4] [--repeats N] [--skip-references]
// --repeats runs every case N times and reports the median: on a shared VM one run can be 30%
// off, and whichever case runs first can meet colder memory than those after it.
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { diskUsage } from '../core/disk.js'
import { GROVE_BIN } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import {
  buildResult,
  flushDirtyPages,
  formatResults,
  measureProcess,
  medianOf,
  runAllReferences,
  type BenchResult,
  type MeasuredProcess,
  type ProcessStats
} from './references.js'

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    downloaders: { type: 'string', default: '1,4' },
    repeats: { type: 'string', default: '1' },
    'skip-references': { type: 'boolean', default: false }
  }
})
const repeats = Math.max(1, Math.floor(Number(values.repeats)) || 1)
const sizeMiB = Number(values['size-mib'])
const downloaderCounts = String(values.downloaders).split(',').map(Number)
const PEAK_RSS_TARGET = 300e6

const work = await mkdtemp(join(tmpdir(), 'grove-bench-transfer-'))
const cleanup = () => rm(work, { recursive: true, force: true })
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))

try {
  const file = join(work, 'bench-model.gguf')
  log(`generating a ${sizeMiB} MiB GGUF with the test fixture…`)
  const written = await writeLlamaModel(file, { seed: 42, name: 'Grove Bench', license: 'apache-2.0', targetBytes: sizeMiB * 1024 * 1024 })
  const bytes = (await stat(file)).size
  log(`${(bytes / 1e6).toFixed(0)} MB, ${written.layout.parameterCount} parameters`)
  const timeoutMs = 120_000 + (bytes / 1e6) * 1000

  const grove = await benchGrove(file, bytes, timeoutMs)
  const references = values['skip-references'] ? [] : await runAllReferences(file, join(work, 'references'), { downloaderCounts, timeoutMs, log, repeats })
  const all = [...grove.results, ...references]
  console.log('\n' + formatResults(all, { baseline: 'grove' }))
  console.log('\n' + summary(grove, references))
} finally {
  await cleanup()
}

interface GroveBench {
  results: BenchResult[]
  share: ProcessStats
  diskPerModelByte: number
  /** The sharer's home (its store), per byte of the model it seeds out of the user's own file. */
  seederDiskPerModelByte: number
  uploads: Array<{ downloaders: number; uploadedBytes: number[] }>
  /** The largest peak RSS of any downloader in any run (with --repeats, not only the medians). */
  downloaderPeakRssBytes: number
}

async function benchGrove(file: string, bytes: number, timeoutMs: number): Promise<GroveBench> {
  const bootstrap = measureProcess(process.execPath, [GROVE_BIN, '--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'], { role: 'bootstrap', timeoutMs: timeoutMs * 4 })
  const running: MeasuredProcess[] = [bootstrap]
  try {
    const port = await jsonField(bootstrap, (l) => l.event === 'listening', 'port', 15_000)
    const net = ['--bootstrap', `127.0.0.1:${String(port)}`]
    const seederHome = join(work, 'grove-seeder')

    await flushDirtyPages()
    log('grove share…')
    const share = measureProcess(process.execPath, [GROVE_BIN, '--home', seederHome, '--json', 'share', file], { role: 'grove share', timeoutMs })
    const link = String(await jsonField(share, (l) => typeof l.link === 'string', 'link', timeoutMs))
    const shareStats = await share.result
    const seederDiskPerModelByte = (await diskUsage(seederHome)) / bytes

    const seeder = measureProcess(process.execPath, [GROVE_BIN, '--home', seederHome, ...net, '--json', 'seed'], { role: 'seeder', timeoutMs: timeoutMs * 4 })
    running.push(seeder)
    await jsonField(seeder, (l) => l.event === 'seeding', 'event', 15_000)

    // One run of 1 seeder → n downloaders; what medianOf does not keep is looked up by result.
    const extras = new Map<BenchResult, { uploaded: number[]; diskPerModelByte: number }>()
    let downloaderPeakRssBytes = 0
    const runOnce = async (n: number, attempt: number): Promise<BenchResult> => {
      await flushDirtyPages()
      log(`grove 1→${n}${repeats > 1 ? ` (run ${attempt} of ${repeats})` : ''}…`)
      const started = performance.now()
      const finishedAt: number[] = []
      const uploaded: number[] = []
      const downloaders = Array.from({ length: n }, (_, i) => {
        const home = join(work, `grove-d${n}-${i}`)
        const proc = measureProcess(process.execPath, [GROVE_BIN, '--home', home, ...net, '--json', 'fetch', link, '--timeout', '60'], {
          role: `downloader ${i + 1}`,
          timeoutMs,
          onStdoutLine: (line) => {
            const msg = safeJson(line)
            if (msg?.event === 'done') {
              finishedAt[i] = (performance.now() - started) / 1000
              uploaded[i] = Number(msg.uploadedBytes ?? 0)
            }
          }
        })
        return { proc, home }
      })
      const stats = await Promise.all(downloaders.map((d) => d.proc.result))
      // GROVE_TRACE=1: the downloaders' phase and memory traces (see main/core/fetch.ts).
      if (process.env.GROVE_TRACE) for (const d of downloaders) log(`${d.proc.role} stderr:\n${d.proc.stderrTail()}`)
      for (const s of stats) if (s.exitCode !== 0) throw new Error(`grove ${s.role} failed (${s.exitCode ?? s.signal}): ${downloaders[0]?.proc.stderrTail()}`)
      downloaderPeakRssBytes = Math.max(downloaderPeakRssBytes, ...stats.map((x) => x.peakRssBytes))
      const diskPerModelByte = n === 1 ? (await diskUsage(downloaders[0]!.home)) / bytes : 0
      for (const d of downloaders) await rm(d.home, { recursive: true, force: true })
      const result = buildResult({ name: `grove 1→${n}`, system: 'grove', bytes, downloaders: n, seconds: Math.max(...finishedAt), downloaderSeconds: finishedAt, processes: stats })
      extras.set(result, { uploaded, diskPerModelByte })
      return result
    }

    const results: BenchResult[] = []
    const uploads: GroveBench['uploads'] = []
    let diskPerModelByte = 0
    for (const n of downloaderCounts) {
      const result = await medianOf(repeats, (attempt) => runOnce(n, attempt))
      const extra = extras.get(result)!
      if (n === 1) diskPerModelByte = extra.diskPerModelByte
      uploads.push({ downloaders: n, uploadedBytes: extra.uploaded })
      results.push(result)
    }
    const seederStats = await seeder.kill('SIGTERM')
    for (const r of results) r.processes.push(seederStats)
    return { results, share: shareStats, diskPerModelByte, seederDiskPerModelByte, uploads, downloaderPeakRssBytes }
  } finally {
    for (const p of running) if (!p.exited) await p.kill('SIGTERM')
  }
}

function summary(grove: GroveBench, references: BenchResult[]): string {
  const lines = ['Summary (ratios > 1 mean Grove is faster than the reference)']
  const sha = references.find((r) => r.system === 'sha256sum')
  lines.push(`  share (import + hash) ${grove.share.wallSeconds.toFixed(2)} s` + (sha ? `, ${(grove.share.wallSeconds / sha.seconds).toFixed(2)}× the time of sha256sum (${sha.seconds.toFixed(2)} s); target ≤ 2×` : ''))
  for (const r of grove.results) {
    const refs = references.filter((x) => x.downloaders === r.downloaders && x.system !== 'grove')
    const ratios = refs.map((x) => `${x.system} ${(r.mbps / x.mbps).toFixed(2)}×`).join(', ')
    lines.push(`  ${r.name}: ${r.mbps.toFixed(1)} MB/s per downloader (${r.seconds.toFixed(2)} s)${ratios ? `; vs ${ratios}` : ''}`)
  }
  // On a small machine the swarm runs out of CPU before it runs out of network: say how close.
  for (const r of grove.results) {
    const cpu = r.processes.filter((p) => p.role.startsWith('downloader')).reduce((sum, p) => sum + p.cpuSeconds, 0)
    lines.push(`  ${r.name}: the downloaders used ${cpu.toFixed(1)} CPU s in ${r.seconds.toFixed(1)} s, ${(cpu / r.seconds).toFixed(2)} of this machine's ${availableParallelism()} cores (the seeder's on top)`)
  }
  const one = grove.results.find((r) => r.downloaders === 1)
  const four = grove.results.find((r) => r.downloaders === 4)
  if (one && four) {
    // The same ratio for the references says what this machine allows (on two cores, little).
    const systems = [...new Set(references.map((r) => r.system))]
    const theirs = systems.flatMap((system) => {
      const [a, b] = [1, 4].map((n) => references.find((r) => r.system === system && r.downloaders === n))
      return a && b ? [`${system} ${(b.seconds / a.seconds).toFixed(2)}×`] : []
    })
    lines.push(`  1→4 took ${(four.seconds / one.seconds).toFixed(2)}× the 1→1 time (target ≤ 2×)${theirs.length ? `; the references' own 1→4 / 1→1: ${theirs.join(', ')}` : ''}`)
  }
  for (const u of grove.uploads) if (u.downloaders > 1) lines.push(`  1→${u.downloaders} bytes each downloader served to the others: ${u.uploadedBytes.map((b) => (b / 1e6).toFixed(0) + ' MB').join(', ')}`)
  const groveProcs = [grove.share, ...grove.results.flatMap((r) => r.processes)]
  const peak = Math.max(grove.downloaderPeakRssBytes, ...groveProcs.map((p) => p.peakRssBytes))
  lines.push(`  peak RSS of any Grove process: ${(peak / 1e6).toFixed(0)} MB (target < ${PEAK_RSS_TARGET / 1e6} MB) ${peak < PEAK_RSS_TARGET ? 'OK' : 'OVER'}`)
  lines.push(`  disk per model byte on a downloader that seeds it (store + .gguf, blocks served from the .gguf): ${grove.diskPerModelByte.toFixed(3)}`)
  lines.push(`  disk per model byte in the sharer's home (besides the shared file itself): ${grove.seederDiskPerModelByte.toFixed(3)}`)
  return lines.join('\n')
}

async function jsonField(proc: MeasuredProcess, match: (line: Record<string, unknown>) => boolean, field: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    for (const line of proc.stdoutTail().split('\n')) {
      const msg = safeJson(line)
      if (msg && match(msg)) return msg[field]
    }
    if (proc.exited) throw new Error(`${proc.role} exited early: ${proc.stderrTail()}`)
    if (Date.now() > deadline) throw new Error(`${proc.role}: no ${field} within ${timeoutMs} ms: ${proc.stderrTail()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function safeJson(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line)
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
