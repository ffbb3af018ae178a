// The parent side of inference: `InferenceService` runs node-llama-cpp in a worker process
// (worker.ts) and gives Grove promises and token streams. If the worker dies — llama.cpp
// aborting on a broken GGUF, the OOM killer, kill -9 — every pending request fails with a
// WORKER_CRASHED error that says what it was doing and the native reason when llama.cpp printed
// one; the next request starts a fresh worker. Opens and closes like Holepunch's ready-resource.
import ReadyResource from 'ready-resource'
import { z } from 'zod'
import { GroveError, type ErrorCode } from '../../shared/errors.js'
import {
  FitReport,
  HardwareInfo,
  LoadInfo,
  WorkerGeneration,
  WorkerMessage,
  type ChatMessage,
  type GenerateInput,
  type LoadSpec,
  type SamplingOptions,
  type StopReason,
  type WorkerRequest
} from './protocol.js'
import { fileURLToPath } from 'node:url'
import { nativeCrashReason } from '../process/crash-reason.js'
import { forkSpawner, type WorkerExit, type WorkerHandle, type WorkerSpawner } from '../process/spawn.js'

export interface InferenceServiceOptions {
  /** How to start the worker (default: child_process.fork; Electron: utilityProcessSpawner(utilityProcess.fork)). */
  spawner?: WorkerSpawner
  /** 'auto' (default): a GPU when there is one, else the CPU. false: CPU only. */
  gpu?: 'auto' | false
  /** How long a new worker may take to start (default 60 s). */
  startTimeoutMs?: number
  /** The worker's entry file (default: the compiled worker.js next to this file). */
  entry?: string
}

export interface GenerateRequest {
  spec: LoadSpec
  input: GenerateInput
  options?: SamplingOptions
}

export interface TokenChunk {
  /** New token ids. */
  tokens: number[]
  /** The text they completed (may lag the tokens by a partial character). */
  text: string
}

export interface GenerateCallbacks {
  signal?: AbortSignal
  onLoaded?: (load: LoadInfo) => void
  onToken?: (chunk: TokenChunk) => void
}

export interface Timings {
  /** From the request to the model being ready: starting a worker when none runs, loading, or ~0 when already loaded. */
  loadMs: number
  /** From the model being ready to the first token arriving here (prompt evaluation included). */
  firstTokenMs: number
  /** Decoding speed: tokens after the first per second, as they arrived here. */
  tokensPerSecond: number
  totalMs: number
  /** The same, measured inside the worker (no IPC): how much of the time the process boundary costs. */
  worker: { firstTokenMs: number; tokensPerSecond: number }
}

export interface GenerateResult {
  text: string
  tokens: number[]
  promptTokens: number
  stopReason: StopReason
  mode: 'chat' | 'completion'
  /** The sampling seed used (pass it back to get the same tokens again). */
  seed?: number
  load: LoadInfo
  timings: Timings
}

interface WorkerState {
  handle: WorkerHandle<WorkerRequest>
  ready: Promise<void>
  stderr: string
  exited: boolean
}

interface Pending {
  worker: WorkerState
  what: string
  schema: z.ZodType
  resolve(value: unknown): void
  reject(err: Error): void
  onEvent?(message: WorkerMessage): void
}

const STDERR_TAIL = 16 * 1024
/** The compiled worker entry (dist/main/inference/worker.js). */
export const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url))

export class InferenceService extends ReadyResource {
  private readonly spawner: WorkerSpawner
  private worker: WorkerState | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private shuttingDown = false

  constructor(private readonly options: InferenceServiceOptions = {}) {
    super()
    this.spawner = options.spawner ?? forkSpawner
  }

  /** The running worker's pid (undefined while none runs). */
  get pid(): number | undefined {
    return this.worker && !this.worker.exited ? this.worker.handle.pid : undefined
  }

  protected override async _open(): Promise<void> {
    // Start the worker now; a failure is not cached (ready-resource would keep it forever):
    // it surfaces on the next request, which starts another worker.
    await this.ensureWorker().catch(() => {})
  }

