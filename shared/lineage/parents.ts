// A model's parent edges, reconciled from its three lineage sources and checked. Pure
// TypeScript (no node:*); graph.ts walks these edges transitively.
//
// An edge points at a catalog model, named by its canonical link (`grove://<z-base-32 key>`), or
// at a parent that is not in the catalog, which keeps the id it was named by: its link,
// `sha256:<hex>` when the manifest names it only by weights hash, or `name:<name key>` when only
// a GGUF/card names it.
//
// Reconciliation of the three lineage sources of a child model:
// 1. The manifest `parents` are primary. A ref with a link points at that drive; a ref with only a
//    sha256 points at the catalog model with those weights (several drives with the same
//    weights: the one read from its drive, then most seeders, then lowest link). Several refs to
//    the same parent make one edge; differing relations among them are a conflict.
// 2. The card's `base_model` (with `base_model_relation`) and then the GGUF's
//    `general.base_model.N.*` add claims. A claim that is a grove:// link matches that drive;
//    otherwise it is matched by name (case-insensitive; spaces/underscores read as "-"; for
//    "org/name" and Hugging Face repo URLs the full "org/name" is tried before "name") against
//    catalog model names, never against the child itself. A name shared by models with different
//    weights is ambiguous and matches none of them.
//    - A claim matching a manifest parent corroborates that edge (its source is added). If the
//      card states a relation that differs from the manifest's, the manifest's relation is kept
//      and the card's is recorded in `conflict` (and in problems).
//    - A claim matching a model that is already a manifest ancestor further up (quantizing a
//      finetune copies the finetune's `general.base_model.*` into the new file) adds nothing.
//    - If the manifest names exactly one parent, that parent is not in the catalog, and a source
//      has exactly one claim that matches nothing, the claim is taken to name the same parent
//      (its text goes to `claimedNames`) rather than a second, made-up parent.
//    - Any other claim becomes its own edge, never verified. When the manifest does name parents,
//      such an edge is also reported as an `unmatched-claim` problem: the sources disagree.
//    - The relation of a GGUF/card-only edge: the card's `base_model_relation`; otherwise
//      `adapter` for an adapter, `merge` when the source names several bases, else `finetune`.
// 3. An edge is verified only when a manifest ref to that parent carries a sha256, the parent is
//    known from its own drive's manifest as read by us (`source: 'drive'`), and the two hashes
//    are equal (with `requireChildFromDrive`, the child's summary must be drive-read too).
//    Otherwise it is claimed, with `reason` (a stable code) and `detail` (a sentence):
//    parent-unknown, hash-differs, no-parent-hash, parent-relayed, child-relayed, name-only,
//    ambiguous-name.
// 4. A parent that is the child itself (same drive key, or for a hash-only ref the same weights
//    hash) is dropped and reported as a `self-parent` problem. A parent that is not in the
//    catalog is kept as a missing target and reported as a `dangling-parent`.
import type { LineageClaim } from '../catalog/claims.js'
import { keyLink, linkKey } from '../catalog/link-keys.js'
import type { CatalogRecord } from '../catalog/records.js'
import type { Catalog } from '../catalog/store.js'
import type { ParentRef, Relation } from '../manifest.js'

export type ClaimSource = 'manifest' | 'gguf' | 'card'
export type EdgeReason = 'parent-unknown' | 'hash-differs' | 'no-parent-hash' | 'parent-relayed' | 'child-relayed' | 'name-only' | 'ambiguous-name'
export type ProblemKind = 'self-parent' | 'cycle' | 'dangling-parent' | 'hash-mismatch' | 'relation-conflict' | 'unmatched-claim' | 'ambiguous-name'

export interface LineageEdge {
  parent: string
  child: string
  relation: Relation
  verified: boolean
  reason?: EdgeReason
  detail?: string
  /** Which of the child's sources claimed this parent (manifest, card, gguf). */
  sources: ClaimSource[]
  /** Relations other sources stated for this edge that differ from `relation`. */
  conflict?: { source: ClaimSource; relation: Relation }[]
  /** What the GGUF/card said, when the parent was matched by name or folded into a manifest parent. */
  claimedNames?: string[]
}

