// Which model drives this peer announces to the swarm: a drive seeded is joined on its
// discovery key as a server (and as a client while it is incomplete, to find other seeders).
//
// Announcing a model costs the DHT ~80 packets every 10 minutes (a lookup and an announce to the
// 20 closest nodes; the records lapse after 13–27 min), whoever asks for it. For a lab's thousand
// models that was 150 packets a second, 1.2 % of a core and most of its memory, to be found by
// peers that mostly never come. So a home announces its `announceLimit` most recent models (new
// shares and fetches first) one by one; the rest it serves to peers that dial the home itself:
// the links it prints name it as a seeder (`?seeder=`, see shared/link.ts), and its swarm server
// is announced under its own key. Downloads in progress are always announced: they look for
// peers too.
import type Hyperdrive from 'hyperdrive'
import Hypercore from 'hypercore'
import pLimit from 'p-limit'
import { GroveError } from '../../shared/errors.js'
import { hexToBytes } from '../../shared/link.js'
import type { Library, LibraryEntry } from './library.js'
import type { ModelDrives } from './model-drives.js'
import type { SwarmNetwork } from './swarm.js'

/** Drives opened at once by seedLibrary. */
const SEED_OPEN_CONCURRENCY = 16
/** Complete models announced one by one on the DHT (see above). */
export const DEFAULT_ANNOUNCE_LIMIT = 100

function discoveryKeyOf(keyHex: string): Buffer {
  return Hypercore.discoveryKey(Buffer.from(hexToBytes(keyHex)))
}

export class Seeding {
  private readonly seeded = new Set<string>()
  /** Models joined on their own topic, oldest first; `true` for one that also looks for peers. */
  private readonly announced = new Map<string, boolean>()

  constructor(
    private readonly drives: ModelDrives,
    private readonly library: Library,
    /** Null for a Grove opened without the network: nothing can be announced. */
    private readonly swarm: SwarmNetwork | null
  ) {}

  /** Complete models announced one by one at most (the newest); takes effect from the next seedLibrary or seed. */
  announceLimit = DEFAULT_ANNOUNCE_LIMIT

  /** Announces a drive so peers can fetch it from us (and, with `lookup`, finds other seeders). */
  async seed(keyHex: string, opts: { lookup: boolean }): Promise<Hyperdrive> {
    const drive = opts.lookup ? await this.drives.open(keyHex) : await this.drives.openToServe(keyHex)
    await this.announce(keyHex, opts)
    return drive
  }

  private async announce(keyHex: string, opts: { lookup: boolean }): Promise<void> {
    if (!this.swarm) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    this.seeded.add(keyHex)
    const lookup = opts.lookup || this.announced.get(keyHex) === true
    // Joined again (or for the first time): now the most recent.
    const wasAnnounced = this.announced.delete(keyHex)
    this.announced.set(keyHex, lookup)
    if (!wasAnnounced || opts.lookup) this.swarm.join(discoveryKeyOf(keyHex), { server: true, client: opts.lookup })
    await this.withdrawOldest()
  }

  /** Past the limit, the oldest complete models are served only to peers that dial this home. */
  private async withdrawOldest(): Promise<void> {
    const swarm = this.swarm
    if (!swarm) return
    // The home's own key must be announced for those peers to find it.
    if (this.seeded.size > this.announced.size || this.announced.size > this.announceLimit) swarm.listen()
    for (const [keyHex, lookup] of this.announced) {
      if (this.announced.size <= this.announceLimit) break
      if (lookup) continue
      this.announced.delete(keyHex)
      await swarm.leave(discoveryKeyOf(keyHex))
    }
  }

  async stop(keyHex: string): Promise<void> {
    this.announced.delete(keyHex)
    if (!this.seeded.delete(keyHex) || !this.swarm) return
    await this.swarm.leave(discoveryKeyOf(keyHex))
  }

  /**
   * Announces everything the library seeds (less any model whose file is gone or changed, or that
   * is set aside). Drives open a few at a time: each open waits on RocksDB and a stat of its file,
   * and a lab's thousand models one after another took seconds of waiting.
   */
  async seedLibrary(): Promise<LibraryEntry[]> {
    const limit = pLimit(SEED_OPEN_CONCURRENCY)
    // Oldest first (the library's order): the newest are the ones announced.
    const candidates = this.library.list().filter((e) => e.seeding && e.blocksStored && !e.quarantined)
    const announceFrom = Math.max(0, candidates.length - this.announceLimit)
    const opened = await Promise.all(
      candidates.map(({ keyHex }, index) =>
        limit(async () => {
          // Opening it checks its file: it may stop seeding there. A complete model is open
          // only while peers use it; a download's stays open.
          if (this.library.get(keyHex)?.complete === true) await this.drives.openToServe(keyHex)
          else await this.drives.open(keyHex)
          const entry = this.library.get(keyHex)
          if (!entry?.seeding || !entry.blocksStored) return null
          if (index >= announceFrom || !entry.complete) await this.announce(keyHex, { lookup: !entry.complete })
          else this.serveUnannounced(keyHex)
          // Closed again at once: a thousand drives open together until the end were the
          // seeder's peak memory (223 MB with N = 1000).
          await this.drives.releaseIfIdle(keyHex)
          return entry
        })
      )
    )
    return opened.filter((entry): entry is LibraryEntry => entry !== null)
  }

  private serveUnannounced(keyHex: string): void {
    if (!this.swarm) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    this.seeded.add(keyHex)
    this.swarm.listen()
  }

  /** How many seeded models are announced one by one (the rest: through this home's key). */
  get announcedCount(): number {
    return this.announced.size
  }

  get keys(): string[] {
    return [...this.seeded]
  }

  has(keyHex: string): boolean {
    return this.seeded.has(keyHex)
  }
}
