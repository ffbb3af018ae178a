// What this peer seeds, as catalog entries: the complete library models it serves, each from
// its own manifest and the card facts recorded when it came in. Peers in our rooms are told
// these (rooms.ts); nothing here reads from a peer.
import { firstLine } from '../../shared/errors.js'
import type { Catalog } from '../../shared/catalog/store.js'
import type { CatalogEntry } from '../../shared/catalog/wire.js'
import { entryFromDrive } from './catalog-entries.js'
import { cardFactsOf, type CardFacts, type Library, type LibraryEntry } from './library.js'
import type { ModelDrives } from './model-drives.js'
import { readDriveCard } from './remote-drive.js'

/** Reading what the store holds of a library drive (never waiting for a peer). */
const LOCAL_READ_MS = 5000

export interface LocalCatalogOptions {
  catalog: Catalog
  library: Library
  drives: ModelDrives
  /** A library model whose drive lies about its data: set it aside. */
  onQuarantine(entry: LibraryEntry, reason: string): Promise<void>
}

export class LocalCatalog {
  constructor(private readonly options: LocalCatalogOptions) {}

  /** Puts what we seed into the catalog (after a share, fetch, reclaim or start), and takes out what we no longer seed. */
  async refresh(): Promise<void> {
    const { catalog, library } = this.options
    const seeded = library.list().filter((e) => e.manifest && e.complete && e.seeding && !e.quarantined)
    const seededLinks = new Set(seeded.map((e) => e.link))
    for (const item of catalog.list({ local: true })) if (!seededLinks.has(item.link)) catalog.setLocal(item.link, false)
    for (const entry of seeded) {
      if (!entry.manifest) continue
      const facts = entry.cardFacts ?? (await this.learnCardFacts(entry))
      if (facts === null) continue
      const catalogEntry = entryFromDrive(entry.link, entry.manifest, facts)
      if (catalogEntry) catalog.addFromDrive(catalogEntry, { local: true })
    }
  }

  /** What we tell peers: the summaries of the drives we seed, without our local bookkeeping. */
  entries(): CatalogEntry[] {
    return this.options.catalog.localMessages().flatMap((m) => m.entries)
  }

  /**
   * A library model's card facts, for an entry that has none recorded (a home from before they
   * were): read once from the store, never from a peer, within bounds, and recorded. A card whose
   * entry lies about its data sets the model aside: null.
   */
  private async learnCardFacts(entry: LibraryEntry): Promise<CardFacts | null> {
    const drive = await this.options.drives.open(entry.keyHex)
    try {
      const card = await readDriveCard(drive, entry.link, Date.now() + LOCAL_READ_MS, { local: true })
      const cardFacts = cardFactsOf(card)
      await this.options.library.update(entry.keyHex, { cardFacts })
      return cardFacts
    } catch (err) {
      await this.options.onQuarantine(entry, `its model card cannot be read: ${firstLine(err)}`)
      return null
    }
  }
}