export interface LineageProblem {
  kind: ProblemKind
  /** Node ids involved (for a cycle: in order, parent before child). */
  nodes: string[]
  detail: string
}

export interface ParentOptions {
  /**
   * Also require the child's own summary to be read from its drive for an edge to be verified
   * (default false: rule 3 above). A relayed child summary is written by whoever relays it,
   * so with this on, no peer can make an edge look verified by inventing a child's parents.
   */
  requireChildFromDrive?: boolean
}

const ANCESTOR_CHECK_LIMIT = 256

/** What an edge points at: a catalog model, or a parent known only by link, weights hash or name. */
export type LineageTarget =
  | { kind: 'known'; id: string; rec: CatalogRecord }
  | { kind: 'missing'; id: string; name: string; sha256: string | null }

/** An edge while it is being reconciled; `toLineageEdge` gives its public form. */
export interface DraftEdge {
  target: LineageTarget
  relation: Relation
  /** The source the relation came from; a manifest relation is never overridden. */
  relationFrom: ClaimSource | 'inferred'
  verified: boolean
  reason?: EdgeReason
  detail?: string
  sources: Set<ClaimSource>
  conflict: { source: ClaimSource; relation: Relation }[]
  claimedNames: string[]
}

export interface ResolvedParents {
  edges: DraftEdge[]
  problems: LineageProblem[]
}

type ClaimMatch =
  | { kind: 'self' }
  | { kind: 'known'; rec: CatalogRecord; by: 'link' | 'name' }
  | { kind: 'ambiguous'; id: string; key: string }
  | { kind: 'none'; target: LineageTarget }

interface NameCandidates {
  /** Up to 3 distinct weights hashes among the models with this name, with their counts. */
  shaCounts: Map<string, number>
  /** 3 or more distinct hashes: ambiguous whoever asks (the scan stopped there). */
  many: boolean
  /** The best two candidates: read from drive, most seeders, lowest link. */
  best?: CatalogRecord
  second?: CatalogRecord
}

/** Resolves the parent edges of catalog records; caches per query (catalogs change between queries). */
export class ParentResolver {
  readonly #catalog: Catalog
  readonly #cache = new Map<string, ResolvedParents>()
  readonly #names = new Map<string, NameCandidates>()
  readonly #ancestors = new Map<string, Set<string>>()

  readonly #strictChild: boolean

  constructor(catalog: Catalog, strictChild = false) {
    this.#catalog = catalog
    this.#strictChild = strictChild
  }

  resolve(child: CatalogRecord): ResolvedParents {
    const cached = this.#cache.get(child.key)
    if (cached) return cached
    const result = this.#resolve(child)
    this.#cache.set(child.key, result)
    return result
  }

  /** The catalog model with these weights (excluding `exclude`), best first. */
  bestBySha(sha256: string, exclude?: CatalogRecord): CatalogRecord | undefined {
    let best: CatalogRecord | undefined
    for (const rec of this.#catalog.recordsBySha256(sha256)) {
      if (rec === exclude || rec.key === exclude?.key) continue
      if (best === undefined || compareRecords(rec, best) < 0) best = rec
    }
    return best
  }

  #resolve(child: CatalogRecord): ResolvedParents {
    const edges = new Map<string, DraftEdge>()
    const problems: LineageProblem[] = []

