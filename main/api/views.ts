// How Grove's core state looks through the API contract: library entries, catalog items, rooms,
// peers, and a rough memory estimate for models that are not on this machine yet. Pure mapping:
// no I/O beyond reading the Grove object.
import { freemem, totalmem } from 'node:os'
import type { CatalogItem, FitVerdict, LibraryItem, PeerInfo, RoomInfo } from '../../shared/api.js'
import type { CatalogItem as CoreCatalogItem } from '../../shared/catalog/records.js'
import { modelDisk } from '../core/disk.js'
import type { Grove } from '../core/grove.js'
import type { HomeLayout } from '../core/home.js'
import type { LibraryEntry } from '../core/library.js'
import { roomId, type Room } from '../core/rooms.js'

/** A library entry as the UI and `grove ls --json` describe it. */
export function libraryItem(entry: LibraryEntry, home: HomeLayout): LibraryItem {
  const weights = entry.manifest?.files.find((f) => f.role === 'weights')
  const disk = modelDisk(entry, home)
  return {
    link: entry.link,
    name: entry.manifest?.name ?? entry.link,
    kind: entry.manifest?.kind ?? 'unknown',
    sha256: weights?.sha256 ?? null,
    size: weights?.size ?? null,
    origin: entry.origin,
    complete: entry.complete,
    seeding: entry.seeding,
    path: entry.path ?? null,
    license: entry.manifest?.license ?? null,
    disk: { blockBytes: disk.blockBytes, fileBytes: disk.fileBytes, inPlace: disk.inPlace },
    quarantined: entry.quarantined ?? null
  }
}

export function libraryItems(grove: Grove): LibraryItem[] {
  return grove.library.list().map((e) => libraryItem(e, grove.home))
}

export function catalogItem(item: CoreCatalogItem): CatalogItem {
  return {
    link: item.link,
    name: item.name,
    kind: item.kind,
    sha256: item.sha256,
    size: item.size,
    architecture: item.architecture,
    license: item.license,
    quantization: item.quantization,
    parameterCount: item.parameterCount,
    parents: item.parents.map((p) => ({ link: p.link, sha256: p.sha256, relation: p.relation, name: p.name })),
    seeders: item.seeders,
    local: item.local,
    source: item.source
  }
}

/** What the API tells of a room: never its secret. */
export function roomInfo(room: Room, grove: Grove): RoomInfo {
  return { id: roomId(room), kind: room.kind, name: room.name, peers: grove.peersInRoom(room).length }
}

/** Connected peers, the rooms (ids, as in `rooms.list`) we share with each, and bytes exchanged. */
export function peerInfos(grove: Grove): PeerInfo[] {
  if (!grove.hasNetwork) return []
  const rooms = grove.rooms.map((room) => ({ id: roomId(room), peers: new Set(grove.peersInRoom(room)) }))
  return grove.swarm.peers.map((peer) => {
    const traffic = grove.traffic.ofPeer(peer.publicKey)
    return {
      publicKey: peer.publicKey,
      host: peer.host,
      port: peer.port,
      transport: peer.transport,
      connectedAt: peer.connectedAt,
      rooms: rooms.filter((r) => r.peers.has(peer.publicKey)).map((r) => r.id),
      uploadedBytes: traffic.uploadedBytes,
      downloadedBytes: traffic.downloadedBytes
    }
  })
}

// --- A rough memory estimate --------------------------------------------------------------------
// Used where no GGUF is on this machine to measure (the catalog's "fits this machine" filter, and
// `chat.fit` for a model not downloaded yet): the weights are mapped into RAM whole, plus 10% for
// the runtime's own buffers and a fixed 512 MiB for a default (≤4096-token) context. A model fits
// when that is below the RAM free now, is tight when it is below the machine's total RAM, and
// otherwise won't fit. `chat.fit` for a downloaded model asks llama.cpp's own estimate instead.

export const CONTEXT_OVERHEAD_BYTES = 512 * 1024 * 1024

export function estimatedRamNeed(sizeBytes: number): number {
  return Math.ceil(sizeBytes * 1.1) + CONTEXT_OVERHEAD_BYTES
}

export interface MemoryNow {
  ramFree: number
  ramTotal: number
}

export function memoryNow(): MemoryNow {
  return { ramFree: freemem(), ramTotal: totalmem() }
}

export function fitsThisMachine(sizeBytes: number, memory: MemoryNow = memoryNow()): boolean {
  return estimatedRamNeed(sizeBytes) <= memory.ramFree
}

export function estimateFit(sizeBytes: number, memory: MemoryNow = memoryNow()): FitVerdict {
  const needRam = estimatedRamNeed(sizeBytes)
  const verdict = needRam <= memory.ramFree ? 'fits' : needRam <= memory.ramTotal ? 'tight' : 'wontFit'
  return {
    verdict,
    needRam,
    needVram: 0,
    freeRam: memory.ramFree,
    freeVram: 0,
    summary: `a rough estimate before download: needs about ${gb(needRam)} of RAM (weights ${gb(sizeBytes)} + runtime and context); ${gb(memory.ramFree)} free of ${gb(memory.ramTotal)}`
  }
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`
}
