// Reading a GGUF in the inference worker: the bounded header reader (main/gguf/header.ts) checks
// the file first — every count and length against what the file holds, every tensor inside the
// file and laid out as llama.cpp expects — so node-llama-cpp's own reader, which does not check
// (it reads past the end on absurd counts), and llama.cpp only ever see a well-formed file.
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { GgufInsights, readGgufFileInfo, type GgufFileInfo, type Llama } from 'node-llama-cpp'
import { GroveError, firstLine } from '../../shared/errors.js'
import type { ModelKind } from '../../shared/manifest.js'
import { readGgufHeader } from '../gguf/header.js'
import { ggufProblem, isAdapter } from '../gguf/summary.js'

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

/** Reads and checks a GGUF's header and tensor table; throws NOT_GGUF / BAD_GGUF / NOT_FOUND / BAD_INPUT with the reason. */
export async function readCheckedGguf(path: string, llama?: Llama): Promise<CheckedGguf> {
  const header = await readGgufHeader(path)
  const problem = ggufProblem(header)
  if (problem) throw new GroveError('BAD_GGUF', `Malformed GGUF file ${path}: ${problem}`)
  let info: GgufFileInfo
  let insights: GgufInsights
  try {
    info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false, spliceSplitFiles: false, readTensorInfo: true })
    insights = await GgufInsights.from(info, llama)
  } catch (err) {
    throw new GroveError('BAD_GGUF', `Malformed GGUF file ${path}: ${firstLine(err)}`, { cause: err })
  }
  const { mtimeMs } = await stat(path)
  const kind: ModelKind = isAdapter(header) ? 'adapter' : 'model'
  const general = info.metadata.general as Record<string, unknown> | undefined
  const name = typeof general?.name === 'string' && general.name.length > 0 ? general.name.slice(0, 200) : undefined
  return { path, size: header.fileSize, mtimeMs, info, insights, kind, name }
}

/** A display name: the GGUF's general.name, else the file name. */
export function displayName(file: CheckedGguf): string {
  return file.name ?? basename(file.path)
}
