// Reference transfers for `npm run bench:transfer` (bench/transfer.ts times Grove itself).
//
// Every reference moves the same file over loopback and is measured the same way: each
// process runs under GNU time (`/usr/bin/time`), which reports its CPU time (user + sys) and
// peak RSS; wall times are taken here. References:
//   - sha256sum of the file (what reading + hashing alone costs, no network),
//   - a plain TCP copy (Node sender → Node receiver(s) writing to disk, no fsync by default),
//   - aria2c: a local opentracker, one aria2c seeder, N aria2c downloaders started at once,
//   - webtorrent (v2, Node): the same with webtorrent peers.
// Downloaders keep serving each other (and keep seeding after completing) until ALL are done.
//
// Networking: every socket is on 127.0.0.1. DHT, LPD/LSD, uTP, WebRTC, NAT-PMP/UPnP and web
// seeds are off; the only tracker is the local opentracker. Run inside a network namespace
// with only `lo` up (see DESIGN.md, "Testing on these machines").
//
// MB = 10^6 bytes throughout.

import getPort from 'get-port'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { chmod, link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

// ---------------------------------------------------------------------------------------------
// Measuring a process
// ---------------------------------------------------------------------------------------------

export interface ProcessStats {
  role: string
  wallSeconds: number
  /** user + sys CPU seconds of the process (and any children it waited for). */
  cpuSeconds: number
  userSeconds: number
  systemSeconds: number
  /** Peak resident set size (largest of the process and its waited-for children). */
  peakRssBytes: number
  /** Exit status; null when it ended by a signal (see `signal`). */
  exitCode: number | null
  signal: string | null
  /** True when the process was killed because timeoutMs passed. */
  timedOut: boolean
  /** True when the process was stopped through kill() (expected for seeders). */
  killed: boolean
}

export interface MeasureOptions {
  /** A label for tables and errors: 'seeder', 'downloader 1', … */
  role: string
  cwd?: string
  /** Full environment for the child (defaults to process.env). */
  env?: NodeJS.ProcessEnv
  /** The process is sent SIGTERM (then SIGKILL) after this long. */
  timeoutMs: number
  onStdoutLine?: (line: string) => void
  onStderrLine?: (line: string) => void
}

export interface MeasuredProcess {
  role: string
  /** pid of the /usr/bin/time wrapper (leader of the process group). */
  pid: number
  /** performance.now() when it was spawned. */
  startedAt: number
  /** Settles when the process has exited; never rejects once spawned (see exitCode/signal). */
  result: Promise<ProcessStats>
  /** SIGTERM to the measured command (not the time wrapper), SIGKILL to the group after graceMs. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<ProcessStats>
  /** Last few KB of output, for error messages. */
  stdoutTail(): string
  stderrTail(): string
  readonly exited: boolean
}

const TIME_BIN = '/usr/bin/time'
const TIME_MARK = 'GROVE_TIME'
const TAIL_CHARS = 4000
const live = new Set<ChildProcess>()
let statsDir: string | null = null
let statsCounter = 0

function getStatsDir(): string {
  if (statsDir === null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'grove-bench-time-'))
    statsDir = dir
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  return statsDir
}

function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return
  try {
    process.kill(-pgid, signal)
  } catch {
    // the group is empty
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return
  signalGroup(child.pid, signal)
}

function onExitKillAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL')
}

function onSignalKillAll(signal: NodeJS.Signals): void {
  onExitKillAll()
  process.exit(signal === 'SIGINT' ? 130 : 143) // runs the 'exit' listeners (stats dir removal)
}

function track(child: ChildProcess): void {
  if (live.size === 0) {
    process.on('exit', onExitKillAll)
    process.on('SIGINT', onSignalKillAll)
    process.on('SIGTERM', onSignalKillAll)
  }
  live.add(child)
}

function untrack(child: ChildProcess): void {
  live.delete(child)
  if (live.size === 0) {
    process.off('exit', onExitKillAll)
    process.off('SIGINT', onSignalKillAll)
    process.off('SIGTERM', onSignalKillAll)
  }
}

/** The pid of the command that /usr/bin/time runs (its only child), if it exists yet. */
function commandPid(timePid: number): number | null {
  try {
    const text = readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim()
    const first = text.split(/\s+/)[0]
    return first ? Number(first) : null
  } catch {
    return null
  }
}

function parseTimeStats(text: string): { wall: number; user: number; sys: number; rssKb: number; status: number } | null {
  const line = text
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(TIME_MARK + ' '))
  if (line === undefined) return null
  const [, wall, user, sys, rss, status] = line.split(' ')
  const nums = [wall, user, sys, rss, status].map((v) => Number(v))
  if (nums.some((n) => !Number.isFinite(n))) return null
  const [w = 0, u = 0, s = 0, r = 0, x = 0] = nums
  return { wall: w, user: u, sys: s, rssKb: r, status: x }
}

function appendTail(tail: string, chunk: string): string {
  const next = tail + chunk
  return next.length > TAIL_CHARS ? next.slice(next.length - TAIL_CHARS) : next
}

