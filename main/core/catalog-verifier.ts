// Turns relayed catalog entries into verified ones: for each model a peer told us about, read
// the manifest (and card) from the drive itself, which the publisher signed, over the
// connections we already have. Only these drive-read summaries can make a lineage edge
// "verified". Bounded: a few at a time, a cap on how many drives one process looks at.
import type Hyperdrive from 'hyperdrive'
import type { Catalog } from '../../shared/catalog/store.js'
import { GroveError } from '../../shared/errors.js'
import { parseLink } from '../../shared/link.js'
import { childSignal } from './abort.js'
import { entryFromDrive } from './catalog-entries.js'
import { cardFactsOf } from './library.js'
import { readDriveCard, readDriveManifest } from './remote-drive.js'

export interface CatalogVerifierOptions {
  catalog: Catalog
  /** Runs `work` on the drive with this key, closing it after unless it was open anyway. */
  peekDrive<T>(keyHex: string, work: (drive: Hyperdrive) => Promise<T>): Promise<T>
}

/** Relayed models read from their drives at once: each read is bounded (remote-drive.ts), and 8 verify a 1000-model catalog in 8–9 s on two cores (4: 9–10 s, 16: 7.6–8 s). */
const CONCURRENCY = 8
const MAX_DRIVES_LOOKED_AT = 2000
const TIMEOUT_MS = 15_000

export class CatalogVerifier {
  private readonly attempted = new Set<string>()
  private readonly queue: string[] = []
  private running = 0
  private readonly stopper = new AbortController()
  private idleWaiters: Array<() => void> = []

  constructor(private readonly options: CatalogVerifierOptions) {}

  /** Queues every relayed entry not yet looked at. */
  schedule(): void {
    for (const record of this.options.catalog.records()) {
      if (this.attempted.size >= MAX_DRIVES_LOOKED_AT) break
      if (record.source !== 'peer' || this.attempted.has(record.link)) continue
      this.attempted.add(record.link)
      this.queue.push(record.link)
    }
    this.pump()
  }

  /** Resolves when nothing is queued or running (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      const waiter = () => done()
      this.idleWaiters.push(waiter)
      function done() {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  stop(): void {
    this.stopper.abort()
    this.queue.length = 0
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0 && !this.stopper.signal.aborted) {
      const link = this.queue.shift()!
      this.running++
      this.verify(link)
        .catch(() => {})
        .finally(() => {
          this.running--
          this.pump()
          if (this.running === 0 && this.queue.length === 0) {
            const waiters = this.idleWaiters
            this.idleWaiters = []
            for (const w of waiters) w()
          }
        })
    }
  }

  private async verify(link: string): Promise<void> {
    // A signal of its own, tied to stop(): the reads wait on it several times at once.
    const own = childSignal(this.stopper.signal)
    try {
      const deadline = Date.now() + TIMEOUT_MS
      const entry = await this.options.peekDrive(parseLink(link).keyHex, async (drive) => {
        const manifest = await readDriveManifest(drive, link, deadline, own.signal, () => new GroveError('NO_PEERS', `No peer gave us ${link}`))
        const card = await readDriveCard(drive, link, Math.max(deadline, Date.now() + 1000), { signal: own.signal })
        return entryFromDrive(link, manifest, cardFactsOf(card))
      })
      if (entry && !own.signal.aborted) this.options.catalog.addFromDrive(entry)
    } finally {
      own.dispose()
    }
  }
}
