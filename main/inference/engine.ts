// The inference engine that lives in the worker process and owns node-llama-cpp: one model and
// one context at a time, loaded under a lock (the previous ones disposed first), checked before
// llama.cpp sees them (files.ts, compat.ts, fit.ts), and generation with streaming, cancel
// (AbortSignal), sampling options and a context-length check that refuses rather than truncates.
import { randomInt } from 'node:crypto'
import { stat } from 'node:fs/promises'
import {
  getLlama,
  LlamaChat,
  LlamaCompletion,
  LlamaLogLevel,
  type ChatHistoryItem,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token
} from 'node-llama-cpp'
import { GroveError, firstLine } from '../../shared/errors.js'
import { sha256File } from '../core/sha256.js'
import { checkAdapter } from './compat.js'
import { displayName, readCheckedGguf, type CheckedGguf } from './files.js'
import { assertFits, estimateFit, memoryState } from './fit.js'
import { NativeLog } from '../llama/native-log.js'
import {
  LoadSpec,
  SamplingOptions,
  type AdapterInfo,
  type ChatMessage,
  type FitReport,
  type GenerateInput,
  type HardwareInfo,
  type LoadInfo,
  type ResolvedLoadSpec,
  type StopReason,
  type WorkerGeneration
} from './protocol.js'
import { defaultThreads } from './threads.js'

export const DEFAULT_MAX_CONTEXT = 4096
export const DEFAULT_TEMPERATURE = 0.8

export interface EngineOptions {
  /** 'auto': the best GPU backend present, else the CPU; false: CPU only. */
  gpu: 'auto' | false
  /** Sees every native log line at warn level and above (e.g. to print with GROVE_DEBUG). */
  onLog?: (level: LlamaLogLevel, message: string) => void
}

export interface GenerateHooks {
  signal?: AbortSignal
  /** The model and context are ready; generation starts. */
  onLoaded?: (load: LoadInfo) => void
  /** New tokens and the text they completed (text may lag tokens by a partial character). */
  onChunk?: (tokens: number[], text: string) => void
}

interface Session {
  modelKey: string
  file: CheckedGguf
  model: LlamaModel
  gpuLayers: number
  contextKey: string | null
  context: LlamaContext | null
  sequence: LlamaContextSequence | null
  load: LoadInfo | null
}

export class InferenceEngine {
  private llamaPromise: Promise<Llama> | null = null
  private session: Session | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private readonly log: NativeLog
  private readonly hashes = new Map<string, Promise<string>>()
  private readonly files = new Map<string, CheckedGguf>()
  private disposed = false

  constructor(private readonly options: EngineOptions) {
    this.log = new NativeLog(options.onLog)
  }

  /** Starts node-llama-cpp (once). Never builds llama.cpp from source: prebuilt binaries or an error. */
  llama(): Promise<Llama> {
    this.llamaPromise ??= getLlama({
      gpu: this.options.gpu,
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: this.log.logger,
      // Grove picks threads per context (threads.ts); no cap from the splitter.
      maxThreads: 0
    }).catch((err: unknown) => {
      this.llamaPromise = null
      throw new GroveError('INTERNAL', `node-llama-cpp could not start llama.cpp on this machine: ${firstLine(err)}`, { cause: err })
    })
    return this.llamaPromise
  }