/**
 * Spawns `command args` under GNU time and measures it. Works for any program (aria2c,
 * sha256sum, node, grove). The child gets its own process group; kill() and timeouts stop it,
 * and everything still running is SIGKILLed if this process exits.
 */
export function measureProcess(command: string, args: string[], opts: MeasureOptions): MeasuredProcess {
  const statsFile = path.join(getStatsDir(), `${process.pid}-${++statsCounter}.time`)
  const format = `${TIME_MARK} %e %U %S %M %x`
  const child = spawn(TIME_BIN, ['-f', format, '-o', statsFile, '--', command, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  track(child)
  const startedAt = performance.now()
  let stdoutTail = ''
  let stderrTail = ''
  let timedOut = false
  let killed = false
  let exited = false

  if (child.stdout) {
    child.stdout.setEncoding('utf8')
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity })
    rl.on('line', (line) => {
      stdoutTail = appendTail(stdoutTail, line + '\n')
      opts.onStdoutLine?.(line)
    })
  }
  if (child.stderr) {
    child.stderr.setEncoding('utf8')
    const rl = createInterface({ input: child.stderr, crlfDelay: Infinity })
    rl.on('line', (line) => {
      stderrTail = appendTail(stderrTail, line + '\n')
      opts.onStderrLine?.(line)
    })
  }

  let graceTimer: NodeJS.Timeout | null = null
  const stop = (signal: NodeJS.Signals, graceMs: number): void => {
    if (exited) return
    const pid = child.pid === undefined ? null : commandPid(child.pid)
    if (pid !== null) {
      try {
        process.kill(pid, signal)
      } catch {
        killGroup(child, signal)
      }
    } else {
      killGroup(child, signal)
    }
    if (graceTimer === null) {
      graceTimer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs)
      graceTimer.unref()
    }
  }

  const timeout = setTimeout(() => {
    timedOut = true
    stop('SIGTERM', 3000)
  }, opts.timeoutMs)
  timeout.unref()

  const result = new Promise<ProcessStats>((resolve, reject) => {
    child.once('error', (err) => {
      exited = true
      clearTimeout(timeout)
      untrack(child)
      reject(new Error(`${opts.role}: cannot start ${TIME_BIN} ${command}: ${err.message}`))
    })
    child.once('close', (code, signal) => {
      exited = true
      clearTimeout(timeout)
      if (graceTimer !== null) clearTimeout(graceTimer)
      // The command may have left children in its group: they must not outlive it.
      signalGroup(child.pid, 'SIGKILL')
      untrack(child)
      const wallSeconds = (performance.now() - startedAt) / 1000
      let text = ''
      try {
        text = readFileSync(statsFile, 'utf8')
        rmSync(statsFile, { force: true })
      } catch {
        // time itself was killed: no stats
      }
      const parsed = parseTimeStats(text)
      const sigLine = /Command terminated by signal (\d+)/.exec(text)
      const termSignal = sigLine?.[1] !== undefined ? signalName(Number(sigLine[1])) : signal
      resolve({
        role: opts.role,
        wallSeconds,
        cpuSeconds: parsed ? parsed.user + parsed.sys : NaN,
        userSeconds: parsed ? parsed.user : NaN,
        systemSeconds: parsed ? parsed.sys : NaN,
        peakRssBytes: parsed ? parsed.rssKb * 1024 : NaN,
        exitCode: termSignal !== null ? null : parsed ? parsed.status : code,
        signal: termSignal,
        timedOut,
        killed
      })
    })
  })

  return {
    role: opts.role,
    pid: child.pid ?? -1,
    startedAt,
    result,
    kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ProcessStats> {
      if (!exited) {
        killed = true
        stop(signal, graceMs)
      }
      return result
    },
    stdoutTail: () => stdoutTail,
    stderrTail: () => stderrTail,
    get exited() {
      return exited
    }
  }
}

function signalName(n: number): string {
  const entry = Object.entries(os.constants.signals).find(([, v]) => v === n)
  return entry ? entry[0] : `signal ${n}`
}

