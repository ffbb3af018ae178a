// Reading a model drive someone else wrote, within bounds. A drive's entries are claims signed
// by its publisher, and a hostile publisher signs whatever it likes: a 1 kB card "in 3 million
// blocks", weights "in 2e8 blocks", blocks past the end of the data. Every claim is checked
// against the others and against fixed caps before anything is allocated or awaited, every
// read has a deadline, and small files are read one block at a time, so a lie costs a refusal,
// never memory or time.
import type Hyperblobs from 'hyperblobs'
import type { BlobId } from 'hyperblobs'
import type Hyperdrive from 'hyperdrive'
import { GroveError } from '../../shared/errors.js'
import { CARD_PATH, MANIFEST_PATH, MAX_CARD_BYTES, MAX_MANIFEST_BYTES, Manifest, describeSchemaIssues, type ManifestFile } from '../../shared/manifest.js'
import { sleep, within } from './abort.js'

/** Hypercore blocks travel as one secret-stream message, whose length is 24 bits. */
const MAX_BLOCK_BYTES = 16 * 1024 * 1024
/** Manifests and cards are written in Hyperblobs' 64 KiB blocks; no writer needs blocks under 16 KiB. */
const MIN_SMALL_FILE_BLOCK_BYTES = 16 * 1024
/** Weights: Grove writes 512 KiB blocks, stock Hyperdrive 64 KiB. Smaller would mean millions of blocks. */
const MIN_WEIGHTS_BLOCK_BYTES = 64 * 1024

/** The drive's blob store; a drive closed (or without one) is an error, not a TypeError later. */
export async function blobsOf(drive: Hyperdrive, link: string): Promise<Hyperblobs> {
  const blobs = (await drive.getBlobs()) as Hyperblobs | null
  if (!blobs) throw new GroveError('NO_PEERS', `${link}: the drive closed before its data could be read; run the same command again`)
  return blobs
}

interface BlobLimits {
  maxBytes: number
  minBlockBytes: number
  /** The size the manifest gives (weights). */
  exactBytes?: number
}

/**
 * A drive entry's blob pointer, checked: whole numbers, no block map (Grove never writes one),
 * a size within the cap (or exactly the manifest's), and a block count that such a size can
 * have: at least one block per 16 MiB, at most one per `minBlockBytes`.
 */
export function checkBlobId(value: unknown, what: string, limits: BlobLimits): BlobId {
  const id = value as Partial<BlobId> & { blockMap?: unknown }
  const fields = [id?.blockOffset, id?.blockLength, id?.byteOffset, id?.byteLength]
  if (!fields.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || id.blockMap) {
    throw new GroveError('BAD_MANIFEST', `${what}: its entry does not point at plain data`)
  }
  const { blockLength, byteLength } = id as BlobId
  if (limits.exactBytes !== undefined && byteLength !== limits.exactBytes) {
    throw new GroveError('BAD_MANIFEST', `${what} is ${byteLength} bytes in the drive but ${limits.exactBytes} in the manifest`)
  }
  if (byteLength > limits.maxBytes) throw new GroveError('BAD_MANIFEST', `${what} is ${byteLength} bytes (at most ${limits.maxBytes} allowed)`)
  const fewest = Math.ceil(byteLength / MAX_BLOCK_BYTES)
  const most = Math.ceil(byteLength / limits.minBlockBytes)
  if (blockLength < fewest || blockLength > most) {
    throw new GroveError('BAD_MANIFEST', `${what}: its entry claims ${blockLength} blocks for ${byteLength} bytes (between ${fewest} and ${most} possible)`)
  }
  return id as BlobId
}

/**
 * Makes sure a blob's blocks lie inside the blob core, learning the core's length from peers
 * by `deadline` when the local copy is shorter.
 */
export async function checkBlobRange(blobs: Hyperblobs, id: BlobId, what: string, deadline: number, signal?: AbortSignal): Promise<void> {
  const end = id.blockOffset + id.blockLength
  while (blobs.core.length < end) {
    if (signal?.aborted || Date.now() >= deadline) {
      throw new GroveError(signal?.aborted ? 'BAD_INPUT' : 'NO_PEERS', signal?.aborted ? 'Cancelled' : `${what}: no peer showed the data it points at (blocks ${id.blockOffset}–${end - 1}; ${blobs.core.length} known)`)
    }
    const length = blobs.core.length
    await within(blobs.core.update({ wait: true }), Math.min(1000, remaining(deadline)), signal)
    if (blobs.core.length !== length) continue
    // A peer that shows the core but not that far: its length is what it is.
    if (blobs.core.peers.length > 0 && blobs.core.length > 0) {
      throw new GroveError('BAD_MANIFEST', `${what}: its entry points at blocks ${id.blockOffset}–${end - 1}, past the end of the drive's data (${blobs.core.length} blocks)`)
    }
    // update() answers at once while no peer is connected: look again a moment later.
    await sleep(Math.min(250, remaining(deadline)), signal)
  }
}

export interface SmallFileOptions {
  link: string
  maxBytes: number
  deadline: number
  signal?: AbortSignal
  /** Only what this store already holds (a library drive at start-up): never waits for a peer. */
  local?: boolean
}

/**
 * Reads a small file (a manifest, a card) of a drive, or null when the drive has none. Blocks
 * are read one at a time and counted against the entry's size, so the read stops at the first
 * block that does not fit.
 */
