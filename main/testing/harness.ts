// Test harness: everything a test creates goes through here and is torn down after it (temp
// homes, Grove instances, the local DHT testnet, child processes), in reverse order.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import createTestnet, { type Testnet } from 'hyperdht/testnet.js'
import { Grove } from '../core/grove.js'
import type { BootstrapNode } from '../core/swarm.js'
import type { Room } from '../core/rooms.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const GROVE_BIN = join(REPO_ROOT, 'main', 'bin', 'grove.js')
/** GNU time (Debian's `time` package, which .ci/run installs). */
export const GNU_TIME = '/usr/bin/time'

type Teardown = () => Promise<void> | void

export class Harness {
  private readonly teardowns: Teardown[] = []
  private testnetPromise: Promise<Testnet> | null = null

  onTeardown(fn: Teardown): void {
    this.teardowns.push(fn)
  }

  async tmpDir(prefix = 'grove-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.onTeardown(() => rm(dir, { recursive: true, force: true }))
    return dir
  }

  /** A local HyperDHT testnet on loopback (tests run inside a network namespace). */
  async bootstrap(): Promise<BootstrapNode[]> {
    if (!this.testnetPromise) {
      this.testnetPromise = createTestnet(3, { host: '127.0.0.1' })
      const pending = this.testnetPromise
      this.onTeardown(async () => (await pending).destroy())
    }
    return (await this.testnetPromise).bootstrap
  }

  async bootstrapArg(): Promise<string> {
    return (await this.bootstrap()).map((b) => `${b.host}:${b.port}`).join(',')
  }

  /** An open Grove on a fresh home; `network` joins the local testnet. */
  /** `rooms: []`: in no room, so it meets only the peers of the topics it joins (default: the public room). */
  async grove(opts: { network?: boolean; home?: string; directPort?: number | null; rooms?: Room[] } = {}): Promise<Grove> {
    const home = opts.home ?? (await this.tmpDir('grove-home-'))
    const grove = new Grove({ home, network: opts.network ?? true, bootstrap: opts.network === false ? undefined : await this.bootstrap(), directPort: opts.directPort, rooms: opts.rooms })
    await grove.ready()
    this.onTeardown(() => grove.close())
    return grove
  }

  /**
   * Starts `grove <args>` as a child process; killed at teardown if still running. `rssFile`:
   * run it under GNU time, which writes there the peak RSS (kB) of grove and every process it
   * started and waited for.
   */
  spawnGrove(args: string[], opts: { env?: NodeJS.ProcessEnv; rssFile?: string; stdin?: string; cwd?: string } = {}): GroveProcess {
    const command = opts.rssFile ? [GNU_TIME, '-o', opts.rssFile, '-f', '%M', process.execPath] : [process.execPath]
    const child = spawn(command[0]!, [...command.slice(1), GROVE_BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin)
    const proc = new GroveProcess(child)
    this.onTeardown(() => proc.kill('SIGKILL'))
    return proc
  }

  /** Runs `grove <args>` to completion (bounded by `timeoutMs`); `measure`: also its peak RSS and wall time. */
  async runGrove(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; measure?: boolean; stdin?: string; cwd?: string } = {}): Promise<GroveRun> {
    const rssFile = opts.measure ? join(await this.tmpDir('grove-rss-'), 'rss') : undefined
    const started = performance.now()
    const proc = this.spawnGrove(args, { env: opts.env, rssFile, stdin: opts.stdin, cwd: opts.cwd })
    const run = await proc.finished(opts.timeoutMs ?? 60_000)
    run.wallMs = performance.now() - started
    if (rssFile) run.peakRssBytes = Number((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1)) * 1024
    return run
  }

  async teardown(): Promise<void> {
    while (this.teardowns.length > 0) {
      const fn = this.teardowns.pop()!
      try {
        await fn()
      } catch {
        // keep tearing down the rest
      }
    }
  }
}

export interface GroveRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout parsed as JSON lines (lines that are not JSON are skipped). */
  json: Array<Record<string, unknown>>
  wallMs?: number
  /** Peak RSS of grove and its children (runGrove with `measure`). */
  peakRssBytes?: number
}

export class GroveProcess {
  stdout = ''
  stderr = ''
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private lineWaiters: Array<{ test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = []

  constructor(readonly child: ChildProcess) {
    let pending = ''
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text
      pending += text
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        const parsed = parseJsonLine(line)
        if (!parsed) continue
        this.lineWaiters = this.lineWaiters.filter((w) => {
          if (!w.test(parsed)) return true
          w.resolve(parsed)
          return false
        })
      }
    })
    child.stderr!.setEncoding('utf8').on('data', (text: string) => { this.stderr += text })
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  }

  /** Resolves with the first JSON line on stdout that passes `test`. */
  waitForJson(test: (line: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const matched = new Promise<Record<string, unknown>>((resolve) => this.lineWaiters.push({ test, resolve }))
    const exited = this.exited.then(({ code, signal }) => {
      throw new Error(`grove exited (${code ?? signal}) before printing the expected JSON line; stderr: ${this.stderr.slice(-500)}`)
    })
    return withTimeout(Promise.race([matched, exited]), timeoutMs, () => `no matching JSON line within ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }

  async finished(timeoutMs = 60_000): Promise<GroveRun> {
    const { code, signal } = await withTimeout(this.exited, timeoutMs, () => {
      this.kill('SIGKILL')
      return `grove did not exit within ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`
    })
    return { code, signal, stdout: this.stdout, stderr: this.stderr, json: this.stdout.split('\n').map(parseJsonLine).filter((l): l is Record<string, unknown> => l !== null) }
  }
}

function parseJsonLine(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{') && !line.startsWith('[')) return null
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return null
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