/** Throws with the process's stderr when it did not exit 0 (for processes expected to finish). */
export function assertExitedOk(stats: ProcessStats, proc?: MeasuredProcess): void {
  if (stats.exitCode === 0 && !stats.timedOut) return
  const how = stats.timedOut ? 'timed out' : stats.signal !== null ? `was killed by ${stats.signal}` : `exited with ${stats.exitCode}`
  const tail = proc ? proc.stderrTail().trim() || proc.stdoutTail().trim() : ''
  throw new Error(`${stats.role} ${how}${tail ? `:\n${tail}` : ''}`)
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** A TCP port that is free on 127.0.0.1 right now (get-port). */
export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every intervalMs until it returns a value other than undefined/false. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false, intervalMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs)} ms waiting for ${what}`)
    await delay(intervalMs)
  }
}

/** Resolves with the first stdout line of `proc` matching `re`, or rejects on exit/timeout. */
function waitForLine(proc: MeasuredProcess, lines: string[], re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return waitFor(`${proc.role} to print ${re}`, timeoutMs, () => {
    for (const line of lines) {
      const m = re.exec(line)
      if (m) return m
    }
    if (proc.exited) throw new Error(`${proc.role} exited before printing ${re}:\n${proc.stderrTail() || proc.stdoutTail()}`)
    return undefined
  }, 20)
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function httpGet(url: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks)))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}

function benchScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url))
}

/** Hard link (same file system) or symlink `file` into `dir` under its own name. */
async function placeFile(file: string, dir: string): Promise<string> {
  const target = path.join(dir, path.basename(file))
  try {
    await link(file, target)
  } catch {
    await symlink(path.resolve(file), target)
  }
  return target
}

const sha256Cache = new Map<string, string>()

async function fileKey(file: string): Promise<string> {
  const st = await stat(file)
  return `${path.resolve(file)}:${st.size}:${st.mtimeMs}`
}

/** sha256 of a file, in this process (not timed; used to verify outputs). */
export async function sha256File(file: string): Promise<string> {
  const key = await fileKey(file)
  const cached = sha256Cache.get(key)
  if (cached !== undefined) return cached
  const hash = createHash('sha256')
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve())
      .on('error', reject)
  })
  const digest = hash.digest('hex')
  sha256Cache.set(key, digest)
  return digest
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export interface BenchResult {
  /** A row label, e.g. 'aria2c 1→4'. */
  name: string
  /** What was measured: 'grove', 'aria2c', 'webtorrent', 'tcp-copy', 'sha256sum', … */
  system: string
  /** Size of the file each downloader receives. */
  bytes: number
  /** Number of downloaders (0 for sha256sum). */
  downloaders: number
  /** Seconds from starting the downloaders until ALL have the complete file. */
  seconds: number
  /** bytes / seconds / 1e6: per-downloader throughput until the last one is done. */
  mbps: number
  /** bytes × downloaders / seconds / 1e6: what the swarm delivered in total. */
  aggregateMbps: number
  /** Each downloader's own completion time (from the common start), in downloader order. */
  downloaderSeconds: number[]
  processes: ProcessStats[]
  notes: string[]
}

/** Builds a BenchResult (also for Grove's own runs in transfer.ts). */
export function buildResult(params: {
  name: string
  system: string
  bytes: number
  downloaders: number
  seconds: number
  downloaderSeconds?: number[]
  processes: ProcessStats[]
  notes?: string[]
}): BenchResult {
  const n = Math.max(1, params.downloaders)
  return {
    name: params.name,
    system: params.system,
    bytes: params.bytes,
    downloaders: params.downloaders,
    seconds: params.seconds,
    mbps: params.bytes / params.seconds / 1e6,
    aggregateMbps: (params.bytes * n) / params.seconds / 1e6,
    downloaderSeconds: params.downloaderSeconds ?? [],
    processes: params.processes,
    notes: params.notes ?? []
  }
}

export interface FormatOptions {
  /** `system` of the rows the ratio column compares against (e.g. 'grove'). */
  baseline?: string
  /** Print the per-process table (default true). */
  processes?: boolean
}

function pad(s: string, width: number, right = false): string {
  return right ? s.padStart(width) : s.padEnd(width)
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => pad(c, widths[i] ?? 0, rightAlign[i] ?? false)).join('  ').trimEnd()
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n')
}

const num = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-')

/**
 * A plain-text report: one row per result (MB/s = 10^6 bytes per second) with a ratio column
 * against the baseline system's row with the same number of downloaders (sha256sum rows,
 * with 0 downloaders, compare against the 1-downloader baseline), then every process's wall
 * time, CPU (user+sys) and peak RSS.
 */
export function formatResults(results: BenchResult[], opts: FormatOptions = {}): string {
  const baselineFor = (r: BenchResult): BenchResult | undefined =>
    opts.baseline === undefined
      ? undefined
      : results.find((b) => b.system === opts.baseline && b.downloaders === Math.max(1, r.downloaders))
  const ratioHeader = opts.baseline !== undefined ? `× ${opts.baseline}` : ''
  const header = ['reference', 'size MB', 'peers', 'seconds', 'MB/s', 'total MB/s', 'each (s)', 'CPU s', 'peak RSS MB']
  if (ratioHeader) header.splice(6, 0, ratioHeader)
  const rows = results.map((r) => {
    const cpu = r.processes.reduce((sum, p) => sum + (Number.isFinite(p.cpuSeconds) ? p.cpuSeconds : 0), 0)
    const rss = r.processes.reduce((max, p) => Math.max(max, Number.isFinite(p.peakRssBytes) ? p.peakRssBytes : 0), 0)
    const row = [
      r.name,
      num(r.bytes / 1e6, 0),
      String(r.downloaders),
      num(r.seconds, 2),
      num(r.mbps),
      num(r.aggregateMbps),
      r.downloaderSeconds.map((s) => num(s, 2)).join(' '),
      num(cpu, 2),
      num(rss / 1e6, 0)
    ]
    if (ratioHeader) {
      const b = baselineFor(r)
      row.splice(6, 0, b ? `${num(r.mbps / b.mbps, 2)}×` : '-')
    }
    return row
  })
  const right = header.map((h) => h !== 'reference' && h !== 'each (s)')
  const lines = [
    'Transfer references (MB = 10^6 bytes; MB/s = file size / time until every downloader has it;',
    'total MB/s = size × downloaders / time; CPU s = user+sys of all its processes; peak RSS = largest process)',
    table(header, rows, right)
  ]
  const notes = results.flatMap((r) => r.notes.map((n) => `  ${r.name}: ${n}`))
  if (notes.length > 0) lines.push('', 'Notes:', ...notes)
  if (opts.processes !== false) {
    const procRows = results.flatMap((r) =>
      r.processes.map((p) => [
        r.name,
        p.role,
        num(p.wallSeconds, 2),
        num(p.cpuSeconds, 2),
        Number.isFinite(p.cpuSeconds) && p.wallSeconds > 0 ? `${num((100 * p.cpuSeconds) / p.wallSeconds, 0)}%` : '-',
        num(p.peakRssBytes / 1e6, 1),
        p.timedOut ? 'timed out' : p.killed ? 'stopped' : p.signal !== null ? p.signal : String(p.exitCode)
      ])
    )
    lines.push(
      '',
      'Processes (wall = spawn to exit, includes seeding/idle time; CPU% = CPU s / wall s)',
      table(['reference', 'process', 'wall s', 'CPU s', 'CPU%', 'peak RSS MB', 'end'], procRows, [false, false, true, true, true, true, false])
    )
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Common options and plumbing
// ---------------------------------------------------------------------------------------------

export interface ReferenceOptions {
  /** Bound on the whole reference run (default: 60 s + 1 s per 2 MB of file). */
  timeoutMs?: number
  /** sha256 every downloaded copy against the source after timing (default true). */
  verify?: boolean
  /** Keep the reference's scratch directory (default false: removed). */
  keepWorkDir?: boolean
  /**
   * Run `sync` (flush every dirty page on the machine) right before the timed part, so that
   * writeback left over from an earlier run does not slow this one (default true).
   */
  sync?: boolean
  /** Progress messages (default: none). */
  log?: (message: string) => void
}

function defaultTimeout(bytes: number, opts: ReferenceOptions): number {
  return opts.timeoutMs ?? 60_000 + Math.ceil(bytes / 2e6) * 1000
}

/**
 * `sync`: writes back every dirty page on the machine (not timed). Writing 1 GiB copies leaves
 * up to gigabytes of dirty pages whose writeback otherwise lands in the next measurement.
 */
export async function flushDirtyPages(timeoutMs = 120_000): Promise<void> {
  const proc = measureProcess('sync', [], { role: 'sync', timeoutMs })
  assertExitedOk(await proc.result, proc)
}

async function settle(opts: ReferenceOptions): Promise<void> {
  if (opts.sync !== false) await flushDirtyPages()
}

/**
 * Runs `run` `times` times, one after another, and returns the run with the median time
 * (for an even count, the faster of the two middle runs), noting every run's time.
 */
export async function medianOf(times: number, run: (attempt: number) => Promise<BenchResult>): Promise<BenchResult> {
  const runs: BenchResult[] = []
  for (let i = 0; i < Math.max(1, times); i++) runs.push(await run(i + 1))
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  if (median === undefined) throw new Error('medianOf: no runs')
  if (runs.length > 1) {
    median.notes.push(`median of ${runs.length} runs: ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} s`)
  }
  return median
}

/** Runs `body` with a scratch dir and a process list; every process is stopped, the dir removed. */
async function withScratch<T>(
  workDir: string,
  prefix: string,
  opts: ReferenceOptions,
  body: (dir: string, procs: MeasuredProcess[]) => Promise<T>
): Promise<T> {
  await mkdir(workDir, { recursive: true })
  const dir = await mkdtemp(path.join(workDir, `${prefix}-`))
  const procs: MeasuredProcess[] = []
  // Interrupted (SIGINT/SIGTERM → process.exit), the finally below does not run: remove it then.
  const removeOnExit = (): void => {
    if (opts.keepWorkDir) return
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // a process killed a moment ago may still be writing; best effort
    }
  }
  process.once('exit', removeOnExit)
  try {
    return await body(dir, procs)
  } finally {
    await Promise.allSettled(procs.map((p) => p.kill('SIGTERM', 5000)))
    process.off('exit', removeOnExit)
    if (!opts.keepWorkDir) await rm(dir, { recursive: true, force: true })
  }
}

async function verifyCopies(source: string, copies: string[], opts: ReferenceOptions): Promise<void> {
  if (opts.verify === false) return
  const expected = await sha256File(source)
  for (const copy of copies) {
    const got = await sha256File(copy)
    if (got !== expected) throw new Error(`${copy}: sha256 ${got} differs from the source's ${expected}`)
  }
}

