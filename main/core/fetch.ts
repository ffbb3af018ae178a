// `grove fetch`: find the seeders of a model drive, read its manifest first, download the
// weights' blocks from every connected seeder at once (Hypercore verifies each block against
// the publisher's signed tree) straight into the .gguf being built, check the file's sha256
// against the manifest, and seed it from there. Blocks persist as they arrive, so running the
// same fetch again resumes.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type Hypercore from 'hypercore'
import type Hyperdrive from 'hyperdrive'
import type { BlobId } from 'hyperblobs'
import { GroveError, firstLine } from '../../shared/errors.js'
import { formatLink, parseLink } from '../../shared/link.js'
import { weightsFile, type Manifest, type ManifestFile } from '../../shared/manifest.js'
import { childSignal } from './abort.js'
import { sha256File } from './sha256.js'
import type { HomeLayout } from './home.js'
import type { ModelDrives } from './model-drives.js'
import type { Seeding } from './seeding.js'
import type { SwarmNetwork } from './swarm.js'
import { downloadBlob } from './block-download.js'
import { DiskFullError, allocatedBytes, filesystemOf, freeBytes, isDiskFull, storeHeadroom } from './disk-space.js'
import { bytesText } from '../../shared/units.js'
import { BlockFile, forgetFileBlocks, isValidLayout, openDownloadFile, type BlockLayout } from './file-blocks.js'
import { blobsOf, readDriveCard, readDriveManifest, weightsBlob } from './remote-drive.js'
import { cardFactsOf, type BlockFileRecord, type Library } from './library.js'

export const DEFAULT_FETCH_TIMEOUT_MS = 60_000

export type FetchEvent =
  | { event: 'manifest'; name: string; kind: string; size: number; license?: string; sha256: string }
  | { event: 'progress'; bytes: number; total: number; peers: number }
  | { event: 'verifying'; bytes: number; total: number }

/** What a fetch works with (a Grove on the network is one). */
export interface FetchContext {
  home: HomeLayout
  library: Library
  drives: ModelDrives
  seeding: Seeding
  swarm: SwarmNetwork
}

export interface FetchOptions {
  /** How long to wait for a peer (first, or again after all peers left). */
  timeoutMs?: number
  /** Export the .gguf here instead of the library's models folder. */
  outDir?: string
  /** Keep seeding the model afterwards (default true). */
  seed?: boolean
  onEvent?: (event: FetchEvent) => void
  /**
   * Called with the checked manifest before anything is recorded or any weights are asked for;
   * throwing refuses the model there (a licence not accepted, say).
   */
  beforeWeights?: (manifest: Manifest) => void
  signal?: AbortSignal
}

export interface FetchResult {
  link: string
  keyHex: string
  path: string
  sha256: string
  size: number
  manifest: Manifest
  /** The library already had the complete, verified file. */
  alreadyHad: boolean
}

export async function fetchModel(ctx: FetchContext, linkText: string, opts: FetchOptions): Promise<FetchResult> {
  const { keyHex } = parseLink(linkText)
  let progressBytes = 0
  const onEvent = (event: FetchEvent) => {
    if (event.event === 'progress') progressBytes = event.bytes
    opts.onEvent?.(event)
  }
  // A signal of its own, tied to the caller's: one fetch waits on it several times at once, and
  // many fetches may share the caller's (`grove seed LINK...`).
  const own = childSignal(opts.signal)
  try {
    return await fetchOnce(ctx, linkText, { ...opts, onEvent, signal: own.signal })
  } catch (err) {
    // A full disk anywhere (the partial file, its fsync, the store, the library index, the
    // export) ends as the same one line.
    if (err instanceof DiskFullError || !isDiskFull(err)) throw err
    throw await diskFullDuringFetch(ctx, keyHex, opts, progressBytes, err)
  } finally {
    own.dispose()
  }
}

