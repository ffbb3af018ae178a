// Catalog queries: filters (kind, architecture, licence, relation, seeders, local) and text
// search, ranked by exact name match, name prefix match, seeders, name and link.
//
// `SearchIndex` keeps exact-match indexes (kind, architecture, licence, relation) and a packed
// text index: the lowercase name/architecture/quantization/licence of 1024 records per string,
// rebuilt lazily when a record in it changes. A query starts from the smallest matching exact
// index, or scans the packed text with indexOf when the filters leave more than an eighth of
// the catalog.
import type { ModelKind, Relation } from '../manifest.js'
import { RecordIndex, snapshot, type CatalogItem, type MutableRecord } from './records.js'

export interface CatalogFilter {
  /** Whitespace-separated terms, all of which must occur in the name, architecture, quantization or licence. */
  text?: string
  architecture?: string
  kind?: ModelKind
  license?: string
  /** The entry's relation to its parent(s) (manifest parents or card relation). */
  relation?: Relation
  local?: boolean
  minSeeders?: number
  limit?: number
  offset?: number
}

export interface CatalogSearchResult {
  /** Matches before limit/offset. */
  total: number
  items: CatalogItem[]
}

/** The catalog's search indexes; the store calls `add` and `remove` around every change of an entry. */
export class SearchIndex {
  readonly #records: ReadonlyMap<string, MutableRecord>
  readonly #byKind = new RecordIndex()
  readonly #byArch = new RecordIndex()
  readonly #byLicense = new RecordIndex()
  readonly #byRelation = new RecordIndex()
  /** Dense slots for the packed text index; freed slots are reused. */
  readonly #slots: (MutableRecord | undefined)[] = []
  readonly #freeSlots: number[] = []
  readonly #textChunks: (TextChunk | undefined)[] = []

  /** `records`: the store's records by drive key, which a query without a usable index scans. */
  constructor(records: ReadonlyMap<string, MutableRecord>) {
    this.#records = records
  }

  add(rec: MutableRecord): void {
    rec.slot = this.#freeSlots.pop() ?? this.#slots.length
    this.#slots[rec.slot] = rec
    const e = rec.entry
    rec.nameLower = e.name.toLowerCase()
    rec.haystack = [e.name, e.architecture ?? '', e.quantization ?? '', e.license ?? ''].join('\n').toLowerCase()
    this.#dirty(rec.slot)
    rec.relations = [...new Set([...e.parents.map((p) => p.relation), ...(e.cardRelation !== undefined && (e.cardBaseModels?.length ?? 0) > 0 ? [e.cardRelation] : [])])]
    this.#byKind.add(e.kind, rec)
    if (e.architecture !== undefined) this.#byArch.add(e.architecture.toLowerCase(), rec)
    if (e.license !== undefined) this.#byLicense.add(e.license.toLowerCase(), rec)
    for (const r of rec.relations) this.#byRelation.add(r, rec)
  }

  /** Takes the record out, freeing its slot (an `add` right after takes the same slot back). */
  remove(rec: MutableRecord): void {
    const e = rec.entry
    this.#byKind.remove(e.kind, rec)
    if (e.architecture !== undefined) this.#byArch.remove(e.architecture.toLowerCase(), rec)
    if (e.license !== undefined) this.#byLicense.remove(e.license.toLowerCase(), rec)
    for (const r of rec.relations) this.#byRelation.remove(r, rec)
    this.#slots[rec.slot] = undefined
    this.#freeSlots.push(rec.slot)
    this.#dirty(rec.slot)
    rec.slot = -1
  }