// ---------------------------------------------------------------------------------------------
// sha256sum
// ---------------------------------------------------------------------------------------------

/** Times `sha256sum file` (reads from the page cache when the file was just written or read). */
export async function benchSha256sum(file: string, opts: ReferenceOptions = {}): Promise<BenchResult & { sha256: string }> {
  const { size } = await stat(file)
  await settle(opts)
  let digest = ''
  const proc = measureProcess('sha256sum', [file], {
    role: 'sha256sum',
    timeoutMs: defaultTimeout(size, opts),
    onStdoutLine: (line) => {
      digest = line.split(/\s+/)[0] ?? ''
    }
  })
  const stats = await proc.result
  assertExitedOk(stats, proc)
  sha256Cache.set(await fileKey(file), digest)
  return {
    ...buildResult({
      name: 'sha256sum',
      system: 'sha256sum',
      bytes: size,
      downloaders: 0,
      seconds: stats.wallSeconds,
      processes: [stats],
      notes: []
    }),
    sha256: digest
  }
}

// ---------------------------------------------------------------------------------------------
// Plain TCP copy
// ---------------------------------------------------------------------------------------------

export interface TcpCopyOptions extends ReferenceOptions {
  /** Receivers fsync the file before reporting done (default false, like aria2c/webtorrent). */
  fsync?: boolean
}

