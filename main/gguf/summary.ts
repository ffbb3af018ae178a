// What a checked GGUF header says about the model (kind, architecture, size, lineage), and the
// problems llama.cpp would refuse it for that the header alone shows: a LoRA adapter whose keys
// have the wrong types (llama.cpp asserts on them and aborts), unpaired lora_a/lora_b tensors,
// a tokenizer whose arrays disagree. A model's architecture and vocabulary are left to
// llama.cpp itself (probe.ts opens the file with it before anything is published).
import type { ModelKind } from '../../shared/manifest.js'
import { ValueType } from './format.js'
import type { GgufEntry, GgufHeader, GgufTensor } from './header.js'

export interface GgufBaseModel {
  name?: string
  organization?: string
  repoUrl?: string
  version?: string
}

export interface GgufSummary {
  kind: ModelKind
  architecture: string
  name?: string
  license?: string
  parameterCount?: number
  quantization?: string
  contextLength?: number
  /** `general.base_model.*`: the lineage the file itself claims. */
  baseModels: GgufBaseModel[]
  /** For a LoRA adapter: `adapter.lora.alpha`. */
  loraAlpha?: number
  tensorCount: number
  fileSize: number
}

/** llama_ftype (`general.file_type`) → the quantization's usual name. */
const FILE_TYPES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 4: 'Q4_1_SOME_F16', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1',
  10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S',
  17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS',
  24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS',
  31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE', 39: 'NVFP4', 40: 'Q1_0', 41: 'Q2_0'
}

const MAX_BASE_MODELS = 64

export function summarizeGguf(header: GgufHeader): GgufSummary {
  const md = header.metadata
  const architecture = text(md.get('general.architecture')) ?? 'unknown'
  const kind: ModelKind = isAdapter(header) ? 'adapter' : 'model'
  const fileType = number(md.get('general.file_type'))
  let parameters = 0n
  for (const t of header.tensors) parameters += t.elements
  return {
    kind,
    architecture,
    name: text(md.get('general.name')),
    license: text(md.get('general.license')),
    parameterCount: parameters > 0n ? Number(parameters) : undefined,
    quantization: fileType === undefined ? undefined : FILE_TYPES[fileType],
    contextLength: kind === 'adapter' ? undefined : number(md.get(`${architecture}.context_length`)),
    baseModels: baseModels(header),
    loraAlpha: number(md.get('adapter.lora.alpha')),
    tensorCount: header.tensors.length,
    fileSize: header.fileSize
  }
}

export function isAdapter(header: GgufHeader): boolean {
  return text(header.metadata.get('general.type')) === 'adapter' || header.metadata.has('adapter.type')
}

/**
 * Why llama.cpp would refuse this file, as far as its header shows, or null. `knownArchitectures`:
 * the architecture names this build of llama.cpp knows (checked for adapters, which llama.cpp
 * cannot open without a model; for a model, opening it checks).
 */
export function ggufProblem(header: GgufHeader, knownArchitectures?: ReadonlySet<string>): string | null {
  const md = header.metadata
  const arch = md.get('general.architecture')
  if (!arch) return 'it has no general.architecture'
  if (arch.type !== ValueType.STRING || typeof arch.value !== 'string') return 'general.architecture is not a string'
  if (isAdapter(header)) return adapterProblem(header, arch.value, knownArchitectures)
  return tokenizerProblem(md)
}

function adapterProblem(header: GgufHeader, architecture: string, known: ReadonlySet<string> | undefined): string | null {
  const md = header.metadata
  // llama.cpp reads these with typed getters that abort the process on another type.
  for (const key of ['general.type', 'adapter.type']) {
    const entry = md.get(key)
    if (entry && entry.type !== ValueType.STRING) return `${key} is not a string`
  }
  const alpha = md.get('adapter.lora.alpha')
  if (alpha && alpha.type !== ValueType.FLOAT32) return 'adapter.lora.alpha is not a float32'
  if (text(md.get('general.type')) !== 'adapter') return `general.type is "${text(md.get('general.type')) ?? ''}", llama.cpp expects "adapter"`
  if (text(md.get('adapter.type')) !== 'lora') return `adapter.type is "${text(md.get('adapter.type')) ?? ''}"; only LoRA adapters can be applied`
  if (known && !known.has(architecture)) return `its architecture "${architecture.slice(0, 60)}" is unknown to llama.cpp`
  const pairs = new Map<string, { a?: GgufTensor; b?: GgufTensor }>()
  for (const t of header.tensors) {
    const match = /^(.*)\.lora_([ab])$/.exec(t.name)
    if (!match) {
      if (t.name.endsWith('_norm.weight')) continue
      return `tensor "${t.name}" is neither a lora_a nor a lora_b`
    }
    const pair = pairs.get(match[1]!) ?? {}
    pair[match[2] === 'a' ? 'a' : 'b'] = t
    pairs.set(match[1]!, pair)
  }
  if (pairs.size === 0) return 'it holds no LoRA tensors'
  for (const [target, { a, b }] of pairs) {
    if (!a || !b) return `tensor ${target} has a lora_${a ? 'a' : 'b'} but no lora_${a ? 'b' : 'a'}`
    if (a.dims.length !== 2 || b.dims.length !== 2) return `the LoRA tensors of ${target} are not matrices`
    const rankA = target.endsWith('token_embd.weight') ? a.dims[0] : a.dims[1]
    if (rankA !== b.dims[0]) return `the LoRA tensors of ${target} have different ranks (${rankA} and ${b.dims[0]})`
  }
  return null
}

/** The vocabulary's arrays, as llama.cpp's vocab loader reads them. */
function tokenizerProblem(md: Map<string, GgufEntry>): string | null {
  const tokens = md.get('tokenizer.ggml.tokens')
  if (!tokens) return null
  if (tokens.type !== ValueType.ARRAY || typeof tokens.value !== 'object' || !('kind' in tokens.value) || tokens.value.kind !== 'array' || tokens.value.elementType !== ValueType.STRING) {
    return 'tokenizer.ggml.tokens is not an array of strings'
  }
  const count = tokens.value.length
  const arrays: Array<[string, number[]]> = [
    ['tokenizer.ggml.scores', [ValueType.FLOAT32]],
    ['tokenizer.ggml.token_type', [ValueType.INT32]]
  ]
  for (const [key, types] of arrays) {
    const entry = md.get(key)
    if (!entry) continue
    const value = entry.value
    if (entry.type !== ValueType.ARRAY || typeof value !== 'object' || !('kind' in value) || value.kind !== 'array' || !types.includes(value.elementType)) {
      return `${key} is not an array of the type llama.cpp expects`
    }
    if (value.length < count) return `${key} has ${value.length} entries for ${count} tokens`
  }
  return null
}

function baseModels(header: GgufHeader): GgufBaseModel[] {
  const md = header.metadata
  const count = Math.min(number(md.get('general.base_model.count')) ?? 0, MAX_BASE_MODELS)
  const out: GgufBaseModel[] = []
  for (let i = 0; i < count; i++) {
    const field = (name: string) => text(md.get(`general.base_model.${i}.${name}`))
    out.push({ name: field('name'), organization: field('organization'), repoUrl: field('repo_url'), version: field('version') })
  }
  return out
}

function text(entry: GgufEntry | undefined): string | undefined {
  const value = entry?.value
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 500) : undefined
}

function number(entry: GgufEntry | undefined): number | undefined {
  const value = entry?.value
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value)
  return undefined
}
