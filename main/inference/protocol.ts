// Every message between Grove and its inference worker (main/inference/worker.ts), as zod
// schemas. Both sides parse what they receive: the worker runs llama.cpp on untrusted files, so
// the parent treats whatever comes back from it as untrusted too.
//
// Parent → worker: requests with an `id` (load, generate, fit, hardware, unload), `cancel` of a
// request by id, and `shutdown`. Worker → parent: `ready` once, then per request `loaded` (the
// model is in memory), `chunk` (streamed tokens and text), and one `result` or `error`.
import { z } from 'zod'
import { ErrorCodes } from '../../shared/errors.js'
import { Sha256Hex } from '../../shared/manifest.js'

const MAX_PATH = 4096
const MAX_TEXT = 4 * 1024 * 1024

export const AdapterSpec = z.object({
  path: z.string().min(1).max(MAX_PATH),
  /** LoRA scale: 0 is the base model, 1 the adapter as trained. */
  scale: z.number().finite().min(-16).max(16).default(1),
  name: z.string().max(200).optional(),
  /** The base weights' sha256 the adapter's manifest records (a library adapter). */
  expectedBaseSha256: Sha256Hex.optional()
})
export type AdapterSpec = z.input<typeof AdapterSpec>

/** What to load: a model file, its adapters, and the context to run it in. */
export const LoadSpec = z.object({
  modelPath: z.string().min(1).max(MAX_PATH),
  /** The model's sha256 when known (a library model); else the worker hashes it when an adapter needs it. */
  modelSha256: Sha256Hex.optional(),
  modelName: z.string().max(200).optional(),
  adapters: z.array(AdapterSpec).max(16).default([]),
  /** Apply adapters whose recorded base hash differs from the model's (never skips the shape check). */
  ignoreBaseHash: z.boolean().default(false),
  /** Context length in tokens (default: the model's training context, at most 4096). */
  contextSize: z.number().int().min(16).max(1 << 22).optional(),
  batchSize: z.number().int().min(1).max(1 << 16).optional(),
  /** CPU threads (default: from the real core count, see threads.ts). */
  threads: z.number().int().min(1).max(1024).optional(),
  /** Layers to offload to the GPU (default: as many as fit). */
  gpuLayers: z.union([z.literal('auto'), z.literal('max'), z.number().int().min(0).max(100_000)]).optional(),
  /** Treat at most this much RAM as available (a cap on what Grove may use). */
  memoryBudgetBytes: z.number().int().positive().optional()
})
export type LoadSpec = z.input<typeof LoadSpec>
export type ResolvedLoadSpec = z.output<typeof LoadSpec>

export const SamplingOptions = z.object({
  /** At most this many new tokens (always also bounded by the context). */
  maxTokens: z.number().int().min(1).max(1 << 22).optional(),
  /** 0 is greedy (deterministic). Default 0.8. */
  temperature: z.number().finite().min(0).max(5).optional(),
  /** Sampling seed: the same seed, settings and model give the same tokens. Default: random (reported). */
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  topK: z.number().int().min(0).max(100_000).optional(),
  topP: z.number().finite().min(0).max(1).optional(),
  minP: z.number().finite().min(0).max(1).optional(),
  /** Repeat penalty over the last 64 tokens (1 or unset: none). */
  repeatPenalty: z.number().finite().min(0).max(10).optional(),
  /** Stop when the text contains one of these (not included in the output). */
  stop: z.array(z.string().min(1).max(200)).max(8).optional()
})
export type SamplingOptions = z.input<typeof SamplingOptions>

export const ChatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(MAX_TEXT)
})
export type ChatMessage = z.infer<typeof ChatMessage>

/**
 * What to generate from: plain `completion` of a prompt, a `chat` (the model's chat template),
 * or `auto`: chat when the model has a chat template or a system prompt is given, else completion.
 */
export const GenerateInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('completion'), prompt: z.string().max(MAX_TEXT) }),
  z.object({
    kind: z.literal('chat'),
    messages: z.array(ChatMessage).min(1).max(10_000).refine((m) => m.at(-1)?.role === 'user', 'the last message must be from the user')
  }),
  z.object({ kind: z.literal('auto'), prompt: z.string().max(MAX_TEXT), system: z.string().max(MAX_TEXT).optional() })
])
export type GenerateInput = z.infer<typeof GenerateInput>

