// What this peer seeds, as catalog entries: the complete library models it serves, each from
// its own manifest and the card facts recorded when it came in. Peers in our rooms are told
// these (rooms.ts); nothing here reads from a peer.
import canonicalize from 'canonicalize'
import { firstLine } from '../../shared/errors.js'
import type { Catalog } from '../../shared/catalog/store.js'
import type { CatalogEntry, EntryProof } from '../../shared/catalog/wire.js'
import { entryFromDrive } from './catalog-entries.js'
import { entryProofHolds, signEntry } from './entry-proofs.js'
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
  /** The proof each entry was last sent with, and the entry's text it was checked against. */
  private readonly proven = new Map<string, { text: string; proof: EntryProof }>()

  constructor(private readonly options: LocalCatalogOptions) {}

  /** Puts what we seed into the catalog (after a share, fetch, reclaim or start), and takes out what we no longer seed. */
  async refresh(): Promise<void> {
    const { catalog, library } = this.options
    const seeded = library.list().filter((e) => e.manifest && e.complete && e.seeding && !e.quarantined)
    const seededLinks = new Set(seeded.map((e) => e.link))
    for (const item of catalog.list({ local: true })) if (!seededLinks.has(item.link)) catalog.setLocal(item.link, false)
    await library.batch(async () => {
      for (const entry of seeded) {
        if (!entry.manifest) continue
        const facts = entry.cardFacts ?? (await this.learnCardFacts(entry))
        if (facts === null) continue
        const catalogEntry = entryFromDrive(entry.link, entry.manifest, facts)
        if (!catalogEntry) continue
        const proof = await this.proofFor(entry, catalogEntry)
        catalog.addFromDrive(proof ? { ...catalogEntry, proof } : catalogEntry, { local: true })
      }
    })
  }

  /** What we tell peers: the summaries of the drives we seed, without our local bookkeeping. */
  entries(): CatalogEntry[] {
    return this.options.catalog.localMessages().flatMap((m) => m.entries)
  }

  /**
   * The drive's signature over the entry, for a model this home published: the one recorded when
   * it still holds, else a new one (recorded). Peers then take the entry as read from the drive
   * without reading it. Fetched models have none: their entries are relayed, and checked by reading.
   */
  private async proofFor(entry: LibraryEntry, catalogEntry: CatalogEntry): Promise<EntryProof | undefined> {
    if (entry.origin !== 'shared') return undefined
    const text = canonicalize(catalogEntry) ?? ''
    const known = this.proven.get(entry.keyHex)
    if (known && known.text === text) return known.proof
    let proof = entry.entryProof
    if (!proof || !entryProofHolds({ ...catalogEntry, proof })) {
      const keyPair = await this.options.drives.peek(entry.keyHex, async (drive) => drive.core.keyPair)
      if (!keyPair?.secretKey) return undefined
      proof = signEntry(catalogEntry, { publicKey: keyPair.publicKey, secretKey: keyPair.secretKey })
      await this.options.library.update(entry.keyHex, { entryProof: proof })
    }
    this.proven.set(entry.keyHex, { text, proof })
    return proof
  }

  /**
   * A library model's card facts, for an entry that has none recorded (a home from before they
   * were): read once from the store, never from a peer, within bounds, and recorded. A card whose
   * entry lies about its data sets the model aside: null.
   */
  private async learnCardFacts(entry: LibraryEntry): Promise<CardFacts | null> {
    try {
      const card = await this.options.drives.peek(entry.keyHex, (drive) => readDriveCard(drive, entry.link, Date.now() + LOCAL_READ_MS, { local: true }))
      const cardFacts = cardFactsOf(card)
      await this.options.library.update(entry.keyHex, { cardFacts })
      return cardFacts
    } catch (err) {
      await this.options.onQuarantine(entry, `its model card cannot be read: ${firstLine(err)}`)
      return null
    }
  }
}
