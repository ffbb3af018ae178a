// Downloads a blob's blocks from every connected peer, keeping a window of `get`s open (each
// block is verified, then stored: in the model's file when it has one, see file-blocks.ts).
// Blocks are asked for in a random order, as BitTorrent picks pieces, so that downloaders
// starting together hold different blocks early and can serve each other. Blocks already held
// (a resumed fetch) count as done from the start.
import type { BlobId } from 'hyperblobs'
import type Hypercore from 'hypercore'
import { GroveError, firstLine } from '../../shared/errors.js'
import { isDiskFull } from './disk-space.js'

const MIB = 1024 * 1024

export interface BlockDownloadOptions {
  /** How long to go on without any peer, or without a block from the peers there are. */
  timeoutMs: number
  signal?: AbortSignal
  /** A storage failure (a full disk, say) that should stop the download. */
  failure?(): Error | null
  /**
   * A peer was asked for blocks and sent none for a while, though others may have them: it is
   * dropped (the callback disconnects it) and its requests go to the others.
   */
  onStalledPeer?(remotePublicKey: Uint8Array): void
  onProgress(bytes: number, total: number, peers: number): void
  onTick?(blocks: number, peers: number): void
}

/**
 * Gets open at once. More than every peer can have in flight (see limitRequestsInFlight): a
 * peer with room for more requests than there are blocks left to ask for takes blocks already
 * asked of another peer (Hypercore's "hotswap"), and the same block then comes twice.
 */
const WINDOW = 256

