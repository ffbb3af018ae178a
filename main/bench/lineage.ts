// `npm run bench:lineage`: the catalog and lineage logic (shared/catalog/, shared/lineage/)
// on a generated swarm, against the target "a lineage query under 50 ms at 10,000 models".
//
// A seeded PRNG generates 10,000 models with random lineage: base models, finetunes,
// quantizations, adapters and merges (2–3 parents), with GGUF/card claims, and broken claims
// (wrong parent hash, link-only refs, dangling parents by hash and by link, self-parents, 3-cycles,
// names shared by different models). 20 peers each seed a random part of it. Timed:
//   (a) merging every peer's catalog messages (schema validation included) into a new catalog,
//       plus reading a third of the summaries from the drives themselves;
//   (b) lineage queries for random links, and for the models with the most descendants;
//   (c) searches, at 10,000 models and at 100,000 models.
//
// Options: --models N (10000), --peers N (20), --queries N (1000), --seed N (1), --json.
import os from 'node:os'
import { keyLink } from '../../shared/catalog/link-keys.js'
import type { CatalogFilter } from '../../shared/catalog/search.js'
import { Catalog } from '../../shared/catalog/store.js'
import { toCatalogMessages, type CatalogEntry } from '../../shared/catalog/wire.js'
import { lineageOf } from '../../shared/lineage/graph.js'
import type { ParentRef, Relation } from '../../shared/manifest.js'

const TARGET_MS = 50

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const value = i >= 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}

const MODELS = option('models', 10_000)
const PEERS = option('peers', 20)
const QUERIES = option('queries', 1000)
const SEED = option('seed', 1)
const JSON_OUT = process.argv.includes('--json')

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const rand = prng(SEED)
const pick = <T>(list: readonly T[]): T => {
  const v = list[Math.floor(rand() * list.length)]
  if (v === undefined) throw new Error('empty list')
  return v
}
const randHex = (): string => {
  let s = ''
  for (let i = 0; i < 8; i++) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0')
  return s
}

const ARCHS = ['llama', 'qwen2', 'mistral', 'gemma2', 'phi3', 'gpt2']
const LICENSES = ['apache-2.0', 'mit', 'llama3', 'gemma', 'cc-by-4.0', 'other']
const QUANTS = ['Q4_K_M', 'Q5_K_M', 'Q8_0', 'F16', 'IQ3_XS']
const WORDS = ['tiny', 'chat', 'coder', 'instruct', 'math', 'story', 'legal', 'med', 'vision', 'roleplay', 'sql', 'poet']
const PUBLISHERS = Array.from({ length: 200 }, randHex)
const CREATED = '2025-06-01T12:00:00.000Z'

interface Generated {
  entries: CatalogEntry[]
  /** Children per model index, to find the models with the most descendants. */
  children: number[][]
}

