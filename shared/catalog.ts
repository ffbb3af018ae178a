// The swarm catalog: which models peers say they seed, each with a small summary taken from the
// model drive's manifest (and, for lineage, from the GGUF's `general.base_model.*` keys and the
// card's `base_model` front matter). Peers exchange `CatalogMessage`s; `Catalog` merges them.
//
// Everything a peer sends is untrusted: entries are parsed with the bounded schemas below, a
// peer may advertise at most `maxEntriesPerPeer` drives, and the catalog as a whole holds at most
// `maxEntries`. Pure TypeScript (no node:*), so the renderer can use it too.
//
// Merge policy (documented here because the network layer and the UI rely on it):
// - Identity is the drive key. Links are canonicalised to `grove://<z-base-32 key>`; a version
//   suffix is dropped (an entry describes the drive's current manifest).
// - `source: 'drive'`: we read the summary from the drive's own signed manifest ourselves. It
//   always wins: it replaces any relayed summary, and a newer drive read replaces an older one.
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
// Search keeps exact-match indexes (kind, architecture, licence, relation) and a packed text
// index (the lowercase name/architecture/quantization/licence of 1024 records per string,
// rebuilt lazily when a record in it changes); lineage.ts uses the reverse indexes (children by
// parent drive key, by parent weights hash, by claimed name), all maintained on every change.
import { z } from 'zod'
import { LINK_SCHEME, formatLink, parseLink } from './link.js'
import {
  KINDS,
  MAX_MODEL_FILE_BYTES,
  RELATIONS,
  Sha256Hex,
  weightsFile,
  type Manifest,
  type ModelKind,
  type Relation
} from './manifest.js'
import { GroveError } from './errors.js'

export const CATALOG_PROTOCOL_VERSION = 1
export const MAX_CATALOG_ENTRIES_PER_MESSAGE = 1000
export const DEFAULT_MAX_ENTRIES_PER_PEER = 10_000
export const DEFAULT_MAX_CATALOG_ENTRIES = 200_000
export const MAX_ENTRY_PARENTS = 32
export const MAX_ENTRY_BASE_MODELS = 16

const shortText = z.string().max(200)

/** One `general.base_model.N` of a GGUF, as relayed in a catalog entry. */
export const GgufBaseModelRef = z.object({
  name: shortText.optional(),
  organization: shortText.optional(),
  repoUrl: z.string().max(500).optional(),
  version: z.string().max(100).optional()
})
export type GgufBaseModelRef = z.infer<typeof GgufBaseModelRef>

/**
 * A grove:// link, checked by pattern: it accepts exactly what `parseLink` accepts (52 z-base-32
 * or 64 hex key characters, optional `/v<n>` or `/<n>`, trailing slashes), except surrounding
 * whitespace, without decoding the key. manifest.ts's GroveLinkString decodes it, which costs
 * several microseconds per link; catalogs carry hundreds of thousands of them.
 */
