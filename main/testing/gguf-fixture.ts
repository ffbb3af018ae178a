// Deterministic tiny-GGUF generator: test and benchmark fixtures for Grove.
//
// No model weights can be downloaded on the machines Grove is tested on, so tests and
// benchmarks generate their GGUF files here: a real `llama` architecture model (all the keys
// llama.cpp needs, an SPM byte-fallback tokenizer so any text tokenizes, seeded pseudo-random
// weights) and LoRA adapters for such a model, with lineage metadata. Same options + seed ⇒
// byte-identical file. Files are streamed to disk in bounded chunks, so memory does not grow
// with the file size (a 1 GiB model is written with a few tens of MB of RSS).
//
// This is a *writer* only. Grove reads GGUF metadata with node-llama-cpp's `readGgufFileInfo`.
//
// Library use:
//   await writeLlamaModel('/tmp/m.gguf', { seed: 1, name: 'Tiny', baseModels: [{ name: 'Root' }] })
//   await writeLoraAdapter('/tmp/a.gguf', { base: { seed: 1 }, rank: 4 })
// CLI (after `tsc`):
//   node dist/main/testing/gguf-fixture.js model --out m.gguf --seed 1 --size-mib 1024
//   node dist/main/testing/gguf-fixture.js adapter --out a.gguf --base-file m.gguf
//   node dist/main/testing/gguf-fixture.js --help

import { createHash, type Hash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { endianness } from 'node:os'
import { pipeline } from 'node:stream/promises'

import { parseArgs } from 'node:util'
import { isMain } from './is-main.js'

// ---------------------------------------------------------------------------------------------
// Public types

export type MatrixType = 'f16' | 'f32'

/** One entry of the GGUF lineage keys `general.base_model.N.*`. */
export interface BaseModelRef {
  name?: string
  organization?: string
  author?: string
  version?: string
  /** Written as `general.base_model.N.repo_url`. */
  repoUrl?: string
  url?: string
  doi?: string
  uuid?: string
  description?: string
}

/**
 * Extra metadata keys. Strings → GGUF string, booleans → bool, bigints → uint64 (int64 when
 * negative); numbers → uint32 when a non-negative integer below 2^32, int32 when a negative
 * integer ≥ -2^31, float32 otherwise.
 */
export type ExtraMetadata = Record<string, string | number | boolean | bigint>

/** Shape of a llama model. Field names equal the matching `LlamaModelOptions` fields. */
export interface LlamaDimensions {
  embeddingLength: number
  blockCount: number
  headCount: number
  headCountKv: number
  feedForwardLength: number
  contextLength: number
  vocabSize: number
}

export interface LlamaModelOptions {
  /** PRNG seed for the weights (default 1). Any integer; bigints up to 64 bits. */
  seed?: number | bigint
  /** `general.name` (default "Grove Tiny Llama"). */
  name?: string
  /** `general.license`, an SPDX id (e.g. "apache-2.0"); omitted when not given. */
  license?: string
  organization?: string
  author?: string
  description?: string
  version?: string
  /** Lineage: written as `general.base_model.count` and `general.base_model.N.*`. */
  baseModels?: BaseModelRef[]

  /** n_embd (default 64, or chosen from the target size). Must be a multiple of headCount. */
  embeddingLength?: number
  /** n_layer (default 2, or chosen to reach `targetBytes` / `targetParams`). */
  blockCount?: number
  /** Attention heads (default: head size 16 for n_embd ≤ 128, else 64). */
  headCount?: number
  /** KV heads, must divide headCount (default headCount/2 when even, else headCount). */
  headCountKv?: number
  /** FFN size (default ⌈8/3·n_embd⌉ rounded up to a multiple of 64). */
  feedForwardLength?: number
  /** `llama.context_length` (default 512). */
  contextLength?: number
  /**
   * Vocabulary size (default and minimum: the 354 base tokens — `<unk>`, `<s>`, `</s>`, the
   * 256 byte tokens, `▁` and printable ASCII). Larger values add lowercase merge tokens.
   */
  vocabSize?: number
  /** Storage type of the 2-D weight matrices (default "f16"); norms are always F32. */
  matrixType?: MatrixType
  /** Write no `output.weight` (llama.cpp then ties the output to token_embd). Default false. */
  tiedEmbeddings?: boolean
  /** `general.alignment` (default 32; a power of two, multiple of 8). */
  alignment?: number
  ropeFreqBase?: number
  rmsNormEpsilon?: number
  /** `tokenizer.chat_template`, omitted when not given. */
  chatTemplate?: string
  extraMetadata?: ExtraMetadata

  /**
   * Pick `blockCount` (and, when not given, `embeddingLength`) so that the file is about this
   * many bytes. Ignored when `blockCount` is given.
   */
  targetBytes?: number
  /** Same, for a parameter count. `targetBytes` wins when both are given. */
  targetParams?: number
}

export type LoraTarget =
  | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_output'
  | 'ffn_gate' | 'ffn_up' | 'ffn_down'

export const LORA_TARGETS: readonly LoraTarget[] = [
  'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'
]

export interface LoraAdapterOptions {
  /**
   * The base model: the options it was written with (only its shape is used; sizes resolve
   * exactly as in writeLlamaModel), or its resolved dimensions.
   */
  base: LlamaModelOptions | LlamaDimensions
  seed?: number | bigint
  /** `general.name` (default "<base name> LoRA"). */
  name?: string
  license?: string
  organization?: string
  author?: string
  description?: string
  version?: string
  /** Lineage; default: one entry naming the base (`base.name` or the default model name). */
  baseModels?: BaseModelRef[]
  /** LoRA rank (default 4). */
  rank?: number
  /** `adapter.lora.alpha` (default = rank, i.e. effective scale 1 × user scale). */
  alpha?: number
  /** Weight matrices to adapt (default attn_q and attn_v). */
  targets?: LoraTarget[]
  /** Layers to adapt (default: all). */
  layers?: number[]
  /** Storage type of lora_a / lora_b (default "f32"). */
  matrixType?: MatrixType
  alignment?: number
  extraMetadata?: ExtraMetadata
}

export interface GgufTensorLayout {
  name: string
  /** GGML order: shape[0] is the fastest-moving dimension (ne[0]). */
  shape: number[]
  type: 'f32' | 'f16'
  /** Offset from the start of the tensor data section. */
  offset: number
  /** Bytes of data, without alignment padding. */
  bytes: number
}

export interface GgufLayout {
  /** Exact size of the file that will be written. */
  fileSize: number
  /** Size of the header (magic … tensor infos), before the padding to the alignment. */
  headerBytes: number
  /** File offset at which the tensor data starts. */
  dataOffset: number
  alignment: number
  parameterCount: number
  tensors: GgufTensorLayout[]
}

export interface LlamaModelLayout extends GgufLayout {
  dimensions: LlamaDimensions
}

export interface LoraAdapterLayout extends GgufLayout {
  dimensions: LlamaDimensions
  rank: number
  alpha: number
}

export interface WriteOptions {
  /** Also compute the file's sha256 while writing (hex, in the result). Default false. */
  sha256?: boolean
  /** Called after each chunk is handed to the OS. */
  onProgress?: (writtenBytes: number, totalBytes: number) => void
  /** Chunk size in bytes (default 4 MiB, rounded to the alignment; two are in use at once). */
  chunkBytes?: number
}

export interface WrittenGguf<L extends GgufLayout = GgufLayout> {
  path: string
  size: number
  sha256?: string
  layout: L
}

// ---------------------------------------------------------------------------------------------
// Constants

export const DEFAULT_MODEL_NAME = 'Grove Tiny Llama'
export const DEFAULT_ALIGNMENT = 32

const GGUF_MAGIC = 0x46554747 // "GGUF" little-endian
const GGUF_VERSION = 3

const enum GgufType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12
}