async function fetchOnce(ctx: FetchContext, linkText: string, opts: FetchOptions): Promise<FetchResult> {
  const { keyHex, seeders = [] } = parseLink(linkText)
  const link = formatLink(keyHex)
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
  const have = await alreadyFetched(ctx, keyHex, opts.outDir)
  if (have) return have
  // The seeders the link names are dialled for as long as the download runs.
  const releaseSeeders = ctx.swarm.joinPeers(seeders)
  try {
    return await download(ctx, keyHex, link, timeoutMs, opts)
  } finally {
    releaseSeeders()
  }
}

async function download(ctx: FetchContext, keyHex: string, link: string, timeoutMs: number, opts: FetchOptions): Promise<FetchResult> {
  const drive = await ctx.seeding.seed(keyHex, { lookup: true })
  // Everything before the weights (manifest, card, the weights' entry, their first block) by one deadline.
  const deadline = Date.now() + timeoutMs
  let manifest: Manifest
  let card: string | null
  let blob: BlobId
  try {
    manifest = await readRemoteManifest(ctx, drive, link, deadline, opts.signal)
    // The card is read (and its entry checked) now: a drive whose card lies is refused before any
    // weights come. Both at once: each is a round trip or two to the peers.
    ;[card, blob] = await Promise.all([readDriveCard(drive, link, deadline, { signal: opts.signal }), weightsBlob(drive, weightsFile(manifest), link, deadline, opts.signal)])
    opts.beforeWeights?.(manifest)
  } catch (err) {
    // Nothing worth keeping yet: forget the link rather than look it up forever.
    if (!ctx.library.get(keyHex)) await ctx.seeding.stop(keyHex)
    throw err
  }
  const file = weightsFile(manifest)
  opts.onEvent?.({ event: 'manifest', name: manifest.name, kind: manifest.kind, size: file.size, license: manifest.license, sha256: file.sha256 })
  // Recorded before the weights come, so an interrupted fetch resumes (and seeds what it has).
  const known = ctx.library.get(keyHex)
  await ctx.library.put({
    keyHex,
    link,
    origin: 'fetched',
    manifest,
    complete: false,
    seeding: opts.seed ?? known?.seeding ?? true,
    blocksStored: true,
    addedAt: known?.addedAt ?? new Date().toISOString(),
    cardFacts: cardFactsOf(card)
  })

  const finalPath = exportPath(ctx, keyHex, file, opts)
  const keepExisting = await existingExport(finalPath, file)
  await checkFreeSpace(ctx, keyHex, file, finalPath, keepExisting)
  const blobs = await blobsOf(drive, link)
  let blockFile = await prepareBlockFile(ctx, keyHex, drive, blobs.core, blob, keepExisting ? finalPath : null, Math.max(deadline, Date.now() + 5000) - Date.now())
  const download = () =>
    downloadBlob(blobs.core, blob, {
      timeoutMs,
      signal: opts.signal,
      failure: () => blockFile?.failure ?? null,
      onStalledPeer: (peer) => ctx.swarm.dropPeer(peer, 'sent no block it was asked for'),
      onProgress: (bytes, total, peers) => opts.onEvent?.({ event: 'progress', bytes, total, peers }),
      onTick: (blocks, peers) => trace(`downloading ${blocks}/${blob.blockLength} blocks, ${peers} peers`)
    })
  trace('download start')
  await download()
  if (blockFile?.misfit) {
    // Not even blocks after all (not a drive `grove share` wrote): the blocks that fitted are
    // only in the file, the others only in the store. Start again with all of them in the store.
    trace('uneven blocks; downloading into the store instead')
    await forgetBlockFile(ctx, keyHex, drive, blobs.core, blockFile)
    blockFile = null
    await download()
  }
  trace('download done')
  const done = await finishFile(ctx, drive, keyHex, file, blockFile, keepExisting, finalPath, opts)
  trace('export done')
  await ctx.library.update(keyHex, { path: finalPath, complete: true, blockFile: done })
  return { link, keyHex, path: finalPath, sha256: file.sha256, size: file.size, manifest, alreadyHad: false }
}