/**
 * One Node sender streams `file` over 127.0.0.1 to `downloaders` Node receivers at once (one
 * connection each); each receiver writes it to disk. Timed from spawning the sender until the
 * last receiver has written everything (no fsync unless opts.fsync).
 */
export async function benchTcpCopy(file: string, workDir: string, downloaders = 1, opts: TcpCopyOptions = {}): Promise<BenchResult> {
  const { size } = await stat(file)
  const timeoutMs = defaultTimeout(size, opts)
  const script = benchScript('tcp-copy.js')
  const n = Math.max(1, downloaders)
  return withScratch(workDir, 'tcp-copy', opts, async (dir, procs) => {
    const outs = Array.from({ length: n }, (_, i) => path.join(dir, `recv-${i + 1}.bin`))
    const lines: string[][] = outs.map(() => [])
    const doneAt: (number | null)[] = outs.map(() => null)
    const receivers = outs.map((out, i) =>
      measureProcess(process.execPath, [script, 'recv', out, ...(opts.fsync ? ['--fsync'] : [])], {
        role: `receiver ${i + 1}`,
        timeoutMs,
        onStdoutLine: (line) => {
          lines[i]?.push(line)
          if (line.startsWith('DONE ')) doneAt[i] = performance.now()
        }
      })
    )
    procs.push(...receivers)
    const ports: number[] = []
    for (const [i, r] of receivers.entries()) {
      const m = await waitForLine(r, lines[i] ?? [], /^LISTENING (\d+)$/, 15_000)
      ports.push(Number(m[1]))
    }
    await settle(opts)
    opts.log?.(`tcp-copy: sending to ${n} receiver(s)`)
    const sender = measureProcess(process.execPath, [script, 'send', file, ...ports.map(String)], { role: 'sender', timeoutMs })
    procs.push(sender)
    const t0 = sender.startedAt
    const receiverStats = await Promise.all(receivers.map((r) => r.result))
    const senderStats = await sender.result
    for (const [i, s] of receiverStats.entries()) assertExitedOk(s, receivers[i])
    assertExitedOk(senderStats, sender)
    const each = doneAt.map((t) => ((t ?? NaN) - t0) / 1000)
    const seconds = Math.max(...each)
    await verifyCopies(file, outs, opts)
    return buildResult({
      name: `tcp-copy 1→${n}`,
      system: 'tcp-copy',
      bytes: size,
      downloaders: n,
      seconds,
      downloaderSeconds: each,
      processes: [senderStats, ...receiverStats],
      notes: opts.fsync ? ['receivers fsync before reporting done'] : []
    })
  })
}

// ---------------------------------------------------------------------------------------------
// BitTorrent plumbing: torrent, tracker
// ---------------------------------------------------------------------------------------------

interface TorrentInfo {
  infoHash: string
  pieceLength: number
  pieces: number
  torrentFile: string
  announceUrl: string
}

interface Tracker {
  proc: MeasuredProcess
  port: number
  announceUrl: string
}

interface CachedTorrent {
  bytes: Buffer
  announceUrl: string
  infoHash: string
  pieceLength: number
  pieces: number
}

/** Torrents already made, by file (path, size, mtime) and piece length: hashing 1 GiB takes seconds. */
const torrentCache = new Map<string, CachedTorrent>()

