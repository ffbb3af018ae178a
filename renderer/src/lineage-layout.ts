// Lays out a lineage graph: parents above (or left of) their children. Pure: no React, so it
// can be measured on its own.
// - Up to DAGRE_LIMIT nodes: dagre (layered, few crossings, merges drawn well). Its ordering
//   phase grows fast with the width of a rank: ~1 s for 300 nodes on a slow machine.
// - Bigger graphs: a tidy-tree layout in linear time. Each node hangs under its nearest parent
//   (a merge's other parents just get an extra edge), leaves take one slot each, a parent sits
//   centred over its children, and ranks are the longest path from a root.
import dagre from '@dagrejs/dagre'
import type { LineageGraph } from '../../shared/api.js'

export const NODE_WIDTH = 220
export const NODE_HEIGHT = 68
export const DAGRE_LIMIT = 120
/** More leaf children than this under one parent wrap into rows. */
const LEAF_WRAP = 6

export type Direction = 'TB' | 'LR'

export interface Placed {
  id: string
  x: number
  y: number
}

/** Only what the layout needs. */
export interface LayoutGraph {
  nodes: Pick<LineageGraph['nodes'][number], 'link'>[]
  edges: Pick<LineageGraph['edges'][number], 'parent' | 'child'>[]
}

const GAP = { TB: { sibling: 28, rank: 70 }, LR: { sibling: 16, rank: 90 } } as const

export function layoutLineage(graph: LayoutGraph, direction: Direction = 'TB'): Map<string, Placed> {
  return graph.nodes.length <= DAGRE_LIMIT ? dagreLayout(graph, direction) : treeLayout(graph, direction)
}

export function dagreLayout(graph: LayoutGraph, direction: Direction): Map<string, Placed> {
  const g = new dagre.graphlib.Graph({ multigraph: false })
  g.setGraph({ rankdir: direction, nodesep: GAP[direction].sibling, ranksep: GAP[direction].rank, edgesep: 12, marginx: 20, marginy: 20 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const n of graph.nodes) g.setNode(n.link, { width: NODE_WIDTH, height: NODE_HEIGHT })
  for (const e of graph.edges) {
    if (e.parent === e.child) continue
    if (g.hasNode(e.parent) && g.hasNode(e.child)) g.setEdge(e.parent, e.child)
  }
  dagre.layout(g)
  const out = new Map<string, Placed>()
  for (const n of graph.nodes) {
    const p = g.node(n.link) as { x?: number; y?: number } | undefined
    out.set(n.link, { id: n.link, x: (p?.x ?? 0) - NODE_WIDTH / 2, y: (p?.y ?? 0) - NODE_HEIGHT / 2 })
  }
  return out
}

export function treeLayout(graph: LayoutGraph, direction: Direction): Map<string, Placed> {
  const ids = graph.nodes.map((n) => n.link)
  const known = new Set(ids)
  const parents = new Map<string, string[]>()
  const children = new Map<string, string[]>()
  for (const id of ids) {
    parents.set(id, [])
    children.set(id, [])
  }
  for (const e of graph.edges) {
    if (e.parent === e.child || !known.has(e.parent) || !known.has(e.child)) continue
    parents.get(e.child)!.push(e.parent)
    children.get(e.parent)!.push(e.child)
  }

  // Ranks: longest path from a root (Kahn's order); nodes on a cycle keep the rank they reached.
  const rank = new Map<string, number>(ids.map((id) => [id, 0]))
  const indegree = new Map<string, number>(ids.map((id) => [id, parents.get(id)!.length]))
  const queue = ids.filter((id) => indegree.get(id) === 0)
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!
    for (const c of children.get(id)!) {
      rank.set(c, Math.max(rank.get(c)!, rank.get(id)! + 1))
      const left = indegree.get(c)! - 1
      indegree.set(c, left)
      if (left === 0) queue.push(c)
    }
  }

  // The tree: each node under its nearest (highest-ranked, then first) parent that ranks above it.
  const treeChildren = new Map<string, string[]>(ids.map((id) => [id, []]))
  const roots: string[] = []
  for (const id of ids) {
    let best: string | undefined
    for (const p of parents.get(id)!) {
      if (rank.get(p)! >= rank.get(id)!) continue
      if (best === undefined || rank.get(p)! > rank.get(best)!) best = p
    }
    if (best === undefined) roots.push(id)
    else treeChildren.get(best)!.push(id)
  }

  // Slots across the ranks: leaves one after another, parents centred over their children.
  // A crowd of leaf children (a base with dozens of finetunes) wraps into a block of rows
  // under its parent, so the tree grows down instead of only sideways. Each subtree owns its
  // own range of slots, so a block's extra rows never meet another subtree.
  const slot = new Map<string, number>()
  const extraRow = new Map<string, number>()
  let cursor = 0
  const place = (id: string, depth: number): number => {
    slot.set(id, -1) // visiting (cycles stop here)
    const kids = treeChildren.get(id)!.filter((k) => !slot.has(k))
    if (kids.length === 0 || depth > 10_000) {
      slot.set(id, cursor++)
      return slot.get(id)!
    }
    const leaves = kids.filter((k) => treeChildren.get(k)!.length === 0)
    const wrap = leaves.length > LEAF_WRAP
    const spots: number[] = []
    for (const k of wrap ? kids.filter((x) => !leaves.includes(x)) : kids) {
      if (!slot.has(k)) spots.push(place(k, depth + 1))
    }
    if (wrap) {
      const cols = Math.max(LEAF_WRAP, Math.ceil(Math.sqrt(leaves.length * 3)))
      const start = cursor
      leaves.forEach((leaf, i) => {
        slot.set(leaf, start + (i % cols))
        extraRow.set(leaf, Math.floor(i / cols))
      })
      spots.push(start, start + Math.min(cols, leaves.length) - 1)
      cursor += Math.min(cols, leaves.length)
    }
    const at = spots.length > 0 ? (Math.min(...spots) + Math.max(...spots)) / 2 : cursor++
    slot.set(id, at)
    return at
  }
  for (const r of roots) {
    place(r, 0)
    cursor += 0.5 // a little air between separate trees
  }
  for (const id of ids) if (!slot.has(id)) place(id, 0) // cycles with no root

  // Rows pushed down by a wrapped block push that leaf's own rank down too.
  const row = (id: string) => rank.get(id)! + (extraRow.get(id) ?? 0)

  // Wider rank gaps than dagre's: elbow edges put their labels in the gap.
  const gap = { sibling: GAP[direction].sibling, rank: direction === 'LR' ? 150 : 90 }
  const across = direction === 'TB' ? NODE_WIDTH + gap.sibling : NODE_HEIGHT + gap.sibling
  const down = direction === 'TB' ? NODE_HEIGHT + gap.rank : NODE_WIDTH + gap.rank
  const out = new Map<string, Placed>()
  for (const id of ids) {
    const a = slot.get(id)! * across
    const d = row(id) * down
    out.set(id, direction === 'TB' ? { id, x: a, y: d } : { id, x: d, y: a })
  }
  return out
}
