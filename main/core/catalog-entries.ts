// What a model drive says about itself (its signed manifest and its card's lineage and licence),
// as the catalog entry peers exchange.
import { catalogEntryFromManifest, type CatalogEntry } from '../../shared/catalog/wire.js'
import type { Manifest } from '../../shared/manifest.js'
import type { CardFacts } from './library.js'

/** The entry, or undefined for a manifest the catalog's wire format cannot carry. */
export function entryFromDrive(link: string, manifest: Manifest, card?: CardFacts): CatalogEntry | undefined {
  try {
    return catalogEntryFromManifest(link, manifest, { gguf: { baseModels: manifest.ggufBaseModels }, card })
  } catch {
    return undefined
  }
}