/** The same torrent announcing to `to` instead of `from` (bencoded strings; the info dict is untouched). */
function replaceAnnounce(bytes: Buffer, from: string, to: string): Buffer {
  const needle = Buffer.from(`${Buffer.byteLength(from)}:${from}`)
  const replacement = Buffer.from(`${Buffer.byteLength(to)}:${to}`)
  const parts: Buffer[] = []
  let at = 0
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, at)) {
    parts.push(bytes.subarray(at, i), replacement)
    at = i + needle.length
  }
  parts.push(bytes.subarray(at))
  return Buffer.concat(parts)
}

/**
 * Writes a .torrent for `file` announcing only to `announceUrl` (create-torrent, in a child
 * process; later calls for the same file reuse it with the new announce URL).
 */
async function makeTorrent(
  file: string,
  dir: string,
  announceUrl: string,
  timeoutMs: number,
  pieceLength?: number,
  log?: (message: string) => void
): Promise<TorrentInfo> {
  const torrentFile = path.join(dir, `${path.basename(file)}.torrent`)
  const key = `${await fileKey(file)}:${pieceLength ?? 'default'}`
  const cached = torrentCache.get(key)
  if (cached !== undefined) {
    await writeFile(torrentFile, replaceAnnounce(cached.bytes, cached.announceUrl, announceUrl))
    return { infoHash: cached.infoHash, pieceLength: cached.pieceLength, pieces: cached.pieces, torrentFile, announceUrl }
  }
  log?.(`hashing ${path.basename(file)} into a torrent`)
  let json = ''
  const proc = measureProcess(
    process.execPath,
    [benchScript('webtorrent-peer.js'), 'create', file, announceUrl, torrentFile, ...(pieceLength ? ['--piece-length', String(pieceLength)] : [])],
    {
      role: 'create-torrent',
      timeoutMs,
      onStdoutLine: (line) => {
        if (line.startsWith('TORRENT ')) json = line.slice('TORRENT '.length)
      }
    }
  )
  const stats = await proc.result
  assertExitedOk(stats, proc)
  const info = JSON.parse(json) as { infoHash?: unknown; pieceLength?: unknown; pieces?: unknown }
  if (typeof info.infoHash !== 'string' || !/^[0-9a-f]{40}$/.test(info.infoHash)) throw new Error(`create-torrent printed no info hash: ${json}`)
  const made = { infoHash: info.infoHash, pieceLength: Number(info.pieceLength), pieces: Number(info.pieces) }
  torrentCache.set(key, { ...made, bytes: await readFile(torrentFile), announceUrl })
  return { ...made, torrentFile, announceUrl }
}

/**
 * Starts opentracker on 127.0.0.1:port (TCP and UDP). Debian's build only tracks whitelisted
 * torrents, so the info hash goes in its whitelist; as root it chroots into its directory.
 */
async function startTracker(dir: string, infoHash: string, port: number, timeoutMs: number): Promise<Tracker> {
  const trackerDir = path.join(dir, 'tracker')
  await mkdir(trackerDir, { recursive: true })
  await chmod(trackerDir, 0o755)
  await writeFile(path.join(trackerDir, 'whitelist'), `${infoHash}\n`, { mode: 0o644 })
  const proc = measureProcess(
    'opentracker',
    ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', trackerDir, '-w', '/whitelist'],
    { role: 'tracker', cwd: trackerDir, timeoutMs }
  )
  await waitFor('opentracker to listen', 10_000, async () => {
    if (proc.exited) throw new Error(`opentracker exited:\n${proc.stderrTail()}`)
    return canConnect(port)
  })
  return { proc, port, announceUrl: `http://127.0.0.1:${port}/announce` }
}

/** Seeders and leechers the tracker knows for `infoHash` (HTTP scrape). */
async function scrape(tracker: Tracker, infoHash: string): Promise<{ complete: number; incomplete: number }> {
  const encoded = Buffer.from(infoHash, 'hex').reduce((s, b) => s + '%' + b.toString(16).padStart(2, '0'), '')
  const body = (await httpGet(`http://127.0.0.1:${tracker.port}/scrape?info_hash=${encoded}`, 2000)).toString('latin1')
  const complete = /8:completei(\d+)e/.exec(body)
  const incomplete = /10:incompletei(\d+)e/.exec(body)
  return { complete: Number(complete?.[1] ?? 0), incomplete: Number(incomplete?.[1] ?? 0) }
}

async function waitForSeeder(tracker: Tracker, torrent: TorrentInfo, seeder: MeasuredProcess, timeoutMs: number): Promise<void> {
  await waitFor('the seeder to announce itself complete', timeoutMs, async () => {
    if (seeder.exited) throw new Error(`seeder exited:\n${seeder.stderrTail() || seeder.stdoutTail()}`)
    if (tracker.proc.exited) throw new Error(`opentracker exited:\n${tracker.proc.stderrTail()}`)
    const s = await scrape(tracker, torrent.infoHash).catch(() => ({ complete: 0, incomplete: 0 }))
    return s.complete >= 1
  }, 100)
}

export interface SwarmOptions extends ReferenceOptions {
  /** Piece length of the torrent (default: create-torrent's choice, 1 MiB for 1 GiB). */
  pieceLength?: number
}

