// Checks on a GGUF file before llama.cpp sees it: a whole GGUF (magic, readable header, not
// truncated) whose every tensor lies inside the file. node-llama-cpp's reader does not notice
// truncation (it reads zeros past the end), and llama.cpp has paths that abort the process on
// bad input; what is caught here gets a clear message instead.
//
// These are main/core/gguf.ts `inspectGguf`'s checks (same messages), done with the worker's own
// Llama instance: `inspectGguf` builds node-llama-cpp's fallback instance on first use, which
// costs ~0.6 s on every cold `grove run`.
import { basename } from 'node:path'
import { GgmlType, GgufInsights, readGgufFileInfo, type GgufFileInfo, type GgufTensorInfo, type Llama } from 'node-llama-cpp'
import { GroveError } from '../../shared/errors.js'
import type { ModelKind } from '../../shared/manifest.js'
import { checkMagic, firstLine, statFile } from '../core/gguf.js'

export interface CheckedGguf {
  path: string
  size: number
  mtimeMs: number
  info: GgufFileInfo
  insights: GgufInsights
  kind: ModelKind
  /** `general.name`, when the file has one. */
  name?: string
}

/** Reads and checks a GGUF's header and tensor table; throws NOT_GGUF / NOT_FOUND / BAD_INPUT with the reason. */
export async function readCheckedGguf(path: string, llama?: Llama): Promise<CheckedGguf> {
  const { size, mtimeMs } = await statFile(path)
  await checkMagic(path)
  let info: GgufFileInfo
  try {
    info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false, spliceSplitFiles: false, readTensorInfo: true })
  } catch (err) {
    throw new GroveError('NOT_GGUF', `Malformed GGUF file ${path}: ${firstLine(err)}`, { cause: err })
  }
  let insights: GgufInsights
  try {
    insights = await GgufInsights.from(info, llama)
  } catch (err) {
    throw new GroveError('NOT_GGUF', `Malformed GGUF file ${path}: ${firstLine(err)}`, { cause: err })
  }
  const tensorDataEnd = (info.infoEndOffset ?? 0) + insights.modelSize
  if (size < tensorDataEnd) {
    throw new GroveError('NOT_GGUF', `Truncated GGUF file ${path}: its tensors need ${tensorDataEnd} bytes but the file has ${size}`)
  }
  const outside = tensorsOutsideFile(info.tensorInfo ?? [], size)
  if (outside.length > 0) {
    const t = outside[0]!
    throw new GroveError(
      'NOT_GGUF',
      `Malformed GGUF file ${path}: tensor '${t.name}' points outside the file (data at byte ${String(t.fileOffset)}, ` +
        `${t.bytes === undefined ? 'unknown size' : `${t.bytes} bytes`}, but the file has ${size} bytes)` +
        (outside.length > 1 ? ` and ${outside.length - 1} more tensor${outside.length > 2 ? 's' : ''} do too` : '')
    )
  }
  const general = info.metadata.general as Record<string, unknown> | undefined
  const adapter = (info.metadata as Record<string, unknown>).adapter as Record<string, unknown> | undefined
  const kind: ModelKind = general?.type === 'adapter' || adapter?.type !== undefined ? 'adapter' : 'model'
  const name = typeof general?.name === 'string' && general.name.length > 0 ? general.name.slice(0, 200) : undefined
  return { path, size, mtimeMs, info, insights, kind, name }
}

/** A display name: the GGUF's general.name, else the file name. */
export function displayName(file: CheckedGguf): string {
  return file.name ?? basename(file.path)
}


export interface OutOfBoundsTensor {
  name: string
  fileOffset: bigint
  bytes?: bigint
}

/** Tensors whose data does not lie wholly inside a file of `fileSize` bytes. */
export function tensorsOutsideFile(tensors: readonly GgufTensorInfo[], fileSize: number): OutOfBoundsTensor[] {
  const size = BigInt(fileSize)
  const out: OutOfBoundsTensor[] = []
  for (const t of tensors) {
    const fileOffset = BigInt(t.fileOffset)
    const bytes = tensorBytes(t)
    if (fileOffset < 0n || fileOffset > size || (bytes !== undefined && fileOffset + bytes > size)) out.push({ name: t.name, fileOffset, bytes })
  }
  return out
}

/** [bytes per block, elements per block] of the ggml types Grove knows the layout of. */
const TYPE_LAYOUT: Partial<Record<GgmlType, [number, number]>> = {
  [GgmlType.F32]: [4, 1],
  [GgmlType.F16]: [2, 1],
  [GgmlType.BF16]: [2, 1],
  [GgmlType.F64]: [8, 1],
  [GgmlType.I8]: [1, 1],
  [GgmlType.I16]: [2, 1],
  [GgmlType.I32]: [4, 1],
  [GgmlType.I64]: [8, 1],
  [GgmlType.Q4_0]: [18, 32],
  [GgmlType.Q4_1]: [20, 32],
  [GgmlType.Q5_0]: [22, 32],
  [GgmlType.Q5_1]: [24, 32],
  [GgmlType.Q8_0]: [34, 32],
  [GgmlType.Q8_1]: [36, 32],
  [GgmlType.Q2_K]: [84, 256],
  [GgmlType.Q3_K]: [110, 256],
  [GgmlType.Q4_K]: [144, 256],
  [GgmlType.Q5_K]: [176, 256],
  [GgmlType.Q6_K]: [210, 256],
  [GgmlType.Q8_K]: [292, 256]
}

/** Bytes of a tensor's data, when its type's layout is known (exact, in bigint: dimensions may be absurd). */
export function tensorBytes(t: Pick<GgufTensorInfo, 'dimensions' | 'ggmlType'>): bigint | undefined {
  const layout = TYPE_LAYOUT[t.ggmlType]
  if (!layout) return undefined
  const [blockBytes, blockElements] = layout
  let elements = 1n
  for (const d of t.dimensions) elements *= BigInt(d)
  const blocks = (elements + BigInt(blockElements) - 1n) / BigInt(blockElements)
  return blocks * BigInt(blockBytes)
}
