// `grove share`: publish a local GGUF as a model drive written by this user's persistent key:
// the weights (streamed, hashed on the way in, their blocks served out of the file itself), the
// model card and the manifest, written last so that a drive without a manifest is never
// announced as a model.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GroveError, firstLine } from '../../shared/errors.js'
import { bytesToHex, formatLink, isLink, parseLink } from '../../shared/link.js'
import {
  CARD_PATH,
  DriveFilePath,
  MANIFEST_PATH,
  MANIFEST_SCHEMA_VERSION,
  Manifest,
  RELATIONS,
  type ModelKind,
  type ParentRef,
  type Relation
} from '../../shared/manifest.js'
import { formatCard, parseCard, type ModelCard } from '../../shared/model-card.js'
import { loadableGguf, type GgufSummary, type ProbeSession } from '../gguf/probe.js'
import { sha256File } from './sha256.js'
import type Corestore from 'corestore'
import type { WorkerSpawner } from '../process/spawn.js'
import type { ModelDrives } from './model-drives.js'
import { BlockFile } from './file-blocks.js'
import { cardFactsOf, type BlockFileRecord, type Library } from './library.js'
import { blobsOf } from './remote-drive.js'
import { swarmKeyPair } from './store.js'

/** What a share works with (a Grove is one). */
export interface ShareContext {
  library: Library
  drives: ModelDrives
  /** For the publisher's key pair. */
  store: Corestore
  /** How the GGUF probe process starts (default: a forked Node process). */
  spawner?: WorkerSpawner
}

export interface ShareOptions {
  name?: string
  license?: string
  description?: string
  /** A Markdown model card to publish (its front matter is kept and completed). */
  cardPath?: string
  /** `grove://KEY` links or sha256 hashes of the parents' weights. */
  parents?: string[]
  relation?: Relation
  onProgress?: (bytes: number, total: number) => void
  /** Sharing many files: their probes run in one process (see ProbeSession). */
  probes?: ProbeSession
}

export interface ShareResult {
  link: string
  /** The link to give others: it names this home as a seeder (see seeding.ts). */
  shareLink: string
  keyHex: string
  sha256: string
  kind: ModelKind
  name: string
  size: number
  manifest: Manifest
  /** True when this exact file was already shared with the same name and parents. */
  existing: boolean
}

