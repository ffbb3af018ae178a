// The swarm catalog: which models peers say they seed, merged into one record per drive. Peers
// send `CatalogMessage`s (wire.ts); `Catalog` validates and merges them, within caps: a peer may
// advertise at most `maxEntriesPerPeer` drives, and the catalog as a whole holds at most
// `maxEntries`. Pure TypeScript (no node:*), so the renderer can use it too.
//
// Merge policy (documented here because the network layer and the UI rely on it):
// - Identity is the drive key. Links are canonicalised to `grove://<z-base-32 key>`; a version
//   suffix is dropped (an entry describes the drive's current manifest).
// - `source: 'drive'`: we read the summary from the drive's own signed manifest ourselves. It
//   always wins: it replaces any relayed summary, and a newer drive read replaces an older one.
// - An entry a peer sends with a proof that `checkProof` accepts (the drive's key signed it, see
//   main/core/entry-proofs.ts) counts as read from the drive: `source: 'drive'`. A proof that
//   does not hold is dropped and the entry counts as relayed.
// - `source: 'peer'`: the summary was only relayed by peers. The first relayed summary wins; a
//   different summary for the same link from another peer does not replace it, it increments
//   `conflicts` (the UI can say "peers disagree"). Exception: once no peer advertises the link
//   any more (seeders 0, not local), the next peer's summary replaces the stale one.
// - Seeders = distinct connected peers advertising the drive, plus one when we seed it locally.
// - `removePeer` (disconnect) takes the peer out of every entry's seeder set. Entries stay known
//   with fewer (possibly 0) seeders, so a model remains visible while its publisher is offline.
//   Entries nobody seeds are "orphans": when the catalog is full, the oldest orphan is evicted
//   to make room for a new entry; if there is no orphan, the new entry is dropped.
// - A peer advertising more than `maxEntriesPerPeer` distinct drives has the excess dropped and
//   the merge report says `quotaExceeded: true`, so the network layer can disconnect it.
// - Local entries (what we seed) are never evicted and are accepted even when the catalog is full.
// - Reads (`get`, `list`, `search`) return shallow snapshots: do not mutate their arrays.
//
// Queries are answered by search.ts's indexes, lineage lookups by lineage-index.ts's; both are
// updated here on every change.
import { GroveError } from '../errors.js'
import { LineageIndex } from './lineage-index.js'
import { keyLink, linkKey } from './link-keys.js'
import { MutableRecord, snapshot, type CatalogItem, type CatalogRecord, type CatalogSource } from './records.js'
import { SearchIndex, type CatalogFilter, type CatalogSearchResult } from './search.js'
import { CatalogEntry, CatalogEnvelope, toCatalogMessages, type CatalogMessage } from './wire.js'

export const DEFAULT_MAX_ENTRIES_PER_PEER = 10_000
export const DEFAULT_MAX_CATALOG_ENTRIES = 200_000

export interface CatalogOptions {
  maxEntriesPerPeer?: number
  maxEntries?: number
  /** Whether an entry's `proof` is its drive's signature over it (injected: this module stays pure). */
  checkProof?: (entry: CatalogEntry) => boolean
}

/** What merging a peer's entries did; `quotaExceeded` means: disconnect that peer. */
export interface MergeReport {
  accepted: number
  rejected: number
  dropped: number
  conflicts: number
  quotaExceeded: boolean
  catalogFull: boolean
  /** The first few schema errors, for logs. */
  errors: string[]
}

const MAX_REPORTED_ERRORS = 5

export class Catalog {
  readonly maxEntriesPerPeer: number
  readonly maxEntries: number
  readonly #records = new Map<string, MutableRecord>()
  readonly #peerKeys = new Map<string, Set<string>>()
  /** Records nobody seeds, oldest first: eviction candidates. */
  readonly #orphans = new Set<MutableRecord>()
  readonly #search = new SearchIndex(this.#records)
  readonly #lineage = new LineageIndex()
  readonly #checkProof: (entry: CatalogEntry) => boolean
  #localCount = 0