export const CatalogLink = z
  .string()
  .max(200)
  .regex(/^grove:\/\/(?:[ybndrfg8ejkmcpqxot1uwisza345h769]{52}|[0-9a-fA-F]{64})(?:\/v?\d{1,15})?\/*$/, 'must be a grove:// link')

/** The manifest's ParentRef (same shape and rules), with the faster link check. */
export const CatalogParentRef = z
  .object({
    link: CatalogLink.optional(),
    sha256: Sha256Hex.optional(),
    relation: z.enum(RELATIONS),
    name: z.string().max(200).optional()
  })
  .refine((p) => p.link !== undefined || p.sha256 !== undefined, 'a parent needs a link or a sha256')

/** One model summary as peers exchange it. */
export const CatalogEntry = z.object({
  link: CatalogLink,
  name: z.string().min(1).max(200),
  kind: z.enum(KINDS),
  /** sha256 of the weights file. */
  sha256: Sha256Hex,
  size: z.number().int().min(1).max(MAX_MODEL_FILE_BYTES),
  architecture: shortText.optional(),
  license: shortText.optional(),
  quantization: shortText.optional(),
  parameterCount: z.number().int().min(0).max(1e14).optional(),
  /** The manifest's parent references. */
  parents: z.array(CatalogParentRef).max(MAX_ENTRY_PARENTS),
  /** The GGUF's own `general.base_model.N.*` keys. */
  ggufBaseModels: z.array(GgufBaseModelRef).max(MAX_ENTRY_BASE_MODELS).optional(),
  /** The model card's `base_model` front matter. */
  cardBaseModels: z.array(shortText.min(1)).max(MAX_ENTRY_BASE_MODELS).optional(),
  /** The model card's `base_model_relation`. */
  cardRelation: z.enum(RELATIONS).optional(),
  publisher: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.iso.datetime()
})
export type CatalogEntry = z.infer<typeof CatalogEntry>

/** What goes over the wire: a versioned batch of entries. */
export const CatalogMessage = z.object({
  version: z.literal(CATALOG_PROTOCOL_VERSION),
  entries: z.array(CatalogEntry).max(MAX_CATALOG_ENTRIES_PER_MESSAGE)
})
export type CatalogMessage = z.infer<typeof CatalogMessage>

/** The envelope alone, so one malformed entry does not cost the whole batch. */
const CatalogEnvelope = z.object({
  version: z.literal(CATALOG_PROTOCOL_VERSION),
  entries: z.array(z.unknown()).max(MAX_CATALOG_ENTRIES_PER_MESSAGE)
})

// ---------------------------------------------------------------------------------------------
// Building entries

/** Lineage metadata found outside the manifest (structurally compatible with GgufSummary/CardFrontMatter). */
export interface EntryExtras {
  gguf?: { baseModels?: readonly { name?: string; organization?: string; repoUrl?: string; version?: string }[] }
  card?: { base_model?: readonly string[]; base_model_relation?: Relation; license?: string }
}

/** Builds the catalog entry for a drive from its parsed manifest (plus GGUF and card lineage). */
export function catalogEntryFromManifest(link: string, manifest: Manifest, extras: EntryExtras = {}): CatalogEntry {
  const weights = weightsFile(manifest)
  const clip = (s: string | undefined, max = 200): string | undefined => (s === undefined || s.length === 0 ? undefined : s.slice(0, max))
  const gguf = (extras.gguf?.baseModels ?? [])
    .slice(0, MAX_ENTRY_BASE_MODELS)
    .map((b) => dropUndefined({ name: clip(b.name), organization: clip(b.organization), repoUrl: clip(b.repoUrl, 500), version: clip(b.version, 100) }))
    .filter((b) => Object.keys(b).length > 0)
  const card = (extras.card?.base_model ?? []).filter((s) => s.length > 0).slice(0, MAX_ENTRY_BASE_MODELS).map((s) => s.slice(0, 200))
  const entry = dropUndefined({
    link: canonicalLink(link),
    name: manifest.name,
    kind: manifest.kind,
    sha256: weights.sha256,
    size: weights.size,
    architecture: manifest.architecture,
    license: manifest.license ?? clip(extras.card?.license),
    quantization: manifest.quantization,
    parameterCount: manifest.parameterCount,
    parents: manifest.parents.slice(0, MAX_ENTRY_PARENTS).map((p) => dropUndefined({ ...p, link: p.link !== undefined ? canonicalLink(p.link) : undefined })),
    ggufBaseModels: gguf.length > 0 ? gguf : undefined,
    cardBaseModels: card.length > 0 ? card : undefined,
    cardRelation: extras.card?.base_model_relation,
    publisher: manifest.publisher,
    created: manifest.created
  })
  return CatalogEntry.parse(entry)
}

function dropUndefined<T extends object>(obj: T): T {
  for (const k of Object.keys(obj) as (keyof T)[]) if (obj[k] === undefined) delete obj[k]
  return obj
}

/** Splits entries into wire messages of at most MAX_CATALOG_ENTRIES_PER_MESSAGE. */
export function toCatalogMessages(entries: readonly CatalogEntry[]): CatalogMessage[] {
  const out: CatalogMessage[] = []
  for (let i = 0; i < entries.length; i += MAX_CATALOG_ENTRIES_PER_MESSAGE) {
    out.push({ version: CATALOG_PROTOCOL_VERSION, entries: entries.slice(i, i + MAX_CATALOG_ENTRIES_PER_MESSAGE) })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Keys and names

// Link keys are converted here directly between z-base-32 and hex (what link.ts does through
// z32 + byte arrays, several times slower): catalogs handle hundreds of thousands of links. The
// tests check both agree.
const Z32_ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'
const HEX_DIGITS = '0123456789abcdef'
const Z32_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < Z32_ALPHABET.length; i++) Z32_VALUES[Z32_ALPHABET.charCodeAt(i)] = i
const LINK_PATTERN = /^grove:\/\/([ybndrfg8ejkmcpqxot1uwisza345h769]{52}|[0-9a-fA-F]{64})(?:\/v?\d{1,15})?\/*$/

const HEX_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < 16; i++) {
  HEX_VALUES[HEX_DIGITS.charCodeAt(i)] = i
  HEX_VALUES[HEX_DIGITS.toUpperCase().charCodeAt(i)] = i
}

const HEX_CODES = Array.from(HEX_DIGITS, (c) => c.charCodeAt(0))
const hexScratch = new Array<number>(64).fill(48)

/** 52 z-base-32 characters from `start` → 64 hex digits; undefined on a non-z32 character. */
function z32KeyToHex(text: string, start: number): string | undefined {
  let n = 0
  let acc = 0
  let bits = 0
  for (let i = start; i < start + 52; i++) {
    const v = Z32_VALUES[text.charCodeAt(i)] ?? -1
    if (v < 0) return undefined
    acc = ((acc << 5) | v) & 0x1ff
    bits += 5
    while (bits >= 4 && n < 64) {
      bits -= 4
      hexScratch[n++] = HEX_CODES[(acc >> bits) & 15] ?? 48
    }
  }
  return String.fromCharCode(...hexScratch)
}

function hexKeyToZ32(hex: string): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (let i = 0; i < hex.length; i++) {
    acc = ((acc << 4) | (HEX_VALUES[hex.charCodeAt(i)] ?? 0)) & 0x1ff
    bits += 4
    while (bits >= 5) {
      bits -= 5
      out += Z32_ALPHABET.charAt((acc >> bits) & 31)
    }
  }
  if (bits > 0) out += Z32_ALPHABET.charAt((acc << (5 - bits)) & 31)
  return out
}

/** The drive key (64 lowercase hex) a link names; throws BAD_LINK for a malformed link. */
export function linkKey(link: string): string {
  // The canonical form, `grove://` + 52 z-base-32 characters, is by far the most common.
  if (link.length === LINK_SCHEME.length + 52 && link.startsWith(LINK_SCHEME)) {
    const hex = z32KeyToHex(link, LINK_SCHEME.length)
    if (hex !== undefined) return hex
  }
  const key = LINK_PATTERN.exec(link)?.[1]
  if (key === undefined) return parseLink(link).keyHex // unusual forms (whitespace) or the BAD_LINK error
  return key.length === 64 ? key.toLowerCase() : (z32KeyToHex(key, 0) ?? parseLink(link).keyHex)
}

/** `grove://<z-base-32 key>` for a 64-hex drive key (what formatLink makes). */
export function keyLink(key: string): string {
  return /^[0-9a-f]{64}$/.test(key) ? LINK_SCHEME + hexKeyToZ32(key) : formatLink(key)
}

/** `grove://<z-base-32 key>`, version dropped. */
export function canonicalLink(link: string): string {
  return keyLink(linkKey(link))
}

/**
 * The key under which names are compared: case-insensitive, runs of spaces/underscores read as
 * "-" (GGUF `general.name` tends to say "Llama 3 8B" where a repo says "Llama-3-8B").
 */
export function nameKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_]+/g, '-')
}