  protected override async _close(): Promise<void> {
    this.shuttingDown = true
    const worker = this.worker
    this.worker = null
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(new GroveError('CLOSED', 'Inference stopped: Grove is shutting down'))
    }
    if (!worker || worker.exited) return
    const exited = new Promise<void>((resolve) => worker.handle.onExit(() => resolve()))
    try {
      worker.handle.send({ type: 'shutdown' })
    } catch {
      worker.handle.kill('SIGKILL')
    }
    const timer = setTimeout(() => worker.handle.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  /** Loads a model (and adapters, context) so later requests start at once. */
  async load(spec: LoadSpec): Promise<LoadInfo> {
    return this.request((id) => ({ type: 'load', id, spec }), LoadInfo, `loading ${spec.modelPath}`)
  }

  /** The memory estimate for a model on this machine, without loading it. */
  async fit(spec: LoadSpec): Promise<FitReport> {
    return this.request((id) => ({ type: 'fit', id, spec }), FitReport, `estimating ${spec.modelPath}`)
  }

  async hardware(): Promise<HardwareInfo> {
    return this.request((id) => ({ type: 'hardware', id }), HardwareInfo, 'reading the hardware')
  }

  /** Frees the model's memory (the worker stays up). */
  async unload(): Promise<void> {
    if (!this.worker) return
    await this.request((id) => ({ type: 'unload', id }), z.null(), 'unloading')
  }

  /** Plain completion of a prompt. */
  complete(spec: LoadSpec, prompt: string, options?: SamplingOptions, callbacks?: GenerateCallbacks): Promise<GenerateResult> {
    return this.generate({ spec, input: { kind: 'completion', prompt }, options }, callbacks)
  }

  /** A chat turn through the model's chat template; the last message is the user's. */
  chat(spec: LoadSpec, messages: ChatMessage[], options?: SamplingOptions, callbacks?: GenerateCallbacks): Promise<GenerateResult> {
    return this.generate({ spec, input: { kind: 'chat', messages }, options }, callbacks)
  }

  /**
   * Generates, streaming tokens to `onToken`. Aborting `signal` stops mid-stream: the promise
   * then resolves with what was generated and stopReason "cancelled".
   */
  async generate(request: GenerateRequest, callbacks: GenerateCallbacks = {}): Promise<GenerateResult> {
    const started = performance.now()
    let loadedAt = 0
    let firstAt = 0
    let lastAt = 0
    let count = 0
    const result = await this.request(
      (id) => ({ type: 'generate', id, spec: request.spec, input: request.input, options: request.options ?? {} }),
      WorkerGeneration,
      `generating with ${request.spec.modelPath}`,
      {
        signal: callbacks.signal,
        onEvent: (message) => {
          const now = performance.now()
          if (message.type === 'loaded') {
            loadedAt = now
            callbacks.onLoaded?.(message.load)
          } else if (message.type === 'chunk') {
            if (message.tokens.length > 0) {
              if (count === 0) firstAt = now
              lastAt = now
              count += message.tokens.length
            }
            callbacks.onToken?.({ tokens: message.tokens, text: message.text })
          }
        }
      }
    )
    const finished = performance.now()
    if (loadedAt === 0) loadedAt = finished
    const tokensPerSecond = count > 1 && lastAt > firstAt ? ((count - 1) * 1000) / (lastAt - firstAt) : count > 0 ? (count * 1000) / Math.max(1e-3, finished - loadedAt) : 0
    const { firstTokenMs: workerFirstTokenMs, tokensPerSecond: workerTokensPerSecond, ...rest } = result
    return {
      ...rest,
      timings: {
        loadMs: loadedAt - started,
        firstTokenMs: count > 0 ? firstAt - loadedAt : 0,
        tokensPerSecond,
        totalMs: finished - started,
        worker: { firstTokenMs: workerFirstTokenMs, tokensPerSecond: workerTokensPerSecond }
      }
    }
  }

  private async request<T>(
    build: (id: number) => WorkerRequest,
    schema: z.ZodType<T>,
    what: string,
    extra: { signal?: AbortSignal; onEvent?: (message: WorkerMessage) => void } = {}
  ): Promise<T> {
    await this.ready()
    const worker = await this.ensureWorker()
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        try {
          worker.handle.send({ type: 'cancel', id })
        } catch {
          // the worker is gone; its exit rejects the request
        }
      }
      const done = () => extra.signal?.removeEventListener('abort', onAbort)
      this.pending.set(id, {
        worker,
        what,
        schema,
        resolve: (value) => {
          done()
          resolve(value as T)
        },
        reject: (err) => {
          done()
          reject(err)
        },
        onEvent: extra.onEvent
      })
      try {
        worker.handle.send(build(id))
      } catch (err) {
        this.pending.delete(id)
        done()
        reject(new GroveError('WORKER_CRASHED', `The inference process is not running (${(err as Error).message}); try again`))
        return
      }
      if (extra.signal?.aborted) onAbort()
      else extra.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async ensureWorker(): Promise<WorkerState> {
    if (this.shuttingDown) throw new GroveError('CLOSED', 'Inference is shut down')
    this.worker ??= this.spawnWorker()
    const worker = this.worker
    await worker.ready
    return worker
  }

  private spawnWorker(): WorkerState {
    const handle = this.spawner<WorkerRequest>({ entry: this.options.entry ?? WORKER_ENTRY, args: [this.options.gpu === false ? '--gpu=off' : '--gpu=auto'] })
    let markReady: () => void = () => {}
    let failStart: (err: Error) => void = () => {}
    const state: WorkerState = {
      handle,
      stderr: '',
      exited: false,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve
        failStart = reject
      })
    }
    const timeoutMs = this.options.startTimeoutMs ?? 60_000
    const timer = setTimeout(() => {
      failStart(new GroveError('WORKER_CRASHED', `The inference process did not start within ${Math.round(timeoutMs / 1000)} s`))
      handle.kill('SIGKILL')
    }, timeoutMs)
    state.ready.then(() => clearTimeout(timer), () => clearTimeout(timer))
    handle.onStderr((text) => {
      state.stderr = (state.stderr + text).slice(-STDERR_TAIL)
      if (process.env.GROVE_DEBUG) process.stderr.write(text)
    })
    handle.onMessage((raw) => {
      const parsed = WorkerMessage.safeParse(raw)
      if (!parsed.success) return
      const message = parsed.data
      if (message.type === 'ready') {
        markReady()
        return
      }
      const p = this.pending.get(message.id)
      if (!p || p.worker !== state) return
      if (message.type === 'result') {
        this.pending.delete(message.id)
        const result = p.schema.safeParse(message.result)
        if (result.success) p.resolve(result.data)
        else p.reject(new GroveError('INTERNAL', `The inference process sent a malformed result while ${p.what}`))
      } else if (message.type === 'error') {
        this.pending.delete(message.id)
        // An INTERNAL one is not a GroveError here: its text is an internal detail (a bug, a
        // library's own error), which the CLI prints and the HTTP transports keep to the log.
        const { code, message: text } = message.error
        p.reject(code === 'INTERNAL' ? new Error(text) : new GroveError(code as ErrorCode, text))
      } else {
        try {
          p.onEvent?.(message)
        } catch (err) {
          // A caller's token callback that throws must not take the process down.
          if (process.env.GROVE_DEBUG) console.error(err)
        }
      }
    })
    handle.onExit((exit) => {
      state.exited = true
      if (this.worker === state) this.worker = null
      const error = (what: string) =>
        this.shuttingDown ? new GroveError('CLOSED', 'Inference stopped: Grove is shutting down') : crashError(exit, what, state.stderr)
      failStart(error('starting'))
      for (const [id, p] of this.pending) {
        if (p.worker !== state) continue
        this.pending.delete(id)
        p.reject(error(p.what))
      }
    })
    return state
  }
}

function crashError(exit: WorkerExit, what: string, stderr: string): GroveError {
  const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`
  const reason = nativeCrashReason(stderr)
  return new GroveError(
    'WORKER_CRASHED',
    `The inference process ${how} while ${what}${reason ? `: ${reason}` : ''}. ` +
      'If this file is broken or hostile, that is where it stopped; Grove is still running and the next request starts a fresh inference process'
  )
}