function generate(count: number): Generated {
  const entries: CatalogEntry[] = []
  const children: number[][] = []
  const keys = Array.from({ length: count }, randHex)
  const links = keys.map((k) => keyLink(k))
  const indexOf = new Map(links.map((l, j) => [l, j]))
  const shas = Array.from({ length: count }, randHex)
  const ref = (j: number, relation: Relation): ParentRef => ({ link: links[j], sha256: shas[j], relation })
  for (let i = 0; i < count; i++) {
    children.push([])
    const base = i < 50 || rand() < 0.08
    const arch = pick(ARCHS)
    let name = base ? `${arch}-${pick(['1b', '3b', '7b', '8b', '13b', '70b'])}-${i}` : `${pick(WORDS)}-${pick(WORDS)}-${i}`
    if (rand() < 0.01) name = `${pick(WORDS)}` // a name several different models share
    const entry: CatalogEntry = {
      link: links[i] ?? '',
      name,
      kind: 'model',
      sha256: shas[i] ?? '',
      size: 1_000_000 + Math.floor(rand() * 8e9),
      architecture: arch,
      license: pick(LICENSES),
      parameterCount: Math.floor(rand() * 7e10),
      parents: [],
      publisher: pick(PUBLISHERS),
      created: CREATED
    }
    if (!base && i > 0) {
      const r = rand()
      const p = Math.floor(rand() * i)
      const parentEntry = entries[p]
      if (r < 0.4) entry.parents = [ref(p, 'finetune')]
      else if (r < 0.65) {
        entry.parents = [ref(p, 'quantized')]
        entry.quantization = pick(QUANTS)
      } else if (r < 0.8) {
        entry.kind = 'adapter'
        entry.parents = [ref(p, 'adapter')]
      } else if (r < 0.9) {
        const others = new Set([p, Math.floor(rand() * i), Math.floor(rand() * i)])
        entry.parents = [...others].slice(0, rand() < 0.5 ? 2 : 3).map((j) => ref(j, 'merge'))
      } else {
        // Broken claims.
        const b = rand()
        if (b < 0.3) entry.parents = [{ link: links[p], sha256: randHex(), relation: 'finetune' }] // hash differs
        else if (b < 0.5) entry.parents = [{ link: links[p], relation: 'finetune' }] // link only
        else if (b < 0.65) entry.parents = [{ sha256: randHex(), relation: 'finetune', name: 'lost' }] // dangling by hash
        else if (b < 0.8) entry.parents = [{ link: keyLink(randHex()), relation: 'quantized' }] // dangling by link
        else if (b < 0.85) entry.parents = [ref(i, 'finetune')] // self-parent
        else entry.parents = [{ sha256: shas[p], relation: 'finetune' }] // by hash only
      }
      for (const parentRef of entry.parents) {
        const j = parentRef.link !== undefined ? (indexOf.get(parentRef.link) ?? -1) : -1
        if (j >= 0 && j !== i) children[j]?.push(i)
      }
      if (parentEntry && rand() < 0.5) entry.ggufBaseModels = [{ name: parentEntry.name, organization: 'org' }]
      if (parentEntry && rand() < 0.2) {
        entry.cardBaseModels = [parentEntry.name]
        entry.cardRelation = rand() < 0.8 ? (entry.parents[0]?.relation ?? 'finetune') : 'merge' // some disagree
      }
    }
    entries.push(entry)
  }
  // A few 3-cycles among children: i → j → k → i.
  for (let c = 0; c < 10; c++) {
    const [a, b, d] = [60 + c * 3, 61 + c * 3, 62 + c * 3]
    const ea = entries[a]
    const eb = entries[b]
    const ed = entries[d]
    if (!ea || !eb || !ed) continue
    ea.parents = [ref(d, 'finetune')]
    eb.parents = [ref(a, 'finetune')]
    ed.parents = [ref(b, 'finetune')]
  }
  return { entries, children }
}

function stats(samples: number[]): { median: number; p95: number; p99: number; max: number; mean: number } {
  const s = [...samples].sort((x, y) => x - y)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
  return { median: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? 0, mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) }
}

/** Runs fn: [result, wall ms, CPU ms of this process]. CPU time shows what contention hides. */
function time<T>(fn: () => T): [T, number, number] {
  const c = process.cpuUsage()
  const t = performance.now()
  const result = fn()
  const wall = performance.now() - t
  const cpu = process.cpuUsage(c)
  return [result, wall, (cpu.user + cpu.system) / 1000]
}