/** The name keys a catalog entry is known by: its whole name and, for "org/name", the last segment. */
export function entryNameKeys(name: string): string[] {
  const full = nameKey(name)
  const slash = full.lastIndexOf('/')
  const last = slash >= 0 ? full.slice(slash + 1) : ''
  return last.length > 0 && last !== full ? [full, last] : [full]
}

/** A lineage claim found in a GGUF's base_model keys or a card's base_model list. */
export interface LineageClaim {
  source: 'gguf' | 'card'
  /** What the claim said, for display. */
  text: string
  /** The drive key when the claim is a grove:// link. */
  linkKey?: string
  /** Name keys to match against entry names, most specific first. */
  keys: string[]
  /** The relation the source states (only cards state one). */
  relation?: Relation
}

const HF_PREFIX = /^https?:\/\/(?:www\.)?huggingface\.co\//i

function tryLinkKey(text: string): string | undefined {
  if (!text.trim().startsWith('grove://')) return undefined
  try {
    return linkKey(text)
  } catch {
    return undefined
  }
}

function pathKeys(path: string): string[] {
  const parts = path.replace(HF_PREFIX, '').replace(/^https?:\/\/[^/]+\//i, '').split('/').filter((p) => p.length > 0)
  const last = parts[parts.length - 1]
  const prev = parts[parts.length - 2]
  const out: string[] = []
  if (prev !== undefined && last !== undefined) out.push(nameKey(`${prev}/${last}`))
  if (last !== undefined) out.push(nameKey(last))
  return out
}

/** The GGUF and card lineage claims of an entry (manifest parents are not claims, see lineage.ts). */
export function lineageClaims(entry: CatalogEntry): LineageClaim[] {
  const out: LineageClaim[] = []
  for (const b of entry.ggufBaseModels ?? []) {
    const keys: string[] = []
    const name = b.name?.trim()
    const org = b.organization?.trim()
    if (name && org) keys.push(nameKey(`${org}/${name}`))
    const repoLink = b.repoUrl !== undefined ? tryLinkKey(b.repoUrl) : undefined
    if (b.repoUrl !== undefined && repoLink === undefined) keys.push(...pathKeys(b.repoUrl))
    if (name) keys.push(nameKey(name))
    const text = name ? (org ? `${org}/${name}` : name) : (b.repoUrl ?? org ?? '')
    if (keys.length === 0 && repoLink === undefined) continue
    out.push(dropUndefined({ source: 'gguf' as const, text, linkKey: repoLink, keys: unique(keys.filter((k) => k.length > 0)) }))
  }
  for (const s of entry.cardBaseModels ?? []) {
    const key = tryLinkKey(s)
    const keys = key === undefined ? unique([nameKey(s.replace(HF_PREFIX, '')), ...pathKeys(s)]).filter((k) => k.length > 0) : []
    if (keys.length === 0 && key === undefined) continue
    out.push(dropUndefined({ source: 'card' as const, text: s, linkKey: key, keys, relation: entry.cardRelation }))
  }
  return out
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)]
}

