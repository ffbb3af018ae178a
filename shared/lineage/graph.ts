// The lineage graph of a model: its ancestors and descendants as known in the swarm catalog,
// walked transitively along the parent edges parents.ts reconciles. Pure TypeScript (no
// node:*), shared by `grove lineage`, the API and the renderer.
//
// Node ids are the edges' ids (see parents.ts): a canonical link, or `sha256:<hex>` /
// `name:<name key>` for a parent that is not in the catalog; such nodes carry `missing: true`.
// Cycles do not stop traversal from terminating (every node is visited once) and each is
// reported as a `cycle` problem. Problems are listed only when every node they name is in the
// graph. `maxDepth` and `maxNodes` bound the walk; cutting it short sets `truncated`.
import { keyLink, linkKey } from '../catalog/link-keys.js'
import type { CatalogRecord, CatalogSource } from '../catalog/records.js'
import type { Catalog } from '../catalog/store.js'
import type { ModelKind } from '../manifest.js'
import { ParentResolver, toLineageEdge, type LineageEdge, type LineageProblem, type LineageTarget, type ParentOptions } from './parents.js'

export type NodeRole = 'root' | 'ancestor' | 'descendant' | 'both'

export interface LineageNode {
  /** Canonical link, or `sha256:<hex>` / `name:<key>` for a parent known only that way. */
  link: string
  name: string
  kind: ModelKind | null
  sha256: string | null
  size?: number
  seeders: number
  local: boolean
  /** Where the summary came from; absent for missing nodes. */
  source?: CatalogSource
  /** A parent that is not in the catalog. */
  missing?: true
  role: NodeRole
}

export interface LineageGraph {
  root: string
  nodes: LineageNode[]
  edges: LineageEdge[]
  problems: LineageProblem[]
  /** maxDepth or maxNodes cut the graph short. */
  truncated: boolean
}

export interface LineageOptions extends ParentOptions {
  /** Generations followed up and down (default 32). */
  maxDepth?: number
  /** Most nodes in the result (default 2000). */
  maxNodes?: number
}

export const DEFAULT_LINEAGE_MAX_DEPTH = 32
export const DEFAULT_LINEAGE_MAX_NODES = 2000
const MAX_PROBLEMS = 200
const MAX_CYCLES = 20

interface NodeState {
  target: LineageTarget
  root: boolean
  ancestor: boolean
  descendant: boolean
}

function clampInt(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return max
  return Math.min(max, Math.max(min, Math.floor(value)))
}

function rootTarget(catalog: Catalog, resolver: ParentResolver, link: string): LineageTarget {
  const shaMatch = /^sha256:([0-9a-f]{64})$/i.exec(link.trim())
  if (shaMatch?.[1] !== undefined) {
    const sha = shaMatch[1].toLowerCase()
    const rec = resolver.bestBySha(sha)
    return rec ? { kind: 'known', id: rec.link, rec } : { kind: 'missing', id: `sha256:${sha}`, name: '', sha256: sha }
  }
  const key = linkKey(link) // throws BAD_LINK
  const rec = catalog.recordByKey(key)
  return rec ? { kind: 'known', id: rec.link, rec } : { kind: 'missing', id: keyLink(key), name: '', sha256: null }
}

/**
 * Ancestors and descendants of `link` (a grove:// link, or `sha256:<hex>`), transitively, as far
 * as the catalog knows them. Never throws for graph problems; throws BAD_LINK for a bad link.
 */
