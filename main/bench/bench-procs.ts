// Child processes for the benches (bench:lab, bench:swarm): JSON-line readers with bounded waits,
// and one cleanup that kills whatever is left, on exit or on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { GROVE_BIN } from '../testing/harness.js'
import type { LabHost } from './lab-hosts.js'

export const live = new Set<ChildProcess>()
export const cleanups: Array<() => Promise<void> | void> = []
let cleaning: Promise<void> | null = null
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()!()
      } catch {
        // keep cleaning up the rest
      }
    }
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)))

/** A child whose stdout is read line by line (JSON lines parsed), not kept. */
export class Proc {
  readonly started = performance.now()
  stderrTail = ''
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private waiters: Array<{ test: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }> = []
  readonly json: Array<Record<string, unknown>> = []

  constructor(readonly role: string, readonly child: ChildProcess, opts: { keepJson?: boolean } = {}) {
    live.add(child)
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    }))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = parseJson(line)
      if (!msg) return
      if (opts.keepJson) this.json.push(msg)
      this.waiters = this.waiters.filter((w) => (w.test(msg) ? (w.resolve(msg), false) : true))
    })
    child.stderr?.setEncoding('utf8').on('data', (t: string) => { this.stderrTail = (this.stderrTail + t).slice(-3000) })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  waitFor(test: (m: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return bounded(
      Promise.race([
        new Promise<Record<string, unknown>>((resolve) => this.waiters.push({ test, resolve })),
        this.exit.then(({ code, signal }) => { throw new Error(`${this.role} exited (${code ?? signal}) before ${what}: ${this.stderrTail}`) })
      ]),
      timeoutMs,
      `${this.role}: no ${what} within ${timeoutMs / 1000} s: ${this.stderrTail}`
    )
  }

  async finished(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }> {
    const result = await bounded(this.exit, timeoutMs, `${this.role} did not finish within ${timeoutMs / 1000} s`).catch((err: unknown) => {
      this.child.kill('SIGKILL')
      throw err
    })
    return { ...result, seconds: (performance.now() - this.started) / 1000 }
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    await bounded(this.exit, timeoutMs, '').catch(() => this.child.kill('SIGKILL'))
    await this.exit
  }
}

export function grove(host: LabHost, role: string, args: string[], opts: { keepJson?: boolean; nodeArgs?: string[] } = {}): Proc {
  return new Proc(role, host.spawn(process.execPath, [...(opts.nodeArgs ?? []), GROVE_BIN, ...args]), opts)
}

export function runCommand(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => { output += t })
    child.stderr.setEncoding('utf8').on('data', (t: string) => { output += t })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('close', (code) => {
      clearTimeout(timer)
      live.delete(child)
      resolve({ code, output })
    })
    child.once('error', (err) => resolve({ code: -1, output: err.message }))
  })
}

export function bounded<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })]).finally(() => clearTimeout(timer))
}

export function parseJson(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{') && !line.startsWith('[')) return null
  try {
    const v: unknown = JSON.parse(line)
    return Array.isArray(v) ? { array: v } : v && typeof v === 'object' ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)))
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