// ---------------------------------------------------------------------------------------------
// The catalog

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

/** A read-only view of a catalog record (used by lineage.ts; do not hold on to it across merges). */
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

class Rec implements CatalogRecord {
  key: string
  link: string
  entry: CatalogEntry
  source: CatalogSource
  local = false
  conflicts = 0
  /** peers.size + (local ? 1 : 0), kept by Catalog#touch (a plain field: search reads it 100,000 times). */
  seeders = 0
  slot = -1
  readonly peers = new Set<string>()
  nameLower = ''
  haystack = ''
  nameKeys: string[] = []
  claims: LineageClaim[] = []
  relations: Relation[] = []
  parentRefKeys: (string | undefined)[] = []

  constructor(key: string, link: string, entry: CatalogEntry, source: CatalogSource) {
    this.key = key
    this.link = link
    this.entry = entry
    this.source = source
  }
}

/** key → records; a key held by one record (most hashes and names) costs no Set. */
class MultiIndex {
  readonly #map = new Map<string, Rec | Set<Rec>>()

  add(key: string, rec: Rec): void {
    const cur = this.#map.get(key)
    if (cur === undefined) this.#map.set(key, rec)
    else if (cur instanceof Set) cur.add(rec)
    else if (cur !== rec) this.#map.set(key, new Set([cur, rec]))
  }

  remove(key: string, rec: Rec): void {
    const cur = this.#map.get(key)
    if (cur === rec) {
      this.#map.delete(key)
    } else if (cur instanceof Set) {
      cur.delete(rec)
      if (cur.size === 1) for (const only of cur) this.#map.set(key, only)
    }
  }