    // 1. Manifest parents.
    const parents = child.entry.parents
    for (let i = 0; i < parents.length; i++) {
      const ref = parents[i]
      if (ref === undefined) continue
      const target = this.#manifestTarget(ref, child.parentRefKeys[i], child)
      if (target === 'self') {
        problems.push({
          kind: 'self-parent',
          nodes: [child.link],
          detail: `${child.entry.name} names itself as its parent (${ref.link !== undefined ? 'by link' : 'by weights hash'}); the claim is ignored`
        })
        continue
      }
      const check = checkRef(ref, target, this.#strictChild ? child : undefined)
      const existing = edges.get(target.id)
      if (existing) {
        existing.sources.add('manifest')
        if (ref.relation !== existing.relation && !existing.conflict.some((c) => c.source === 'manifest' && c.relation === ref.relation)) {
          existing.conflict.push({ source: 'manifest', relation: ref.relation })
          problems.push({
            kind: 'relation-conflict',
            nodes: [target.id, child.link],
            detail: `${child.entry.name}: the manifest names this parent twice, as ${existing.relation} and as ${ref.relation}; keeping ${existing.relation}`
          })
        }
        if (check.verified && !existing.verified) {
          existing.verified = true
          delete existing.reason
          delete existing.detail
        }
        continue
      }
      edges.set(target.id, {
        target,
        relation: ref.relation,
        relationFrom: 'manifest',
        verified: check.verified,
        reason: check.reason,
        detail: check.detail,
        sources: new Set(['manifest']),
        conflict: [],
        claimedNames: ref.name !== undefined && target.kind === 'known' && ref.name !== target.rec.entry.name ? [ref.name] : []
      })
      if (target.kind === 'missing') {
        problems.push({ kind: 'dangling-parent', nodes: [target.id, child.link], detail: `${child.entry.name} names a parent that is not in the catalog (${target.id})` })
      } else if (check.reason === 'hash-differs') {
        problems.push({ kind: 'hash-mismatch', nodes: [target.id, child.link], detail: check.detail ?? 'parent hash differs' })
      }
    }
    if (child.claims.length === 0) return { edges: [...edges.values()], problems }
    const manifestEdges = [...edges.values()]

    // 2. Card, then GGUF claims.
    for (const source of ['card', 'gguf'] as const) {
      const claims = child.claims.filter((c) => c.source === source)
      if (claims.length === 0) continue
      const leftovers: { claim: LineageClaim; match: ClaimMatch }[] = []
      for (const claim of claims) {
        const match = this.#matchClaim(claim, child)
        if (match.kind === 'self') continue
        if (match.kind === 'known') {
          const draft = edges.get(match.rec.link)
          if (draft) {
            this.#corroborate(draft, claim, child, problems)
            continue
          }
          if (manifestEdges.length > 0 && this.#isManifestAncestor(child, match.rec)) continue
        }
        leftovers.push({ claim, match })
      }
      const sole = manifestEdges.length === 1 ? manifestEdges[0] : undefined
      const only = leftovers.length === 1 ? leftovers[0] : undefined
      if (sole?.target.kind === 'missing' && only !== undefined && only.match.kind !== 'known') {
        this.#corroborate(sole, only.claim, child, problems)
        continue
      }
      for (const { claim, match } of leftovers) {
        const target: LineageTarget =
          match.kind === 'known'
            ? { kind: 'known', id: match.rec.link, rec: match.rec }
            : match.kind === 'ambiguous'
              ? { kind: 'missing', id: match.id, name: claim.text, sha256: null }
              : match.kind === 'none'
                ? match.target
                : unreachable()
        const draft = edges.get(target.id)
        if (draft) {
          this.#corroborate(draft, claim, child, problems)
          continue
        }
        const explicit = claim.relation
        const relation: Relation = explicit ?? (child.entry.kind === 'adapter' ? 'adapter' : claims.length > 1 ? 'merge' : 'finetune')
        const [reason, detail] =
          match.kind === 'known'
            ? match.by === 'link'
              ? (['no-parent-hash', `only the ${source} names this parent (by link, with no weights hash)`] as const)
              : (['name-only', `only the ${source} names this parent, by name ("${claim.text}")`] as const)
            : match.kind === 'ambiguous'
              ? (['ambiguous-name', `the ${source} names "${claim.text}", which several catalog models with different weights are called`] as const)
              : (['parent-unknown', `the ${source} names "${claim.text}", which is not in the catalog`] as const)
        edges.set(target.id, {
          target,
          relation,
          relationFrom: explicit !== undefined ? source : 'inferred',
          verified: false,
          reason,
          detail,
          sources: new Set([source]),
          conflict: [],
          claimedNames: [claim.text]
        })
        if (match.kind === 'ambiguous') {
          problems.push({ kind: 'ambiguous-name', nodes: [target.id, child.link], detail })
        } else if (manifestEdges.length > 0) {
          problems.push({
            kind: 'unmatched-claim',
            nodes: [target.id, child.link],
            detail: `the ${source} of ${child.entry.name} names "${claim.text}", which is not among its manifest parents`
          })
        }
      }
    }
    return { edges: [...edges.values()], problems }
  }

  #corroborate(draft: DraftEdge, claim: LineageClaim, child: CatalogRecord, problems: LineageProblem[]): void {
    draft.sources.add(claim.source)
    if (!draft.claimedNames.includes(claim.text)) draft.claimedNames.push(claim.text)
    const relation = claim.relation
    if (relation === undefined) return
    if (draft.relationFrom === 'inferred' || (draft.relationFrom === claim.source && relation === draft.relation)) {
      draft.relation = relation
      draft.relationFrom = claim.source
      return
    }
    if (relation !== draft.relation && !draft.conflict.some((c) => c.source === claim.source && c.relation === relation)) {
      draft.conflict.push({ source: claim.source, relation })
      problems.push({
        kind: 'relation-conflict',
        nodes: [draft.target.id, child.link],
        detail: `${child.entry.name}: the ${draft.relationFrom} says ${draft.relation}, the ${claim.source} says ${relation}; keeping ${draft.relation}`
      })
    }
  }

