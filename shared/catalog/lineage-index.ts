// The catalog's reverse indexes for shared/lineage/: records by weights hash and by name key,
// and children by the parent drive key, parent weights hash or parent name they claim. They
// are kept on every change, so walking a lineage never scans the catalog.
import { lineageClaims } from './claims.js'
import { linkKey } from './link-keys.js'
import { entryNameKeys } from './name-keys.js'
import { RecordIndex, type CatalogRecord, type MutableRecord } from './records.js'

/** The lineage indexes; the store calls `add` and `remove` around every change of an entry. */
export class LineageIndex {
  readonly #bySha = new RecordIndex()
  readonly #byName = new RecordIndex()
  readonly #childrenByParentKey = new RecordIndex()
  readonly #childrenByParentSha = new RecordIndex()
  readonly #childrenByClaimName = new RecordIndex()

  add(rec: MutableRecord): void {
    const e = rec.entry
    rec.nameKeys = entryNameKeys(e.name)
    rec.claims = lineageClaims(e)
    rec.parentRefKeys = e.parents.map((p) => {
      if (p.link === undefined) return undefined
      try {
        return linkKey(p.link)
      } catch {
        return undefined // the schema already refused malformed links
      }
    })
    this.#bySha.add(e.sha256, rec)
    for (const k of rec.nameKeys) this.#byName.add(k, rec)
    const keys = reverseKeys(rec)
    for (const k of keys.parentKeys) this.#childrenByParentKey.add(k, rec)
    for (const s of keys.parentShas) this.#childrenByParentSha.add(s, rec)
    for (const k of keys.claimNameKeys) this.#childrenByClaimName.add(k, rec)
  }

  remove(rec: MutableRecord): void {
    this.#bySha.remove(rec.entry.sha256, rec)
    for (const k of rec.nameKeys) this.#byName.remove(k, rec)
    const keys = reverseKeys(rec)
    for (const k of keys.parentKeys) this.#childrenByParentKey.remove(k, rec)
    for (const s of keys.parentShas) this.#childrenByParentSha.remove(s, rec)
    for (const k of keys.claimNameKeys) this.#childrenByClaimName.remove(k, rec)
  }

  /** Records whose weights have this sha256. */
  recordsBySha256(sha256: string): Iterable<CatalogRecord> {
    return this.#bySha.get(sha256)
  }

  /** Records known by this name key (see `nameKey`). */
  recordsByName(key: string): Iterable<CatalogRecord> {
    return this.#byName.get(key)
  }

  /** Records that name this drive key as a parent (manifest link, or a GGUF/card grove:// claim). */
  childrenByParentKey(key: string): Iterable<CatalogRecord> {
    return this.#childrenByParentKey.get(key)
  }

  /** Records whose manifest names this weights hash as a parent. */
  childrenByParentSha256(sha256: string): Iterable<CatalogRecord> {
    return this.#childrenByParentSha.get(sha256)
  }

  /** Records whose GGUF/card claims a parent with this name key. */
  childrenByClaimedName(key: string): Iterable<CatalogRecord> {
    return this.#childrenByClaimName.get(key)
  }
}

/** The keys under which a record is found as someone's child (derived from its entry, so unindexing recomputes them). */
function reverseKeys(rec: CatalogRecord): { parentKeys: string[]; parentShas: string[]; claimNameKeys: string[] } {
  const parentKeys: string[] = []
  const parentShas: string[] = []
  const claimNameKeys: string[] = []
  const put = (list: string[], value: string): void => {
    if (!list.includes(value)) list.push(value)
  }
  for (const k of rec.parentRefKeys) if (k !== undefined) put(parentKeys, k)
  for (const p of rec.entry.parents) if (p.sha256 !== undefined) put(parentShas, p.sha256)
  for (const c of rec.claims) {
    if (c.linkKey !== undefined) put(parentKeys, c.linkKey)
    for (const k of c.keys) put(claimNameKeys, k)
  }
  return { parentKeys, parentShas, claimNameKeys }
}