  get(key: string): Iterable<Rec> {
    const cur = this.#map.get(key)
    return cur === undefined ? NO_RECS : cur instanceof Set ? cur : [cur]
  }

  count(key: string): number {
    const cur = this.#map.get(key)
    return cur === undefined ? 0 : cur instanceof Set ? cur.size : 1
  }
}

const NO_RECS: readonly Rec[] = []

export interface CatalogOptions {
  maxEntriesPerPeer?: number
  maxEntries?: number
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

const MAX_REPORTED_ERRORS = 5

export class Catalog {
  readonly maxEntriesPerPeer: number
  readonly maxEntries: number
  readonly #records = new Map<string, Rec>()
  readonly #peerKeys = new Map<string, Set<string>>()
  /** Records nobody seeds, oldest first: eviction candidates. */
  readonly #orphans = new Set<Rec>()
  readonly #byKind = new MultiIndex()
  readonly #byArch = new MultiIndex()
  readonly #byLicense = new MultiIndex()
  readonly #byRelation = new MultiIndex()
  readonly #bySha = new MultiIndex()
  readonly #byName = new MultiIndex()
  readonly #childrenByParentKey = new MultiIndex()
  readonly #childrenByParentSha = new MultiIndex()
  readonly #childrenByClaimName = new MultiIndex()
  #localCount = 0
  /** Dense slots for the packed text index; freed slots are reused. */
  readonly #slots: (Rec | undefined)[] = []
  readonly #freeSlots: number[] = []
  readonly #textChunks: (TextChunk | undefined)[] = []