/**
 * The common shape of the aria2c and webtorrent references: torrent, tracker, a seeder that
 * announced itself complete, then N downloaders spawned at once; timed from the first spawn
 * until the last downloader reports the complete, verified file. Downloaders keep running
 * (and serving) until all are done; then everyone is stopped and every copy is checked.
 */
async function runSwarm(
  system: 'aria2c' | 'webtorrent',
  file: string,
  workDir: string,
  downloaders: number,
  opts: SwarmOptions,
  startSeeder: (ctx: { dir: string; seedDir: string; torrent: TorrentInfo; timeoutMs: number }) => Promise<MeasuredProcess>,
  startDownloader: (ctx: { index: number; dir: string; torrent: TorrentInfo; timeoutMs: number; onDone: () => void }) => Promise<MeasuredProcess>
): Promise<BenchResult> {
  const { size } = await stat(file)
  const timeoutMs = defaultTimeout(size, opts)
  const deadline = performance.now() + timeoutMs
  const left = (): number => Math.max(1000, deadline - performance.now())
  const n = Math.max(1, downloaders)
  return withScratch(workDir, system, opts, async (dir, procs) => {
    // The torrent announces to the tracker, and opentracker needs the torrent's info hash in
    // its whitelist: pick the tracker's port, make the torrent, then start the tracker.
    const port = await freePort()
    const announceUrl = `http://127.0.0.1:${port}/announce`
    const torrent = await makeTorrent(file, dir, announceUrl, left(), opts.pieceLength, opts.log)
    const tracker = await startTracker(dir, torrent.infoHash, port, left())
    procs.push(tracker.proc)

    const seedDir = path.join(dir, 'seed')
    await mkdir(seedDir)
    await placeFile(file, seedDir)
    opts.log?.(`${system}: starting the seeder`)
    const seeder = await startSeeder({ dir, seedDir, torrent, timeoutMs: left() })
    procs.push(seeder)
    await waitForSeeder(tracker, torrent, seeder, Math.min(left(), 120_000))
    await settle(opts)

    opts.log?.(`${system}: starting ${n} downloader(s)`)
    const t0 = performance.now()
    const dirs = Array.from({ length: n }, (_, i) => path.join(dir, `down-${i + 1}`))
    const doneAt: (number | null)[] = dirs.map(() => null)
    const downs: MeasuredProcess[] = []
    for (const [i, ddir] of dirs.entries()) {
      await mkdir(ddir)
      const proc = await startDownloader({
        index: i + 1,
        dir: ddir,
        torrent,
        timeoutMs: left(),
        onDone: () => {
          if (doneAt[i] === null) doneAt[i] = performance.now()
        }
      })
      procs.push(proc)
      downs.push(proc)
    }
    await waitFor(`all ${n} ${system} downloaders to complete`, left(), () => {
      const dead = downs.find((d, i) => doneAt[i] === null && d.exited)
      if (dead) throw new Error(`${dead.role} exited before completing:\n${dead.stderrTail() || dead.stdoutTail()}`)
      return doneAt.every((t) => t !== null)
    }, 10)
    const each = doneAt.map((t) => ((t ?? NaN) - t0) / 1000)
    const seconds = Math.max(...each)
    opts.log?.(`${system}: all complete after ${seconds.toFixed(2)} s; stopping`)

    // Downloaders first (they announce `stopped` to a live tracker), then the seeder, then the tracker.
    const downStats = await Promise.all(downs.map((d) => d.kill('SIGTERM', 5000)))
    const seederStats = await seeder.kill('SIGTERM', 5000)
    const trackerStats = await tracker.proc.kill('SIGTERM', 2000)
    await verifyCopies(file, dirs.map((d) => path.join(d, path.basename(file))), opts)
    return buildResult({
      name: `${system} 1→${n}`,
      system,
      bytes: size,
      downloaders: n,
      seconds,
      downloaderSeconds: each,
      processes: [seederStats, ...downStats, trackerStats],
      notes: [`piece length ${torrent.pieceLength / 1024} KiB, ${torrent.pieces} pieces`]
    })
  })
}

// ---------------------------------------------------------------------------------------------
// aria2c
// ---------------------------------------------------------------------------------------------

const ARIA2_COMMON = [
  '--no-conf=true',
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=true',
  '--disable-ipv6=true',
  '--bt-tracker-connect-timeout=10',
  '--bt-tracker-timeout=10',
  '--seed-ratio=0.0',
  '--file-allocation=none',
  '--summary-interval=0',
  '--show-console-readout=false',
  '--enable-color=false',
  '--console-log-level=notice',
  '--auto-save-interval=0',
  `--stop-with-process=${process.pid}`
]

/**
 * aria2c reference: local opentracker, one aria2c seeder (the complete file, not re-hashed:
 * --bt-seed-unverified), N aria2c downloaders started at once. aria2c verifies every piece;
 * a downloader counts as complete when aria2c runs its --on-bt-download-complete hook, and
 * keeps seeding (--seed-ratio=0.0) until every downloader is complete. DHT, LPD off; PEX on.
 */