export async function downloadBlob(core: Hypercore, blob: BlobId, opts: BlockDownloadOptions): Promise<void> {
  limitRequestsInFlight(core, blob)
  resumePausedPeers(core)
  const start = blob.blockOffset
  const count = blob.blockLength
  const total = blob.byteLength
  const bytesPerBlock = total / Math.max(1, count)
  const session = core.session()
  const { order, stored } = await downloadOrder(core, start, count)
  let next = stored
  let finished = stored
  let failure: Error | null = null
  const savedBytes = () => Math.min(total, Math.round(finished * bytesPerBlock))
  const report = () => opts.onProgress(savedBytes(), total, core.peers.length)

  const stalls = watchStalls(core, stallMsFor(opts.timeoutMs), (peer) => opts.onStalledPeer?.(peer))
  let lastPeerSeen = Date.now()
  let lastProgress = { at: Date.now(), blocks: finished }
  let ticks = 0
  const watchdog = setInterval(() => {
    report()
    stalls.check()
    const now = Date.now()
    if (++ticks % 8 === 0) opts.onTick?.(finished, core.peers.length)
    if (finished !== lastProgress.blocks) lastProgress = { at: now, blocks: finished }
    const saved = `${savedBytes()} of ${total} bytes are saved. Run the same command again to resume.`
    if (core.peers.length > 0) lastPeerSeen = now
    else if (now - lastPeerSeen > opts.timeoutMs) fail(new GroveError('NO_PEERS', `Every peer serving this model left; ${saved}`))
    if (core.peers.length > 0 && now - lastProgress.at > opts.timeoutMs) {
      fail(new GroveError('NO_PEERS', `Stalled: ${core.peers.length} peer(s) connected, but none sent a block for ${Math.round(opts.timeoutMs / 1000)} s (they may not have the rest); ${saved}`))
    }
    if (opts.signal?.aborted) fail(new GroveError('BAD_INPUT', 'Fetch cancelled; run the same command again to resume'))
    const storageFailure = opts.failure?.()
    if (storageFailure) fail(writeError(storageFailure, savedBytes(), total))
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
  // The store's own writes (the tree, the bitfield; the blocks of a drive kept in the store) fail
  // inside Hypercore's verify, which reports them as a verification error and stops asking that
  // peer: without this the fetch would wait for the stall timeout and call the peers silent.
  session.on('verification-error', (err: unknown) => {
    if (isDiskFull(err)) fail(writeError(err, savedBytes(), total))
  })
  let active = 0
  const launch = (): void => {
    while (active < WINDOW && next < count && !failure) {
      const index = start + order[next++]!
      active++
      session
        .get(index)
        .then((block) => {
          if (!block) throw new Error(`block ${index} is missing`)
        })
        .then(
          () => {
            active--
            if (++finished === count) settle()
            else launch()
          },
          (err: unknown) => fail(failure ?? new GroveError('NO_PEERS', `Download failed: ${firstLine(err)}`))
        )
    }
  }
  report()
  if (finished === count) settle()
  launch()
  try {
    await allDone
  } finally {
    clearInterval(watchdog)
    stalls.stop()
    await session.close().catch(() => {})
  }
  report()
}

/** How long a peer may keep requests without sending a block: a slow link sends one every few seconds. */
function stallMsFor(timeoutMs: number): number {
  return Math.max(5000, Math.min(15_000, timeoutMs / 2))
}

interface StallPeer {
  inflight?: number
  remotePublicKey?: Uint8Array
  removed?: boolean
}

/**
 * Watches which peers deliver: a peer with requests in flight that sent no block for `stallMs`,
 * while another peer is connected, is reported once. (A lone peer that stalls is the download's
 * own stall timeout.)
 */
export function watchStalls(core: Hypercore, stallMs: number, onStall: (remotePublicKey: Uint8Array) => void, clock = Date.now): { check(): void; stop(): void } {
  const lastBlock = new Map<StallPeer, number>()
  const reported = new WeakSet<StallPeer>()
  const onDownload = (_index: number, _bytes: number, from: StallPeer) => lastBlock.set(from, clock())
  core.on('download', onDownload)
  return {
    check() {
      const peers = (replicatorOf(core)?.peers ?? []) as StallPeer[]
      const now = clock()
      for (const peer of peers) {
        if (!peer.inflight) {
          lastBlock.delete(peer)
          continue
        }
        // From the first moment it holds requests.
        if (!lastBlock.has(peer)) lastBlock.set(peer, now)
        if (now - lastBlock.get(peer)! < stallMs || peers.length < 2 || reported.has(peer) || !peer.remotePublicKey) continue
        reported.add(peer)
        onStall(peer.remotePublicKey)
      }
    },
    stop() {
      core.off('download', onDownload)
    }
  }
}

/**
 * Block positions 0 … count-1: the `stored` ones the core already has first, in order, then
 * the others, to ask for, in a random order (Fisher–Yates).
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

/** A failed write of the download's blocks or metadata; fetch.ts turns a full disk into its one line. */
function writeError(err: unknown, held: number, total: number): GroveError {
  const saved = `${held} of ${total} bytes are saved; free some space and run the same command again to resume`
  if (isDiskFull(err)) return new GroveError('DISK_FULL', `disk full: ${saved}`, { cause: err })
  return new GroveError('INTERNAL', `Could not store the download: ${firstLine(err)}. ${saved}`, { cause: err })
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
  const replicator = replicatorOf(core)
  const blockBytes = Math.max(1, blob.byteLength / Math.max(1, blob.blockLength))
  const perPeer = Math.max(16, Math.round((4 * MIB) / blockBytes))
  // Over TCP a peer gets min(max, 3 × min) requests; over UDX min, scaled up by round trip to max.
  replicator?.setInflightRange?.(Math.max(6, Math.ceil(perPeer / 3)), Math.min(512, perPeer))
}

interface Replicator {
  peers?: Array<{ paused?: boolean }>
  setInflightRange?(min: number, max: number): void
  updateAll?(): void
}

function replicatorOf(core: Hypercore): Replicator | undefined {
  return (core as unknown as { core?: { replicator?: Replicator } }).core?.replicator
}

/**
 * Hypercore stops asking a peer for more once a block from it could not be stored (a full disk)
 * and never starts again on that connection. A fetch started again, space freed, asks again.
 */
function resumePausedPeers(core: Hypercore): void {
  const replicator = replicatorOf(core)
  let resumed = 0
  for (const peer of replicator?.peers ?? []) {
    if (!peer.paused) continue
    peer.paused = false
    resumed++
  }
  if (resumed > 0) replicator?.updateAll?.()
}