const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 1)} ms`

function descendantCount(children: number[][], i: number): number {
  const seen = new Set<number>([i])
  const queue = [i]
  while (queue.length > 0) {
    const n = queue.pop() ?? 0
    for (const c of children[n] ?? []) {
      if (seen.has(c)) continue
      seen.add(c)
      queue.push(c)
    }
  }
  return seen.size - 1
}

function main(): void {
  const loadBefore = os.loadavg()[0] ?? 0
  const [gen, genMs] = time(() => generate(MODELS))
  const { entries } = gen

  // Each peer seeds a random 30–60% of the models; a peer sends its catalog in 1000-entry messages.
  const peerMessages: unknown[][] = []
  let advertisements = 0
  for (let p = 0; p < PEERS; p++) {
    const share = 0.3 + rand() * 0.3
    const seeded = entries.filter(() => rand() < share)
    advertisements += seeded.length
    // Messages travel as JSON: parse them back so the catalog sees fresh objects, as from a socket.
    peerMessages.push(toCatalogMessages(seeded).map((m) => JSON.parse(JSON.stringify(m)) as unknown))
  }
  const driveRead = entries.filter(() => rand() < 0.33)
  const localSet = new Set(driveRead.filter(() => rand() < 0.15).map((e) => e.link))

  // (a) Merge.
  const catalog = new Catalog()
  let rejected = 0
  const [, mergeMs, mergeCpuMs] = time(() => {
    for (let p = 0; p < PEERS; p++) {
      for (const message of peerMessages[p] ?? []) {
        const report = catalog.applyMessage(`peer-${p}`, message)
        rejected += report.rejected
      }
    }
  })
  const [, driveMs] = time(() => {
    for (const e of driveRead) catalog.addFromDrive(e, { local: localSet.has(e.link) })
  })

  // (b) Lineage queries: random links, then the models with the most descendants.
  const links = entries.map((e) => e.link)
  for (let i = 0; i < 50; i++) lineageOf(catalog, pick(links)) // warm-up
  const samples: number[] = []
  const cpuSamples: number[] = []
  let nodes = 0
  let edges = 0
  let problems = 0
  let verified = 0
  let truncated = 0
  for (let i = 0; i < QUERIES; i++) {
    const [g, t, cpu] = time(() => lineageOf(catalog, pick(links)))
    samples.push(t)
    cpuSamples.push(cpu)
    nodes += g.nodes.length
    edges += g.edges.length
    problems += g.problems.length
    verified += g.edges.filter((e) => e.verified).length
    if (g.truncated) truncated++
  }
  const random = stats(samples)
  const biggest = entries
    .map((_, i) => i)
    .filter((i) => (gen.children[i]?.length ?? 0) > 0)
    .map((i) => ({ i, d: descendantCount(gen.children, i) }))
    .sort((a, b) => b.d - a.d)
    .slice(0, 10)
  const heavySamples: number[] = []
  const heavyCpu: number[] = []
  let heavyNodes = 0
  for (const { i } of biggest) {
    for (let r = 0; r < 5; r++) {
      const [g, t, cpu] = time(() => lineageOf(catalog, links[i] ?? ''))
      heavySamples.push(t)
      heavyCpu.push(cpu)
      if (r === 0) heavyNodes = Math.max(heavyNodes, g.nodes.length)
    }
  }
  const heavy = stats(heavySamples)
  const randomCpu = stats(cpuSamples)
  const heavyCpuStats = stats(heavyCpu)

  // (c) Searches.
  const searches: [string, CatalogFilter][] = [
    ['text "coder"', { text: 'coder' }],
    ['text "chat math"', { text: 'chat math' }],
    ['architecture llama', { architecture: 'llama' }],
    ['kind adapter + licence mit', { kind: 'adapter', license: 'mit' }],
    ['relation merge', { relation: 'merge' }],
    ['text "7b" + architecture qwen2', { text: '7b', architecture: 'qwen2' }],
    ['everything, top 50', {}]
  ]
  const searchAt = (cat: Catalog): { name: string; median: number; total: number }[] =>
    searches.map(([name, filter]) => {
      const t: number[] = []
      let total = 0
      for (let r = 0; r < 21; r++) {
        const [res, dt] = time(() => cat.search(filter))
        t.push(dt)
        total = res.total
      }
      return { name, median: stats(t).median, total }
    })
  const search10k = searchAt(catalog)

  // 100,000 models: ten times the generated set under fresh keys, each advertised by one peer.
  const big = new Catalog()
  const [, big100kMs] = time(() => {
    for (let copy = 0; copy < 10; copy++) {
      const batch = generate(Math.floor(MODELS)).entries
      for (const message of toCatalogMessages(batch)) big.applyMessage(`big-${copy}`, message)
    }
  })
  const search100k = searchAt(big)
  const big100kLineage: number[] = []
  const bigLinks = [...big.records()].map((r) => r.link)
  for (let i = 0; i < 200; i++) big100kLineage.push(time(() => lineageOf(big, pick(bigLinks)))[1])

  const result = {
    models: MODELS,
    peers: PEERS,
    seed: SEED,
    generateMs: genMs,
    merge: { advertisements, messages: peerMessages.reduce((s, m) => s + m.length, 0), ms: mergeMs, cpuMs: mergeCpuMs, perEntryUs: (mergeMs * 1000) / advertisements, rejected, entries: catalog.size, driveReads: driveRead.length, driveMs },
    lineage: { queries: QUERIES, ...random, cpu: randomCpu, avgNodes: nodes / QUERIES, avgEdges: edges / QUERIES, avgProblems: problems / QUERIES, verifiedEdgeShare: verified / Math.max(1, edges), truncated },
    lineageHeaviest: { roots: biggest.length, maxDescendants: biggest[0]?.d ?? 0, maxNodes: heavyNodes, ...heavy, cpu: heavyCpuStats },
    search10k,
    search100k: { buildMs: big100kMs, entries: big.size, queries: search100k, lineage: stats(big100kLineage) },
    machine: { cpus: os.availableParallelism(), loadavg1Before: loadBefore, loadavg1After: os.loadavg()[0] ?? 0 },
    target: { lineageMs: TARGET_MS, p95Ratio: random.p95 / TARGET_MS, heaviestP95Ratio: heavy.p95 / TARGET_MS, heaviestMaxRatio: heavy.max / TARGET_MS }
  }

  if (JSON_OUT) {
    console.log(JSON.stringify(result))
    return
  }
  const lines = [
    `Lineage/catalog benchmark: ${MODELS} models, ${PEERS} peers, seed ${SEED} (Node ${process.version}, ${result.machine.cpus} CPUs, load average ${loadBefore.toFixed(1)} before, ${result.machine.loadavg1After.toFixed(1)} after: wall times on a busy machine run long)`,
    `generate                     ${ms(genMs)}`,
    `(a) merge ${advertisements} advertisements in ${result.merge.messages} messages: ${ms(mergeMs)} (${result.merge.perEntryUs.toFixed(1)} µs/entry, schema validation included; CPU ${ms(mergeCpuMs)} incl. GC threads), ${catalog.size} entries, ${rejected} rejected`,
    `    ${driveRead.length} drive reads: ${ms(driveMs)}`,
    `(b) lineage, ${QUERIES} random links: median ${ms(random.median)}, p95 ${ms(random.p95)}, p99 ${ms(random.p99)}, max ${ms(random.max)} (CPU: median ${ms(randomCpu.median)}, p95 ${ms(randomCpu.p95)})`,
    `    avg ${result.lineage.avgNodes.toFixed(1)} nodes, ${result.lineage.avgEdges.toFixed(1)} edges, ${result.lineage.avgProblems.toFixed(2)} problems; ${(100 * result.lineage.verifiedEdgeShare).toFixed(0)}% of edges verified; ${truncated} truncated`,
    `    ${biggest.length} models with most descendants (up to ${result.lineageHeaviest.maxDescendants}, ${heavyNodes} nodes shown): median ${ms(heavy.median)}, p95 ${ms(heavy.p95)}, max ${ms(heavy.max)} (CPU: median ${ms(heavyCpuStats.median)}, p95 ${ms(heavyCpuStats.p95)})`,
    `(c) search at ${catalog.size} entries (median of 21):`,
    ...search10k.map((s) => `    ${s.name.padEnd(32)} ${ms(s.median).padStart(10)}  (${s.total} matches)`),
    `    search at ${big.size} entries (built in ${ms(big100kMs)}):`,
    ...search100k.map((s) => `    ${s.name.padEnd(32)} ${ms(s.median).padStart(10)}  (${s.total} matches)`),
    `    lineage at ${big.size} entries, 200 random links: median ${ms(result.search100k.lineage.median)}, p95 ${ms(result.search100k.lineage.p95)}`,
    `target: lineage query under ${TARGET_MS} ms at 10,000 models`,
    `    random p95 ${ms(random.p95)} = ${result.target.p95Ratio.toFixed(3)} × target; heaviest p95 ${ms(heavy.p95)} = ${result.target.heaviestP95Ratio.toFixed(3)} × target (max ${ms(heavy.max)} = ${result.target.heaviestMaxRatio.toFixed(3)} ×) → ${heavy.p95 < TARGET_MS && random.p95 < TARGET_MS ? 'MET' : 'NOT MET'}`
  ]
  console.log(lines.join('\n'))
}

main()