/**
 * Keeps the weights' blocks in a file rather than in the store (see file-blocks.ts): the fetch's
 * partial file, written as blocks are verified, or, when the very file is already where the
 * fetch would put it, that file (which holds them already). The blob's first block, kept in the
 * store, gives the block size. Null (blocks stay in the store) for a blob of one block, or one
 * whose first block cannot start an even layout.
 */
async function prepareBlockFile(
  ctx: FetchContext,
  keyHex: string,
  drive: Hyperdrive,
  core: Hypercore,
  blob: BlobId,
  existingFile: string | null,
  timeoutMs: number
): Promise<BlockFile | null> {
  const path = existingFile ?? ctx.drives.partialPath(keyHex)
  const attached = ctx.drives.blockFileOf(keyHex)
  if (attached && attached.path !== path) await forgetBlockFile(ctx, keyHex, drive, core, attached)
  if (blob.blockLength < 2) return null
  const firstBlock = await core.get(blob.blockOffset, { timeout: timeoutMs }).catch(() => null)
  if (!firstBlock) throw new GroveError('NO_PEERS', `No peer sent the first block of the weights in ${Math.round(timeoutMs / 1000)} s; run the same command again to retry`)
  const layout = { path, blockOffset: blob.blockOffset, blockLength: blob.blockLength, byteLength: blob.byteLength, blockBytes: firstBlock.length, first: blob.blockOffset + 1 }
  if (!isValidLayout(layout)) return null
  if (attached?.path === path && sameLayout(attached.layout, layout)) {
    attached.failure = null // an earlier attempt's (a full disk, since freed)
    if (attached.mode === 'download') await attached.write(blob.blockOffset, firstBlock)
    return attached
  }
  // Recorded first: after a crash the blocks marked as held are looked for in this file.
  await ctx.library.update(keyHex, { blockFile: layout })
  let file: BlockFile
  if (existingFile) file = await BlockFile.openSource(existingFile, layout)
  else {
    file = await openDownloadFile(core, path, layout)
    await file.write(blob.blockOffset, firstBlock)
  }
  await ctx.drives.useBlockFile(keyHex, drive, file)
  return file
}

function sameLayout(a: BlockLayout, b: BlockLayout): boolean {
  return a.blockOffset === b.blockOffset && a.blockLength === b.blockLength && a.byteLength === b.byteLength && a.blockBytes === b.blockBytes && a.first === b.first
}

/** The blocks held only in `file` are forgotten (cleared from the bitfield), then the file. */
async function forgetBlockFile(ctx: FetchContext, keyHex: string, drive: Hyperdrive, core: Hypercore, file: BlockFile): Promise<void> {
  await forgetFileBlocks(core, file.layout)
  await ctx.drives.dropBlockFile(keyHex, drive)
  await ctx.library.update(keyHex, { blockFile: undefined })
  if (file.mode === 'download') await rm(file.path, { force: true })
}

async function alreadyFetched(ctx: FetchContext, keyHex: string, outDir?: string): Promise<FetchResult | undefined> {
  const entry = ctx.library.get(keyHex)
  const manifest = entry?.manifest
  if (!entry?.complete || !entry.path || !manifest) return undefined
  if (outDir && dirname(entry.path) !== resolve(outDir)) return undefined
  const file = weightsFile(manifest)
  const onDisk = await stat(entry.path).catch(() => null)
  if (onDisk?.size !== file.size) return undefined
  return { link: entry.link, keyHex, path: entry.path, sha256: file.sha256, size: file.size, manifest, alreadyHad: true }
}