export const MemoryFigures = z.object({ ram: z.number(), vram: z.number() })

export const FitReport = z.object({
  /** fits: in free memory now; tight: only if other programs free memory (or with swapping); wontFit: more than this machine has. */
  verdict: z.enum(['fits', 'tight', 'wontFit']),
  contextSize: z.number(),
  gpuLayers: z.number(),
  totalLayers: z.number(),
  model: MemoryFigures,
  context: MemoryFigures,
  adapters: z.number(),
  need: MemoryFigures,
  available: z.object({ ramFree: z.number(), ramTotal: z.number(), swapFree: z.number(), vramFree: z.number(), vramTotal: z.number() }),
  summary: z.string()
})
export type FitReport = z.infer<typeof FitReport>

export const AdapterInfo = z.object({
  path: z.string(),
  name: z.string().optional(),
  scale: z.number(),
  /** verified: the model is the base the manifest records; ignored: it is not, applied on request; unknown: no hash recorded. */
  baseHash: z.enum(['verified', 'ignored', 'unknown'])
})
export type AdapterInfo = z.infer<typeof AdapterInfo>

export const LoadInfo = z.object({
  modelPath: z.string(),
  name: z.string().optional(),
  architecture: z.string(),
  parameterCount: z.number().optional(),
  trainContextSize: z.number().optional(),
  contextSize: z.number(),
  batchSize: z.number(),
  threads: z.number(),
  gpu: z.union([z.string(), z.literal(false)]),
  gpuLayers: z.number(),
  hasChatTemplate: z.boolean(),
  adapters: z.array(AdapterInfo),
  fit: FitReport,
  /** Time the worker spent loading (0 when the model and context were already loaded). */
  loadMs: z.number(),
  reused: z.boolean()
})
export type LoadInfo = z.infer<typeof LoadInfo>

export const StopReason = z.enum(['eos', 'maxTokens', 'stop', 'cancelled'])
export type StopReason = z.infer<typeof StopReason>

/** The worker's own view of a generation (the parent adds the timings it observed). */
export const WorkerGeneration = z.object({
  text: z.string(),
  tokens: z.array(z.number().int()),
  promptTokens: z.number().int(),
  stopReason: StopReason,
  mode: z.enum(['chat', 'completion']),
  seed: z.number().optional(),
  load: LoadInfo,
  /** Measured inside the worker, from the start of prompt evaluation. */
  firstTokenMs: z.number(),
  tokensPerSecond: z.number()
})
export type WorkerGeneration = z.infer<typeof WorkerGeneration>

export const HardwareInfo = z.object({
  gpu: z.union([z.string(), z.literal(false)]),
  gpuDevices: z.array(z.string()),
  threads: z.number(),
  cpuMathCores: z.number(),
  ram: z.object({ total: z.number(), free: z.number() }),
  vram: z.object({ total: z.number(), free: z.number() }),
  llamaCpp: z.string()
})
export type HardwareInfo = z.infer<typeof HardwareInfo>

export const ErrorPayloadSchema = z.object({ code: z.enum(ErrorCodes), message: z.string().max(10_000) })

const Id = z.number().int().min(0)

export const WorkerRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('load'), id: Id, spec: LoadSpec }),
  z.object({ type: z.literal('generate'), id: Id, spec: LoadSpec, input: GenerateInput, options: SamplingOptions }),
  z.object({ type: z.literal('fit'), id: Id, spec: LoadSpec }),
  z.object({ type: z.literal('hardware'), id: Id }),
  z.object({ type: z.literal('unload'), id: Id }),
  z.object({ type: z.literal('cancel'), id: Id }),
  z.object({ type: z.literal('shutdown') })
])
export type WorkerRequest = z.input<typeof WorkerRequest>

export const WorkerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number() }),
  z.object({ type: z.literal('loaded'), id: Id, load: LoadInfo }),
  z.object({ type: z.literal('chunk'), id: Id, tokens: z.array(z.number().int()), text: z.string() }),
  /** The result's schema depends on the request: the parent parses it with that one. */
  z.object({ type: z.literal('result'), id: Id, result: z.unknown() }),
  z.object({ type: z.literal('error'), id: Id, error: ErrorPayloadSchema })
])
export type WorkerMessage = z.infer<typeof WorkerMessage>