export async function readSmallFile(drive: Hyperdrive, path: string, opts: SmallFileOptions): Promise<Buffer | null> {
  const what = `${opts.link}'s ${path}`
  const wait = !opts.local
  const entry = await beforeDeadline(drive.entry(path, { wait, timeout: remaining(opts.deadline) }), opts, what).catch((err: unknown) => {
    if (err instanceof GroveError) throw err
    return null
  })
  if (!entry?.value.blob) return null
  const id = checkBlobId(entry.value.blob, what, { maxBytes: opts.maxBytes, minBlockBytes: MIN_SMALL_FILE_BLOCK_BYTES })
  if (id.byteLength === 0) return Buffer.alloc(0)
  const blobs = await blobsOf(drive, opts.link)
  if (!opts.local) await checkBlobRange(blobs, id, what, opts.deadline, opts.signal)
  const chunks: Buffer[] = []
  let size = 0
  for (let i = 0; i < id.blockLength; i++) {
    const block = await beforeDeadline(blobs.core.get(id.blockOffset + i, { wait, timeout: remaining(opts.deadline) }), opts, what).catch((err: unknown) => {
      if (err instanceof GroveError) throw err
      return null
    })
    if (!block) {
      if (opts.local) return null
      throw new GroveError('NO_PEERS', `Could not read ${what} from any peer`)
    }
    size += block.length
    if (size > id.byteLength) throw new GroveError('BAD_MANIFEST', `${what} is longer than its entry says (${id.byteLength} bytes)`)
    chunks.push(block)
  }
  if (size !== id.byteLength) throw new GroveError('BAD_MANIFEST', `${what} is shorter than its entry says (${size} of ${id.byteLength} bytes)`)
  return Buffer.concat(chunks)
}

/**
 * Reads and checks a drive's manifest from whichever connected peers have it, by `deadline`;
 * `noPeers()` makes the error thrown when nobody gave us the drive in time.
 */
export async function readDriveManifest(drive: Hyperdrive, link: string, deadline: number, signal: AbortSignal, noPeers: () => GroveError): Promise<Manifest> {
  while (drive.core.length === 0) {
    if (signal.aborted || Date.now() >= deadline) throw noPeers()
    await within(drive.update({ wait: true }), Math.min(500, remaining(deadline)), signal)
    if (drive.core.length === 0) await sleep(Math.min(250, remaining(deadline)), signal)
  }
  const bytes = await readSmallFile(drive, MANIFEST_PATH, { link, maxBytes: MAX_MANIFEST_BYTES, deadline: Math.max(deadline, Date.now() + 1000), signal })
  if (!bytes) throw new GroveError('BAD_MANIFEST', `${link} is not a Grove model: it has no ${MANIFEST_PATH}`)
  if (bytes.length === 0) throw new GroveError('BAD_MANIFEST', `${link} has an empty manifest`)
  return parseManifest(bytes, link)
}

/**
 * A drive's model card, or null when it has none. A card entry that lies about its size is an
 * error: the publisher signed it.
 */
export async function readDriveCard(drive: Hyperdrive, link: string, deadline: number, opts: { signal?: AbortSignal; local?: boolean } = {}): Promise<string | null> {
  const bytes = await readSmallFile(drive, CARD_PATH, { link, maxBytes: MAX_CARD_BYTES, deadline, signal: opts.signal, local: opts.local })
  return bytes?.toString('utf8') ?? null
}

export function parseManifest(bytes: Buffer | null, link: string): Manifest {
  let json: unknown
  try {
    json = JSON.parse(bytes?.toString('utf8') ?? '')
  } catch {
    throw new GroveError('BAD_MANIFEST', `${link} has a manifest that is not JSON`)
  }
  const parsed = Manifest.safeParse(json)
  if (!parsed.success) {
    const unsafe = parsed.error.issues.some((i) => i.path.includes('path'))
    throw new GroveError(unsafe ? 'UNSAFE_PATH' : 'BAD_MANIFEST', `${link} has an invalid manifest: ${describeSchemaIssues(parsed.error)}`)
  }
  return parsed.data
}

/** The weights' blob: its size exactly the manifest's, a plausible block count, inside the data. */
export async function weightsBlob(drive: Hyperdrive, file: ManifestFile, link: string, deadline: number, signal?: AbortSignal): Promise<BlobId> {
  const what = `${link}'s ${file.path}`
  const entry = await beforeDeadline(drive.entry(file.path, { timeout: remaining(deadline) }), { deadline, signal }, what).catch((err: unknown) => {
    if (err instanceof GroveError) throw err
    return null
  })
  if (!entry?.value.blob) throw new GroveError('BAD_MANIFEST', `The drive has no ${file.path}, which its manifest lists`)
  const id = checkBlobId(entry.value.blob, what, { maxBytes: file.size, exactBytes: file.size, minBlockBytes: MIN_WEIGHTS_BLOCK_BYTES })
  await checkBlobRange(await blobsOf(drive, link), id, what, deadline, signal)
  return id
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now())
}

/** `work`, or a NO_PEERS error once `deadline` passes (or the signal aborts) first. */
async function beforeDeadline<T>(work: Promise<T>, opts: { deadline: number; signal?: AbortSignal }, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort = () => {}
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GroveError('NO_PEERS', `No peer sent ${what} in time`)), remaining(opts.deadline))
    onAbort = () => reject(new GroveError('BAD_INPUT', 'Cancelled'))
    if (opts.signal?.aborted) onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
  }
}
