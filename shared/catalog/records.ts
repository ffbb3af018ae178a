// What the catalog keeps per drive: the entry, where it came from, who seeds it, and what the
// search and lineage indexes derive from it; and `RecordIndex`, the key → records map they use.
import type { Relation } from '../manifest.js'
import type { LineageClaim } from './claims.js'
import type { CatalogEntry } from './wire.js'

export type CatalogSource = 'drive' | 'peer'

/** A catalog entry with what we know about it, as the UI/CLI gets it (a snapshot). */
export interface CatalogItem extends CatalogEntry {
  source: CatalogSource
  /** Distinct peers advertising it, plus one when we seed it. */
  seeders: number
  local: boolean
  /** How many peers relayed a summary that differs from the one kept. */
  conflicts: number
}

/** A read-only view of a catalog record (used by shared/lineage/; do not hold on to it across merges). */
export interface CatalogRecord {
  readonly key: string
  readonly link: string
  readonly entry: CatalogEntry
  readonly source: CatalogSource
  readonly local: boolean
  readonly seeders: number
  readonly conflicts: number
  readonly nameKeys: readonly string[]
  readonly claims: readonly LineageClaim[]
  /** The drive key of each manifest parent ref that has a link (aligned with `entry.parents`). */
  readonly parentRefKeys: readonly (string | undefined)[]
}

/** The record itself, written only by the catalog modules: store.ts, search.ts and lineage-index.ts. */
export class MutableRecord implements CatalogRecord {
  key: string
  link: string
  entry: CatalogEntry
  source: CatalogSource
  local = false
  conflicts = 0
  /** peers.size + (local ? 1 : 0), kept by Catalog#touch (a plain field: search reads it 100,000 times). */
  seeders = 0
  readonly peers = new Set<string>()
  // Kept by SearchIndex.
  slot = -1
  nameLower = ''
  haystack = ''
  relations: Relation[] = []
  // Kept by LineageIndex.
  nameKeys: string[] = []
  claims: LineageClaim[] = []
  parentRefKeys: (string | undefined)[] = []

  constructor(key: string, link: string, entry: CatalogEntry, source: CatalogSource) {
    this.key = key
    this.link = link
    this.entry = entry
    this.source = source
  }
}

/** key → records; a key held by one record (most hashes and names) costs no Set. */
export class RecordIndex {
  readonly #map = new Map<string, MutableRecord | Set<MutableRecord>>()

  add(key: string, rec: MutableRecord): void {
    const cur = this.#map.get(key)
    if (cur === undefined) this.#map.set(key, rec)
    else if (cur instanceof Set) cur.add(rec)
    else if (cur !== rec) this.#map.set(key, new Set([cur, rec]))
  }

  remove(key: string, rec: MutableRecord): void {
    const cur = this.#map.get(key)
    if (cur === rec) {
      this.#map.delete(key)
    } else if (cur instanceof Set) {
      cur.delete(rec)
      if (cur.size === 1) for (const only of cur) this.#map.set(key, only)
    }
  }

  get(key: string): Iterable<MutableRecord> {
    const cur = this.#map.get(key)
    return cur === undefined ? NO_RECORDS : cur instanceof Set ? cur : [cur]
  }

  count(key: string): number {
    const cur = this.#map.get(key)
    return cur === undefined ? 0 : cur instanceof Set ? cur.size : 1
  }
}

const NO_RECORDS: readonly MutableRecord[] = []

/** What a read returns: a shallow copy of the record (its arrays are the entry's: do not mutate them). */
export function snapshot(rec: MutableRecord): CatalogItem {
  return { ...rec.entry, source: rec.source, seeders: rec.seeders, local: rec.local, conflicts: rec.conflicts }
}
