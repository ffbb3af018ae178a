// Which model drives this peer announces to the swarm: a drive seeded is joined on its
// discovery key as a server (and as a client while it is incomplete, to find other seeders).
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

function discoveryKeyOf(keyHex: string): Buffer {
  return Hypercore.discoveryKey(Buffer.from(hexToBytes(keyHex)))
}

export class Seeding {
  private readonly seeded = new Set<string>()

  constructor(
    private readonly drives: ModelDrives,
    private readonly library: Library,
    /** Null for a Grove opened without the network: nothing can be announced. */
    private readonly swarm: SwarmNetwork | null
  ) {}

  /** Announces a drive so peers can fetch it from us (and, with `lookup`, finds other seeders). */
  async seed(keyHex: string, opts: { lookup: boolean }): Promise<Hyperdrive> {
    const drive = opts.lookup ? await this.drives.open(keyHex) : await this.drives.openToServe(keyHex)
    await this.announce(keyHex, opts)
    return drive
  }

  private async announce(keyHex: string, opts: { lookup: boolean }): Promise<void> {
    if (!this.swarm) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    if (!this.seeded.has(keyHex) || opts.lookup) {
      this.swarm.join(discoveryKeyOf(keyHex), { server: true, client: opts.lookup })
      this.seeded.add(keyHex)
    }
  }

  async stop(keyHex: string): Promise<void> {
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
    const candidates = this.library.list().filter((e) => e.seeding && e.blocksStored && !e.quarantined)
    const opened = await Promise.all(
      candidates.map(({ keyHex }) =>
        limit(async () => {
          // Opening it checks its file: it may stop seeding there. A complete model is open
          // only while peers use it; a download's stays open.
          if (this.library.get(keyHex)?.complete === true) await this.drives.openToServe(keyHex)
          else await this.drives.open(keyHex)
          const entry = this.library.get(keyHex)
          if (!entry?.seeding || !entry.blocksStored) return null
          await this.announce(keyHex, { lookup: !entry.complete })
          // Closed again at once: a thousand drives open together until the end were the
          // seeder's peak memory (223 MB with N = 1000).
          await this.drives.releaseIfIdle(keyHex)
          return entry
        })
      )
    )
    return opened.filter((entry): entry is LibraryEntry => entry !== null)
  }

  get keys(): string[] {
    return [...this.seeded]
  }

  has(keyHex: string): boolean {
    return this.seeded.has(keyHex)
  }
}