export async function benchAria2(file: string, workDir: string, downloaders = 1, opts: SwarmOptions = {}): Promise<BenchResult> {
  return runSwarm(
    'aria2c',
    file,
    workDir,
    downloaders,
    opts,
    async ({ seedDir, torrent, timeoutMs }) =>
      measureProcess(
        'aria2c',
        [
          ...ARIA2_COMMON,
          `--listen-port=${await freePort()}`,
          '--bt-seed-unverified=true',
          '--check-integrity=false',
          `--dir=${seedDir}`,
          torrent.torrentFile
        ],
        { role: 'seeder', timeoutMs }
      ),
    async ({ index, dir, torrent, timeoutMs, onDone }) => {
      const hook = path.join(dir, 'on-complete.sh')
      // aria2c runs the hook with (GID, number of files, first file path); its stdout is ours.
      await writeFile(hook, '#!/bin/sh\necho "GROVE_BT_COMPLETE $1 $3"\n', { mode: 0o755 })
      return measureProcess(
        'aria2c',
        [
          ...ARIA2_COMMON,
          `--listen-port=${await freePort()}`,
          `--on-bt-download-complete=${hook}`,
          `--dir=${dir}`,
          torrent.torrentFile
        ],
        {
          role: `downloader ${index}`,
          timeoutMs,
          onStdoutLine: (line) => {
            if (line.startsWith('GROVE_BT_COMPLETE ')) onDone()
          }
        }
      )
    }
  )
}

// ---------------------------------------------------------------------------------------------
// webtorrent
// ---------------------------------------------------------------------------------------------

export interface WebTorrentOptions extends SwarmOptions {
  /**
   * Piece selection of the downloaders (default 'sequential', webtorrent's own default).
   * 'rarest' costs webtorrent far more CPU: ~5× slower on 1→1 in a 64 MiB smoke run here.
   */
  strategy?: 'rarest' | 'sequential'
}

/**
 * webtorrent reference: the same swarm with webtorrent v2 peers in Node child processes
 * (bench/webtorrent-peer.ts; node-datachannel resolved to a stub). TCP only: no DHT, LSD,
 * uTP, WebRTC, NAT traversal or web seeds; ut_pex on. A downloader is complete at
 * webtorrent's `done` (every piece verified) and keeps seeding until all are complete.
 */
export async function benchWebTorrent(file: string, workDir: string, downloaders = 1, opts: WebTorrentOptions = {}): Promise<BenchResult> {
  const script = benchScript('webtorrent-peer.js')
  const result = await runSwarm(
    'webtorrent',
    file,
    workDir,
    downloaders,
    opts,
    async ({ seedDir, torrent, timeoutMs }) =>
      measureProcess(process.execPath, [script, 'seed', torrent.torrentFile, seedDir], { role: 'seeder', timeoutMs }),
    async ({ index, dir, torrent, timeoutMs, onDone }) =>
      measureProcess(process.execPath, [script, 'download', torrent.torrentFile, dir, '--strategy', opts.strategy ?? 'sequential'], {
        role: `downloader ${index}`,
        timeoutMs,
        onStdoutLine: (line) => {
          if (line.startsWith('DONE ')) onDone()
        }
      })
  )
  result.notes.push(`strategy ${opts.strategy ?? 'sequential'}`)
  return result
}

// ---------------------------------------------------------------------------------------------
// All of them
// ---------------------------------------------------------------------------------------------

export interface AllReferencesOptions extends WebTorrentOptions {
  /** Downloader counts to run (default [1, 4]). */
  downloaderCounts?: number[]
  /** Which references (default all). */
  only?: ('sha256sum' | 'tcp-copy' | 'aria2c' | 'webtorrent')[]
  fsync?: boolean
  /** Runs of each reference; the median is reported (default 1). */
  repeats?: number
}

/** Runs every reference on `file`, one after another, for each downloader count. */
export async function runAllReferences(file: string, workDir: string, opts: AllReferencesOptions = {}): Promise<BenchResult[]> {
  const counts = opts.downloaderCounts ?? [1, 4]
  const want = (name: 'sha256sum' | 'tcp-copy' | 'aria2c' | 'webtorrent'): boolean => opts.only === undefined || opts.only.includes(name)
  const results: BenchResult[] = []
  const repeats = opts.repeats ?? 1
  if (want('sha256sum')) {
    opts.log?.('sha256sum')
    results.push(await medianOf(repeats, () => benchSha256sum(file, opts)))
  }
  for (const n of counts) {
    if (want('tcp-copy')) results.push(await medianOf(repeats, () => benchTcpCopy(file, workDir, n, opts)))
    if (want('aria2c')) results.push(await medianOf(repeats, () => benchAria2(file, workDir, n, opts)))
    if (want('webtorrent')) results.push(await medianOf(repeats, () => benchWebTorrent(file, workDir, n, opts)))
  }
  return results
}