  constructor(options: CatalogOptions = {}) {
    this.maxEntriesPerPeer = options.maxEntriesPerPeer ?? DEFAULT_MAX_ENTRIES_PER_PEER
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_CATALOG_ENTRIES
    this.#checkProof = options.checkProof ?? (() => false)
  }

  get size(): number {
    return this.#records.size
  }

  /** How many entries we seed ourselves. */
  get localCount(): number {
    return this.#localCount
  }

  /** Peers currently advertising at least one entry. */
  peers(): string[] {
    return [...this.#peerKeys.keys()]
  }

  /** How many drives a peer advertises. */
  peerEntryCount(peerId: string): number {
    return this.#peerKeys.get(peerId)?.size ?? 0
  }

  // --- merging -------------------------------------------------------------------------------

  /** Merges one wire message from a peer. A malformed envelope rejects the whole message. */
  applyMessage(peerId: string, data: unknown): MergeReport {
    const envelope = CatalogEnvelope.safeParse(data)
    if (!envelope.success) {
      return { ...emptyReport(), rejected: 1, errors: [`message: ${envelope.error.issues[0]?.message ?? 'invalid'}`] }
    }
    return this.addFromPeer(peerId, envelope.data.entries)
  }

  /** Merges entries a peer says it seeds. Each entry is validated; bad ones are counted, not thrown. */
  addFromPeer(peerId: string, entries: readonly unknown[]): MergeReport {
    const report = emptyReport()
    let peerSet = this.#peerKeys.get(peerId)
    for (const raw of entries) {
      const rawLink = isObject(raw) ? raw.link : undefined
      let key: string
      try {
        if (typeof rawLink !== 'string' || rawLink.length > 200) throw new Error('no link')
        key = linkKey(rawLink)
      } catch {
        report.rejected++
        if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push('link: must be a grove:// link')
        continue
      }
      if (!(peerSet?.has(key) ?? false) && (peerSet?.size ?? 0) >= this.maxEntriesPerPeer) {
        report.dropped++
        report.quotaExceeded = true
        continue
      }
      const parsed = CatalogEntry.safeParse(raw)
      if (!parsed.success) {
        report.rejected++
        if (report.errors.length < MAX_REPORTED_ERRORS) {
          const issue = parsed.error.issues[0]
          report.errors.push(`${issue?.path.join('.') || '(entry)'}: ${issue?.message ?? 'invalid'}`)
        }
        continue
      }
      const entry = parsed.data
      const proven = entry.proof !== undefined && this.#checkProof(entry)
      if (!proven) delete entry.proof
      let rec = this.#records.get(key)
      if (!rec) {
        if (!this.#makeRoom()) {
          report.dropped++
          report.catalogFull = true
          continue
        }
        rec = this.#insert(key, entry, proven ? 'drive' : 'peer')
      } else if (proven && rec.source === 'peer') {
        // Signed by the drive: as good as our own read of it. One we have (a read or an earlier
        // proof) stays: an entry carries no version to say which of two signed ones is newer.
        this.#replace(rec, entry, 'drive')
      } else if (!proven && !rec.peers.has(peerId) && !sameSummary(rec.entry, entry)) {
        if (rec.source === 'peer' && rec.seeders === 0) {
          this.#replace(rec, entry, 'peer')
        } else {
          rec.conflicts++
          report.conflicts++
        }
      }
      if (!peerSet) this.#peerKeys.set(peerId, (peerSet = new Set()))
      peerSet.add(key)
      rec.peers.add(peerId)
      this.#touch(rec)
      report.accepted++
    }
    return report
  }

  /**
   * Records a summary we read from the drive's own signed manifest (`local`: we seed it). Wins over
   * relayed summaries. Returns the item, or undefined when the catalog is full (never for local).
   */
  addFromDrive(entry: CatalogEntry, options: { local?: boolean } = {}): CatalogItem | undefined {
    const parsed = CatalogEntry.safeParse(entry)
    if (!parsed.success) throw new GroveError('BAD_MANIFEST', `Bad catalog entry: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    const key = linkKey(parsed.data.link)
    let rec = this.#records.get(key)
    if (!rec) {
      if (!this.#makeRoom() && options.local !== true) return undefined
      rec = this.#insert(key, parsed.data, 'drive')
    } else {
      this.#replace(rec, parsed.data, 'drive')
    }
    if (options.local === true) this.#setLocal(rec, true)
    this.#touch(rec)
    return snapshot(rec)
  }

  /** Marks a drive as seeded (or no longer seeded) by us. Returns false when the link is unknown. */
  setLocal(link: string, local: boolean): boolean {
    const rec = this.#lookup(link)
    if (!rec) return false
    this.#setLocal(rec, local)
    this.#touch(rec)
    return true
  }

  /** A peer no longer seeds these links. Returns how many it had advertised. */
  withdraw(peerId: string, links: readonly string[]): number {
    const peerSet = this.#peerKeys.get(peerId)
    if (!peerSet) return 0
    let n = 0
    for (const link of links) {
      let key: string
      try {
        key = linkKey(link)
      } catch {
        continue
      }
      if (!peerSet.delete(key)) continue
      n++
      const rec = this.#records.get(key)
      if (rec) {
        rec.peers.delete(peerId)
        this.#touch(rec)
      }
    }
    if (peerSet.size === 0) this.#peerKeys.delete(peerId)
    return n
  }

  /** A peer disconnected: it no longer counts as a seeder anywhere. Entries stay known. */
  removePeer(peerId: string): number {
    const peerSet = this.#peerKeys.get(peerId)
    if (!peerSet) return 0
    for (const key of peerSet) {
      const rec = this.#records.get(key)
      if (!rec) continue
      rec.peers.delete(peerId)
      this.#touch(rec)
    }
    this.#peerKeys.delete(peerId)
    return peerSet.size
  }

  /** Drops an entry altogether. */
  forget(link: string): boolean {
    const rec = this.#lookup(link)
    if (!rec) return false
    this.#delete(rec)
    return true
  }

  // --- reading -------------------------------------------------------------------------------

  get(link: string): CatalogItem | undefined {
    const rec = this.#lookup(link)
    return rec ? snapshot(rec) : undefined
  }

  has(link: string): boolean {
    return this.#lookup(link) !== undefined
  }

  /** All matching items, sorted like `search` (no default limit). */
  list(filter: CatalogFilter = {}): CatalogItem[] {
    return this.search({ limit: Number.POSITIVE_INFINITY, ...filter }).items
  }

  /**
   * Filters the catalog. Sorted by: exact name match, name prefix match (when `text` is given),
   * then seeders (desc), name, link. `limit` defaults to 50.
   */
  search(query: CatalogFilter = {}): CatalogSearchResult {
    return this.#search.search(query)
  }

  /** Everything we seed, as wire messages for our peers. */
  localMessages(): CatalogMessage[] {
    const entries: CatalogEntry[] = []
    for (const rec of this.#records.values()) if (rec.local) entries.push(rec.entry)
    return toCatalogMessages(entries)
  }

  // --- lookups for shared/lineage/ -----------------------------------------------------------

  /** The record for a link (any version) or a 64-hex drive key. */
  record(linkOrKey: string): CatalogRecord | undefined {
    if (/^[0-9a-f]{64}$/.test(linkOrKey)) return this.#records.get(linkOrKey)
    return this.#lookup(linkOrKey)
  }

  /** The record for a 64-lowercase-hex drive key. */
  recordByKey(key: string): CatalogRecord | undefined {
    return this.#records.get(key)
  }

  /** Records whose weights have this sha256. */
  recordsBySha256(sha256: string): Iterable<CatalogRecord> {
    return this.#lineage.recordsBySha256(sha256)
  }

  /** Records known by this name key (see `nameKey`). */
  recordsByName(key: string): Iterable<CatalogRecord> {
    return this.#lineage.recordsByName(key)
  }

  /** Records that name this drive key as a parent (manifest link, or a GGUF/card grove:// claim). */
  childrenByParentKey(key: string): Iterable<CatalogRecord> {
    return this.#lineage.childrenByParentKey(key)
  }

  /** Records whose manifest names this weights hash as a parent. */
  childrenByParentSha256(sha256: string): Iterable<CatalogRecord> {
    return this.#lineage.childrenByParentSha256(sha256)
  }

  /** Records whose GGUF/card claims a parent with this name key. */
  childrenByClaimedName(key: string): Iterable<CatalogRecord> {
    return this.#lineage.childrenByClaimedName(key)
  }

  records(): Iterable<CatalogRecord> {
    return this.#records.values()
  }

  // --- internals -----------------------------------------------------------------------------

  #lookup(link: string): MutableRecord | undefined {
    try {
      return this.#records.get(linkKey(link))
    } catch {
      return undefined
    }
  }

  #makeRoom(): boolean {
    if (this.#records.size < this.maxEntries) return true
    for (const orphan of this.#orphans) {
      this.#delete(orphan)
      return true
    }
    return false
  }

  #insert(key: string, entry: CatalogEntry, source: CatalogSource): MutableRecord {
    const link = keyLink(key)
    entry.link = link // entries here are fresh parser output, ours to keep
    const rec = new MutableRecord(key, link, entry, source)
    this.#records.set(key, rec)
    this.#index(rec)
    return rec
  }

  #replace(rec: MutableRecord, entry: CatalogEntry, source: CatalogSource): void {
    this.#unindex(rec)
    entry.link = rec.link
    rec.entry = entry
    rec.source = source
    this.#index(rec)
  }

  #delete(rec: MutableRecord): void {
    this.#unindex(rec)
    this.#records.delete(rec.key)
    this.#orphans.delete(rec)
    if (rec.local) this.#localCount--
    for (const peer of rec.peers) {
      const set = this.#peerKeys.get(peer)
      set?.delete(rec.key)
      if (set?.size === 0) this.#peerKeys.delete(peer)
    }
  }

  #setLocal(rec: MutableRecord, local: boolean): void {
    if (rec.local === local) return
    rec.local = local
    this.#localCount += local ? 1 : -1
  }

  #touch(rec: MutableRecord): void {
    rec.seeders = rec.peers.size + (rec.local ? 1 : 0)
    if (rec.seeders === 0) this.#orphans.add(rec)
    else this.#orphans.delete(rec)
  }

  #index(rec: MutableRecord): void {
    this.#search.add(rec)
    this.#lineage.add(rec)
  }

  #unindex(rec: MutableRecord): void {
    this.#search.remove(rec)
    this.#lineage.remove(rec)
  }
}

function emptyReport(): MergeReport {
  return { accepted: 0, rejected: 0, dropped: 0, conflicts: 0, quotaExceeded: false, catalogFull: false, errors: [] }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Whether two summaries agree on what matters (weights, identity, lineage). */
function sameSummary(a: CatalogEntry, b: CatalogEntry): boolean {
  if (a.sha256 !== b.sha256 || a.size !== b.size || a.kind !== b.kind || a.name !== b.name || a.publisher !== b.publisher) return false
  if (a.parents.length !== b.parents.length) return false
  for (let i = 0; i < a.parents.length; i++) {
    const p = a.parents[i]
    const q = b.parents[i]
    if (!p || !q || p.link !== q.link || p.sha256 !== q.sha256 || p.relation !== q.relation) return false
  }
  return true
}