/** Waits (until `deadline`) for a peer to give us the drive, then reads and checks its manifest. */
async function readRemoteManifest(ctx: FetchContext, drive: Hyperdrive, link: string, deadline: number, signal?: AbortSignal): Promise<Manifest> {
  const timeoutMs = deadline - Date.now()
  const stop = childSignal(signal)
  const done = drive.findingPeers()
  ctx.swarm.flush().then(done, done)
  void ctx.swarm.refreshUntil(drive.discoveryKey, () => drive.core.peers.length > 0 || drive.core.length > 0, stop.signal)
  try {
    return await readDriveManifest(drive, link, deadline, stop.signal, () =>
      signal?.aborted
        ? new GroveError('BAD_INPUT', 'Fetch cancelled')
        : new GroveError('NO_PEERS', `No peer serves ${link} (waited ${Math.round(timeoutMs / 1000)} s). Check the link, and that a seeder is online on the same network or bootstrap.`)
    )
  } finally {
    stop.dispose()
    stop.abort()
  }
}

/** Refuses a fetch the disk cannot hold before anything is downloaded, counting what a resumed fetch has already written. */
async function checkFreeSpace(ctx: FetchContext, keyHex: string, file: ManifestFile, finalPath: string, keepExisting: boolean): Promise<void> {
  const short = await spaceShortfall(await spaceDemands(ctx, keyHex, file, finalPath, keepExisting))
  if (short) throw new DiskFullError(short.bytes, short.dir, keptText(savedBytes(ctx, keyHex, 0), file.size))
}

/** Bytes a fetch still has to write into one folder's filesystem. */
interface SpaceDemand {
  dir: string
  bytes: number
}

/**
 * What the fetch still writes, and where: in the home, the rest of the partial file (it is
 * sparse: what is written is what it holds) and the store's metadata; in --out, when that is
 * another filesystem, the whole copy (a leftover of an interrupted one is replaced).
 */
async function spaceDemands(ctx: FetchContext, keyHex: string, file: ManifestFile, finalPath: string, keepExisting: boolean): Promise<SpaceDemand[]> {
  const home = { dir: ctx.home.root, bytes: storeHeadroom(file.size) }
  if (keepExisting) return [home]
  home.bytes += file.size - Math.min(file.size, await allocatedBytes(ctx.drives.partialPath(keyHex)))
  const finalDir = dirname(finalPath)
  if ((await filesystemOf(finalDir)) === (await filesystemOf(ctx.home.tmpDir))) return [home]
  return [home, { dir: finalDir, bytes: file.size - Math.min(file.size, await allocatedBytes(exportTempPath(finalPath))) }]
}

/** The first folder whose filesystem has less free space than the fetch needs there, and how much more it needs. */
async function spaceShortfall(demands: SpaceDemand[]): Promise<SpaceDemand | null> {
  for (const demand of demands) {
    const free = await freeBytes(demand.dir)
    if (free < demand.bytes) return { dir: demand.dir, bytes: demand.bytes - free }
  }
  return null
}

/** Bytes of the weights held so far: counted in the partial file's bitfield, else as last reported. */
function savedBytes(ctx: FetchContext, keyHex: string, lastReported: number): number {
  const file = ctx.drives.blockFileOf(keyHex)
  return file?.mode === 'download' ? file.heldBytes() : lastReported
}

function keptText(saved: number, total: number): string {
  const what = saved >= total ? `all ${bytesText(total)} are` : saved > 0 ? `${bytesText(saved)} of ${bytesText(total)} are` : 'nothing is'
  return `${what} saved; free some space and run the same command again to resume`
}