export async function shareModel(ctx: ShareContext, file: string, opts: ShareOptions): Promise<ShareResult> {
  const path = resolve(file)
  // Refused here, before any drive exists, unless llama.cpp itself opens the file.
  const summary = await loadableGguf(path, { spawner: ctx.spawner, session: opts.probes })
  const parents = resolveParents(ctx, opts.parents ?? [], opts.relation, summary.kind)
  const card = opts.cardPath ? await readCard(opts.cardPath) : undefined
  const name = opts.name ?? card?.frontMatter.model_name ?? summary.name ?? basename(path).replace(/\.gguf$/i, '')
  const license = opts.license ?? card?.frontMatter.license ?? summary.license
  const drivePath = driveFileName(path)

  const previous = await findPreviousShare(ctx, path, summary.fileSize, name, parents)
  if (previous) return previous

  const drive = await ctx.drives.create(`grove/model/${randomBytes(16).toString('hex')}`)
  const keyHex = bytesToHex(drive.key)
  let sha256: string
  let blockFile: BlockFileRecord
  try {
    // Seeding in place (file-blocks.ts): the drive's blocks are read out of this very file.
    const before = await stat(path)
    const blobs = await blobsOf(drive, formatLink(keyHex))
    const start = blobs.core.length
    const layout = { path, blockOffset: start, blockLength: Math.ceil(summary.fileSize / BLOCK_BYTES), byteLength: summary.fileSize, blockBytes: BLOCK_BYTES, first: start }
    const source = await BlockFile.openSource(path, layout)
    await ctx.drives.useBlockFile(keyHex, drive, source)
    sha256 = await writeWeights(path, summary.fileSize, drive.createWriteStream(drivePath), opts.onProgress)
    const blob = (await drive.entry(drivePath))?.value.blob
    if (source.misfit || blob?.blockOffset !== start || blob.blockLength !== layout.blockLength || blob.byteLength !== layout.byteLength) {
      throw new GroveError('INTERNAL', `The weights of ${path} were not cut into ${BLOCK_BYTES}-byte blocks as expected`)
    }
    const after = await stat(path)
    if (after.mtimeMs !== before.mtimeMs || after.size !== before.size) throw new GroveError('BAD_INPUT', `${path} changed while it was being shared`)
    blockFile = { ...layout, mtimeMs: after.mtimeMs }
  } catch (err) {
    await drive.clear(drivePath).catch(() => {})
    await ctx.drives.dropBlockFile(keyHex, drive).catch(() => {})
    throw importError(path, err)
  }

  const manifest = Manifest.parse({
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    kind: summary.kind,
    name,
    description: opts.description,
    license,
    architecture: summary.architecture,
    parameterCount: summary.parameterCount,
    quantization: summary.quantization,
    contextLength: summary.contextLength,
    files: [{ path: drivePath, size: summary.fileSize, sha256, role: 'weights' }],
    parents,
    ggufBaseModels: summary.baseModels.length > 0 ? summary.baseModels.slice(0, 16).map(clipBaseModel) : undefined,
    publisher: bytesToHex((await ctx.store.createKeyPair('grove/publisher')).publicKey),
    created: new Date().toISOString()
  })
  const cardText = buildCard(manifest, summary, card)
  await drive.put(CARD_PATH, Buffer.from(cardText))
  await drive.put(MANIFEST_PATH, Buffer.from(JSON.stringify(manifest, null, 2)))

  const link = formatLink(keyHex)
  await ctx.library.put({
    keyHex,
    link,
    origin: 'shared',
    manifest,
    path,
    complete: true,
    seeding: true,
    blocksStored: true,
    blockFile,
    addedAt: manifest.created,
    cardFacts: cardFactsOf(cardText)
  })
  return { link, shareLink: await shareLinkOf(ctx, keyHex), keyHex, sha256, kind: manifest.kind, name, size: summary.fileSize, manifest, existing: false }
}

/**
 * The drive's block size: each chunk read becomes one Hypercore block. With Hyperblobs' 64 KiB,
 * per-block work (a request, a Merkle proof, a storage write) dominated; with 1 MiB, Hypercore's
 * 16 or more requests per peer meant 16 MiB or more in flight per peer, and memory. 512 KiB
 * was the fastest 1→4 of 256 KiB, 512 KiB and 1 MiB (npm run bench:transfer, 512 MiB model).
 */
const BLOCK_BYTES = 512 * 1024

/** Streams the file into the drive once, hashing the bytes as they pass. */
async function writeWeights(
  path: string,
  total: number,
  sink: NodeJS.WritableStream,
  onProgress?: (bytes: number, total: number) => void
): Promise<string> {
  const hash = createHash('sha256')
  let done = 0
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      done += chunk.length
      onProgress?.(done, total)
      cb(null, chunk)
    }
  })
  await pipeline(createReadStream(path, { highWaterMark: BLOCK_BYTES }), tap, sink)
  if (done !== total) throw new GroveError('BAD_INPUT', `${path} changed while it was being shared (${done} of ${total} bytes read)`)
  return hash.digest('hex')
}

function resolveParents(ctx: ShareContext, specs: string[], relation: Relation | undefined, kind: ModelKind): ParentRef[] {
  if (relation !== undefined && !(RELATIONS as readonly string[]).includes(relation)) {
    throw new GroveError('BAD_INPUT', `Unknown relation "${relation}" (one of ${RELATIONS.join(', ')})`)
  }
  const defaultRelation: Relation = relation ?? (kind === 'adapter' ? 'adapter' : specs.length > 1 ? 'merge' : 'finetune')
  return specs.map((spec) => {
    const text = spec.trim()
    if (isLink(text)) {
      const { keyHex } = parseLink(text)
      const known = ctx.library.get(keyHex)?.manifest
      const weights = known?.files.find((f) => f.role === 'weights')
      return { link: text, sha256: weights?.sha256, name: known?.name, relation: defaultRelation }
    }
    const sha = text.replace(/^sha256:/, '').toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new GroveError('BAD_INPUT', `A parent must be a grove:// link or a sha256 hash: "${text.slice(0, 80)}"`)
    return { sha256: sha, name: ctx.library.findBySha256(sha)?.manifest?.name, relation: defaultRelation }
  })
}