  async hardware(): Promise<HardwareInfo> {
    const llama = await this.llama()
    const memory = await memoryState(llama)
    return {
      gpu: llama.gpu,
      gpuDevices: llama.gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []),
      threads: defaultThreads(llama.cpuMathCores),
      cpuMathCores: llama.cpuMathCores,
      ram: { total: memory.ramTotal, free: memory.ramFree },
      vram: { total: memory.vramTotal, free: memory.vramFree },
      llamaCpp: llama.llamaCppRelease.release
    }
  }

  load(spec: LoadSpec): Promise<LoadInfo> {
    return this.exclusive(async () => (await this.ensureLoaded(LoadSpec.parse(spec))).load)
  }

  /** The fit estimate for a spec, without loading anything. */
  fit(spec: LoadSpec): Promise<FitReport> {
    return this.exclusive(async () => {
      const resolved = LoadSpec.parse(spec)
      const llama = await this.llama()
      const file = await this.readModel(resolved.modelPath, llama)
      const adapterBytes = await this.adapterBytes(resolved, llama)
      return estimateFit(llama, file.insights, {
        contextSize: this.contextSizeFor(resolved, file.insights),
        batchSize: resolved.batchSize,
        gpuLayers: resolved.gpuLayers,
        adapterBytes,
        memoryBudgetBytes: resolved.memoryBudgetBytes
      })
    })
  }

  generate(spec: LoadSpec, input: GenerateInput, optionsIn: SamplingOptions, hooks: GenerateHooks = {}): Promise<WorkerGeneration> {
    return this.exclusive(async () => {
      const options = SamplingOptions.parse(optionsIn)
      const { model, sequence, load } = await this.ensureLoaded(LoadSpec.parse(spec))
      hooks.onLoaded?.(load)
      const mode = input.kind === 'auto' ? (load.hasChatTemplate || input.system !== undefined ? 'chat' : 'completion') : input.kind
      if (hooks.signal?.aborted) {
        return { text: '', tokens: [], promptTokens: 0, stopReason: 'cancelled', mode, seed: options.seed, load, firstTokenMs: 0, tokensPerSecond: 0 }
      }
      await sequence.clearHistory()
      const seed = options.seed ?? randomInt(2 ** 32)
      const tokens: number[] = []
      const started = performance.now()
      let firstAt = 0
      let lastAt = 0
      let pendingTokens: number[] = []
      let pendingText = ''
      let flushQueued = false
      const flush = () => {
        flushQueued = false
        if (pendingTokens.length === 0 && pendingText.length === 0) return
        hooks.onChunk?.(pendingTokens, pendingText)
        pendingTokens = []
        pendingText = ''
      }
      const queueFlush = () => {
        if (flushQueued) return
        flushQueued = true
        queueMicrotask(flush)
      }
      const common = {
        signal: hooks.signal,
        stopOnAbortSignal: true,
        temperature: options.temperature ?? DEFAULT_TEMPERATURE,
        seed,
        topK: options.topK,
        topP: options.topP,
        minP: options.minP,
        repeatPenalty: options.repeatPenalty !== undefined && options.repeatPenalty !== 1 ? { penalty: options.repeatPenalty, lastTokens: 64 } : (false as const),
        customStopTriggers: options.stop,
        onToken: (chunk: Token[]) => {
          const now = performance.now()
          if (tokens.length === 0) firstAt = now
          lastAt = now
          for (const t of chunk) tokens.push(t)
          pendingTokens.push(...chunk)
          queueFlush()
        },
        onTextChunk: (text: string) => {
          pendingText += text
          queueFlush()
        }
      }
      const contextSize = load.contextSize
      let promptTokens: number
      let text: string
      let stop: string
      if (input.kind !== 'chat' && mode === 'completion') {
        const prompt = input.prompt
        const bos = model.tokens.bos !== null && model.tokens.shouldPrependBosToken
        const promptIds = model.tokenize(prompt, false, bos ? 'trimLeadingSpace' : undefined)
        promptTokens = promptIds.length + (bos ? 1 : 0)
        if (promptTokens === 0) throw new GroveError('BAD_INPUT', 'The prompt is empty')
        const maxTokens = roomFor(promptTokens, contextSize, options.maxTokens)
        const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false })
        try {
          const res = await completion.generateCompletionWithMeta(promptIds, { ...common, maxTokens, disableContextShift: true })
          text = res.response
          stop = res.metadata.stopReason
        } finally {
          completion.dispose({ disposeSequence: false })
        }
      } else {
        const history = chatHistory(input.kind === 'chat' ? input.messages : autoMessages(input))
        const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false })
        try {
          promptTokens = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer).length
          const maxTokens = roomFor(promptTokens, contextSize, options.maxTokens)
          const res = await chat.generateResponse(history, {
            ...common,
            maxTokens,
            // Never drop messages to make room: the prompt was measured to fit, and a shift would hide that it did not.
            contextShift: {
              strategy: () => {
                throw new GroveError('CONTEXT_OVERFLOW', `The conversation does not fit in the ${contextSize}-token context; shorten it or use a larger context (--context)`)
              }
            }
          })
          text = res.response
          stop = res.metadata.stopReason
        } finally {
          chat.dispose({ disposeSequence: false })
        }
      }
      flush()
      const generated = tokens.length
      const tokensPerSecond = generated > 1 && lastAt > firstAt ? ((generated - 1) * 1000) / (lastAt - firstAt) : generated > 0 ? (generated * 1000) / Math.max(1e-3, lastAt - started) : 0
      return {
        text,
        tokens,
        promptTokens,
        stopReason: stopReasonOf(stop),
        mode,
        seed,
        load,
        firstTokenMs: generated > 0 ? firstAt - started : 0,
        tokensPerSecond
      }
    })
  }

  /** Disposes the model and context (the next request loads again). */
  unload(): Promise<void> {
    return this.exclusive(() => this.disposeSession())
  }

  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    await this.exclusive(() => this.disposeSession(), true).catch(() => {})
    const llama = await this.llamaPromise?.catch(() => null)
    await llama?.dispose()
  }

  /** Runs `work` after everything queued before it: one load or generation at a time. */
  private exclusive<T>(work: () => Promise<T>, closing = false): Promise<T> {
    const run = this.queue.then(() => {
      if (this.disposed && !closing) throw new GroveError('CLOSED', 'The inference engine is closed')
      return work()
    })
    this.queue = run.catch(() => {})
    return run
  }

  /** The model and context `spec` asks for: reused when unchanged, else loaded (the previous disposed first). */
  private async ensureLoaded(spec: ResolvedLoadSpec): Promise<{ model: LlamaModel; sequence: LlamaContextSequence; load: LoadInfo }> {
    const started = performance.now()
    const llama = await this.llama()
    const file = await this.readModel(spec.modelPath, llama)
    const modelKey = JSON.stringify([file.path, file.size, file.mtimeMs, spec.gpuLayers ?? 'auto'])
    const modelName = spec.modelName ?? displayName(file)
    let session = this.session?.modelKey === modelKey ? this.session : null
    const insights = file.insights
    const contextSize = this.contextSizeFor(spec, insights)
    const threads = spec.threads ?? defaultThreads(llama.cpuMathCores)
    const batchSize = Math.min(spec.batchSize ?? Math.min(contextSize, 512), contextSize)

    // Adapters are checked before anything is unloaded: a refusal leaves the current model in place.
    const adapters: AdapterInfo[] = []
    const adapterKeys: unknown[] = []
    let adapterBytes = 0
    for (const a of spec.adapters) {
      const adapterFile = await this.readChecked(a.path, llama)
      const name = a.name ?? displayName(adapterFile)
      adapters.push(
        await checkAdapter({
          model: { info: file.info, name: modelName, sha256: () => spec.modelSha256 !== undefined ? Promise.resolve(spec.modelSha256) : this.hashOf(file) },
          adapter: { info: adapterFile.info, name, path: a.path, scale: a.scale, expectedBaseSha256: a.expectedBaseSha256 },
          ignoreBaseHash: spec.ignoreBaseHash
        })
      )
      adapterKeys.push([adapterFile.path, adapterFile.size, adapterFile.mtimeMs, a.scale])
      adapterBytes += adapterFile.size
    }
    const contextKey = JSON.stringify([contextSize, batchSize, threads, adapterKeys, spec.memoryBudgetBytes ?? null])
    if (session?.contextKey === contextKey && session.sequence && session.load) {
      return { model: session.model, sequence: session.sequence, load: { ...session.load, adapters, loadMs: 0, reused: true } }
    }

    if (session) await this.disposeContext(session)
    else await this.disposeSession()
    const fit = await estimateFit(llama, insights, {
      contextSize,
      batchSize,
      gpuLayers: session?.gpuLayers ?? spec.gpuLayers,
      adapterBytes,
      memoryBudgetBytes: spec.memoryBudgetBytes
    })
    assertFits(fit, `Model "${modelName}"`)

    if (!session) {
      const mark = this.log.mark()
      let model: LlamaModel
      try {
        model = await llama.loadModel({ modelPath: file.path, gpuLayers: fit.gpuLayers })
      } catch (err) {
        const reason = (await this.log.reasonSince(mark)) ?? firstLine(err)
        throw new GroveError('BAD_GGUF', `llama.cpp could not load ${file.path}: ${reason}`, { cause: err })
      }
      session = { modelKey, file, model, gpuLayers: fit.gpuLayers, contextKey: null, context: null, sequence: null, load: null }
      this.session = session
    }

    const mark = this.log.mark()
    try {
      session.context = await session.model.createContext({
        contextSize,
        batchSize,
        threads,
        sequences: 1,
        ...(spec.adapters.length > 0 ? { lora: { adapters: spec.adapters.map((a) => ({ filePath: a.path, scale: a.scale })) } } : {})
      })
    } catch (err) {
      const reason = (await this.log.reasonSince(mark)) ?? firstLine(err)
      if (spec.adapters.length > 0) {
        throw new GroveError('INCOMPATIBLE_ADAPTER', `llama.cpp refused the adapter${spec.adapters.length > 1 ? 's' : ''} for model "${modelName}": ${reason}`, { cause: err })
      }
      throw new GroveError('WONT_FIT', `Could not create a ${contextSize}-token context for "${modelName}": ${reason}`, { cause: err })
    }
    session.sequence = session.context.getSequence()
    session.contextKey = contextKey
    const general = file.info.metadata.general
    session.load = {
      modelPath: file.path,
      name: modelName,
      architecture: String(general.architecture),
      parameterCount: insights.totalParameters || undefined,
      trainContextSize: insights.trainContextSize,
      contextSize,
      batchSize,
      threads,
      gpu: llama.gpu,
      gpuLayers: session.model.gpuLayers,
      hasChatTemplate: typeof file.info.metadata.tokenizer?.chat_template === 'string',
      adapters,
      fit,
      loadMs: performance.now() - started,
      reused: false
    }
    return { model: session.model, sequence: session.sequence, load: session.load }
  }

  /** A checked file, from the cache while its size and mtime are unchanged. */
  private async readChecked(path: string, llama: Llama): Promise<CheckedGguf> {
    const st = await stat(path).catch(() => null)
    const cached = this.files.get(path)
    if (st && cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached
    const file = await readCheckedGguf(path, llama)
    this.files.set(path, file)
    if (this.files.size > 32) this.files.delete(this.files.keys().next().value as string)
    return file
  }

  private async readModel(path: string, llama: Llama): Promise<CheckedGguf> {
    const file = await this.readChecked(path, llama)
    if (file.kind === 'adapter') {
      throw new GroveError('BAD_INPUT', `${path} is a LoRA adapter, not a model: run its base model and apply it as an adapter`)
    }
    return file
  }

  private contextSizeFor(spec: ResolvedLoadSpec, insights: CheckedGguf['insights']): number {
    return spec.contextSize ?? Math.max(16, Math.min(insights.trainContextSize ?? DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT))
  }

  private async adapterBytes(spec: ResolvedLoadSpec, llama: Llama): Promise<number> {
    let total = 0
    for (const a of spec.adapters) total += (await this.readChecked(a.path, llama)).size
    return total
  }

  private hashOf(file: CheckedGguf): Promise<string> {
    const key = JSON.stringify([file.path, file.size, file.mtimeMs])
    let pending = this.hashes.get(key)
    if (!pending) {
      pending = sha256File(file.path)
      pending.catch(() => this.hashes.delete(key))
      this.hashes.set(key, pending)
    }
    return pending
  }

  private async disposeContext(session: Session): Promise<void> {
    const context = session.context
    session.context = null
    session.sequence = null
    session.contextKey = null
    session.load = null
    if (context && !context.disposed) await context.dispose()
  }

  private async disposeSession(): Promise<void> {
    const session = this.session
    this.session = null
    if (!session) return
    await this.disposeContext(session)
    if (!session.model.disposed) await session.model.dispose()
  }
}

/** Tokens left for the answer; a prompt that leaves none is refused, never silently cut. */
function roomFor(promptTokens: number, contextSize: number, requested: number | undefined): number {
  const room = contextSize - promptTokens - 1
  if (room < 1) {
    throw new GroveError(
      'CONTEXT_OVERFLOW',
      `The prompt is ${promptTokens} tokens but the context holds ${contextSize}; shorten the prompt or use a larger context (--context)`
    )
  }
  return Math.min(requested ?? room, room)
}

function autoMessages(input: { prompt: string; system?: string }): ChatMessage[] {
  return [...(input.system !== undefined ? [{ role: 'system' as const, content: input.system }] : []), { role: 'user', content: input.prompt }]
}

function chatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'system' ? { type: 'system', text: m.content } : m.role === 'user' ? { type: 'user', text: m.content } : { type: 'model', response: [m.content] }
  )
  history.push({ type: 'model', response: [] })
  return history
}

function stopReasonOf(reason: string): StopReason {
  switch (reason) {
    case 'eogToken':
      return 'eos'
    case 'maxTokens':
      return 'maxTokens'
    case 'abort':
      return 'cancelled'
    default:
      return 'stop'
  }
}
