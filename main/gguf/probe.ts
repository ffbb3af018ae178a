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

/** Runs the probe process on one file: the problem it reports, or the one its end says. */
function runProbe(request: ProbeRequest, opts: ProbeOptions): Promise<string | null> {
  const memoryBytes = opts.memoryBytes ?? envNumber('GROVE_GGUF_PROBE_MB', 1024 * 1024) ?? DEFAULT_MEMORY_BYTES
  const timeoutMs = opts.timeoutMs ?? envNumber('GROVE_GGUF_PROBE_TIMEOUT_S', 1000) ?? DEFAULT_TIMEOUT_MS
  const heapMb = Math.max(64, Math.floor(memoryBytes / (1024 * 1024) / 2))
  const child: WorkerHandle<ProbeRequest> = (opts.spawner ?? forkSpawner)<ProbeRequest>({
    entry: PROBE_ENTRY,
    args: [],
    execArgv: [`--max-old-space-size=${heapMb}`]
  })
  let stderr = ''
  child.onStderr((text) => {
    stderr = (stderr + text).slice(-8192)
  })
  return new Promise<string | null>((resolve, reject) => {
    let settled = false
    const finish = (outcome: { problem: string | null } | Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearInterval(watch)
      child.kill('SIGKILL')
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome.problem)
    }
    const timer = setTimeout(() => finish({ problem: `opening it with llama.cpp took longer than ${Math.round(timeoutMs / 1000)} s` }), timeoutMs)
    const watch = setInterval(() => {
      const pid = child.pid
      if (pid === undefined) return
      pidusage(pid).then(
        (usage) => {
          if (usage.memory > memoryBytes) finish({ problem: `opening it with llama.cpp needed more than ${Math.round(memoryBytes / 1e6)} MB of memory` })
        },
        () => {}
      )
    }, MEMORY_POLL_MS)
    child.onMessage((raw) => {
      const parsed = ProbeReply.safeParse(raw)
      if (!parsed.success) return finish(new GroveError('INTERNAL', `The GGUF probe of ${request.path} sent a malformed reply`))
      const reply = parsed.data
      if (reply.type === 'ready') {
        try {
          child.send(request)
        } catch (err) {
          finish(new GroveError('INTERNAL', `The GGUF probe did not start: ${(err as Error).message}`))
        }
      } else if (reply.type === 'error') {
        // As from the inference worker: an INTERNAL text is a detail for the log, not for clients.
        finish(reply.error.code === 'INTERNAL' ? new Error(reply.error.message) : new GroveError(reply.error.code, reply.error.message))
      }
      else finish({ problem: reply.problem })
    })
    child.onExit((exit) => {
      // Ending before it answered: llama.cpp aborted on the file, or the heap cap was hit.
      const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`
      if (/heap out of memory|Reached heap limit/i.test(stderr)) return finish({ problem: `opening it needed more than ${heapMb} MB of heap` })
      const reason = nativeCrashReason(stderr)
      finish({ problem: `llama.cpp aborted opening it (the probe process ${how}${reason ? `: ${reason}` : ''})` })
    })
  })
}

function envNumber(name: string, scale: number): number | undefined {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value * scale : undefined
}
