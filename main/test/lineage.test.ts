// The swarm catalog (shared/catalog/) and the lineage graph (shared/lineage/): pure logic,
// no networking. Timings are printed, never asserted.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { keyLink, linkKey } from '../../shared/catalog/link-keys.js'
import { Catalog } from '../../shared/catalog/store.js'
import {
  CatalogEntry,
  CatalogMessage,
  MAX_CATALOG_ENTRIES_PER_MESSAGE,
  catalogEntryFromManifest,
  type CatalogEntry as CatalogEntryType
} from '../../shared/catalog/wire.js'
import { formatLink, parseLink } from '../../shared/link.js'
import type { Manifest, ParentRef } from '../../shared/manifest.js'
import { lineageOf, type LineageGraph } from '../../shared/lineage/graph.js'
import { parentsOf, type LineageEdge } from '../../shared/lineage/parents.js'

const PUBLISHER = 'f'.repeat(64)
const CREATED = '2025-01-01T00:00:00.000Z'

/** A deterministic 64-hex value. */
function hex(n: number, salt: string): string {
  return (salt + n.toString(16)).padStart(64, '0').slice(-64)
}
const keyOf = (n: number): string => hex(n, 'a')
const linkOf = (n: number): string => formatLink(keyOf(n))
const shaOf = (n: number): string => hex(n, 'b')

function entry(n: number, over: Partial<CatalogEntryType> = {}): CatalogEntryType {
  return {
    link: linkOf(n),
    name: `model-${n}`,
    kind: 'model',
    sha256: shaOf(n),
    size: 1000 + n,
    architecture: 'llama',
    license: 'apache-2.0',
    parents: [],
    publisher: PUBLISHER,
    created: CREATED,
    ...over
  }
}

function parent(n: number, relation: ParentRef['relation'], withHash = true): ParentRef {
  return withHash ? { link: linkOf(n), sha256: shaOf(n), relation } : { link: linkOf(n), relation }
}

function edge(graph: LineageGraph, parentId: string, childId: string): LineageEdge {
  const found = graph.edges.find((e) => e.parent === parentId && e.child === childId)
  assert.ok(found, `edge ${parentId} → ${childId} in ${JSON.stringify(graph.edges)}`)
  return found
}

function ids(graph: LineageGraph): string[] {
  return graph.nodes.map((n) => n.link).sort()
}