  #manifestTarget(ref: ParentRef, key: string | undefined, child: CatalogRecord): LineageTarget | 'self' {
    if (key !== undefined) {
      if (key === child.key) return 'self'
      const rec = this.#catalog.recordByKey(key)
      return rec ? { kind: 'known', id: rec.link, rec } : { kind: 'missing', id: keyLink(key), name: ref.name ?? '', sha256: ref.sha256 ?? null }
    }
    const sha = ref.sha256 ?? ''
    if (sha === child.entry.sha256) return 'self'
    const rec = this.bestBySha(sha, child)
    return rec ? { kind: 'known', id: rec.link, rec } : { kind: 'missing', id: `sha256:${sha}`, name: ref.name ?? '', sha256: sha }
  }

  #matchClaim(claim: LineageClaim, child: CatalogRecord): ClaimMatch {
    if (claim.linkKey !== undefined) {
      if (claim.linkKey === child.key) return { kind: 'self' }
      const rec = this.#catalog.recordByKey(claim.linkKey)
      if (rec) return { kind: 'known', rec, by: 'link' }
      return { kind: 'none', target: { kind: 'missing', id: keyLink(claim.linkKey), name: claim.text, sha256: null } }
    }
    for (const key of claim.keys) {
      const cands = this.#nameCandidates(key)
      if (cands.many) return { kind: 'ambiguous', id: `name:${key}`, key }
      const childIsCandidate = child.nameKeys.includes(key)
      let distinct = 0
      for (const [sha, count] of cands.shaCounts) {
        if (count - (childIsCandidate && sha === child.entry.sha256 ? 1 : 0) > 0) distinct++
      }
      if (distinct === 0) continue
      if (distinct > 1) return { kind: 'ambiguous', id: `name:${key}`, key }
      const rec = cands.best?.key !== child.key ? cands.best : cands.second
      if (rec) return { kind: 'known', rec, by: 'name' }
    }
    const first = claim.keys[0] ?? claim.text.toLowerCase()
    return { kind: 'none', target: { kind: 'missing', id: `name:${first}`, name: claim.text, sha256: null } }
  }

  #nameCandidates(key: string): NameCandidates {
    let cands = this.#names.get(key)
    if (cands) return cands
    cands = { shaCounts: new Map(), many: false }
    for (const r of this.#catalog.recordsByName(key)) {
      const sha = r.entry.sha256
      cands.shaCounts.set(sha, (cands.shaCounts.get(sha) ?? 0) + 1)
      if (cands.shaCounts.size >= 3) {
        cands.many = true
        break
      }
      if (cands.best === undefined || compareRecords(r, cands.best) < 0) {
        cands.second = cands.best
        cands.best = r
      } else if (cands.second === undefined || compareRecords(r, cands.second) < 0) {
        cands.second = r
      }
    }
    this.#names.set(key, cands)
    return cands
  }

  /** Whether `target` is reachable from `child` through manifest parents (bounded). */
  #isManifestAncestor(child: CatalogRecord, target: CatalogRecord): boolean {
    let set = this.#ancestors.get(child.key)
    if (!set) {
      set = new Set()
      const queue: CatalogRecord[] = [child]
      for (let i = 0; i < queue.length && set.size < ANCESTOR_CHECK_LIMIT; i++) {
        const rec = queue[i]
        if (!rec) break
        for (const [j, ref] of rec.entry.parents.entries()) {
          const t = this.#manifestTarget(ref, rec.parentRefKeys[j], rec)
          if (t === 'self' || t.kind !== 'known' || set.has(t.rec.key) || t.rec.key === child.key) continue
          set.add(t.rec.key)
          queue.push(t.rec)
        }
      }
      this.#ancestors.set(child.key, set)
    }
    return set.has(target.key)
  }
}

