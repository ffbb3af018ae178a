// Reading a GGUF file Grove did not write, without trusting it: the header is checked here with
// the bounded reader (cheap; a file that states what it cannot hold is refused before any
// process starts), then a child process (probe-worker.ts) reads it again and lets llama.cpp open
// it, under a memory cap and a time limit. A file that makes that process grow, hang or crash
// costs the child, never Grove.
import pidusage from 'pidusage'
import { fileURLToPath } from 'node:url'
import { GroveError } from '../../shared/errors.js'
import { forkSpawner, type WorkerHandle, type WorkerSpawner } from '../process/spawn.js'
import { nativeCrashReason } from '../process/crash-reason.js'
import { readGgufHeader } from './header.js'
import { ProbeReply, type OpenDepth, type ProbeRequest } from './probe-protocol.js'
import { ggufProblem, summarizeGguf, type GgufSummary } from './summary.js'

export type { GgufSummary, GgufBaseModel } from './summary.js'

const PROBE_ENTRY = fileURLToPath(new URL('./probe-worker.js', import.meta.url))
/**
 * node-llama-cpp and llama.cpp take ~100 MB before any file is read; opening a model with a
 * 262,144-token vocabulary (Gemma 3's, and Grove's cap) took 275 MB; 524,288 tokens took 404 MB.
 */
const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024
/** Starting node-llama-cpp takes ~1.5 s; a vocabulary load well under a second. */
const DEFAULT_TIMEOUT_MS = 15_000
/** Models up to this size are opened whole (tensors and all); bigger ones by their vocabulary. */
const FULL_OPEN_MAX_BYTES = 64 * 1024 * 1024
const MEMORY_POLL_MS = 50

export interface ProbeOptions {
  /** 'auto' (default): the whole model when small, else its vocabulary; 'none': the header only. */
  open?: 'auto' | OpenDepth
  spawner?: WorkerSpawner
  memoryBytes?: number
  timeoutMs?: number
  /** Probes one after another (`grove share DIR`): one process opens file after file (see ProbeSession). */
  session?: ProbeSession
}

export interface GgufProbe {
  summary: GgufSummary
  /** Why llama.cpp would refuse the file, or null when it opens it. */
  problem: string | null
}

/**
 * Reads a GGUF's summary and whether llama.cpp opens it. Throws NOT_FOUND/BAD_INPUT for a path
 * that is not a readable regular file, NOT_GGUF for a file that is not GGUF at all, and BAD_GGUF
 * for a malformed header; what the probe process finds (llama.cpp refusing or aborting, the
 * limits reached) is the `problem`.
 */
export async function probeGguf(path: string, opts: ProbeOptions = {}): Promise<GgufProbe> {
  const header = await readGgufHeader(path)
  const summary = summarizeGguf(header)
  const seen = ggufProblem(header)
  if (seen || opts.open === 'none') return { summary, problem: seen }
  const open = opts.open === undefined || opts.open === 'auto' ? (header.fileSize <= FULL_OPEN_MAX_BYTES ? 'full' : 'vocab') : opts.open
  return { summary, problem: await runProbe({ type: 'probe', path, open }, opts) }
}

/** The summary of a file llama.cpp opens; a file it refuses is a BAD_GGUF error. */
export async function loadableGguf(path: string, opts: ProbeOptions = {}): Promise<GgufSummary> {
  const { summary, problem } = await probeGguf(path, opts)
  if (problem) throw new GroveError('BAD_GGUF', `Malformed GGUF file ${path}: ${problem}`)
  return summary
}

/**
 * Probes many files in a row through one probe process instead of one each: starting
 * node-llama-cpp is ~1.5 s of every probe of a small file. The process is kept only while it
 * behaves: one that runs past the time limit, goes over the memory cap or crashes is killed as
 * ever (and the next file gets a fresh one); it is also retired after `maxProbes` files or when
 * it holds more than half the memory cap after a file. Close the session when done.
 */
export class ProbeSession {
  private idle: ProbeWorker | null = null
  private closed = false

  constructor(private readonly maxProbes = 256) {}

  /** @internal the worker for the next probe: the idle one, or none (start one). */
  take(): ProbeWorker | null {
    const worker = this.idle
    this.idle = null
    return worker
  }

  /** @internal a worker that finished a probe cleanly: kept for the next one, or retired. */
  giveBack(worker: ProbeWorker, memoryBytes: number): void {
    if (this.closed || this.idle || worker.probes >= this.maxProbes || worker.lastMemory > memoryBytes / 2) return worker.kill()
    this.idle = worker
  }

  close(): void {
    this.closed = true
    this.idle?.kill()
    this.idle = null
  }
}

/** One probe process, asked one file at a time. */
class ProbeWorker {
  probes = 0
  /** Its resident memory at the last poll. */
  lastMemory = 0
  private stderr = ''
  private ready: Promise<void>
  private current: ((reply: ProbeReply | Error) => void) | null = null
  private exited = false
  readonly heapMb: number