const GGML_TYPE = { f32: 0, f16: 1 } as const
const TYPE_SIZE = { f32: 4, f16: 2 } as const
// llama_ftype: 0 = ALL_F32, 1 = MOSTLY_F16
const FILE_TYPE = { f32: 0, f16: 1 } as const

// SPM token types (llama_token_type)
const TOKEN_NORMAL = 1
const TOKEN_UNKNOWN = 2
const TOKEN_CONTROL = 3
const TOKEN_BYTE = 6

export const TOKEN_ID = { unk: 0, bos: 1, eos: 2 } as const
/** Id of "▁", the first token after the specials and the 256 byte tokens. */
const FIRST_TEXT_TOKEN = 3 + 256

// ---------------------------------------------------------------------------------------------
// Vocabulary: <unk> <s> </s>, <0x00>…<0xFF>, "▁", printable ASCII, then lowercase merges.

const BASE_VOCAB: { tokens: string[], types: number[] } = (() => {
  const tokens = ['<unk>', '<s>', '</s>']
  const types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
    types.push(TOKEN_BYTE)
  }
  tokens.push('\u2581')
  types.push(TOKEN_NORMAL)
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(String.fromCharCode(c))
    types.push(TOKEN_NORMAL)
  }
  return { tokens, types }
})()

/** Smallest (and default) vocabulary size. */
export const BASE_VOCAB_SIZE = BASE_VOCAB.tokens.length

function* mergeTokens(): Generator<string> {
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  for (let len = 2; ; len++) {
    const idx = new Array<number>(len).fill(0)
    for (;;) {
      yield idx.map((i) => letters[i]).join('')
      let k = len - 1
      while (k >= 0 && idx[k] === letters.length - 1) idx[k--] = 0
      if (k < 0) break
      idx[k] = (idx[k] ?? 0) + 1
    }
  }
}

function buildVocab(size: number): { tokens: string[], scores: number[], types: number[] } {
  const tokens = BASE_VOCAB.tokens.slice()
  const types = BASE_VOCAB.types.slice()
  const gen = mergeTokens()
  while (tokens.length < size) {
    tokens.push(gen.next().value as string)
    types.push(TOKEN_NORMAL)
  }
  // Byte and special tokens score 0; normal tokens get decreasing scores (earlier = preferred).
  const scores = types.map((t, i) => (t === TOKEN_NORMAL ? -i : 0))
  return { tokens, scores, types }
}

// ---------------------------------------------------------------------------------------------
// Dimensions

