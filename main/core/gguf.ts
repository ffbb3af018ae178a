// Reading what a GGUF file is: its metadata through node-llama-cpp's reader (Grove has no GGUF
// parser of its own) and its sha256, streamed so memory stays flat whatever the file size.
import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import type { GgufFileInfo, GgufInsights } from 'node-llama-cpp'
import { GroveError } from '../../shared/errors.js'
import type { ModelKind } from '../../shared/manifest.js'

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
  fileSize: number
}

const GGUF_MAGIC = 'GGUF'

/** Reads a GGUF file's metadata; a file that is not a whole, readable GGUF is refused. */
export async function inspectGguf(path: string): Promise<GgufSummary> {
  const { size } = await statFile(path)
  await checkMagic(path)
  // node-llama-cpp costs ~40 MB and ~0.6 s to load: only commands that read a GGUF pay for it.
  const { GgufInsights, GgufFileType, readGgufFileInfo } = await import('node-llama-cpp')
  let info: GgufFileInfo
  try {
    info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false, spliceSplitFiles: false })
  } catch (err) {
    throw new GroveError('NOT_GGUF', `Malformed GGUF file ${path}: ${firstLine(err)}`, { cause: err })
  }
  const insights = await GgufInsights.from(info)
  const tensorDataEnd = (info.infoEndOffset ?? 0) + insights.modelSize
  if (size < tensorDataEnd) {
    throw new GroveError('NOT_GGUF', `Truncated GGUF file ${path}: its tensors need ${tensorDataEnd} bytes but the file has ${size}`)
  }
  return summarize(info, insights, size, GgufFileType)
}

/** sha256 of a file, streamed in large chunks. `onProgress` gets bytes hashed so far. */
export async function sha256File(path: string, onProgress?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256')
  // One buffer, read into again and again: a stream would allocate a new one per chunk, and
  // every ~64 MB of those makes V8 run a full garbage collection.
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024)
  const file = await open(path, 'r')
  try {
    let done = 0
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
      done += bytesRead
      onProgress?.(done)
    }
  } finally {
    await file.close()
  }
  return hash.digest('hex')
}

function summarize(info: GgufFileInfo, insights: GgufInsights, fileSize: number, fileTypes: Record<number, string>): GgufSummary {
  const general = record(info.metadata.general)
  const adapter = record((info.metadata as Record<string, unknown>).adapter)
  const architecture = text(general.architecture) ?? 'unknown'
  const isAdapter = text(general.type) === 'adapter' || adapter.type !== undefined
  const fileType = typeof general.file_type === 'number' ? fileTypes[general.file_type] : undefined
  return {
    kind: isAdapter ? 'adapter' : 'model',
    architecture,
    name: text(general.name),
    license: text(general.license),
    parameterCount: insights.totalParameters || undefined,
    quantization: fileType?.replace(/^(MOSTLY_|ALL_)/, ''),
    contextLength: isAdapter ? undefined : insights.trainContextSize,
    baseModels: readBaseModels(record(general.base_model)),
    loraAlpha: typeof record(adapter.lora).alpha === 'number' ? (record(adapter.lora).alpha as number) : undefined,
    fileSize
  }
}

function readBaseModels(baseModel: Record<string, unknown>): GgufBaseModel[] {
  const count = Math.min(Number(baseModel.count ?? 0) || 0, 64)
  const out: GgufBaseModel[] = []
  for (let i = 0; i < count; i++) {
    const entry = record(baseModel[String(i)])
    out.push({
      name: text(entry.name),
      organization: text(entry.organization),
      repoUrl: text(entry.repo_url),
      version: text(entry.version)
    })
  }
  return out
}

/** Stats a path that must be a readable regular file, with Grove's errors. */
export async function statFile(path: string) {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new GroveError('BAD_INPUT', `Not a file: ${path}`)
    return info
  } catch (err) {
    if (err instanceof GroveError) throw err
    throw new GroveError('NOT_FOUND', `Cannot read ${path}: ${firstLine(err)}`, { cause: err })
  }
}

/** Refuses a file that does not start with the GGUF magic. */
export async function checkMagic(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(4)
    const { bytesRead } = await handle.read(head, 0, 4, 0)
    if (bytesRead < 4 || head.toString('latin1') !== GGUF_MAGIC) {
      throw new GroveError('NOT_GGUF', `Not a GGUF file: ${path} (it does not start with "GGUF")`)
    }
  } finally {
    await handle.close()
  }
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {}
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 500) : undefined
}

export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0] ?? message
}