/** The one-line error for a full disk met anywhere in a fetch: where, how much more, and what is kept. */
async function diskFullDuringFetch(ctx: FetchContext, keyHex: string, opts: FetchOptions, lastReported: number, cause: unknown): Promise<DiskFullError> {
  const manifest = ctx.library.get(keyHex)?.manifest
  const file = manifest ? weightsFile(manifest) : null
  let short: SpaceDemand | null = null
  let saved = 0
  try {
    if (file) {
      const finalPath = exportPath(ctx, keyHex, file, opts)
      const exported = (await stat(finalPath).catch(() => null))?.size === file.size
      short = await spaceShortfall(await spaceDemands(ctx, keyHex, file, finalPath, exported))
      saved = exported ? file.size : savedBytes(ctx, keyHex, lastReported)
    } else {
      short = await spaceShortfall([{ dir: ctx.home.root, bytes: storeHeadroom(0) }])
    }
  } catch {
    // Sizing the message must not hide the full disk.
  }
  const kept = keptText(saved, file?.size ?? 1)
  if (short) return new DiskFullError(short.bytes, short.dir, kept, { cause })
  // There is room again (freed meanwhile; or the store, which stops writing when the disk fills,
  // has not noticed yet: it does within seconds).
  return new DiskFullError(storeHeadroom(file?.size ?? 0), ctx.home.root, `${kept} (there is room again now: wait a few seconds first)`, { cause })
}

/** Where the fetched .gguf goes: --out, or the library's models folder. */
function exportPath(ctx: FetchContext, keyHex: string, file: ManifestFile, opts: FetchOptions): string {
  const targetDir = opts.outDir ? resolve(opts.outDir) : join(ctx.home.modelsDir, keyHex.slice(0, 16))
  return safeJoin(targetDir, file.path)
}

/** True when `path` already is this very file; an error when it is another one. */
async function existingExport(path: string, file: ManifestFile): Promise<boolean> {
  const existing = await stat(path).catch(() => null)
  if (!existing) return false
  if (existing.size === file.size && (await sha256File(path)) === file.sha256) return true
  throw new GroveError('BAD_INPUT', `${path} already exists and is a different file; choose another --out`)
}

/**
 * Makes the verified .gguf appear under its final name: the partial file the blocks were written
 * into (or, with no block file, a file written out of the store) is checked against the
 * manifest's sha256 and renamed; then the blocks are served out of the final file, read only.
 * Returns where the blocks now live, if in a file.
 */
async function finishFile(
  ctx: FetchContext,
  drive: Hyperdrive,
  keyHex: string,
  file: ManifestFile,
  blockFile: BlockFile | null,
  keepExisting: boolean,
  finalPath: string,
  opts: FetchOptions
): Promise<BlockFileRecord | undefined> {
  if (keepExisting) return blockFile ? { ...blockFile.layout, path: finalPath, mtimeMs: (await stat(finalPath)).mtimeMs } : undefined
  const partial = ctx.drives.partialPath(keyHex)
  const progress = (bytes: number) => opts.onEvent?.({ event: 'verifying', bytes, total: file.size })
  let sha256: string
  if (blockFile) {
    // Flushing the partial to disk and reading it back through the page cache to hash it
    // overlap: one is the disk's work, the other the CPU's.
    const [, digest] = await Promise.all([blockFile.sync(), sha256File(partial, throttle(progress))])
    sha256 = digest
  } else {
    sha256 = await exportFromDrive(drive, file, partial, finalPath, progress)
  }
  if (sha256 !== file.sha256) {
    await ctx.seeding.stop(keyHex)
    await drive.clear(file.path).catch(() => {})
    await ctx.drives.dropBlockFile(keyHex, drive)
    await rm(partial, { force: true })
    await ctx.library.remove(keyHex)
    throw new GroveError('HASH_MISMATCH', `The downloaded weights do not match the manifest (sha256 ${sha256.slice(0, 16)}… ≠ ${file.sha256.slice(0, 16)}…); the data was discarded`)
  }
  progress(file.size)
  await mkdir(dirname(finalPath), { recursive: true })
  await moveIntoPlace(partial, finalPath)
  if (!blockFile) return undefined
  const layout = { ...blockFile.layout, path: finalPath, mtimeMs: (await stat(finalPath)).mtimeMs }
  await ctx.drives.useBlockFile(keyHex, drive, await BlockFile.openSource(finalPath, layout))
  return layout
}