function checkInt(name: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`)
  return v
}

function defaultEmbeddingFor(params: number): number {
  if (params < 1e6) return 64
  if (params < 4e6) return 128
  if (params < 16e6) return 256
  if (params < 64e6) return 512
  if (params < 256e6) return 768
  if (params < 1e9) return 1024
  return 2048
}

function withDefaults(o: LlamaModelOptions, embedding: number, blocks: number): LlamaDimensions {
  const embeddingLength = checkInt('embeddingLength', embedding)
  const headCount = checkInt('headCount', o.headCount ?? Math.max(1, Math.floor(embeddingLength / (embeddingLength <= 128 ? 16 : 64))))
  const headCountKv = checkInt('headCountKv', o.headCountKv ?? (headCount % 2 === 0 ? headCount / 2 : headCount))
  const feedForwardLength = checkInt('feedForwardLength', o.feedForwardLength ?? Math.ceil((8 * embeddingLength) / 3 / 64) * 64)
  const contextLength = checkInt('contextLength', o.contextLength ?? 512)
  const vocabSize = checkInt('vocabSize', o.vocabSize ?? BASE_VOCAB_SIZE, BASE_VOCAB_SIZE)
  if (embeddingLength % headCount !== 0) throw new RangeError(`embeddingLength ${embeddingLength} is not a multiple of headCount ${headCount}`)
  if ((embeddingLength / headCount) % 2 !== 0) throw new RangeError(`head size ${embeddingLength / headCount} must be even (RoPE)`)
  if (headCount % headCountKv !== 0) throw new RangeError(`headCount ${headCount} is not a multiple of headCountKv ${headCountKv}`)
  return { embeddingLength, blockCount: checkInt('blockCount', blocks), headCount, headCountKv, feedForwardLength, contextLength, vocabSize }
}

function isDimensions(x: LlamaModelOptions | LlamaDimensions): x is LlamaDimensions {
  const d = x as Partial<LlamaDimensions>
  return d.embeddingLength !== undefined && d.blockCount !== undefined && d.headCount !== undefined &&
    d.headCountKv !== undefined && d.feedForwardLength !== undefined && d.contextLength !== undefined &&
    d.vocabSize !== undefined
}

/** Resolve options (defaults, size targets) into the model's exact dimensions. */
export function resolveLlamaDimensions(options: LlamaModelOptions = {}): LlamaDimensions {
  const bytesPerParam = TYPE_SIZE[options.matrixType ?? 'f16']
  const target = options.targetBytes !== undefined
    ? { kind: 'bytes' as const, value: options.targetBytes }
    : options.targetParams !== undefined
      ? { kind: 'params' as const, value: options.targetParams }
      : undefined
  if (target === undefined || options.blockCount !== undefined) {
    return withDefaults(options, options.embeddingLength ?? 64, options.blockCount ?? 2)
  }
  if (!(target.value > 0)) throw new RangeError(`target size must be positive, got ${target.value}`)
  const approxParams = target.kind === 'bytes' ? target.value / bytesPerParam : target.value
  const embedding = options.embeddingLength ?? defaultEmbeddingFor(approxParams)
  const measure = (blocks: number): number => {
    const layout = layoutModel(options, withDefaults(options, embedding, blocks))
    return target.kind === 'bytes' ? layout.fileSize : layout.parameterCount
  }
  const one = measure(1)
  const perBlock = measure(2) - one
  const guess = Math.max(1, Math.round((target.value - one) / perBlock) + 1)
  let best = guess
  let bestErr = Infinity
  for (const blocks of [guess - 1, guess, guess + 1]) {
    if (blocks < 1) continue
    const err = Math.abs(measure(blocks) - target.value)
    if (err < bestErr) { best = blocks; bestErr = err }
  }
  return withDefaults(options, embedding, best)
}

// ---------------------------------------------------------------------------------------------
// Header encoding

class ByteSink {
  private buf = Buffer.alloc(1 << 16)
  length = 0

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = Buffer.alloc(size)
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1 }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4 }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4 }
  f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4 }
  u64(v: number | bigint): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8 }
  i64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64LE(v, this.length); this.length += 8 }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8')
    this.u64(bytes.length)
    this.ensure(bytes.length)
    bytes.copy(this.buf, this.length)
    this.length += bytes.length
  }

  bytes(): Buffer { return this.buf.subarray(0, this.length) }
}

type KvValue =
  | { t: 'str', v: string }
  | { t: 'u32', v: number }
  | { t: 'i32', v: number }
  | { t: 'f32', v: number }
  | { t: 'bool', v: boolean }
  | { t: 'u64', v: bigint }
  | { t: 'i64', v: bigint }
  | { t: 'arr_str', v: string[] }
  | { t: 'arr_f32', v: number[] }
  | { t: 'arr_i32', v: number[] }

type Kv = [key: string, value: KvValue]

function writeKv(sink: ByteSink, [key, value]: Kv): void {
  sink.str(key)
  switch (value.t) {
    case 'str': sink.u32(GgufType.STRING); sink.str(value.v); break
    case 'u32': sink.u32(GgufType.UINT32); sink.u32(value.v); break
    case 'i32': sink.u32(GgufType.INT32); sink.i32(value.v); break
    case 'f32': sink.u32(GgufType.FLOAT32); sink.f32(value.v); break
    case 'bool': sink.u32(GgufType.BOOL); sink.u8(value.v ? 1 : 0); break
    case 'u64': sink.u32(GgufType.UINT64); sink.u64(value.v); break
    case 'i64': sink.u32(GgufType.INT64); sink.i64(value.v); break
    case 'arr_str':
      sink.u32(GgufType.ARRAY); sink.u32(GgufType.STRING); sink.u64(value.v.length)
      for (const s of value.v) sink.str(s)
      break
    case 'arr_f32':
      sink.u32(GgufType.ARRAY); sink.u32(GgufType.FLOAT32); sink.u64(value.v.length)
      for (const x of value.v) sink.f32(x)
      break
    case 'arr_i32':
      sink.u32(GgufType.ARRAY); sink.u32(GgufType.INT32); sink.u64(value.v.length)
      for (const x of value.v) sink.i32(x)
      break
  }
}

function extraKv(extra: ExtraMetadata | undefined): Kv[] {
  const out: Kv[] = []
  for (const [key, v] of Object.entries(extra ?? {})) {
    if (typeof v === 'string') out.push([key, { t: 'str', v }])
    else if (typeof v === 'boolean') out.push([key, { t: 'bool', v }])
    else if (typeof v === 'bigint') out.push([key, v < 0n ? { t: 'i64', v } : { t: 'u64', v }])
    else if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) out.push([key, { t: 'u32', v }])
    else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) out.push([key, { t: 'i32', v }])
    else out.push([key, { t: 'f32', v }])
  }
  return out
}

interface GeneralMeta {
  name?: string
  license?: string
  organization?: string
  author?: string
  description?: string
  version?: string
  baseModels?: BaseModelRef[]
}

function generalKv(m: GeneralMeta): Kv[] {
  const out: Kv[] = []
  if (m.name !== undefined) out.push(['general.name', { t: 'str', v: m.name }])
  if (m.organization !== undefined) out.push(['general.organization', { t: 'str', v: m.organization }])
  if (m.author !== undefined) out.push(['general.author', { t: 'str', v: m.author }])
  if (m.version !== undefined) out.push(['general.version', { t: 'str', v: m.version }])
  if (m.description !== undefined) out.push(['general.description', { t: 'str', v: m.description }])
  if (m.license !== undefined) out.push(['general.license', { t: 'str', v: m.license }])
  const bases = m.baseModels ?? []
  if (bases.length > 0) {
    out.push(['general.base_model.count', { t: 'u32', v: bases.length }])
    bases.forEach((b, i) => {
      const p = `general.base_model.${i}.`
      const fields: [string, string | undefined][] = [
        ['name', b.name], ['author', b.author], ['version', b.version], ['organization', b.organization],
        ['description', b.description], ['url', b.url], ['doi', b.doi], ['uuid', b.uuid], ['repo_url', b.repoUrl]
      ]
      for (const [k, v] of fields) if (v !== undefined) out.push([p + k, { t: 'str', v }])
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Tensor plans (what to write) and layouts (where)

type Fill =
  | { kind: 'ones' }
  | {
    kind: 'random'
    /** Magnitudes are roughly uniform in [0, 2^log2Amplitude). */
    log2Amplitude: number
    /** The first `elements` elements (an even count) use another amplitude. */
    prefix?: { elements: number, log2Amplitude: number }
  }

interface TensorPlan {
  name: string
  shape: number[]
  type: 'f32' | 'f16'
  fill: Fill
}

interface Plan {
  kv: Kv[]
  tensors: TensorPlan[]
  alignment: number
}

/** Roughly uniform weights with std ≈ gain/√fanIn, amplitude rounded to a power of two. */
function randomFill(fanIn: number, gain = 1): Fill {
  return { kind: 'random', log2Amplitude: Math.round(Math.log2(gain * Math.sqrt(3 / fanIn))) }
}

function checkAlignment(a: number): number {
  if (!Number.isSafeInteger(a) || a < 8 || (a & (a - 1)) !== 0) throw new RangeError(`alignment must be a power of two ≥ 8, got ${a}`)
  return a
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a
}

function encodeHeader(plan: Plan): Buffer {
  const sink = new ByteSink()
  sink.u32(GGUF_MAGIC)
  sink.u32(GGUF_VERSION)
  sink.u64(plan.tensors.length)
  sink.u64(plan.kv.length)
  for (const kv of plan.kv) writeKv(sink, kv)
  let offset = 0
  for (const t of plan.tensors) {
    sink.str(t.name)
    sink.u32(t.shape.length)
    for (const d of t.shape) sink.u64(d)
    sink.u32(GGML_TYPE[t.type])
    sink.u64(offset)
    offset = alignUp(offset + tensorBytes(t), plan.alignment)
  }
  return sink.bytes()
}

function tensorBytes(t: { shape: number[], type: 'f32' | 'f16' }): number {
  return t.shape.reduce((a, b) => a * b, 1) * TYPE_SIZE[t.type]
}

function layoutOf(plan: Plan, header: Buffer): GgufLayout {
  const dataOffset = alignUp(header.length, plan.alignment)
  let offset = 0
  let parameterCount = 0
  const tensors: GgufTensorLayout[] = []
  for (const t of plan.tensors) {
    const bytes = tensorBytes(t)
    tensors.push({ name: t.name, shape: t.shape.slice(), type: t.type, offset, bytes })
    parameterCount += t.shape.reduce((a, b) => a * b, 1)
    offset = alignUp(offset + bytes, plan.alignment)
  }
  return { fileSize: dataOffset + offset, headerBytes: header.length, dataOffset, alignment: plan.alignment, parameterCount, tensors }
}

function modelPlan(o: LlamaModelOptions, d: LlamaDimensions): Plan {
  const alignment = checkAlignment(o.alignment ?? DEFAULT_ALIGNMENT)
  const mt = o.matrixType ?? 'f16'
  if (mt !== 'f16' && mt !== 'f32') throw new RangeError(`matrixType must be f16 or f32, got ${String(mt)}`)
  const headDim = d.embeddingLength / d.headCount
  const kvDim = headDim * d.headCountKv
  const vocab = buildVocab(d.vocabSize)

  const kv: Kv[] = [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.type', { t: 'str', v: 'model' }],
    ...generalKv({ ...o, name: o.name ?? DEFAULT_MODEL_NAME }),
    ['general.file_type', { t: 'u32', v: FILE_TYPE[mt] }],
    ['general.alignment', { t: 'u32', v: alignment }],
    ['llama.vocab_size', { t: 'u32', v: d.vocabSize }],
    ['llama.context_length', { t: 'u32', v: d.contextLength }],
    ['llama.embedding_length', { t: 'u32', v: d.embeddingLength }],
    ['llama.block_count', { t: 'u32', v: d.blockCount }],
    ['llama.feed_forward_length', { t: 'u32', v: d.feedForwardLength }],
    ['llama.rope.dimension_count', { t: 'u32', v: headDim }],
    ['llama.rope.freq_base', { t: 'f32', v: o.ropeFreqBase ?? 10000 }],
    ['llama.attention.head_count', { t: 'u32', v: d.headCount }],
    ['llama.attention.head_count_kv', { t: 'u32', v: d.headCountKv }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: o.rmsNormEpsilon ?? 1e-5 }],
    ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: 'arr_str', v: vocab.tokens }],
    ['tokenizer.ggml.scores', { t: 'arr_f32', v: vocab.scores }],
    ['tokenizer.ggml.token_type', { t: 'arr_i32', v: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { t: 'u32', v: TOKEN_ID.bos }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: TOKEN_ID.eos }],
    ['tokenizer.ggml.unknown_token_id', { t: 'u32', v: TOKEN_ID.unk }],
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: true }],
    ['tokenizer.ggml.add_eos_token', { t: 'bool', v: false }],
    ['tokenizer.ggml.add_space_prefix', { t: 'bool', v: false }],
    ...(o.chatTemplate !== undefined ? [['tokenizer.chat_template', { t: 'str', v: o.chatTemplate }] as Kv] : []),
    ...extraKv(o.extraMetadata)
  ]

  const n = d.embeddingLength
  const ff = d.feedForwardLength
  const tensors: TensorPlan[] = [
    { name: 'token_embd.weight', shape: [n, d.vocabSize], type: mt, fill: { kind: 'random', log2Amplitude: 0 } }
  ]
  for (let i = 0; i < d.blockCount; i++) {
    const p = `blk.${i}.`
    tensors.push(
      { name: p + 'attn_norm.weight', shape: [n], type: 'f32', fill: { kind: 'ones' } },
      { name: p + 'attn_q.weight', shape: [n, n], type: mt, fill: randomFill(n) },
      { name: p + 'attn_k.weight', shape: [n, kvDim], type: mt, fill: randomFill(n) },
      { name: p + 'attn_v.weight', shape: [n, kvDim], type: mt, fill: randomFill(n) },
      { name: p + 'attn_output.weight', shape: [n, n], type: mt, fill: randomFill(n) },
      { name: p + 'ffn_norm.weight', shape: [n], type: 'f32', fill: { kind: 'ones' } },
      { name: p + 'ffn_gate.weight', shape: [n, ff], type: mt, fill: randomFill(n) },
      { name: p + 'ffn_up.weight', shape: [n, ff], type: mt, fill: randomFill(n) },
      { name: p + 'ffn_down.weight', shape: [ff, n], type: mt, fill: randomFill(ff) }
    )
  }
  tensors.push({ name: 'output_norm.weight', shape: [n], type: 'f32', fill: { kind: 'ones' } })
  // A large output gain gives peaked, seed-dependent next-token distributions. The rows of the
  // special and byte tokens (ids 0..258) are 8× smaller, so greedy output is printable text
  // (no invalid UTF-8) and EOS is rare: generation runs to the requested number of tokens.
  if (o.tiedEmbeddings !== true) {
    const fill = randomFill(n, 4)
    if (fill.kind === 'random') fill.prefix = { elements: FIRST_TEXT_TOKEN * n, log2Amplitude: fill.log2Amplitude - 3 }
    tensors.push({ name: 'output.weight', shape: [n, d.vocabSize], type: mt, fill })
  }
  return { kv, tensors, alignment }
}

function layoutModel(o: LlamaModelOptions, d: LlamaDimensions): LlamaModelLayout {
  const plan = modelPlan(o, d)
  return { ...layoutOf(plan, encodeHeader(plan)), dimensions: d }
}

/** Dimensions, parameter count, tensor offsets and exact file size of a model, without writing it. */
export function describeLlamaModel(options: LlamaModelOptions = {}): LlamaModelLayout {
  return layoutModel(options, resolveLlamaDimensions(options))
}

function adapterDims(base: LlamaModelOptions | LlamaDimensions): LlamaDimensions {
  if (isDimensions(base)) return withDefaults(base, base.embeddingLength, base.blockCount)
  return resolveLlamaDimensions(base)
}

/** [in, out] of a base weight matrix, in GGML order (ne[0] = in). */
function targetShape(t: LoraTarget, d: LlamaDimensions): [number, number] {
  const n = d.embeddingLength
  const kvDim = (n / d.headCount) * d.headCountKv
  switch (t) {
    case 'attn_q': case 'attn_output': return [n, n]
    case 'attn_k': case 'attn_v': return [n, kvDim]
    case 'ffn_gate': case 'ffn_up': return [n, d.feedForwardLength]
    case 'ffn_down': return [d.feedForwardLength, n]
  }
}

function adapterPlan(o: LoraAdapterOptions): { plan: Plan, dims: LlamaDimensions, rank: number, alpha: number } {
  const dims = adapterDims(o.base)
  const alignment = checkAlignment(o.alignment ?? DEFAULT_ALIGNMENT)
  const rank = checkInt('rank', o.rank ?? 4)
  const alpha = o.alpha ?? rank
  const mt = o.matrixType ?? 'f32'
  if (mt !== 'f16' && mt !== 'f32') throw new RangeError(`matrixType must be f16 or f32, got ${String(mt)}`)
  const targets = o.targets ?? ['attn_q', 'attn_v']
  for (const t of targets) if (!LORA_TARGETS.includes(t)) throw new RangeError(`unknown LoRA target ${String(t)}`)
  const layers = o.layers ?? Array.from({ length: dims.blockCount }, (_, i) => i)
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= dims.blockCount) throw new RangeError(`layer ${l} out of range 0..${dims.blockCount - 1}`)
  const baseName = isDimensions(o.base) ? DEFAULT_MODEL_NAME : (o.base.name ?? DEFAULT_MODEL_NAME)

  const kv: Kv[] = [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.type', { t: 'str', v: 'adapter' }],
    ...generalKv({ ...o, name: o.name ?? `${baseName} LoRA`, baseModels: o.baseModels ?? [{ name: baseName }] }),
    ['general.file_type', { t: 'u32', v: FILE_TYPE[mt] }],
    ['general.alignment', { t: 'u32', v: alignment }],
    ['adapter.type', { t: 'str', v: 'lora' }],
    ['adapter.lora.alpha', { t: 'f32', v: alpha }],
    ...extraKv(o.extraMetadata)
  ]
  // llama-adapter.cpp: for a base weight of ne = [in, out], lora_a is [in, rank] and lora_b is
  // [rank, out]; the delta is scale·alpha/rank · B·A.
  const tensors: TensorPlan[] = []
  for (const l of [...new Set(layers)].sort((a, b) => a - b)) {
    for (const t of targets) {
      const [inDim, outDim] = targetShape(t, dims)
      const name = `blk.${l}.${t}.weight`
      tensors.push(
        { name: name + '.lora_a', shape: [inDim, rank], type: mt, fill: randomFill(inDim) },
        { name: name + '.lora_b', shape: [rank, outDim], type: mt, fill: randomFill(rank) }
      )
    }
  }
  return { plan: { kv, tensors, alignment }, dims, rank, alpha }
}

/** Layout and exact file size of a LoRA adapter, without writing it. */
export function describeLoraAdapter(options: LoraAdapterOptions): LoraAdapterLayout {
  const { plan, dims, rank, alpha } = adapterPlan(options)
  return { ...layoutOf(plan, encodeHeader(plan)), dimensions: dims, rank, alpha }
}

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64 seeds a xorshift128 per tensor (so each tensor's bytes depend only on the
// seed and its name), and the bulk generator writes IEEE bit patterns straight into a
// Uint32Array: random sign and mantissa, exponent from the leading zeros of 5 (f16) or 8 (f32)
// random bits, which makes magnitudes close to uniform below the amplitude.

const MASK64 = (1n << 64n) - 1n

function splitmix64(state: bigint): [next: bigint, out: bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64
  let z = next
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
  return [next, z ^ (z >> 31n)]
}

function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n
  for (const b of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64
  return h
}

function seedToBigInt(seed: number | bigint | undefined): bigint {
  if (seed === undefined) return 1n
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  return BigInt.asUintN(64, BigInt(seed))
}

class Xorshift128 {
  x: number; y: number; z: number; w: number

  constructor(seed: bigint, stream: string) {
    let s = seed ^ fnv1a64(stream)
    const words: number[] = []
    for (let i = 0; i < 2; i++) {
      const [next, out] = splitmix64(s)
      s = next
      words.push(Number(out & 0xffffffffn) | 0, Number(out >> 32n) | 0)
    }
    ;[this.x, this.y, this.z, this.w] = words as [number, number, number, number]
    if ((this.x | this.y | this.z | this.w) === 0) this.w = 1
  }
}

function exponentTable(bits: number, top: number, min: number): Int32Array {
  const lut = new Int32Array(1 << bits)
  for (let v = 0; v < lut.length; v++) {
    const leadingZeros = v === 0 ? bits : bits - 1 - Math.floor(Math.log2(v))
    lut[v] = Math.max(min, top - leadingZeros)
  }
  return lut
}

interface TensorSource {
  /** Fill `words` 32-bit words of `dst` starting at word `start`. */
  fill(dst: Uint32Array, start: number, words: number): void
}

type WordGenerator = (rng: Xorshift128, lut: Int32Array, dst: Uint32Array, start: number, end: number) => void

// f16: one xorshift step gives two halves: sign and mantissa bits kept, each 5-bit exponent
// field replaced through the table.
const f16Words: WordGenerator = (rng, lut, dst, start, end) => {
  let { x, y, z, w } = rng
  for (let i = start; i < end; i++) {
    const t0 = x ^ (x << 11)
    x = y; y = z; z = w
    w = (w ^ (w >>> 19)) ^ (t0 ^ (t0 >>> 8))
    dst[i] = (w & 0x83ff83ff) | ((lut[(w >>> 10) & 31] as number) << 10) | ((lut[(w >>> 26) & 31] as number) << 26)
  }
  rng.x = x; rng.y = y; rng.z = z; rng.w = w
}

const f32Words: WordGenerator = (rng, lut, dst, start, end) => {
  let { x, y, z, w } = rng
  for (let i = start; i < end; i++) {
    const t0 = x ^ (x << 11)
    x = y; y = z; z = w
    w = (w ^ (w >>> 19)) ^ (t0 ^ (t0 >>> 8))
    dst[i] = (w & 0x807fffff) | ((lut[(w >>> 23) & 255] as number) << 23)
  }
  rng.x = x; rng.y = y; rng.z = z; rng.w = w
}

function tensorSource(t: TensorPlan, seed: bigint): TensorSource {
  const fill = t.fill
  if (fill.kind === 'ones') {
    const one = t.type === 'f32' ? 0x3f800000 : 0x3c003c00
    return { fill: (dst, start, words) => { dst.fill(one, start, start + words) } }
  }
  const rng = new Xorshift128(seed, t.name)
  // Values with magnitude in [A/2, A) have exponent log2(A) - 1.
  const table = (log2Amplitude: number): Int32Array => t.type === 'f16'
    ? exponentTable(5, log2Amplitude - 1 + 15, 1)
    : exponentTable(8, log2Amplitude - 1 + 127, 1)
  const gen = t.type === 'f16' ? f16Words : f32Words
  const lut = table(fill.log2Amplitude)
  const prefixLut = fill.prefix === undefined ? lut : table(fill.prefix.log2Amplitude)
  const prefixWords = fill.prefix === undefined ? 0 : fill.prefix.elements / (t.type === 'f16' ? 2 : 1)
  let wordPos = 0
  return {
    fill(dst, start, words) {
      const split = start + Math.min(words, Math.max(0, prefixWords - wordPos))
      if (split > start) gen(rng, prefixLut, dst, start, split)
      gen(rng, lut, dst, split, start + words)
      wordPos += words
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming writer: two chunk buffers, one being filled while the other is written.

class ChunkedFileWriter {
  private readonly buffers: [Uint8Array, Uint8Array]
  private readonly words: [Uint32Array, Uint32Array]
  private current: 0 | 1 = 0
  private pos = 0
  private fileOffset = 0
  private pending: Promise<unknown> | undefined
  private readonly hash: Hash | undefined

  constructor (
    private readonly fh: FileHandle,
    chunkBytes: number,
    sha256: boolean,
    private readonly total: number,
    private readonly onProgress?: (written: number, total: number) => void
  ) {
    const a = new ArrayBuffer(chunkBytes)
    const b = new ArrayBuffer(chunkBytes)
    this.buffers = [new Uint8Array(a), new Uint8Array(b)]
    this.words = [new Uint32Array(a), new Uint32Array(b)]
    this.hash = sha256 ? createHash('sha256') : undefined
  }

  private get cap(): number { return this.buffers[0].length }
  private get buf(): Uint8Array { return this.buffers[this.current] }

  private async flush(): Promise<void> {
    if (this.pos === 0) return
    const buf = this.buf.subarray(0, this.pos)
    this.hash?.update(buf)
    if (this.pending !== undefined) await this.pending
    const position = this.fileOffset
    this.fileOffset += buf.length
    const written = this.fileOffset
    this.pending = this.fh.write(buf, 0, buf.length, position).then(() => this.onProgress?.(written, this.total))
    this.current = this.current === 0 ? 1 : 0
    this.pos = 0
  }

  async bytes(src: Uint8Array): Promise<void> {
    let off = 0
    while (off < src.length) {
      if (this.pos === this.cap) await this.flush()
      const n = Math.min(src.length - off, this.cap - this.pos)
      this.buf.set(src.subarray(off, off + n), this.pos)
      this.pos += n
      off += n
    }
  }

  async zeros(count: number): Promise<void> {
    while (count > 0) {
      if (this.pos === this.cap) await this.flush()
      const n = Math.min(count, this.cap - this.pos)
      this.buf.fill(0, this.pos, this.pos + n)
      this.pos += n
      count -= n
    }
  }

  /** Generated data; must start at a 4-byte aligned file offset. */
  async generated(src: TensorSource, count: number): Promise<void> {
    if (this.pos % 4 !== 0) throw new Error('internal: unaligned tensor data')
    while (count > 0) {
      if (this.pos === this.cap) await this.flush()
      const n = Math.min(count, this.cap - this.pos)
      // cap - pos is a multiple of 4, so rounding a partial last word up stays in the buffer;
      // the extra bytes are overwritten by what follows (padding).
      src.fill(this.words[this.current], this.pos / 4, Math.ceil(n / 4))
      this.pos += n
      count -= n
    }
  }

  async finish(): Promise<string | undefined> {
    await this.flush()
    if (this.pending !== undefined) await this.pending
    return this.hash?.digest('hex')
  }
}

async function writePlan(path: string, plan: Plan, seed: bigint, opts: WriteOptions): Promise<{ size: number, sha256?: string, layout: GgufLayout }> {
  if (endianness() !== 'LE') throw new Error('gguf-fixture writes little-endian GGUF and needs a little-endian host')
  const header = encodeHeader(plan)
  const layout = layoutOf(plan, header)
  const chunkBytes = alignUp(Math.max(opts.chunkBytes ?? 4 << 20, plan.alignment), plan.alignment)
  const fh = await open(path, 'w')
  try {
    const w = new ChunkedFileWriter(fh, chunkBytes, opts.sha256 === true, layout.fileSize, opts.onProgress)
    await w.bytes(header)
    await w.zeros(layout.dataOffset - header.length)
    for (let i = 0; i < plan.tensors.length; i++) {
      const t = plan.tensors[i] as TensorPlan
      const l = layout.tensors[i] as GgufTensorLayout
      await w.generated(tensorSource(t, seed), l.bytes)
      await w.zeros(alignUp(l.bytes, plan.alignment) - l.bytes)
    }
    const sha256 = await w.finish()
    await fh.close()
    return sha256 === undefined ? { size: layout.fileSize, layout } : { size: layout.fileSize, sha256, layout }
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(path, { force: true }).catch(() => {})
    throw err
  }
}

/** Write a llama-architecture GGUF v3 model with seeded random weights. */
export async function writeLlamaModel(path: string, options: LlamaModelOptions = {}, writeOptions: WriteOptions = {}): Promise<WrittenGguf<LlamaModelLayout>> {
  const dims = resolveLlamaDimensions(options)
  const plan = modelPlan(options, dims)
  const r = await writePlan(path, plan, seedToBigInt(options.seed), writeOptions)
  return { path, ...r, layout: { ...r.layout, dimensions: dims } }
}

/** Write a GGUF LoRA adapter (llama.cpp format) for a model written by writeLlamaModel. */
export async function writeLoraAdapter(path: string, options: LoraAdapterOptions, writeOptions: WriteOptions = {}): Promise<WrittenGguf<LoraAdapterLayout>> {
  const { plan, dims, rank, alpha } = adapterPlan(options)
  const r = await writePlan(path, plan, seedToBigInt(options.seed) ^ 0x4c6f5241n /* "LoRA" */, writeOptions)
  return { path, ...r, layout: { ...r.layout, dimensions: dims, rank, alpha } }
}

// ---------------------------------------------------------------------------------------------
// Broken files for bad-input tests

/** Copy the first `bytes` bytes of `src` to `dst` (a truncated download, a cut-off file). */
export async function writeTruncatedCopy(src: string, dst: string, bytes: number): Promise<void> {
  checkInt('bytes', bytes, 0)
  if (bytes === 0) {
    await writeFile(dst, new Uint8Array(0))
    return
  }
  await pipeline(createReadStream(src, { start: 0, end: bytes - 1 }), createWriteStream(dst))
}

/** Copy `src` to `dst`, then overwrite bytes at `offset` (e.g. a bad magic at 0, a huge count at 8). */
export async function writeCorruptedCopy(src: string, dst: string, offset: number, bytes: Uint8Array): Promise<void> {
  checkInt('offset', offset, 0)
  await pipeline(createReadStream(src), createWriteStream(dst))
  const fh = await open(dst, 'r+')
  try {
    await fh.write(bytes, 0, bytes.length, offset)
  } finally {
    await fh.close()
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage:
  gguf-fixture model   --out FILE [options]
  gguf-fixture adapter --out FILE (--base-file MODEL.gguf | base shape options) [adapter options]
  gguf-fixture truncate --in FILE --out FILE --bytes N
  gguf-fixture describe [model options]          print the layout, write nothing

model / base options:
  --seed N  --name S  --license SPDX  --organization S  --author S  --description S
  --embedding N  --layers N  --heads N  --kv-heads N  --ff N  --context N  --vocab N
  --type f16|f32  --tied  --alignment N
  --size-mib N | --size-bytes N | --params N[K|M|G]   (choose the layer count for a target size)
  --base-model SPEC (repeatable) SPEC: "NAME" or "name=..;organization=..;repo_url=..;version=.."
adapter options (--name/--seed/--license are the adapter's own):
  --base-name S (default: general.name of --base-file)  --seed N  --name S  --license S  --rank N  --alpha X  --targets attn_q,attn_v,...  --layers-list 0,1
  --base-model SPEC (default: the base's name)  --type f16|f32
output: one JSON object (path, size, parameterCount, dimensions, sha256 with --sha256)`

function parseBaseModel(spec: string): BaseModelRef {
  if (!spec.includes('=')) return { name: spec }
  const ref: BaseModelRef = {}
  for (const part of spec.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) throw new Error(`bad --base-model part "${part}"`)
    const k = part.slice(0, eq).trim()
    const v = part.slice(eq + 1)
    switch (k) {
      case 'name': ref.name = v; break
      case 'organization': ref.organization = v; break
      case 'author': ref.author = v; break
      case 'version': ref.version = v; break
      case 'repo_url': case 'repoUrl': ref.repoUrl = v; break
      case 'url': ref.url = v; break
      case 'doi': ref.doi = v; break
      case 'uuid': ref.uuid = v; break
      case 'description': ref.description = v; break
      default: throw new Error(`unknown --base-model key "${k}"`)
    }
  }
  return ref
}