export function lineageOf(catalog: Catalog, link: string, options: LineageOptions = {}): LineageGraph {
  const maxDepth = clampInt(options.maxDepth ?? DEFAULT_LINEAGE_MAX_DEPTH, 0, 10_000)
  const maxNodes = clampInt(options.maxNodes ?? DEFAULT_LINEAGE_MAX_NODES, 1, 1_000_000)
  const resolver = new ParentResolver(catalog, options.requireChildFromDrive === true)
  const root = rootTarget(catalog, resolver, link)
  const nodes = new Map<string, NodeState>()
  const rootState: NodeState = { target: root, root: true, ancestor: false, descendant: false }
  nodes.set(root.id, rootState)
  let truncated = false

  // Ancestors.
  const up: [NodeState, number][] = [[rootState, 0]]
  for (let i = 0; i < up.length; i++) {
    const item = up[i]
    if (!item) break
    const [state, depth] = item
    if (state.target.kind !== 'known') continue
    const edges = resolver.resolve(state.target.rec).edges
    if (depth >= maxDepth) {
      if (edges.some((e) => !nodes.has(e.target.id))) truncated = true
      continue
    }
    for (const edge of edges) {
      let next = nodes.get(edge.target.id)
      if (!next) {
        if (nodes.size >= maxNodes) {
          truncated = true
          continue
        }
        next = { target: edge.target, root: false, ancestor: false, descendant: false }
        nodes.set(edge.target.id, next)
        up.push([next, depth + 1])
      }
      if (!next.root) next.ancestor = true
    }
  }

  // Descendants.
  const down: [NodeState, number][] = [[rootState, 0]]
  let full = false
  for (let i = 0; i < down.length && !full; i++) {
    const item = down[i]
    if (!item) break
    const [state, depth] = item
    const parentId = state.target.id
    for (const child of childCandidates(catalog, state.target)) {
      if (child.link === parentId || nodes.get(child.link)?.descendant === true) continue // seen (candidates repeat)
      if (!resolver.resolve(child).edges.some((e) => e.target.id === parentId)) continue
      let next = nodes.get(child.link)
      if (!next) {
        if (depth >= maxDepth || nodes.size >= maxNodes) {
          truncated = true
          full = nodes.size >= maxNodes
          if (full) break
          continue
        }
        next = { target: { kind: 'known', id: child.link, rec: child }, root: false, ancestor: false, descendant: false }
        nodes.set(child.link, next)
        down.push([next, depth + 1])
      } else if (!next.descendant && !next.root) {
        down.push([next, depth + 1])
      }
      if (!next.root) next.descendant = true
    }
  }

  // Edges among the nodes, and problems about them.
  const edges: LineageEdge[] = []
  const problems: LineageProblem[] = []
  for (const state of nodes.values()) {
    if (state.target.kind !== 'known') continue
    const rec = state.target.rec
    const resolved = resolver.resolve(rec)
    for (const e of resolved.edges) if (nodes.has(e.target.id)) edges.push(toLineageEdge(e, rec))
    for (const p of resolved.problems) {
      if (problems.length < MAX_PROBLEMS && p.nodes.every((id) => nodes.has(id))) problems.push(p)
    }
  }
  for (const cycle of findCycles(nodes.keys(), edges)) {
    if (problems.length >= MAX_PROBLEMS) break
    problems.push({ kind: 'cycle', nodes: cycle, detail: `lineage cycle: ${[...cycle, cycle[0] ?? ''].join(' → ')}` })
  }

  return {
    root: root.id,
    nodes: [...nodes.values()].map(toNode),
    edges,
    problems,
    truncated
  }
}

/** Records that may name `target` as a parent (by key, by hash, by name); the same record may come twice. */
function* childCandidates(catalog: Catalog, target: LineageTarget): Generator<CatalogRecord> {
  let key: string | undefined
  let sha: string | null
  let names: readonly string[] = []
  if (target.kind === 'known') {
    key = target.rec.key
    sha = target.rec.entry.sha256
    names = target.rec.nameKeys
  } else {
    sha = target.sha256
    if (target.id.startsWith('grove://')) {
      try {
        key = linkKey(target.id)
      } catch {
        key = undefined
      }
    }
  }
  if (key !== undefined) yield* catalog.childrenByParentKey(key)
  if (sha !== null) yield* catalog.childrenByParentSha256(sha)
  for (const n of names) yield* catalog.childrenByClaimedName(n)
}

function toNode(state: NodeState): LineageNode {
  const role: NodeRole = state.root ? 'root' : state.ancestor && state.descendant ? 'both' : state.ancestor ? 'ancestor' : 'descendant'
  const t = state.target
  if (t.kind === 'missing') {
    return { link: t.id, name: t.name, kind: null, sha256: t.sha256, seeders: 0, local: false, missing: true, role }
  }
  const e = t.rec.entry
  return { link: t.id, name: e.name, kind: e.kind, sha256: e.sha256, size: e.size, seeders: t.rec.seeders, local: t.rec.local, source: t.rec.source, role }
}

/** Elementary cycles found by a depth-first search (one per back edge, at most MAX_CYCLES). */
function findCycles(ids: Iterable<string>, edges: readonly LineageEdge[]): string[][] {
  const adjacency = new Map<string, string[]>()
  for (const e of edges) {
    let list = adjacency.get(e.parent)
    if (!list) adjacency.set(e.parent, (list = []))
    list.push(e.child)
  }
  const color = new Map<string, 1 | 2>() // 1: on the stack, 2: done
  const cycles: string[][] = []
  for (const start of ids) {
    if (color.has(start) || cycles.length >= MAX_CYCLES) continue
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }]
    const position = new Map<string, number>([[start, 0]])
    color.set(start, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      if (!top) break
      const children = adjacency.get(top.id) ?? []
      const child = children[top.next++]
      if (child === undefined) {
        color.set(top.id, 2)
        position.delete(top.id)
        stack.pop()
        continue
      }
      const c = color.get(child)
      if (c === undefined) {
        color.set(child, 1)
        position.set(child, stack.length)
        stack.push({ id: child, next: 0 })
      } else if (c === 1 && cycles.length < MAX_CYCLES) {
        const from = position.get(child) ?? 0
        cycles.push(stack.slice(from).map((s) => s.id))
      }
    }
  }
  return cycles
}
