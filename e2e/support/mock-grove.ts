// A scripted stand-in for Grove's API, wired into a Playwright page with page.route (calls) and
// page.routeWebSocket (events): the renderer's own checks (sanitised model cards, the licence
// gate, a lineage graph of hundreds of nodes, errors, keyboard use) run without any P2P stack.
// Test-only: the real transport is `grove serve` (see grove.spec.ts).
import { existsSync } from 'node:fs'
import { join, normalize } from 'node:path'
import type { Page, WebSocketRoute } from '@playwright/test'
import type { CallName, CatalogItem, LibraryItem, LineageGraph, ModelDetail, PeerInfo, RoomInfo, Transfer } from '../../shared/api.js'

export const MOCK_ORIGIN = 'http://grove.test'
const DIST = join(process.cwd(), 'renderer', 'dist')

const hex = (c: string) => c.repeat(64).slice(0, 64)
const link = (n: number) => `grove://${'ybndrfg8ejkmcpqxot1uwisza345h769'.repeat(2).slice(n % 20, (n % 20) + 40)}${String(n).padStart(12, 'y').replace(/\d/g, (d) => 'ybndrfg8ej'[Number(d)]!)}`

export const BASE = { link: link(1), name: 'Tiny Llama 64', sha: hex('a') }
export const ADAPTER = { link: link(2), name: 'Tiny Llama Poetry LoRA', sha: hex('b') }
export const GATED = { link: link(3), name: 'Gated Llama 8B', sha: hex('c') }
export const BIG_ROOT = { link: link(4), name: 'Forest Root 7B', sha: hex('d') }
export const HOSTILE = { link: link(5), name: 'Hostile Card Model', sha: hex('e') }
export const PEER_KEYS = [hex('1'), hex('2')]

const CARD = `---
license: apache-2.0
datasets:
  - tinystories
tags: [tiny, test]
---
# Tiny Llama 64

A **tiny** llama model for tests. Trained on [TinyStories](https://huggingface.co/datasets/tinystories).

| Layers | Width |
|-------:|------:|
| 2 | 64 |
`

const HOSTILE_CARD = `# Hostile card

<script>window.__pwned = true</script>
<img src="http://evil.test/pixel.png" onerror="window.__pwned = true">

![tracking pixel](http://evil.test/track.png)

[click me](javascript:window.__pwned=true) and [a normal site](https://example.org/page).
`

function manifest(name: string, kind: 'model' | 'adapter', sha: string, license: string | undefined, parents: { link: string; sha256: string; relation: 'adapter' | 'finetune' | 'quantized' | 'merge' }[] = []) {
  return {
    schemaVersion: 1 as const,
    kind,
    name,
    license,
    architecture: 'llama',
    parameterCount: kind === 'model' ? 1_200_000 : 40_000,
    quantization: 'F16',
    contextLength: 512,
    files: [{ path: `/${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.gguf`, size: 2_400_000, sha256: sha, role: 'weights' as const }],
    parents,
    publisher: hex('f'),
    created: '2025-11-20T10:00:00.000Z'
  }
}

function catalogItem(m: { link: string; name: string; sha: string }, kind: 'model' | 'adapter', extra: Partial<CatalogItem> = {}): CatalogItem {
  return { link: m.link, name: m.name, kind, sha256: m.sha, size: 2_400_000, architecture: 'llama', license: 'apache-2.0', quantization: 'F16', parameterCount: 1_200_000, parents: [], seeders: 2, local: false, source: 'drive', ...extra }
}

/**
 * A popular base with `count` models in its tree, shaped like real ones: 80 direct finetunes
 * and merges, quantizations and adapters of the first 40 of them, and a third generation.
 */