describe('lineage', () => {
  test('base → finetune → quantized chain, all read from drives, is verified both ways', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    cat.addFromDrive(entry(2, { name: 'Base-Instruct', parents: [parent(1, 'finetune')] }), { local: true })
    cat.addFromDrive(entry(3, { name: 'Base-Instruct-Q4', quantization: 'Q4_K_M', parents: [parent(2, 'quantized')] }))

    const up = lineageOf(cat, linkOf(3))
    assert.equal(up.root, linkOf(3))
    assert.deepEqual(ids(up), [linkOf(1), linkOf(2), linkOf(3)].sort())
    assert.equal(up.edges.length, 2)
    assert.deepEqual(edge(up, linkOf(2), linkOf(3)), { parent: linkOf(2), child: linkOf(3), relation: 'quantized', verified: true, sources: ['manifest'] })
    assert.equal(edge(up, linkOf(1), linkOf(2)).relation, 'finetune')
    assert.equal(edge(up, linkOf(1), linkOf(2)).verified, true)
    assert.deepEqual(up.problems, [])
    assert.equal(up.truncated, false)
    const mid = up.nodes.find((n) => n.link === linkOf(2))
    assert.deepEqual(
      { name: mid?.name, kind: mid?.kind, sha256: mid?.sha256, seeders: mid?.seeders, local: mid?.local, role: mid?.role },
      { name: 'Base-Instruct', kind: 'model', sha256: shaOf(2), seeders: 1, local: true, role: 'ancestor' }
    )

    const down = lineageOf(cat, linkOf(1))
    assert.deepEqual(ids(down), [linkOf(1), linkOf(2), linkOf(3)].sort())
    assert.equal(down.nodes.find((n) => n.link === linkOf(3))?.role, 'descendant')
    assert.equal(down.edges.length, 2)

    // The middle: one ancestor, one descendant; maxDepth 0 is just the node.
    assert.equal(lineageOf(cat, linkOf(2)).nodes.length, 3)
    const none = lineageOf(cat, linkOf(2), { maxDepth: 0 })
    assert.equal(none.nodes.length, 1)
    assert.equal(none.truncated, true)
    // The JSON shape the CLI prints.
    const json = JSON.parse(JSON.stringify(up)) as { nodes: Record<string, unknown>[]; edges: Record<string, unknown>[] }
    for (const n of json.nodes) for (const f of ['link', 'name', 'kind', 'sha256', 'seeders', 'local']) assert.ok(f in n, f)
    for (const e of json.edges) for (const f of ['parent', 'child', 'relation', 'verified']) assert.ok(f in e, f)
  })

  test('an adapter points at its base with relation adapter', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    cat.addFromDrive(entry(2, { name: 'Base-LoRA', kind: 'adapter', parents: [parent(1, 'adapter')] }))
    const g = lineageOf(cat, linkOf(2))
    const e = edge(g, linkOf(1), linkOf(2))
    assert.equal(e.relation, 'adapter')
    assert.equal(e.verified, true)
    assert.equal(g.nodes.find((n) => n.link === linkOf(2))?.kind, 'adapter')
  })

  test('a merge has several parents; a parent sees the merge as a descendant', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'A' }))
    cat.addFromDrive(entry(2, { name: 'B' }))
    cat.addFromDrive(entry(3, { name: 'A+B', parents: [parent(1, 'merge'), parent(2, 'merge')] }))
    const g = lineageOf(cat, linkOf(3))
    assert.equal(g.edges.length, 2)
    assert.ok(g.edges.every((e) => e.relation === 'merge' && e.verified))
    const fromA = lineageOf(cat, linkOf(1))
    assert.deepEqual(ids(fromA), [linkOf(1), linkOf(3)].sort(), 'the other parent is not a relative of A')
    assert.equal(cat.search({ relation: 'merge' }).total, 1)
  })

  test('verified only when the hash matches the parent drive-read manifest; otherwise claimed with a reason', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    cat.addFromPeer('peer-x', [entry(2, { name: 'Relayed base' })])
    cat.addFromDrive(entry(10, { name: 'wrong-hash', parents: [{ link: linkOf(1), sha256: shaOf(99), relation: 'finetune' }] }))
    cat.addFromDrive(entry(11, { name: 'relayed-parent', parents: [parent(2, 'finetune')] }))
    cat.addFromDrive(entry(12, { name: 'link-only', parents: [parent(1, 'finetune', false)] }))
    cat.addFromDrive(entry(13, { name: 'by-hash-only', parents: [{ sha256: shaOf(1), relation: 'quantized' }] }))

    const wrong = edge(lineageOf(cat, linkOf(10)), linkOf(1), linkOf(10))
    assert.equal(wrong.verified, false)
    assert.equal(wrong.reason, 'hash-differs')
    assert.match(wrong.detail ?? '', /sha256/)
    assert.ok(lineageOf(cat, linkOf(10)).problems.some((p) => p.kind === 'hash-mismatch'))

    const relayed = edge(lineageOf(cat, linkOf(11)), linkOf(2), linkOf(11))
    assert.equal(relayed.verified, false)
    assert.equal(relayed.reason, 'parent-relayed')

    assert.equal(edge(lineageOf(cat, linkOf(12)), linkOf(1), linkOf(12)).reason, 'no-parent-hash')

    const byHash = edge(lineageOf(cat, linkOf(13)), linkOf(1), linkOf(13))
    assert.equal(byHash.verified, true, 'a hash-only ref resolves to the drive with those weights')

    // Once we read the relayed parent from its own drive, the claim becomes verified.
    cat.addFromDrive(entry(2, { name: 'Relayed base' }))
    assert.equal(edge(lineageOf(cat, linkOf(11)), linkOf(2), linkOf(11)).verified, true)

    // A child summary relayed by a peer: verified by the default rule, not with requireChildFromDrive.
    cat.addFromPeer('peer-y', [entry(14, { name: 'relayed-child', parents: [parent(1, 'finetune')] })])
    assert.equal(edge(lineageOf(cat, linkOf(14)), linkOf(1), linkOf(14)).verified, true)
    const strict = edge(lineageOf(cat, linkOf(14), { requireChildFromDrive: true }), linkOf(1), linkOf(14))
    assert.equal(strict.verified, false)
    assert.equal(strict.reason, 'child-relayed')
    cat.forget(linkOf(14))

    // The base sees all four children.
    const base = lineageOf(cat, linkOf(1))
    assert.deepEqual(ids(base), [linkOf(1), linkOf(10), linkOf(12), linkOf(13)].sort())
  })

  test('GGUF and card claims match catalog models by name or link and are never verified', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Llama-3-8B' }))
    cat.addFromDrive(entry(2, { name: 'Other' }))
    // No manifest parents: the GGUF says "Llama 3 8B" by meta-llama, the card says quantized.
    cat.addFromDrive(
      entry(3, {
        name: 'Llama-3-8B-Q4',
        ggufBaseModels: [{ name: 'Llama 3 8B', organization: 'Meta Llama', repoUrl: 'https://huggingface.co/meta-llama/Llama-3-8B' }],
        cardBaseModels: ['meta-llama/Llama-3-8B'],
        cardRelation: 'quantized'
      })
    )
    // A card naming a drive by link; a GGUF naming something nobody has.
    cat.addFromDrive(entry(4, { name: 'by-link', cardBaseModels: [linkOf(2)] }))
    cat.addFromDrive(entry(5, { name: 'unknown', kind: 'adapter', ggufBaseModels: [{ name: 'Mystery-7B' }] }))

    const g3 = lineageOf(cat, linkOf(3))
    const e3 = edge(g3, linkOf(1), linkOf(3))
    assert.equal(e3.verified, false)
    assert.equal(e3.reason, 'name-only')
    assert.equal(e3.relation, 'quantized')
    assert.deepEqual(e3.sources, ['card', 'gguf'])
    assert.equal(g3.edges.length, 1)

    const e4 = edge(lineageOf(cat, linkOf(4)), linkOf(2), linkOf(4))
    assert.equal(e4.reason, 'no-parent-hash')
    assert.deepEqual(e4.sources, ['card'])

    const g5 = lineageOf(cat, linkOf(5))
    const e5 = edge(g5, 'name:mystery-7b', linkOf(5))
    assert.equal(e5.reason, 'parent-unknown')
    assert.equal(e5.relation, 'adapter')
    assert.equal(g5.nodes.find((n) => n.link === 'name:mystery-7b')?.missing, true)

    // The base finds its name-claimed descendant through the reverse index.
    assert.ok(ids(lineageOf(cat, linkOf(1))).includes(linkOf(3)))
  })

  test('GGUF/card claims corroborate manifest parents, ignore inherited grandparents, fold into a lone unknown parent', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    cat.addFromDrive(entry(2, { name: 'Tuned', parents: [parent(1, 'finetune')], ggufBaseModels: [{ name: 'Base' }] }))
    // Quantizing "Tuned" copied its general.base_model (= Base) into the file.
    cat.addFromDrive(entry(3, { name: 'Tuned-Q8', parents: [parent(2, 'quantized')], ggufBaseModels: [{ name: 'Base' }] }))
    // Manifest names a parent drive nobody has; the GGUF names it by a name nobody has.
    cat.addFromDrive(entry(4, { name: 'orphan-child', parents: [parent(77, 'finetune')], ggufBaseModels: [{ name: 'Gone-1B' }] }))
    // Manifest names Base; the card names a different, known model: an unmatched claim.
    cat.addFromDrive(entry(5, { name: 'Other' }))
    cat.addFromDrive(entry(6, { name: 'disagree', parents: [parent(1, 'finetune')], cardBaseModels: ['Other'] }))

    const e2 = edge(lineageOf(cat, linkOf(2)), linkOf(1), linkOf(2))
    assert.deepEqual(e2.sources, ['manifest', 'gguf'])
    assert.equal(e2.verified, true)

    const g3 = lineageOf(cat, linkOf(3))
    assert.equal(g3.edges.length, 2, 'no extra Base → Tuned-Q8 edge')
    assert.deepEqual(g3.problems, [])

    const g4 = lineageOf(cat, linkOf(4))
    assert.equal(g4.edges.length, 1)
    const e4 = edge(g4, linkOf(77), linkOf(4))
    assert.deepEqual(e4.sources, ['manifest', 'gguf'])
    assert.deepEqual(e4.claimedNames, ['Gone-1B'])
    assert.equal(e4.reason, 'parent-unknown')
    assert.equal(g4.nodes.find((n) => n.link === linkOf(77))?.missing, true)
    assert.ok(g4.problems.some((p) => p.kind === 'dangling-parent'))

    const g6 = lineageOf(cat, linkOf(6))
    assert.equal(g6.edges.length, 2)
    assert.equal(edge(g6, linkOf(5), linkOf(6)).reason, 'name-only')
    assert.ok(g6.problems.some((p) => p.kind === 'unmatched-claim'))
  })

  test('a name shared by models with different weights is ambiguous', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Tiny' }))
    cat.addFromDrive(entry(2, { name: 'tiny' }))
    cat.addFromDrive(entry(3, { name: 'child', ggufBaseModels: [{ name: 'TINY' }] }))
    const g = lineageOf(cat, linkOf(3))
    const e = edge(g, 'name:tiny', linkOf(3))
    assert.equal(e.reason, 'ambiguous-name')
    assert.ok(g.problems.some((p) => p.kind === 'ambiguous-name'))
  })

  test('self-parents are dropped and reported', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'narcissus', parents: [parent(1, 'finetune')] }))
    cat.addFromDrive(entry(2, { name: 'by-hash', parents: [{ sha256: shaOf(2), relation: 'quantized' }], cardBaseModels: [linkOf(2)] }))
    for (const n of [1, 2]) {
      const g = lineageOf(cat, linkOf(n))
      assert.equal(g.nodes.length, 1)
      assert.equal(g.edges.length, 0)
      assert.equal(g.problems.filter((p) => p.kind === 'self-parent').length, 1)
    }
    assert.equal(parentsOf(cat, linkOf(1)).problems[0]?.kind, 'self-parent')
  })

  test('a 3-cycle terminates and is reported', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'A', parents: [parent(3, 'finetune')] }))
    cat.addFromDrive(entry(2, { name: 'B', parents: [parent(1, 'finetune')] }))
    cat.addFromDrive(entry(3, { name: 'C', parents: [parent(2, 'finetune')] }))
    for (const n of [1, 2, 3]) {
      const g = lineageOf(cat, linkOf(n))
      assert.equal(g.nodes.length, 3)
      assert.equal(g.edges.length, 3)
      const cycles = g.problems.filter((p) => p.kind === 'cycle')
      assert.equal(cycles.length, 1)
      assert.deepEqual([...(cycles[0]?.nodes ?? [])].sort(), [linkOf(1), linkOf(2), linkOf(3)].sort())
      assert.ok(g.nodes.filter((x) => x.role !== 'root').every((x) => x.role === 'both'))
    }
  })

  test('a parent known only by a hash nobody has is a dangling, missing node', () => {
    const cat = new Catalog()
    const sha = 'c'.repeat(64)
    cat.addFromDrive(entry(1, { name: 'child', parents: [{ sha256: sha, relation: 'finetune', name: 'lost base' }] }))
    const g = lineageOf(cat, linkOf(1))
    const node = g.nodes.find((n) => n.link === `sha256:${sha}`)
    assert.deepEqual(node, { link: `sha256:${sha}`, name: 'lost base', kind: null, sha256: sha, seeders: 0, local: false, missing: true, role: 'ancestor' })
    const e = edge(g, `sha256:${sha}`, linkOf(1))
    assert.equal(e.verified, false)
    assert.equal(e.reason, 'parent-unknown')
    assert.ok(g.problems.some((p) => p.kind === 'dangling-parent'))
    // Looking the hash up as a root finds the child too.
    assert.deepEqual(ids(lineageOf(cat, `sha256:${sha}`)), [linkOf(1), `sha256:${sha}`].sort())
    // A link nobody has as root: the node is missing, the children are found.
    cat.addFromDrive(entry(2, { name: 'child2', parents: [parent(50, 'finetune')] }))
    const g50 = lineageOf(cat, linkOf(50))
    assert.equal(g50.nodes.find((n) => n.link === linkOf(50))?.missing, true)
    assert.ok(ids(g50).includes(linkOf(2)))
  })

  test('conflicting relation claims keep the manifest relation and record the conflict', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    cat.addFromDrive(entry(2, { name: 'child', parents: [parent(1, 'finetune')], cardBaseModels: ['Base'], cardRelation: 'quantized' }))
    cat.addFromDrive(entry(3, { name: 'twice', parents: [parent(1, 'finetune'), parent(1, 'merge')] }))
    const g = lineageOf(cat, linkOf(2))
    const e = edge(g, linkOf(1), linkOf(2))
    assert.equal(e.relation, 'finetune')
    assert.deepEqual(e.conflict, [{ source: 'card', relation: 'quantized' }])
    assert.deepEqual(e.sources, ['manifest', 'card'])
    assert.equal(e.verified, true)
    assert.ok(g.problems.some((p) => p.kind === 'relation-conflict'))
    const twice = lineageOf(cat, linkOf(3))
    assert.equal(twice.edges.length, 1)
    assert.deepEqual(twice.edges[0]?.conflict, [{ source: 'manifest', relation: 'merge' }])
    assert.ok(twice.problems.some((p) => p.kind === 'relation-conflict'))
  })

  test('maxNodes bounds a wide graph', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Base' }))
    for (let i = 2; i < 300; i++) cat.addFromPeer('p', [entry(i, { parents: [parent(1, 'finetune')] })])
    const g = lineageOf(cat, linkOf(1), { maxNodes: 50 })
    assert.equal(g.nodes.length, 50)
    assert.equal(g.truncated, true)
    assert.equal(g.edges.length, 49)
  })
})

