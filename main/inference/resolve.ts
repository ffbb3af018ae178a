// What to load: a `grove://` link, a library name or a file path, turned into a file on disk
// and what the library knows about it (its sha256, and for an adapter the sha256 of the base it
// was made for, from the `parents` entry with relation "adapter"). Reads the library index
// without the home lock, so it works while a seeder runs; needs no network.
import { stat } from 'node:fs/promises'
import { basename, resolve as resolvePath } from 'node:path'
import { GroveError } from '../../shared/errors.js'
import { isLink, parseLink } from '../../shared/link.js'
import type { ModelKind } from '../../shared/manifest.js'
import { resolveHome } from '../core/home.js'
import { readLibrary, type LibraryEntry } from '../core/library.js'
import type { AdapterSpec, LoadSpec } from './protocol.js'

export interface ResolvedFile {
  /** Absolute path of the .gguf. */
  path: string
  name: string
  link?: string
  kind?: ModelKind
  /** The weights' sha256 from the library manifest (only when the file still has the recorded size). */
  sha256?: string
  /** For an adapter: the sha256 of the base weights its manifest records. */
  baseSha256?: string
}

export interface ResolveOptions {
  /** Grove home (default: --home / $GROVE_HOME / the platform default). */
  home?: string
  /** The library's entries, when already read. */
  entries?: LibraryEntry[]
  /** Only links and library names, never a path (for requests from other programs, e.g. over HTTP). */
  libraryOnly?: boolean
}

/** A link, an existing file, or a library model's name → the file and what the library knows of it. */
export async function resolveTarget(target: string, opts: ResolveOptions = {}): Promise<ResolvedFile> {
  const text = target.trim()
  if (text.length === 0) throw new GroveError('BAD_INPUT', 'Name a model: a grove:// link, a library name or a .gguf file')
  const entries = opts.entries ?? (await readLibrary(resolveHome(opts.home).libraryFile))
  if (isLink(text)) {
    const { keyHex } = parseLink(text)
    const entry = entries.find((e) => e.keyHex === keyHex)
    if (!entry) throw new GroveError('NOT_FOUND', `${text} is not in the library; download it first with \`grove fetch ${text}\``)
    return fromEntry(entry, entries)
  }
  const path = resolvePath(text)
  const file = opts.libraryOnly ? null : await stat(path).catch(() => null)
  if (file?.isFile()) {
    const entry = entries.find((e) => e.path !== undefined && resolvePath(e.path) === path)
    return entry ? fromEntry(entry, entries) : { path, name: basename(path) }
  }
  const named = entries.filter((e) => e.manifest?.name.toLowerCase() === text.toLowerCase())
  if (named.length === 1) return fromEntry(named[0]!, entries)
  if (named.length > 1) {
    throw new GroveError('BAD_INPUT', `Several library models are named "${text}": ${named.map((e) => e.link).join(', ')}; use a link`)
  }
  throw new GroveError('NOT_FOUND', opts.libraryOnly ? `No library model named "${text}"` : `No file, grove:// link or library model named "${text}"`)
}

function fromEntry(entry: LibraryEntry, entries: LibraryEntry[]): ResolvedFile {
  const manifest = entry.manifest
  const name = manifest?.name ?? entry.link
  if (!entry.path || !entry.complete) {
    throw new GroveError('NOT_FOUND', `"${name}" (${entry.link}) is not completely downloaded yet; finish it with \`grove fetch ${entry.link}\``)
  }
  const weights = manifest?.files.find((f) => f.role === 'weights')
  const adapterParent = manifest?.parents.find((p) => p.relation === 'adapter')
  let baseSha256 = adapterParent?.sha256
  if (baseSha256 === undefined && adapterParent?.link !== undefined) {
    const parentKey = safeKey(adapterParent.link)
    const parent = entries.find((e) => e.keyHex === parentKey)?.manifest
    baseSha256 = parent?.files.find((f) => f.role === 'weights')?.sha256
  }
  return {
    path: resolvePath(entry.path),
    name,
    link: entry.link,
    kind: manifest?.kind,
    sha256: weights?.sha256,
    baseSha256: manifest?.kind === 'adapter' ? baseSha256 : undefined
  }
}

function safeKey(link: string): string | undefined {
  try {
    return parseLink(link).keyHex
  } catch {
    return undefined
  }
}

/** `X` or `X:SCALE` (the scale after the last colon, when it is a number: links and Windows paths keep theirs). */
export function parseAdapterArg(text: string): { target: string; scale: number } {
  const match = /^(.+):(-?\d+(?:\.\d+)?|-?\.\d+)$/.exec(text)
  if (!match?.[1] || match[2] === undefined) return { target: text, scale: 1 }
  const scale = Number(match[2])
  if (!Number.isFinite(scale) || Math.abs(scale) > 16) throw new GroveError('BAD_INPUT', `Adapter scale must be between -16 and 16: "${text}"`)
  return { target: match[1], scale }
}

export interface RunTargets {
  model: string
  adapters?: Array<{ target: string; scale?: number }>
  home?: string
  /** Only links and library names, never a path. */
  libraryOnly?: boolean
}

/** The model and adapters to load, with the hashes the library records (for the base-hash check). */
export async function resolveLoadSpec(targets: RunTargets, extra: Omit<LoadSpec, 'modelPath' | 'adapters'> = {}): Promise<LoadSpec> {
  const entries = await readLibrary(resolveHome(targets.home).libraryFile)
  const model = await resolveTarget(targets.model, { entries, libraryOnly: targets.libraryOnly })
  if (model.kind === 'adapter') {
    throw new GroveError('BAD_INPUT', `"${model.name}" is a LoRA adapter, not a model: run its base model with --adapter ${targets.model}`)
  }
  const adapters: AdapterSpec[] = []
  for (const a of targets.adapters ?? []) {
    const adapter = await resolveTarget(a.target, { entries, libraryOnly: targets.libraryOnly })
    if (adapter.kind === 'model') throw new GroveError('BAD_INPUT', `"${adapter.name}" is a model, not a LoRA adapter`)
    adapters.push({ path: adapter.path, scale: a.scale ?? 1, name: adapter.link !== undefined ? adapter.name : undefined, expectedBaseSha256: adapter.baseSha256 })
  }
  const size = await stat(model.path).then((s) => s.size, () => -1)
  const recorded = entries.find((e) => e.link === model.link)?.manifest?.files.find((f) => f.role === 'weights')
  return {
    ...extra,
    modelPath: model.path,
    // A library model goes by its library name; a bare file by its GGUF general.name (the worker reads it).
    modelName: model.link !== undefined ? model.name : undefined,
    // Trust the recorded hash only for the file it describes (a shared file may have changed since).
    modelSha256: recorded && recorded.size === size ? model.sha256 : undefined,
    adapters
  }
}
