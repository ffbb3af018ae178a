// Does a LoRA adapter belong to a model? Checked before llama.cpp applies it, so a refusal says
// why in words: not an adapter at all, another architecture, tensors whose shapes do not match
// the model's (an adapter for another base), or a base hash other than the one the adapter's
// manifest records. The user may override the hash check (`ignoreBaseHash`), never the others:
// llama.cpp cannot apply mismatched shapes.
import type { GgufFileInfo, GgufTensorInfo } from 'node-llama-cpp'
import { GroveError } from '../../shared/errors.js'
import type { AdapterInfo } from './protocol.js'

export interface AdapterCheckInput {
  model: { info: GgufFileInfo; name: string; sha256?: () => Promise<string> }
  adapter: { info: GgufFileInfo; name: string; path: string; scale: number; expectedBaseSha256?: string }
  ignoreBaseHash: boolean
}

/** Checks everything and returns how the base hash stood; throws INCOMPATIBLE_ADAPTER with the reason. */
export async function checkAdapter(input: AdapterCheckInput): Promise<AdapterInfo> {
  const { model, adapter } = input
  const refuse = (reason: string): never => {
    throw new GroveError('INCOMPATIBLE_ADAPTER', `Adapter "${adapter.name}" cannot be applied to model "${model.name}": ${reason}`)
  }
  const kindProblem = adapterKindProblem(adapter.info)
  if (kindProblem) refuse(kindProblem)
  const archProblem = architectureProblem(model.info, adapter.info)
  if (archProblem) refuse(archProblem)
  const shapeProblems = adapterShapeProblems(model.info.tensorInfo ?? [], adapter.info.tensorInfo ?? [])
  if (shapeProblems.length > 0) {
    const more = shapeProblems.length > 1 ? ` (and ${shapeProblems.length - 1} more mismatch${shapeProblems.length > 2 ? 'es' : ''})` : ''
    refuse(`${shapeProblems[0]}${more}; it was made for a different base model`)
  }
  let baseHash: AdapterInfo['baseHash'] = 'unknown'
  if (adapter.expectedBaseSha256 !== undefined && model.sha256 !== undefined) {
    const actual = await model.sha256()
    if (actual === adapter.expectedBaseSha256) baseHash = 'verified'
    else if (input.ignoreBaseHash) baseHash = 'ignored'
    else {
      refuse(
        `its manifest records base sha256 ${adapter.expectedBaseSha256.slice(0, 16)}… but this model's sha256 is ${actual.slice(0, 16)}…; ` +
          'the shapes match, so to apply it anyway override the base-hash check (--ignore-base-hash)'
      )
    }
  }
  return { path: adapter.path, name: adapter.name, scale: adapter.scale, baseHash }
}

/** Why this file is not a LoRA adapter, or null. */
export function adapterKindProblem(info: GgufFileInfo): string | null {
  const general = record(info.metadata.general)
  const adapterMeta = record(record(info.metadata).adapter)
  const type = general.type
  if (type !== 'adapter' && adapterMeta.type === undefined) return 'it is a model, not a LoRA adapter'
  if (adapterMeta.type !== 'lora') return `it is a "${String(adapterMeta.type ?? 'unknown')}" adapter; only LoRA adapters can be applied`
  if ((info.tensorInfo ?? []).length === 0) return 'it holds no tensors'
  return null
}

/** Why the adapter's architecture is not the model's, or null. */
export function architectureProblem(model: GgufFileInfo, adapter: GgufFileInfo): string | null {
  const m = String(record(model.metadata.general).architecture ?? 'unknown')
  const a = String(record(adapter.metadata.general).architecture ?? 'unknown')
  return m === a ? null : `it was made for the "${a}" architecture and the model is "${m}"`
}

/**
 * Mismatches between an adapter's lora_a/lora_b pairs and the model tensors they modify, as
 * llama.cpp checks them (llama-adapter.cpp): for a weight W of ne [n_in, n_out], lora_a is
 * [n_in, r] and lora_b [r, n_out]; for token_embd (ne [n_embd, n_vocab]) lora_a is [r, n_vocab] and
 * lora_b [r, n_embd].
 */
export function adapterShapeProblems(modelTensors: readonly GgufTensorInfo[], adapterTensors: readonly GgufTensorInfo[]): string[] {
  const base = new Map(modelTensors.map((t) => [t.name, dims(t)]))
  const pairs = new Map<string, { a?: number[]; b?: number[] }>()
  const problems: string[] = []
  for (const t of adapterTensors) {
    const match = /^(.*)\.lora_([ab])$/.exec(t.name)
    if (!match) continue
    const [, target = '', which] = match
    const pair = pairs.get(target) ?? {}
    pair[which === 'a' ? 'a' : 'b'] = dims(t)
    pairs.set(target, pair)
  }
  if (pairs.size === 0) return ['it has no lora_a/lora_b tensors']
  for (const [target, { a, b }] of pairs) {
    const w = base.get(target)
    if (!a || !b) problems.push(`tensor ${target} has a lora_${a ? 'a' : 'b'} but no lora_${a ? 'b' : 'a'}`)
    else if (!w) problems.push(`it modifies tensor ${target}, which the model does not have`)
    else if (a.length !== 2 || b.length !== 2 || w.length < 2) problems.push(`tensor ${target} is not a matrix in the model or the adapter`)
    else {
      const tokenEmbedding = target.endsWith('token_embd.weight')
      const [n0, n1] = tokenEmbedding ? [b[1], a[1]] : [a[0], b[1]]
      const [rankA, rankB] = tokenEmbedding ? [a[0], b[0]] : [a[1], b[0]]
      if (w[0] !== n0 || w[1] !== n1) problems.push(`tensor ${target} is ${shape(w)} in the model but ${n0}×${n1} in the adapter`)
      else if (rankA !== rankB) problems.push(`tensor ${target}'s lora_a and lora_b have different ranks (${rankA} and ${rankB})`)
    }
  }
  return problems
}

function dims(t: GgufTensorInfo): number[] {
  return t.dimensions.map((d) => Number(d))
}

function shape(d: number[]): string {
  return d.join('×')
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {}
}