async function shareLinkOf(ctx: ShareContext, keyHex: string): Promise<string> {
  return formatLink(keyHex, undefined, [bytesToHex((await swarmKeyPair(ctx.store)).publicKey)])
}

/** Sharing the same unchanged file again, with the same name and parents, gives the same link. */
async function findPreviousShare(
  ctx: ShareContext,
  path: string,
  size: number,
  name: string,
  parents: ParentRef[]
): Promise<ShareResult | undefined> {
  const candidate = ctx.library.list().find((e) => {
    const m = e.manifest
    // A drive whose blocks were dropped (its file was changed or gone) cannot serve them again.
    return e.origin === 'shared' && e.blocksStored && e.path === path && m?.name === name && m.files[0]?.size === size &&
      JSON.stringify(m.parents) === JSON.stringify(parents)
  })
  const manifest = candidate?.manifest
  const weights = manifest?.files[0]
  if (!candidate || !manifest || !weights || (await sha256File(path)) !== weights.sha256) return undefined
  return { link: candidate.link, shareLink: await shareLinkOf(ctx, candidate.keyHex), keyHex: candidate.keyHex, sha256: weights.sha256, kind: manifest.kind, name, size, manifest, existing: true }
}

/** The weights' name inside the drive: the file's own name when it is a plain one. */
function driveFileName(path: string): string {
  const candidate = '/' + basename(path).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '')
  return DriveFilePath.safeParse(candidate).success ? candidate : '/model.gguf'
}

async function readCard(path: string): Promise<ModelCard> {
  try {
    return parseCard(await readFile(path, 'utf8'))
  } catch (err) {
    throw new GroveError('BAD_INPUT', `Cannot read model card ${path}: ${firstLine(err)}`)
  }
}

function buildCard(manifest: Manifest, summary: GgufSummary, card: ModelCard | undefined): string {
  const front = { ...(card?.frontMatter ?? {}) }
  front.license = manifest.license ?? front.license
  const parentNames = manifest.parents.map((p) => p.link ?? `sha256:${p.sha256}`)
  if (parentNames.length > 0) {
    front.base_model = parentNames
    front.base_model_relation = manifest.parents[0]?.relation
  }
  front.tags = [...new Set([...(front.tags ?? []), 'gguf', 'grove', summary.architecture, manifest.kind === 'adapter' ? 'lora' : 'model'])]
  const body = card?.body.trim() ? card.body : defaultCardBody(manifest)
  return formatCard({ frontMatter: front, body })
}

function defaultCardBody(manifest: Manifest): string {
  const lines = [`# ${manifest.name}`, '']
  if (manifest.description) lines.push(manifest.description, '')
  lines.push(`- Kind: ${manifest.kind}`)
  if (manifest.architecture) lines.push(`- Architecture: ${manifest.architecture}`)
  if (manifest.parameterCount) lines.push(`- Parameters: ${manifest.parameterCount}`)
  if (manifest.quantization) lines.push(`- Quantization: ${manifest.quantization}`)
  if (manifest.license) lines.push(`- License: ${manifest.license}`)
  return lines.join('\n') + '\n'
}

function clipBaseModel(b: GgufSummary['baseModels'][number]) {
  return { name: b.name?.slice(0, 200), organization: b.organization?.slice(0, 200), repoUrl: b.repoUrl?.slice(0, 500), version: b.version?.slice(0, 100) }
}

function importError(path: string, err: unknown): GroveError {
  if (err instanceof GroveError) return err
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC') return new GroveError('DISK_FULL', `The disk is full: could not import ${path}`)
  return new GroveError('INTERNAL', `Could not import ${path}: ${firstLine(err)}`, { cause: err })
}
