// Downloads a blob's blocks from every connected peer. Rather than a range download, whose
// blocks land in storage unseen, it keeps a window of `get`s open: Hypercore hands each verified
// block to its waiting `get` straight off the wire, and the block goes into the .gguf at once,
// with no read back out of RocksDB (a copy, and a checksum once flushed) and no second buffer.
// Blocks are asked for in a random order, as BitTorrent picks pieces, so that downloaders
// starting together hold different blocks early and can serve each other. Blocks already stored
// (a resumed fetch) come first, out of storage through the same `get`s, and count as done from
// the start.
import type { BlobId } from 'hyperblobs'
import type Hypercore from 'hypercore'
import { GroveError } from '../../shared/errors.js'
import { firstLine } from './gguf.js'

const MIB = 1024 * 1024

export interface BlockDownloadOptions {
  /** How long to go on without any peer before giving up. */
  timeoutMs: number
  signal?: AbortSignal
  /** Each block, once (verified; from a peer or from storage). */
  onBlock(index: number, block: Buffer): Promise<void>
  onProgress(bytes: number, total: number, peers: number): void
  onTick?(blocks: number, peers: number): void
}

/**
 * Gets open at once. More than every peer can have in flight (see limitRequestsInFlight): a
 * peer with room for more requests than there are blocks left to ask for takes blocks already
 * asked of another peer (Hypercore's "hotswap"), and the same block then comes twice.
 */
const WINDOW = 256
/** Blocks received but not yet in the file; while this many wait, no new gets are opened. */
const MAX_UNWRITTEN = 16
/** Reads of stored blocks open at once (each holds a block until it is written). */
const STORED_WINDOW = 8

export async function downloadBlob(core: Hypercore, blob: BlobId, opts: BlockDownloadOptions): Promise<void> {
  limitRequestsInFlight(core, blob)
  const start = blob.blockOffset
  const count = blob.blockLength
  const total = blob.byteLength
  const bytesPerBlock = total / Math.max(1, count)
  const session = core.session()
  const { order, stored } = await downloadOrder(core, start, count)
  let next = 0
  let finished = 0
  let finishedNew = 0
  let failure: Error | null = null
  const held = () => stored + finishedNew
  const report = () => opts.onProgress(Math.min(total, Math.round(held() * bytesPerBlock)), total, core.peers.length)

  let lastPeerSeen = Date.now()
  let ticks = 0
  const watchdog = setInterval(() => {
    report()
    if (++ticks % 8 === 0) opts.onTick?.(held(), core.peers.length)
    if (core.peers.length > 0) lastPeerSeen = Date.now()
    else if (Date.now() - lastPeerSeen > opts.timeoutMs) {
      fail(new GroveError('NO_PEERS', `Every peer serving this model left; ${Math.round(held() * bytesPerBlock)} of ${total} bytes are saved. Run the same command again to resume.`))
    }
    if (opts.signal?.aborted) fail(new GroveError('BAD_INPUT', 'Fetch cancelled; run the same command again to resume'))
  }, 250)

  let settle: (err?: Error) => void = () => {}
  const allDone = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve())
  })
  function fail(err: Error): void {
    if (failure) return
    failure = err
    void session.close().catch(() => {})
    settle(err)
  }
  let active = 0
  let unwritten = 0
  const launch = (): void => {
    while (active < (next < stored ? STORED_WINDOW : WINDOW) && unwritten < MAX_UNWRITTEN && next < count && !failure) {
      const position = next++
      const index = start + order[position]!
      active++
      session
        .get(index)
        .then(async (block) => {
          if (!block) throw new Error(`block ${index} is missing`)
          unwritten++
          try {
            await opts.onBlock(index, block)
          } finally {
            unwritten--
          }
        })
        .then(
          () => {
            active--
            if (position >= stored) finishedNew++
            if (++finished === count) settle()
            else launch()
          },
          (err: unknown) => fail(failure ?? new GroveError('NO_PEERS', `Download failed: ${firstLine(err)}`))
        )
    }
  }
  report()
  if (count === 0) settle()
  launch()
  try {
    await allDone
  } finally {
    clearInterval(watchdog)
    await session.close().catch(() => {})
  }
  report()
}

/**
 * Block positions 0 … count-1 to ask for: the `stored` ones the core already has first, in
 * order, then the others in a random order (Fisher–Yates).
 */
async function downloadOrder(core: Hypercore, start: number, count: number): Promise<{ order: Uint32Array; stored: number }> {
  const order = new Uint32Array(count)
  let stored = 0
  let missing = count
  const CHUNK = 1024
  for (let from = 0; from < count; from += CHUNK) {
    const to = Math.min(count, from + CHUNK)
    const all = await core.has(start + from, start + to)
    for (let i = from; i < to; i++) {
      if (all || (await core.has(start + i))) order[stored++] = i
      else order[--missing] = i
    }
  }
  for (let i = count - 1; i > stored; i--) {
    const j = stored + Math.floor(Math.random() * (i - stored + 1))
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  return { order, stored }
}

/**
 * Hypercore keeps up to 48 requests in flight per TCP peer (16 to 512 on UDX, by round trip),
 * sized for 64 KiB blocks; with 1 MiB blocks that was 48 MiB per peer, and a downloader serving
 * three others while fetching held 460–535 MB. Aim for ~4 MiB in flight per TCP peer whatever
 * the block size, but never below 16 requests for a full peer: below that Hypercore starts
 * asking it for blocks already in flight elsewhere ("hotswap"). There is no public API for
 * this: the replicator's own setter is used when present.
 */
function limitRequestsInFlight(core: Hypercore, blob: BlobId): void {
  const replicator = (core as unknown as { core?: { replicator?: { setInflightRange?(min: number, max: number): void } } }).core?.replicator
  const blockBytes = Math.max(1, blob.byteLength / Math.max(1, blob.blockLength))
  const perPeer = Math.max(16, Math.round((4 * MIB) / blockBytes))
  // Over TCP a peer gets min(max, 3 × min) requests; over UDX min, scaled up by round trip to max.
  replicator?.setInflightRange?.(Math.max(6, Math.ceil(perPeer / 3)), Math.min(512, perPeer))
}