/**
 * Renames the verified partial file to its final name. Onto another filesystem (--out), it is
 * copied to a temporary name beside the final one, flushed, and renamed: a full disk or a crash
 * never leaves a truncated file under the final name, and the partial stays until the copy is whole.
 */
async function moveIntoPlace(partial: string, finalPath: string): Promise<void> {
  try {
    await rename(partial, finalPath)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
  }
  const temp = exportTempPath(finalPath)
  try {
    await copyFile(partial, temp)
    await fsyncFile(temp)
    await rename(temp, finalPath)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  await rm(partial, { force: true })
}

/** Where an export onto another filesystem is copied before it is renamed into place. */
function exportTempPath(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.grove-partial`)
}

/** Writes the weights out of the drive into `partial`, returning their sha256. */
async function exportFromDrive(drive: Hyperdrive, file: ManifestFile, partial: string, finalPath: string, progress: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256')
  let done = 0
  const report = throttle(progress)
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      done += chunk.length
      report(done)
      cb(null, chunk)
    }
  })
  try {
    await pipeline(drive.createReadStream(file.path, { wait: false }), tap, createWriteStream(partial))
    await fsyncFile(partial)
  } catch (err) {
    await rm(partial, { force: true })
    if (isDiskFull(err)) throw err
    throw new GroveError('INTERNAL', `Could not write ${finalPath}: ${firstLine(err)}`, { cause: err })
  }
  return done === file.size ? hash.digest('hex') : `short:${done}`
}

/** Calls `report` at most every 16 MB of progress. */
function throttle(report: (bytes: number) => void): (bytes: number) => void {
  let last = -Infinity
  return (bytes) => {
    if (bytes - last < 16 * 1024 * 1024) return
    last = bytes
    report(bytes)
  }
}

/** Joins a manifest path (already schema-checked) under `dir`, refusing anything that escapes. */
export function safeJoin(dir: string, drivePath: string): string {
  const name = basename(drivePath)
  const full = resolve(dir, name)
  if (dirname(full) !== resolve(dir) || name !== drivePath.replace(/^\//, '')) {
    throw new GroveError('UNSAFE_PATH', `Refusing the path "${drivePath.slice(0, 80)}" from a drive`)
  }
  return full
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export interface RemoteModelInfo {
  link: string
  keyHex: string
  manifest: Manifest
  card: string | null
  peers: number
}

/** Reads a model's manifest and card from the swarm without downloading its weights. */
export async function describeRemote(ctx: FetchContext, linkText: string, timeoutMs: number, signal?: AbortSignal): Promise<RemoteModelInfo> {
  const { keyHex, seeders = [] } = parseLink(linkText)
  const link = formatLink(keyHex)
  const drive = await ctx.drives.open(keyHex)
  ctx.swarm.join(drive.discoveryKey, { server: false, client: true })
  const releaseSeeders = ctx.swarm.joinPeers(seeders)
  try {
    // One deadline for the whole look: --timeout holds end to end.
    const deadline = Date.now() + timeoutMs
    const manifest = await readRemoteManifest(ctx, drive, link, deadline, signal)
    const card = await readDriveCard(drive, link, Math.max(deadline, Date.now() + 1000), { signal })
    // What a fetch would refuse, a look says too: the weights' entry must hold up.
    await weightsBlob(drive, weightsFile(manifest), link, Math.max(deadline, Date.now() + 1000), signal)
    return { link, keyHex, manifest, card, peers: drive.core.peers.length }
  } finally {
    releaseSeeders()
  }
}

function trace(what: string): void {
  if (!process.env.GROVE_TRACE) return
  const m = process.memoryUsage()
  const mb = (n: number) => Math.round(n / 1e6)
  process.stderr.write(`[trace] ${Date.now()} ${what} rss=${mb(m.rss)} heap=${mb(m.heapUsed)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)} MB\n`)
}