export function bigLineage(count: number): LineageGraph {
  const nodes: LineageGraph['nodes'] = [{ link: BIG_ROOT.link, name: BIG_ROOT.name, kind: 'model', sha256: BIG_ROOT.sha, seeders: 5, local: false, role: 'root' }]
  const edges: LineageGraph['edges'] = []
  for (let i = 1; i < count; i++) {
    const id = `grove://${'node'.padEnd(40, 'y')}${String(i).padStart(12, 'y').replace(/\d/g, (d) => 'ybndrfg8ej'[Number(d)]!)}`
    const [parentIndex, relation] =
      i <= 80 ? [0, i % 5 === 0 ? 'merge' : 'finetune'] : i <= 250 ? [1 + (i % 40), i % 3 === 0 ? 'adapter' : 'quantized'] : [81 + (i % 60), 'finetune']
    const parent = nodes[Math.min(parentIndex as number, nodes.length - 1)]!.link
    const rel = relation as LineageGraph['edges'][number]['relation']
    nodes.push({ link: id, name: `${rel} #${i}`, kind: rel === 'adapter' ? 'adapter' : 'model', sha256: null, seeders: i % 5, local: i % 17 === 0, role: 'descendant' })
    edges.push({ parent, child: id, relation: rel, verified: i % 7 !== 0, ...(i % 7 === 0 ? { reason: 'name-only' as const, detail: 'only the card names this parent, by name' } : {}) })
  }
  return { root: BIG_ROOT.link, nodes, edges, problems: [], truncated: false }
}

export interface MockOptions {
  /** Make every call fail with this code (error-state screenshots). */
  failAll?: { code: string; message: string }
  emptyLibrary?: boolean
  noPeers?: boolean
  /** Nodes in BIG_ROOT's lineage (default 300). */
  bigLineage?: number
}

export interface MockGrove {
  calls: { name: string; args: unknown }[]
  accepted: Set<string>
  push(event: string, payload: unknown): void
}