  constructor(options: CatalogOptions = {}) {
    this.maxEntriesPerPeer = options.maxEntriesPerPeer ?? DEFAULT_MAX_ENTRIES_PER_PEER
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_CATALOG_ENTRIES
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
      let rec = this.#records.get(key)
      if (!rec) {
        if (!this.#makeRoom()) {
          report.dropped++
          report.catalogFull = true
          continue
        }
        rec = this.#insert(key, entry, 'peer')
      } else if (!rec.peers.has(peerId) && !sameSummary(rec.entry, entry)) {
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
    const limit = Math.max(0, query.limit ?? 50)
    const offset = Math.max(0, query.offset ?? 0)
    const want = limit + offset
    const terms = (query.text ?? '').toLowerCase().split('\u0000').join('').split(/\s+/).filter((t) => t.length > 0)
    const phrase = terms.join(' ')
    const arch = query.architecture?.trim().toLowerCase()
    const license = query.license?.trim().toLowerCase()
    const filters: [MultiIndex, string | undefined][] = [
      [this.#byKind, query.kind],
      [this.#byArch, arch],
      [this.#byLicense, license],
      [this.#byRelation, query.relation]
    ]
    let smallest: Iterable<Rec> | undefined
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
    const consider = (rec: Rec): void => {
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

  /** Everything we seed, as wire messages for our peers. */
  localMessages(): CatalogMessage[] {
    const entries: CatalogEntry[] = []
    for (const rec of this.#records.values()) if (rec.local) entries.push(rec.entry)
    return toCatalogMessages(entries)
  }

  // --- lookups for lineage.ts ----------------------------------------------------------------

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

  records(): Iterable<CatalogRecord> {
    return this.#records.values()
  }

  // --- internals -----------------------------------------------------------------------------

  #lookup(link: string): Rec | undefined {
    try {
      return this.#records.get(linkKey(link))
    } catch {
      return undefined
    }
  }

  /** Calls `visit` once for every record whose haystack contains `term`. */
  #scanText(term: string, visit: (rec: Rec) => void): void {
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

  #makeRoom(): boolean {
    if (this.#records.size < this.maxEntries) return true
    for (const orphan of this.#orphans) {
      this.#delete(orphan)
      return true
    }
    return false
  }

  #insert(key: string, entry: CatalogEntry, source: CatalogSource): Rec {
    const link = keyLink(key)
    entry.link = link // entries here are fresh parser output, ours to keep
    const rec = new Rec(key, link, entry, source)
    this.#records.set(key, rec)
    rec.slot = this.#freeSlots.pop() ?? this.#slots.length
    this.#slots[rec.slot] = rec
    this.#index(rec)
    return rec
  }

  #replace(rec: Rec, entry: CatalogEntry, source: CatalogSource): void {
    this.#unindex(rec)
    entry.link = rec.link
    rec.entry = entry
    rec.source = source
    this.#index(rec)
  }

  #delete(rec: Rec): void {
    this.#unindex(rec)
    this.#records.delete(rec.key)
    this.#slots[rec.slot] = undefined
    this.#freeSlots.push(rec.slot)
    this.#dirty(rec.slot)
    this.#orphans.delete(rec)
    if (rec.local) this.#localCount--
    for (const peer of rec.peers) {
      const set = this.#peerKeys.get(peer)
      set?.delete(rec.key)
      if (set?.size === 0) this.#peerKeys.delete(peer)
    }
  }

  #setLocal(rec: Rec, local: boolean): void {
    if (rec.local === local) return
    rec.local = local
    this.#localCount += local ? 1 : -1
  }

  #touch(rec: Rec): void {
    rec.seeders = rec.peers.size + (rec.local ? 1 : 0)
    if (rec.seeders === 0) this.#orphans.add(rec)
    else this.#orphans.delete(rec)
  }

  #index(rec: Rec): void {
    const e = rec.entry
    rec.nameLower = e.name.toLowerCase()
    rec.haystack = [e.name, e.architecture ?? '', e.quantization ?? '', e.license ?? ''].join('\n').toLowerCase()
    this.#dirty(rec.slot)
    rec.nameKeys = entryNameKeys(e.name)
    rec.claims = lineageClaims(e)
    rec.relations = unique([...e.parents.map((p) => p.relation), ...(e.cardRelation !== undefined && (e.cardBaseModels?.length ?? 0) > 0 ? [e.cardRelation] : [])])
    rec.parentRefKeys = e.parents.map((p) => {
      if (p.link === undefined) return undefined
      try {
        return linkKey(p.link)
      } catch {
        return undefined // the schema already refused malformed links
      }
    })

    this.#byKind.add(e.kind, rec)
    if (e.architecture !== undefined) this.#byArch.add(e.architecture.toLowerCase(), rec)
    if (e.license !== undefined) this.#byLicense.add(e.license.toLowerCase(), rec)
    for (const r of rec.relations) this.#byRelation.add(r, rec)
    this.#bySha.add(e.sha256, rec)
    for (const k of rec.nameKeys) this.#byName.add(k, rec)
    const keys = reverseKeys(rec)
    for (const k of keys.parentKeys) this.#childrenByParentKey.add(k, rec)
    for (const s of keys.parentShas) this.#childrenByParentSha.add(s, rec)
    for (const k of keys.claimNameKeys) this.#childrenByClaimName.add(k, rec)
  }

  #unindex(rec: Rec): void {
    const e = rec.entry
    this.#byKind.remove(e.kind, rec)
    if (e.architecture !== undefined) this.#byArch.remove(e.architecture.toLowerCase(), rec)
    if (e.license !== undefined) this.#byLicense.remove(e.license.toLowerCase(), rec)
    for (const r of rec.relations) this.#byRelation.remove(r, rec)
    this.#bySha.remove(e.sha256, rec)
    for (const k of rec.nameKeys) this.#byName.remove(k, rec)
    const keys = reverseKeys(rec)
    for (const k of keys.parentKeys) this.#childrenByParentKey.remove(k, rec)
    for (const s of keys.parentShas) this.#childrenByParentSha.remove(s, rec)
    for (const k of keys.claimNameKeys) this.#childrenByClaimName.remove(k, rec)
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

/** The keys under which a record is found as someone's child (derived from its entry, so unindexing recomputes them). */
function reverseKeys(rec: Rec): { parentKeys: string[]; parentShas: string[]; claimNameKeys: string[] } {
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

interface Ranked {
  rec: Rec
  score: number
  seeders: number
}

function compareRank(aScore: number, aSeeders: number, a: Rec, bScore: number, bSeeders: number, b: Rec): number {
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

function snapshot(rec: Rec): CatalogItem {
  return { ...rec.entry, source: rec.source, seeders: rec.seeders, local: rec.local, conflicts: rec.conflicts }
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