  constructor(spawner: WorkerSpawner, memoryBytes: number) {
    this.heapMb = Math.max(64, Math.floor(memoryBytes / (1024 * 1024) / 2))
    this.child = spawner<ProbeRequest>({ entry: PROBE_ENTRY, args: [], execArgv: [`--max-old-space-size=${this.heapMb}`] })
    this.child.onStderr((text) => {
      this.stderr = (this.stderr + text).slice(-8192)
    })
    let started: () => void = () => {}
    this.ready = new Promise((resolve) => (started = resolve))
    this.child.onMessage((raw) => {
      const parsed = ProbeReply.safeParse(raw)
      if (parsed.success && parsed.data.type === 'ready') return started()
      this.current?.(parsed.success ? parsed.data : new GroveError('INTERNAL', 'The GGUF probe sent a malformed reply'))
    })
    this.child.onExit((exit) => {
      this.exited = true
      // Ending before it answered: llama.cpp aborted on the file, or the heap cap was hit.
      const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`
      const reason = nativeCrashReason(this.stderr)
      this.current?.(
        new ProbeEnded(
          /heap out of memory|Reached heap limit/i.test(this.stderr)
            ? `opening it needed more than ${this.heapMb} MB of heap`
            : `llama.cpp aborted opening it (the probe process ${how}${reason ? `: ${reason}` : ''})`
        )
      )
    })
  }

  private readonly child: WorkerHandle<ProbeRequest>

  get pid(): number | undefined {
    return this.child.pid
  }

  /** Sends one request once the process is up; resolves with its reply, or how the process ended. */
  ask(request: ProbeRequest): Promise<ProbeReply | Error> {
    this.probes++
    return new Promise((resolve) => {
      this.current = (reply) => {
        this.current = null
        resolve(reply)
      }
      if (this.exited) return this.current(new ProbeEnded('the probe process ended before it was asked'))
      void this.ready.then(() => {
        try {
          this.child.send(request)
        } catch (err) {
          this.current?.(new GroveError('INTERNAL', `The GGUF probe did not start: ${(err as Error).message}`))
        }
      })
    })
  }

  kill(): void {
    this.current = null
    this.child.kill('SIGKILL')
  }
}

/** The probe process ended before it answered: that is the file's problem. */
class ProbeEnded extends Error {}

/** Runs the probe process on one file: the problem it reports, or the one its end says. */
async function runProbe(request: ProbeRequest, opts: ProbeOptions): Promise<string | null> {
  const memoryBytes = opts.memoryBytes ?? envNumber('GROVE_GGUF_PROBE_MB', 1024 * 1024) ?? DEFAULT_MEMORY_BYTES
  const timeoutMs = opts.timeoutMs ?? envNumber('GROVE_GGUF_PROBE_TIMEOUT_S', 1000) ?? DEFAULT_TIMEOUT_MS
  const worker = opts.session?.take() ?? new ProbeWorker(opts.spawner ?? forkSpawner, memoryBytes)
  let limit: string | null = null
  let timer: NodeJS.Timeout | undefined
  let watch: NodeJS.Timeout | undefined
  const overLimit = new Promise<'limit'>((resolve) => {
    timer = setTimeout(() => {
      limit = `opening it with llama.cpp took longer than ${Math.round(timeoutMs / 1000)} s`
      resolve('limit')
    }, timeoutMs)
    watch = setInterval(() => {
      const pid = worker.pid
      if (pid === undefined) return
      pidusage(pid).then(
        (usage) => {
          worker.lastMemory = usage.memory
          if (usage.memory > memoryBytes && limit === null) {
            limit = `opening it with llama.cpp needed more than ${Math.round(memoryBytes / 1e6)} MB of memory`
            resolve('limit')
          }
        },
        () => {}
      )
    }, MEMORY_POLL_MS)
  })
  try {
    const reply = await Promise.race([worker.ask(request), overLimit])
    if (reply === 'limit') {
      worker.kill()
      return limit
    }
    if (reply instanceof ProbeEnded) return reply.message
    if (reply instanceof Error || reply.type !== 'result') {
      worker.kill()
      if (reply instanceof Error) throw reply
      if (reply.type === 'error') {
        // As from the inference worker: an INTERNAL text is a detail for the log, not for clients.
        throw reply.error.code === 'INTERNAL' ? new Error(reply.error.message) : new GroveError(reply.error.code, reply.error.message)
      }
      throw new GroveError('INTERNAL', `The GGUF probe of ${request.path} answered out of turn`)
    }
    if (opts.session) opts.session.giveBack(worker, memoryBytes)
    else worker.kill()
    return reply.problem
  } finally {
    clearTimeout(timer)
    clearInterval(watch)
  }
}

function envNumber(name: string, scale: number): number | undefined {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value * scale : undefined
}