function unreachable(): never {
  throw new Error('unreachable')
}

function compareRecords(a: CatalogRecord, b: CatalogRecord): number {
  if (a.source !== b.source) return a.source === 'drive' ? -1 : 1
  if (a.seeders !== b.seeders) return b.seeders - a.seeders
  return a.link < b.link ? -1 : a.link > b.link ? 1 : 0
}

function short(hex: string): string {
  return hex.slice(0, 12) + '…'
}

function checkRef(ref: ParentRef, target: LineageTarget, strictChild?: CatalogRecord): { verified: boolean; reason?: EdgeReason; detail?: string } {
  if (target.kind === 'missing') {
    return {
      verified: false,
      reason: 'parent-unknown',
      detail: ref.link !== undefined ? 'the parent drive is not in the catalog' : `no model with weights sha256 ${short(ref.sha256 ?? '')} is in the catalog`
    }
  }
  const rec = target.rec
  if (ref.sha256 === undefined) {
    return { verified: false, reason: 'no-parent-hash', detail: 'the manifest names this parent by link only, with no weights hash' }
  }
  if (ref.sha256 !== rec.entry.sha256) {
    return {
      verified: false,
      reason: 'hash-differs',
      detail: `the child names parent weights sha256 ${short(ref.sha256)}, the parent's ${rec.source === 'drive' ? 'manifest' : 'relayed summary'} says ${short(rec.entry.sha256)}`
    }
  }
  if (rec.source !== 'drive') {
    return { verified: false, reason: 'parent-relayed', detail: "the hashes agree, but the parent's manifest was only relayed by peers, not read from its drive" }
  }
  if (strictChild !== undefined && strictChild.source !== 'drive') {
    return { verified: false, reason: 'child-relayed', detail: "the hashes agree, but this child's manifest was only relayed by peers, not read from its drive" }
  }
  return { verified: true }
}

/** The direct parent edges of one model (for `grove info`). */
export function parentsOf(catalog: Catalog, link: string, options: ParentOptions = {}): { edges: LineageEdge[]; problems: LineageProblem[] } {
  const rec = catalog.recordByKey(linkKey(link))
  if (!rec) return { edges: [], problems: [] }
  const resolved = new ParentResolver(catalog, options.requireChildFromDrive === true).resolve(rec)
  return { edges: resolved.edges.map((e) => toLineageEdge(e, rec)), problems: resolved.problems }
}

const SOURCE_ORDER: readonly ClaimSource[] = ['manifest', 'card', 'gguf']

/** The public form of a reconciled edge of `child`. */
export function toLineageEdge(e: DraftEdge, child: CatalogRecord): LineageEdge {
  const edge: LineageEdge = {
    parent: e.target.id,
    child: child.link,
    relation: e.relation,
    verified: e.verified,
    sources: SOURCE_ORDER.filter((s) => e.sources.has(s))
  }
  if (!e.verified && e.reason !== undefined) edge.reason = e.reason
  if (!e.verified && e.detail !== undefined) edge.detail = e.detail
  if (e.conflict.length > 0) edge.conflict = e.conflict.map((c) => ({ ...c }))
  if (e.claimedNames.length > 0) edge.claimedNames = [...e.claimedNames]
  return edge
}