describe('catalog', () => {
  test('seeders count distinct peers plus self; a disconnect keeps the entry with fewer seeders', () => {
    const cat = new Catalog()
    cat.addFromPeer('p1', [entry(1), entry(2)])
    cat.addFromPeer('p2', [entry(1)])
    cat.addFromPeer('p2', [entry(1)])
    assert.equal(cat.get(linkOf(1))?.seeders, 2)
    assert.equal(cat.get(linkOf(1))?.source, 'peer')
    cat.addFromDrive(entry(1), { local: true })
    assert.equal(cat.get(linkOf(1))?.seeders, 3)
    assert.equal(cat.get(linkOf(1))?.source, 'drive')
    assert.equal(cat.removePeer('p1'), 2)
    assert.equal(cat.get(linkOf(1))?.seeders, 2)
    assert.equal(cat.get(linkOf(2))?.seeders, 0, 'still known with the publisher gone')
    assert.equal(cat.withdraw('p2', [linkOf(1)]), 1)
    assert.equal(cat.get(linkOf(1))?.seeders, 1)
    assert.deepEqual(cat.localMessages().map((m) => m.entries.map((e) => e.link)), [[linkOf(1)]])
    // Links are canonical: a hex or versioned link finds the same entry.
    assert.equal(cat.get(`grove://${keyOf(1)}/v3`)?.link, linkOf(1))
  })

  test('a drive-read summary wins; conflicting relayed summaries keep the first and are counted', () => {
    const cat = new Catalog()
    cat.addFromPeer('p1', [entry(1, { name: 'first' })])
    const r = cat.addFromPeer('p2', [entry(1, { name: 'liar', sha256: 'd'.repeat(64) })])
    assert.equal(r.conflicts, 1)
    assert.equal(cat.get(linkOf(1))?.name, 'first')
    assert.equal(cat.get(linkOf(1))?.conflicts, 1)
    assert.equal(cat.get(linkOf(1))?.seeders, 2)
    cat.addFromDrive(entry(1, { name: 'real' }))
    assert.equal(cat.get(linkOf(1))?.name, 'real')
    assert.equal(cat.search({ text: 'first' }).total, 0, 'indexes follow the replaced summary')
    assert.equal(cat.search({ text: 'real' }).total, 1)
    cat.addFromPeer('p3', [entry(1, { name: 'another' })])
    assert.equal(cat.get(linkOf(1))?.name, 'real')
    // A stale relayed summary nobody seeds any more is replaced by the next peer's.
    cat.addFromPeer('p1', [entry(2, { name: 'old' })])
    cat.removePeer('p1')
    cat.addFromPeer('p4', [entry(2, { name: 'new' })])
    assert.equal(cat.get(linkOf(2))?.name, 'new')
  })

  test('search filters by text, architecture, kind, licence and relation, sorted by seeders then name', () => {
    const cat = new Catalog()
    cat.addFromDrive(entry(1, { name: 'Llama-Base', architecture: 'llama', license: 'llama3' }))
    cat.addFromDrive(entry(2, { name: 'Llama-Chat', parents: [parent(1, 'finetune')], license: 'llama3' }))
    cat.addFromDrive(entry(3, { name: 'Qwen-Coder', architecture: 'qwen2', license: 'MIT' }))
    cat.addFromDrive(entry(4, { name: 'Llama-LoRA', kind: 'adapter', parents: [parent(1, 'adapter')] }))
    cat.addFromPeer('p1', [entry(2, { name: 'Llama-Chat', parents: [parent(1, 'finetune')], license: 'llama3' })])
    cat.addFromPeer('p2', [entry(2, { name: 'Llama-Chat', parents: [parent(1, 'finetune')], license: 'llama3' })])
    cat.addFromPeer('p1', [entry(3, { name: 'Qwen-Coder', architecture: 'qwen2', license: 'MIT' })])

    assert.deepEqual(cat.search({ text: 'llama' }).items.map((i) => i.name), ['Llama-Chat', 'Llama-Base', 'Llama-LoRA'])
    assert.deepEqual(cat.search({ text: 'llama-base' }).items.map((i) => i.name), ['Llama-Base'])
    assert.deepEqual(cat.search({ architecture: 'QWEN2' }).items.map((i) => i.name), ['Qwen-Coder'])
    assert.deepEqual(cat.search({ kind: 'adapter' }).items.map((i) => i.name), ['Llama-LoRA'])
    assert.deepEqual(cat.search({ license: 'mit' }).items.map((i) => i.name), ['Qwen-Coder'])
    assert.deepEqual(cat.search({ relation: 'finetune' }).items.map((i) => i.name), ['Llama-Chat'])
    assert.deepEqual(cat.search({ text: 'llama chat' }).items.map((i) => i.seeders), [2])
    const page = cat.search({ limit: 2, offset: 1 })
    assert.equal(page.total, 4)
    assert.deepEqual(page.items.map((i) => i.name), ['Qwen-Coder', 'Llama-Base'])
    assert.equal(cat.list({ minSeeders: 1 }).length, 2)
  })

  test('the catalog is bounded: full means evicting orphans first, else dropping', () => {
    const cat = new Catalog({ maxEntries: 3 })
    cat.addFromPeer('p1', [entry(1), entry(2)])
    cat.addFromPeer('p2', [entry(3)])
    cat.removePeer('p1') // 1 and 2 are orphans now
    const r = cat.addFromPeer('p2', [entry(4), entry(5), entry(6)])
    assert.equal(r.accepted, 2)
    assert.equal(r.dropped, 1)
    assert.equal(r.catalogFull, true)
    assert.equal(cat.size, 3)
    assert.equal(cat.has(linkOf(1)), false, 'the oldest orphan went first')
    assert.ok(cat.addFromDrive(entry(7), { local: true }), 'local entries are always kept')
    assert.equal(cat.size, 4)
  })

  test('a peer sending 100,000 bogus entries is capped and flagged; queries stay fast', () => {
    const cat = new Catalog()
    // Some honest lineage first.
    cat.addFromDrive(entry(1, { name: 'Base' }), { local: true })
    for (let i = 2; i < 200; i++) cat.addFromPeer(`honest-${i % 5}`, [entry(i, { name: `tune-${i}`, parents: [parent(i <= 20 ? 1 : (i % 19) + 2, 'finetune')] })])
    const flood: CatalogEntryType[] = []
    for (let i = 0; i < 100_000; i++) {
      flood.push(entry(1_000_000 + i, { name: 'Base', ggufBaseModels: [{ name: 'Base' }], parents: [{ link: linkOf(1), relation: 'finetune' }] }))
    }
    let t = performance.now()
    const reports = []
    for (let i = 0; i < flood.length; i += MAX_CATALOG_ENTRIES_PER_MESSAGE) {
      reports.push(cat.applyMessage('flooder', { version: 1, entries: flood.slice(i, i + MAX_CATALOG_ENTRIES_PER_MESSAGE) }))
    }
    const mergeMs = performance.now() - t
    const accepted = reports.reduce((s, r) => s + r.accepted, 0)
    const dropped = reports.reduce((s, r) => s + r.dropped, 0)
    assert.equal(accepted, cat.maxEntriesPerPeer)
    assert.equal(dropped, 100_000 - cat.maxEntriesPerPeer)
    assert.ok(reports.some((r) => r.quotaExceeded))
    assert.equal(cat.peerEntryCount('flooder'), cat.maxEntriesPerPeer)
    assert.equal(cat.size, 199 + cat.maxEntriesPerPeer)

    t = performance.now()
    const g = lineageOf(cat, linkOf(1))
    const lineageMs = performance.now() - t
    assert.equal(g.nodes.length, 2000, 'bounded by maxNodes')
    assert.equal(g.truncated, true)
    t = performance.now()
    const s = cat.search({ text: 'tune-1' })
    const searchMs = performance.now() - t
    assert.ok(s.items.every((i) => i.name.startsWith('tune-1')))
    const up = lineageOf(cat, linkOf(150))
    assert.ok(up.nodes.some((n) => n.link === linkOf(1)))
    t = performance.now()
    const all = cat.list()
    const listMs = performance.now() - t
    assert.equal(all.length, cat.size)
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1], all[i]]
      assert.ok(a && b && (a.seeders > b.seeders || (a.seeders === b.seeders && a.name.toLowerCase() <= b.name.toLowerCase())), 'seeders desc, then name')
    }
    console.log(`# list(): ${all.length} items in ${listMs.toFixed(1)} ms`)
    console.log(`# flood: merge ${mergeMs.toFixed(0)} ms, lineage(base) ${lineageMs.toFixed(1)} ms (${g.nodes.length} nodes), search ${searchMs.toFixed(1)} ms`)
    // After the flooder disconnects its entries remain, orphaned and first to be evicted.
    cat.removePeer('flooder')
    assert.equal(cat.peerEntryCount('flooder'), 0)
  })

  test('malformed entries and messages are rejected by the schema', () => {
    const good = entry(1)
    assert.ok(CatalogEntry.safeParse(good).success)
    const bad: unknown[] = [
      { ...good, link: 'http://example.com' },
      { ...good, sha256: 'xyz' },
      { ...good, sha256: 'A'.repeat(64) },
      { ...good, name: '' },
      { ...good, name: 'n'.repeat(201) },
      { ...good, kind: 'dataset' },
      { ...good, size: -1 },
      { ...good, size: 1.5 },
      { ...good, parents: Array.from({ length: 33 }, () => parent(2, 'finetune')) },
      { ...good, parents: [{ relation: 'finetune' }] },
      { ...good, parents: [{ link: linkOf(2), relation: 'sideways' }] },
      { ...good, ggufBaseModels: Array.from({ length: 17 }, () => ({ name: 'x' })) },
      { ...good, ggufBaseModels: [{ repoUrl: 'u'.repeat(501) }] },
      { ...good, cardBaseModels: ['x'.repeat(201)] },
      { ...good, cardRelation: 'clone' },
      { ...good, publisher: 'me' },
      { ...good, created: 'yesterday' },
      { ...good, license: 'l'.repeat(201) },
      'not an object',
      null
    ]
    for (const b of bad) assert.equal(CatalogEntry.safeParse(b).success, false, JSON.stringify(b)?.slice(0, 120))

    assert.ok(CatalogMessage.safeParse({ version: 1, entries: [good] }).success)
    assert.equal(CatalogMessage.safeParse({ version: 2, entries: [good] }).success, false)
    assert.equal(CatalogMessage.safeParse({ version: 1, entries: Array(MAX_CATALOG_ENTRIES_PER_MESSAGE + 1).fill(good) }).success, false)

    const cat = new Catalog()
    const r = cat.applyMessage('p', { version: 1, entries: [good, ...bad, entry(2)] })
    assert.equal(r.accepted, 2)
    assert.equal(r.rejected, bad.length)
    assert.ok(r.errors.length > 0 && r.errors.length <= 5)
    assert.equal(cat.applyMessage('p', { version: 2, entries: [] }).rejected, 1)
    assert.equal(cat.applyMessage('p', { version: 1, entries: Array(MAX_CATALOG_ENTRIES_PER_MESSAGE + 1).fill(good) }).accepted, 0)
    assert.equal(cat.applyMessage('p', 'garbage').rejected, 1)
    assert.equal(cat.size, 2)
    assert.throws(() => cat.addFromDrive({ ...good, sha256: 'nope' }), /Bad catalog entry/)
    assert.throws(() => lineageOf(cat, 'not-a-link'), (err: { code?: string }) => err.code === 'BAD_LINK')
  })

  test('the fast link/key conversions agree with link.ts', () => {
    let seed = 12345
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0)
    for (let i = 0; i < 2000; i++) {
      let key = ''
      for (let j = 0; j < 8; j++) key += next().toString(16).padStart(8, '0')
      const link = formatLink(key)
      assert.equal(keyLink(key), link)
      assert.equal(linkKey(link), key)
      assert.equal(linkKey(`${link}/v7`), parseLink(`${link}/v7`).keyHex)
      assert.equal(linkKey(`grove://${key.toUpperCase()}/`), key)
    }
    assert.equal(linkKey('  ' + linkOf(3) + ' '), keyOf(3))
    assert.throws(() => linkKey('grove://nope'), (err: { code?: string }) => err.code === 'BAD_LINK')
  })

  test('entries built from a manifest, GGUF and card', () => {
    const manifest: Manifest = {
      schemaVersion: 1,
      kind: 'model',
      name: 'Tuned',
      architecture: 'llama',
      files: [{ path: '/m.gguf', size: 42, sha256: shaOf(9), role: 'weights' }],
      parents: [parent(1, 'finetune')],
      publisher: PUBLISHER,
      created: CREATED
    }
    const e = catalogEntryFromManifest(`grove://${keyOf(9)}/v4`, manifest, {
      gguf: { baseModels: [{ name: 'Base', organization: 'Org', repoUrl: 'https://huggingface.co/org/base' }, {}] },
      card: { base_model: ['org/base'], base_model_relation: 'finetune', license: 'mit' }
    })
    assert.equal(e.link, linkOf(9))
    assert.equal(e.sha256, shaOf(9))
    assert.equal(e.size, 42)
    assert.equal(e.license, 'mit')
    assert.deepEqual(e.ggufBaseModels, [{ name: 'Base', organization: 'Org', repoUrl: 'https://huggingface.co/org/base' }])
    assert.deepEqual(e.cardBaseModels, ['org/base'])
    assert.equal(e.cardRelation, 'finetune')
    assert.ok(CatalogEntry.safeParse(e).success)
  })
})