function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(s.trim())
  if (m === null) throw new Error(`bad number "${s}"`)
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g']
  return Math.round(Number(m[1]) * mult)
}

async function cli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      out: { type: 'string', short: 'o' },
      in: { type: 'string' },
      bytes: { type: 'string' },
      seed: { type: 'string' },
      name: { type: 'string' },
      license: { type: 'string' },
      organization: { type: 'string' },
      author: { type: 'string' },
      description: { type: 'string' },
      embedding: { type: 'string' },
      layers: { type: 'string' },
      heads: { type: 'string' },
      'kv-heads': { type: 'string' },
      ff: { type: 'string' },
      context: { type: 'string' },
      vocab: { type: 'string' },
      type: { type: 'string' },
      tied: { type: 'boolean' },
      alignment: { type: 'string' },
      'size-mib': { type: 'string' },
      'size-bytes': { type: 'string' },
      params: { type: 'string' },
      'base-model': { type: 'string', multiple: true },
      'base-file': { type: 'string' },
      'base-name': { type: 'string' },
      rank: { type: 'string' },
      alpha: { type: 'string' },
      targets: { type: 'string' },
      'layers-list': { type: 'string' },
      sha256: { type: 'boolean' }
    }
  })
  const cmd = positionals[0]
  if (values.help === true || cmd === undefined) {
    process.stdout.write(USAGE + '\n')
    return cmd === undefined && values.help !== true ? 2 : 0
  }
  const int = (s: string | undefined): number | undefined => (s === undefined ? undefined : parseCount(s))
  const seed = values.seed === undefined ? undefined : BigInt(values.seed)
  const modelOptions = (): LlamaModelOptions => {
    const o: LlamaModelOptions = {}
    const set = <K extends keyof LlamaModelOptions>(k: K, v: LlamaModelOptions[K] | undefined): void => { if (v !== undefined) o[k] = v }
    set('seed', seed)
    set('name', values.name)
    set('license', values.license)
    set('organization', values.organization)
    set('author', values.author)
    set('description', values.description)
    set('embeddingLength', int(values.embedding))
    set('blockCount', int(values.layers))
    set('headCount', int(values.heads))
    set('headCountKv', int(values['kv-heads']))
    set('feedForwardLength', int(values.ff))
    set('contextLength', int(values.context))
    set('vocabSize', int(values.vocab))
    set('matrixType', values.type as MatrixType | undefined)
    set('tiedEmbeddings', values.tied)
    set('alignment', int(values.alignment))
    if (values['size-mib'] !== undefined) o.targetBytes = Number(values['size-mib']) * 1024 * 1024
    set('targetBytes', int(values['size-bytes']))
    set('targetParams', int(values.params))
    if (values['base-model'] !== undefined) o.baseModels = values['base-model'].map(parseBaseModel)
    return o
  }
  const wo: WriteOptions = { sha256: values.sha256 === true }
  const report = (r: { path?: string, size?: number, sha256?: string, layout: GgufLayout & { dimensions: LlamaDimensions } }): void => {
    const { tensors: _tensors, ...rest } = r.layout
    process.stdout.write(JSON.stringify({ path: r.path, size: r.size ?? r.layout.fileSize, sha256: r.sha256, ...rest }) + '\n')
  }

  switch (cmd) {
    case 'model': {
      if (values.out === undefined) throw new Error('--out is required')
      report(await writeLlamaModel(values.out, modelOptions(), wo))
      return 0
    }
    case 'describe':
      report({ layout: describeLlamaModel(modelOptions()) })
      return 0
    case 'adapter': {
      if (values.out === undefined) throw new Error('--out is required')
      let base: LlamaModelOptions | LlamaDimensions = modelOptions()
      let baseName = values['base-name']
      if (values['base-file'] !== undefined) {
        const { readGgufFileInfo } = await import('node-llama-cpp')
        const info = await readGgufFileInfo(values['base-file'], { readTensorInfo: false, logWarnings: false })
        const md = info.metadata as unknown as { general?: { name?: string, architecture?: string }, llama?: Record<string, unknown>, tokenizer?: { ggml?: { tokens?: unknown[] } } }
        const l = md.llama
        if (md.general?.architecture !== 'llama' || l === undefined) throw new Error(`${values['base-file']} is not a llama model`)
        const attn = l.attention as Record<string, unknown> | undefined
        const num = (v: unknown): number => {
          if (typeof v !== 'number') throw new Error(`${values['base-file']}: missing llama dimension`)
          return v
        }
        base = {
          embeddingLength: num(l.embedding_length),
          blockCount: num(l.block_count),
          headCount: num(attn?.head_count),
          headCountKv: num(attn?.head_count_kv ?? attn?.head_count),
          feedForwardLength: num(l.feed_forward_length),
          contextLength: num(l.context_length),
          vocabSize: typeof l.vocab_size === 'number' ? l.vocab_size : num(md.tokenizer?.ggml?.tokens?.length)
        }
        baseName ??= md.general.name
      }
      const ao: LoraAdapterOptions = { base }
      if (seed !== undefined) ao.seed = seed
      if (values.name !== undefined) ao.name = values.name
      if (values.license !== undefined) ao.license = values.license
      if (values.rank !== undefined) ao.rank = parseCount(values.rank)
      if (values.alpha !== undefined) ao.alpha = Number(values.alpha)
      if (values.type !== undefined) ao.matrixType = values.type as MatrixType
      if (values.targets !== undefined) ao.targets = values.targets.split(',').map((s) => s.trim()) as LoraTarget[]
      if (values['layers-list'] !== undefined) ao.layers = values['layers-list'].split(',').map((s) => parseCount(s))
      if (values['base-model'] !== undefined) ao.baseModels = values['base-model'].map(parseBaseModel)
      else ao.baseModels = [{ name: baseName ?? DEFAULT_MODEL_NAME }]
      if (ao.name === undefined) ao.name = `${baseName ?? DEFAULT_MODEL_NAME} LoRA`
      report(await writeLoraAdapter(values.out, ao, wo))
      return 0
    }
    case 'truncate': {
      if (values.in === undefined || values.out === undefined || values.bytes === undefined) throw new Error('--in, --out and --bytes are required')
      await writeTruncatedCopy(values.in, values.out, parseCount(values.bytes))
      return 0
    }
    default:
      process.stderr.write(`unknown command "${cmd}"\n${USAGE}\n`)
      return 2
  }
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code },
    (err: unknown) => {
      process.stderr.write(`gguf-fixture: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
    }
  )
}