  /**
   * Filters the catalog. Sorted by: exact name match, name prefix match (when `text` is given),
   * then seeders (desc), name, link. `limit` defaults to 50.
   */
  search(query: CatalogFilter = {}): CatalogSearchResult {
    const limit = Math.max(0, query.limit ?? 50)
    const offset = Math.max(0, query.offset ?? 0)
    const want = limit + offset
    const terms = (query.text ?? '').toLowerCase().split('\u0000').join('').split(/\s+/).filter((t) => t.length > 0)
    const phrase = terms.join(' ')
    const arch = query.architecture?.trim().toLowerCase()
    const license = query.license?.trim().toLowerCase()
    const filters: [RecordIndex, string | undefined][] = [
      [this.#byKind, query.kind],
      [this.#byArch, arch],
      [this.#byLicense, license],
      [this.#byRelation, query.relation]
    ]
    let smallest: Iterable<MutableRecord> | undefined
    let smallestCount = Number.POSITIVE_INFINITY
    for (const [index, key] of filters) {
      if (key === undefined) continue
      const count = index.count(key)
      if (count < smallestCount) {
        smallest = index.get(key)
        smallestCount = count
      }
    }
    const best: Ranked[] = []
    // A small page keeps the best `want` in a sorted array; a big one (list()) sorts once at the end.
    const sortAtEnd = want > 2048
    let total = 0
    const consider = (rec: MutableRecord): void => {
      if (query.kind !== undefined && rec.entry.kind !== query.kind) return
      if (arch !== undefined && (rec.entry.architecture ?? '').toLowerCase() !== arch) return
      if (license !== undefined && (rec.entry.license ?? '').toLowerCase() !== license) return
      if (query.relation !== undefined && !rec.relations.includes(query.relation)) return
      if (query.local !== undefined && rec.local !== query.local) return
      if (query.minSeeders !== undefined && rec.seeders < query.minSeeders) return
      let score = 0
      if (terms.length > 0) {
        for (const t of terms) if (!rec.haystack.includes(t)) return
        score = rec.nameLower === phrase ? 2 : rec.nameLower.startsWith(phrase) ? 1 : 0
      }
      total++
      if (want === 0) return
      const seeders = rec.seeders
      if (sortAtEnd) {
        best.push({ rec, score, seeders })
        return
      }
      if (best.length >= want) {
        const worst = best[best.length - 1]
        if (worst !== undefined && compareRank(score, seeders, rec, worst.score, worst.seeders, worst.rec) >= 0) return
      }
      insertSorted(best, { rec, score, seeders })
      if (best.length > want) best.pop()
    }
    const longest = terms.reduce((a, t) => (t.length > a.length ? t : a), '')
    if (longest.length > 0 && smallestCount > this.#records.size / 8) {
      // Text first: scan the packed haystacks (one string per 1024 records) with indexOf.
      this.#scanText(longest, consider)
    } else {
      for (const rec of smallest ?? this.#records.values()) consider(rec)
    }
    if (sortAtEnd) best.sort(compareRanked)
    return { total, items: best.slice(offset, offset + limit).map((r) => snapshot(r.rec)) }
  }

  /** Calls `visit` once for every record whose haystack contains `term`. */
  #scanText(term: string, visit: (rec: MutableRecord) => void): void {
    const chunks = Math.ceil(this.#slots.length / TEXT_CHUNK)
    for (let c = 0; c < chunks; c++) {
      const { text, starts } = this.#textChunk(c)
      let at = text.indexOf(term)
      while (at >= 0) {
        // The record whose haystack holds position `at`: the last start <= at.
        let lo = 0
        let hi = TEXT_CHUNK
        while (lo < hi) {
          const mid = (lo + hi + 1) >>> 1
          if ((starts[mid] ?? 0) <= at) lo = mid
          else hi = mid - 1
        }
        const rec = this.#slots[c * TEXT_CHUNK + lo]
        if (rec) visit(rec)
        at = text.indexOf(term, starts[lo + 1] ?? text.length)
      }
    }
  }

  #textChunk(c: number): TextChunk {
    const cached = this.#textChunks[c]
    if (cached) return cached
    const starts = new Int32Array(TEXT_CHUNK + 1)
    const parts: string[] = []
    let pos = 0
    for (let i = 0; i < TEXT_CHUNK; i++) {
      const hay = this.#slots[c * TEXT_CHUNK + i]?.haystack ?? ''
      starts[i] = pos
      parts.push(hay)
      pos += hay.length + 1
    }
    starts[TEXT_CHUNK] = pos
    const chunk = { text: parts.join('\u0000'), starts }
    this.#textChunks[c] = chunk
    return chunk
  }

  #dirty(slot: number): void {
    this.#textChunks[Math.floor(slot / TEXT_CHUNK)] = undefined
  }
}

/** Records per packed text chunk. */
const TEXT_CHUNK = 1024

interface TextChunk {
  /** The haystacks of the chunk's slots, joined with NUL. */
  text: string
  /** Where each slot's haystack starts in `text` (TEXT_CHUNK + 1 entries). */
  starts: Int32Array
}

interface Ranked {
  rec: MutableRecord
  score: number
  seeders: number
}

function compareRank(aScore: number, aSeeders: number, a: MutableRecord, bScore: number, bSeeders: number, b: MutableRecord): number {
  if (aScore !== bScore) return bScore - aScore
  if (aSeeders !== bSeeders) return bSeeders - aSeeders
  if (a.nameLower !== b.nameLower) return a.nameLower < b.nameLower ? -1 : 1
  return a.link < b.link ? -1 : a.link > b.link ? 1 : 0
}

function compareRanked(a: Ranked, b: Ranked): number {
  return compareRank(a.score, a.seeders, a.rec, b.score, b.seeders, b.rec)
}

function insertSorted(list: Ranked[], item: Ranked): void {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const m = list[mid]
    if (m !== undefined && compareRanked(m, item) <= 0) lo = mid + 1
    else hi = mid
  }
  list.splice(lo, 0, item)
}