export async function installMockGrove(page: Page, options: MockOptions = {}): Promise<MockGrove> {
  const sockets = new Set<WebSocketRoute>()
  const calls: MockGrove['calls'] = []
  const accepted = new Set<string>()
  const push = (event: string, payload: unknown) => {
    for (const ws of sockets) ws.send(JSON.stringify({ event, payload }))
  }

  const library: LibraryItem[] = options.emptyLibrary
    ? []
    : [
        { link: BASE.link, name: BASE.name, kind: 'model', sha256: BASE.sha, size: 2_400_000, origin: 'shared', complete: true, seeding: true, path: '/home/ada/models/tiny-llama-64.gguf', license: 'apache-2.0', disk: { blockBytes: 0, fileBytes: 0, inPlace: true } },
        { link: ADAPTER.link, name: ADAPTER.name, kind: 'adapter', sha256: ADAPTER.sha, size: 80_000, origin: 'fetched', complete: true, seeding: true, path: '/home/ada/.local/share/grove/models/poetry.gguf', license: 'mit', disk: { blockBytes: 80_000, fileBytes: 80_000, inPlace: false } }
      ]
  const catalog: CatalogItem[] = [
    catalogItem(BASE, 'model', { local: true, seeders: 3 }),
    catalogItem(ADAPTER, 'adapter', { local: true, size: 80_000, parameterCount: 40_000, license: 'mit', parents: [{ link: BASE.link, sha256: BASE.sha, relation: 'adapter', name: BASE.name }] }),
    catalogItem(GATED, 'model', { license: 'llama3.1', size: 4_900_000_000, parameterCount: 8_000_000_000, quantization: 'Q4_K_M', seeders: 1 }),
    catalogItem(BIG_ROOT, 'model', { size: 14_000_000_000, parameterCount: 7_000_000_000, seeders: 5 }),
    catalogItem(HOSTILE, 'model', { seeders: 0, source: 'peer', architecture: 'qwen2', license: 'other' })
  ]
  const rooms: RoomInfo[] = [
    { id: hex('9'), kind: 'public', name: 'Public room', peers: 2 },
    { id: hex('8'), kind: 'private', name: 'Lab team', peers: 1 }
  ]
  const started = Date.now() - 95_000
  const peers = (): PeerInfo[] =>
    options.noPeers
      ? []
      : PEER_KEYS.map((k, i) => ({ publicKey: k, host: `10.0.0.${i + 2}`, port: 49737 + i, connectedAt: started + i * 30_000, rooms: i === 0 ? [hex('9'), hex('8')] : [hex('9')], uploadedBytes: 1_200_000 * (i + 1) + (Date.now() - started) * 20, downloadedBytes: 8_000_000 * (i + 1) + (Date.now() - started) * 300 }))
  const transfers = new Map<string, Transfer>()
  const timers: NodeJS.Timeout[] = []
  page.on('close', () => timers.forEach(clearInterval))

  const detail = (l: string): ModelDetail => {
    const item = catalog.find((c) => c.link === l)
    if (!item) throw Object.assign(new Error(`No model ${l} in the catalog`), { code: 'NOT_FOUND' })
    const card = l === HOSTILE.link ? HOSTILE_CARD : l === BASE.link ? CARD : null
    const parents = item.parents.map((p) => ({ link: p.link!, sha256: p.sha256!, relation: p.relation }))
    const needs = item.license !== undefined && !['apache-2.0', 'mit'].includes(item.license)
    const t = transfers.get(l)
    return {
      link: l,
      manifest: { ...manifest(item.name, item.kind, item.sha256, item.license, parents), files: [{ path: '/model.gguf', size: item.size, sha256: item.sha256, role: 'weights' }] },
      card,
      seeders: item.seeders,
      inLibrary: item.local || t !== undefined,
      complete: item.local || t?.state === 'done',
      licenseNeedsAcceptance: needs,
      licenseAccepted: accepted.has(l)
    }
  }

  const startTransfer = (l: string): Transfer => {
    const item = catalog.find((c) => c.link === l)!
    const total = item.size > 100_000_000 ? 4_900_000_000 : 2_400_000
    const t: Transfer = { link: l, name: item.name, state: 'downloading', bytes: 0, total, peers: item.seeders, bytesPerSecond: 0, etaSeconds: null, speedHistory: [] }
    transfers.set(l, t)
    const timer = setInterval(() => {
      if (t.state !== 'downloading') return
      const speed = total / 12 + Math.sin(Date.now() / 400) * (total / 60)
      t.bytes = Math.min(total, t.bytes + speed * 0.25)
      t.bytesPerSecond = speed
      t.etaSeconds = (total - t.bytes) / speed
      t.speedHistory = [...t.speedHistory, [Date.now(), speed] as [number, number]].slice(-120)
      if (t.bytes >= total && l !== GATED.link) {
        t.state = 'done'
        t.etaSeconds = 0
        t.bytesPerSecond = 0
        item.local = true
        clearInterval(timer)
      }
      if (l === GATED.link && t.bytes > total * 0.42) t.bytes = total * 0.42 // stays mid-way for screenshots
      push('transfer', { ...t })
    }, 250)
    timers.push(timer)
    return { ...t }
  }

  const handlers: Partial<Record<CallName, (args: Record<string, unknown>) => unknown>> = {
    'app.info': () => ({ version: '0.1.0', peerKey: hex('7'), home: '/home/ada/.local/share/grove', transport: 'http', hardware: { cpuCores: 8, ramTotal: 16e9, ramFree: 9e9, gpu: false } }),
    'library.list': () => library,
    'library.share': (a) => {
      if (!String(a.path).endsWith('.gguf')) throw Object.assign(new Error(`Not a GGUF file: ${String(a.path)}`), { code: 'NOT_GGUF' })
      return { link: link(9), sha256: hex('9'), kind: 'model', name: String(a.name ?? 'shared'), size: 1000 }
    },
    'library.setSeeding': (a) => {
      const item = library.find((i) => i.link === a.link)!
      item.seeding = Boolean(a.seeding)
      push('library', library)
      return item
    },
    'library.reclaim': (a) => {
      const item = library.find((i) => i.link === a.link)!
      const freed = item.disk.blockBytes
      item.disk = { ...item.disk, blockBytes: 0 }
      item.seeding = false
      push('library', library)
      return { freedBytes: freed }
    },
    'catalog.search': (a) => {
      const text = String(a.text ?? '').toLowerCase()
      const items = catalog.filter((c) => (!text || c.name.toLowerCase().includes(text)) && (!a.kind || c.kind === a.kind) && (!a.license || c.license === a.license) && (!a.architecture || c.architecture === a.architecture))
      return { total: items.length, items }
    },
    'model.get': (a) => detail(String(a.link)),
    'lineage.get': (a) => {
      if (a.link === BIG_ROOT.link) return bigLineage(options.bigLineage ?? 300)
      const nodes: LineageGraph['nodes'] = [
        { link: BASE.link, name: BASE.name, kind: 'model', sha256: BASE.sha, seeders: 3, local: true, role: a.link === BASE.link ? 'root' : 'ancestor' },
        { link: ADAPTER.link, name: ADAPTER.name, kind: 'adapter', sha256: ADAPTER.sha, seeders: 2, local: true, role: a.link === ADAPTER.link ? 'root' : 'descendant' },
        { link: `sha256:${hex('3')}`, name: 'Tiny Llama 64 Q4', kind: null, sha256: hex('3'), seeders: 0, local: false, missing: true, role: 'descendant' }
      ]
      return {
        root: String(a.link),
        nodes,
        edges: [
          { parent: BASE.link, child: ADAPTER.link, relation: 'adapter', verified: true },
          { parent: BASE.link, child: `sha256:${hex('3')}`, relation: 'quantized', verified: false, reason: 'parent-unknown', detail: 'the card names "tiny-llama-64-q4", which is not in the catalog' }
        ],
        problems: [],
        truncated: false
      }
    },
    'rooms.list': () => rooms,
    'rooms.join': (a) => {
      const room: RoomInfo = { id: hex(String(rooms.length)), kind: a.secret ? 'private' : 'named', name: String(a.label ?? a.name ?? 'Private room'), peers: 0 }
      rooms.push(room)
      return room
    },
    'rooms.leave': (a) => {
      const i = rooms.findIndex((r) => r.id === a.id)
      if (i >= 0) rooms.splice(i, 1)
      return {}
    },
    'peers.list': () => peers(),
    'transfers.list': () => [...transfers.values()].map((t) => ({ ...t })),
    'transfers.start': (a) => {
      const l = String(a.link)
      const d = detail(l)
      if (d.licenseNeedsAcceptance && !accepted.has(l)) throw Object.assign(new Error('Accept the licence first'), { code: 'BAD_INPUT' })
      return transfers.get(l) ?? startTransfer(l)
    },
    'transfers.pause': (a) => {
      const t = transfers.get(String(a.link))!
      t.state = 'paused'
      t.bytesPerSecond = 0
      push('transfer', { ...t })
      return { ...t }
    },
    'transfers.resume': (a) => {
      const t = transfers.get(String(a.link))!
      t.state = 'downloading'
      push('transfer', { ...t })
      return { ...t }
    },
    'license.accept': (a) => {
      accepted.add(String(a.link))
      return { accepted: true }
    },
    'chat.fit': () => ({ verdict: 'fits', needRam: 180_000_000, needVram: 0, freeRam: 9e9, freeVram: 0, summary: 'About 180 MB with a 512-token context; 9 GB of RAM is free.' }),
    'chat.start': () => {
      const id = `gen-${calls.length}`
      const words = ['Once', ' upon', ' a', ' time', ',', ' a', ' tiny', ' llama', ' shared', ' its', ' weights', ' with', ' the', ' whole', ' grove', '.']
      let i = 0
      const timer = setInterval(() => {
        const word = words[i++]
        if (word === undefined) {
          clearInterval(timer)
          push('chat.done', { id, text: words.join(''), stopReason: 'eos', timings: { loadMs: 412, firstTokenMs: 38, tokensPerSecond: 41.7 } })
          return
        }
        push('chat.token', { id, text: word, tokens: [100 + i] })
      }, 120)
      timers.push(timer)
      return { id }
    },
    'chat.stop': () => ({})
  }

  await page.routeWebSocket(/\/api\/events/, (ws) => {
    sockets.add(ws)
    ws.onClose(() => sockets.delete(ws))
  })
  const peerTimer = setInterval(() => push('peers', peers()), 1000)
  timers.push(peerTimer)

  await page.route(`${MOCK_ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url())
    if (url.pathname.startsWith('/api/call/')) {
      const name = url.pathname.slice('/api/call/'.length) as CallName
      const args = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>
      calls.push({ name, args })
      try {
        if (options.failAll && name !== 'app.info') throw Object.assign(new Error(options.failAll.message), { code: options.failAll.code })
        const handler = handlers[name]
        if (!handler) throw Object.assign(new Error(`Unknown call ${name}`), { code: 'BAD_INPUT' })
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ok: true, result: handler(args) }) })
      } catch (err) {
        const e = err as Error & { code?: string }
        await route.fulfill({ status: e.code === 'NOT_FOUND' ? 404 : 400, contentType: 'application/json', body: JSON.stringify({ ok: false, error: { code: e.code ?? 'INTERNAL', message: e.message } }) })
      }
      return
    }
    const rel = normalize(url.pathname === '/' ? '/index.html' : url.pathname).replace(/^(\.\.[/\\])+/, '')
    const file = join(DIST, rel)
    if (!file.startsWith(DIST) || !existsSync(file)) {
      await route.fulfill({ status: 404, body: 'not found' })
      return
    }
    await route.fulfill({ path: file })
  })
  return { calls, accepted, push }
}
