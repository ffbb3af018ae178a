// Grove's core service: the home, the library, the corestore, the drives and the swarm, opened
// and closed as one resource stack (children close before parents, in reverse order of
// opening). The CLI, the headless server and the Electron app all drive this one object.
import { EventEmitter } from 'node:events'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import Corestore from 'corestore'
import CoreStorage from 'hypercore-storage'
import Hyperdrive from 'hyperdrive'
import ReadyResource from 'ready-resource'
import { GroveError } from '../../shared/errors.js'
import { weightsFile, type Manifest } from '../../shared/manifest.js'

import { bytesToHex, formatLink, hexToBytes } from '../../shared/link.js'
import { ensureHomeDirs, lockHome, resolveHome, type HomeLayout, type HomeLock } from './home.js'
import { Library, cardFactsOf, type CardFacts, type LibraryEntry } from './library.js'
import { blobsOf, readDriveCard } from './remote-drive.js'
import { SwarmNetwork, sleep, type BootstrapNode, type LanSetting } from './swarm.js'
import { fetchModel, type FetchOptions, type FetchResult } from './fetch.js'
import { shareModel, type ShareOptions, type ShareResult } from './publish.js'
import { DriveTraffic } from './traffic.js'
import { diskFullOpening, isDiskFull } from './disk-space.js'
import { removeUnfinishedDeviceFile } from './store-device-file.js'
import { BlockFile, attachBlockFile, detachBlockFile, forgetFileBlocks, openDownloadFile } from './file-blocks.js'
import { firstLine, sha256File } from './gguf.js'
import { Catalog, catalogEntryFromManifest, type CatalogEntry } from '../../shared/catalog.js'
import { CatalogExchange, publicRoom, type Room } from './rooms.js'
import { CatalogVerifier } from './catalog-verifier.js'
import type { SwarmConnection } from 'hyperswarm'
import type { WorkerSpawner } from '../inference/spawn.js'

export interface GroveOptions {
  home?: string
  /** Join the swarm (false for commands that only touch local state). */
  network?: boolean
  bootstrap?: BootstrapNode[]
  /**
   * Offline LAN mode (find peers on the local network by mDNS, form a DHT among them): true,
   * false, or 'auto' (the default: only when no bootstrap list is given and no public bootstrap
   * node answers within `lanFallbackMs`).
   */
  lan?: LanSetting
  lanFallbackMs?: number
  /** Rooms whose catalogs to exchange (default: the public room). */
  rooms?: Room[]
  /** Direct TCP links to peers (see SwarmOptions.directPort): 0 (default) any port, null none. */
  directPort?: number | null
  /** How worker processes start (the GGUF probe): a forked Node process unless given (Electron: its utility process). */
  spawner?: WorkerSpawner
}

/**
 * The corestore's RocksDB, with a much smaller memtable than hypercore-storage's 64 MiB
 * default: weights are kept in the models' own files (file-blocks.ts), so only metadata (and
 * the rare drive whose blocks are uneven) passes through it, and a downloader's memory must
 * stay flat and small. RocksDB preallocates its log at about this size, too.
 * No blob garbage collection during compactions: Grove's blocks are never rewritten, so the
 * default (relocate the oldest quarter of blob files in every compaction) only copied live
 * weights again, ~8% of a downloader's CPU in a profile. `reclaimSeedingCopy` collects
 * explicitly instead.
 */
function openStorage(dir: string): CoreStorage {
  return new CoreStorage(dir, { writeBufferSize: 4 * 1024 * 1024, blobGarbageCollectionAgeCutOff: 0 })
}

/** Reading what the store holds of a library drive (never waiting for a peer). */
const LOCAL_READ_MS = 5000

/** How long an empty room is looked up again (every 2 s) after joining it. */
const ROOM_LOOKUP_MS = 120_000

/** rocksdb-native's constants.garbageCollectionPolicy.FORCE */
const FORCE_BLOB_GC = 1

export class Grove extends ReadyResource {
  readonly home: HomeLayout
  readonly library: Library
  readonly spawner: WorkerSpawner | undefined
  readonly events = new EventEmitter()
  /** Things the user should know that are not errors (also emitted as 'warning' events). */
  readonly warnings: string[] = []
  readonly traffic = new DriveTraffic()
  /** Every model this peer knows of: its own and its room neighbours'. */
  readonly catalog = new Catalog()
  private exchange: CatalogExchange | null = null
  /** When a peer's catalog last changed ours (0: never). */
  lastCatalogChange = 0
  private verifier: CatalogVerifier | null = null
  private lock: HomeLock | null = null
  private _store: Corestore | null = null
  private storage: CoreStorage | null = null
  private _swarm: SwarmNetwork | null = null
  private readonly drives = new Map<string, Promise<Hyperdrive>>()
  /** Models whose blocks live in their own file (see file-blocks.ts), by key. */
  private readonly blockFiles = new Map<string, BlockFile>()
  private readonly seeded = new Set<string>()
  /** Rooms still being looked up again because nobody is in them yet (see joinRoom). */
  private readonly roomLookups = new Map<string, AbortController>()

  constructor(private readonly options: GroveOptions = {}) {
    super()
    this.spawner = options.spawner
    this.home = resolveHome(options.home)
    this.library = new Library(this.home.libraryFile)
  }

  private openedAt = 0

  protected override async _open(): Promise<void> {
    this.openedAt = Date.now()
    try {
      await ensureHomeDirs(this.home)
      this.lock = await lockHome(this.home)
      await this.library.load()
      await removeUnfinishedDeviceFile(this.home.storeDir)
      this.storage = openStorage(this.home.storeDir)
      this._store = new Corestore(this.storage)
      await this._store.ready()
      if (this.options.network) {
        this._swarm = new SwarmNetwork({ store: this._store, bootstrap: this.options.bootstrap, lan: this.options.lan, lanFallbackMs: this.options.lanFallbackMs, directPort: this.options.directPort })
        this.verifier = new CatalogVerifier(this)
        this.exchange = new CatalogExchange(this.catalog, () => this.localCatalogEntries(), {
          onEntries: () => {
            this.lastCatalogChange = Date.now()
            this.verifier?.schedule()
            this.events.emit('catalog')
          },
          onViolation: (peerId, reason) => this.events.emit('violation', { peerId, reason })
        })
        this._swarm.events.on('connection', (conn: SwarmConnection, key: Buffer) => this.exchange?.attach(conn, key))
        await this._swarm.ready()
        for (const room of this.options.rooms ?? [publicRoom()]) this.joinRoom(room)
        await this.refreshLocalCatalog()
      }
    } catch (err) {
      // What failed to open is the error to report, not what failed to close after it.
      await this._close().catch(() => {})
      if (isDiskFull(err)) throw await diskFullOpening(this.home.root, err)
      throw err
    }
  }

  protected override async _close(): Promise<void> {
    for (const stop of this.roomLookups.values()) stop.abort()
    this.roomLookups.clear()
    this.verifier?.stop()
    if (this._swarm) await this._swarm.close()
    this.exchange = null
    this._swarm = null
    const drives = [...this.drives.values()]
    this.drives.clear()
    for (const pending of drives) await pending.then((d) => d.close()).catch(() => {})
    for (const file of this.blockFiles.values()) await file.close()
    this.blockFiles.clear()
    if (this._store) await this._store.close()
    this._store = null
    if (this.lock) await this.lock.release()
    this.lock = null
  }

  get store(): Corestore {
    if (!this._store) throw new GroveError('CLOSED', 'Grove is not open')
    return this._store
  }

  get swarm(): SwarmNetwork {
    if (!this._swarm) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    return this._swarm
  }

  get hasNetwork(): boolean {
    return this._swarm !== null
  }

  /** Opens (once) the drive with this key, read-only unless this store wrote it. */
  openDrive(keyHex: string): Promise<Hyperdrive> {
    let pending = this.drives.get(keyHex)
    if (!pending) {
      pending = (async () => {
        const drive = new Hyperdrive(this.store, Buffer.from(hexToBytes(keyHex)))
        await drive.ready()
        await this.reopenBlockFile(keyHex, drive)
        this.traffic.watch(keyHex, drive)
        return drive
      })()
      pending.catch(() => this.drives.delete(keyHex))
      this.drives.set(keyHex, pending)
    }
    return pending
  }

  /** A drive just written under `namespace`, registered so later opens share it. */
  async createDrive(namespace: string): Promise<Hyperdrive> {
    const drive = new Hyperdrive(this.store.namespace(namespace))
    await drive.ready()
    const keyHex = bytesToHex(drive.key)
    this.drives.set(keyHex, Promise.resolve(drive))
    this.traffic.watch(keyHex, drive)
    return drive
  }

  /** Announces a drive so peers can fetch it from us (and look up other seeders). */
  async seedDrive(keyHex: string, opts: { lookup: boolean }): Promise<Hyperdrive> {
    const drive = await this.openDrive(keyHex)
    if (!this.seeded.has(keyHex) || opts.lookup) {
      this.swarm.join(drive.discoveryKey, { server: true, client: opts.lookup })
      this.seeded.add(keyHex)
    }
    return drive
  }

  async stopSeeding(keyHex: string): Promise<void> {
    if (!this.seeded.delete(keyHex) || !this._swarm) return
    const drive = await this.openDrive(keyHex)
    await this._swarm.leave(drive.discoveryKey)
  }

  /** Announces everything the library seeds (less any model whose file is gone or changed). */
  async seedLibrary(): Promise<LibraryEntry[]> {
    const seeded: LibraryEntry[] = []
    for (const { keyHex } of this.library.list().filter((e) => e.seeding && e.blocksStored && !e.quarantined)) {
      await this.openDrive(keyHex)
      const entry = this.library.get(keyHex)
      if (!entry?.seeding || !entry.blocksStored) continue
      await this.seedDrive(keyHex, { lookup: !entry.complete })
      seeded.push(entry)
    }
    return seeded
  }

  /** Where a fetch builds a model's file until it is complete and verified. */
  partialPath(keyHex: string): string {
    return join(this.home.tmpDir, `${keyHex}.partial`)
  }

  /** The file the model's blocks are kept in, if they are kept in one. */
  blockFileOf(keyHex: string): BlockFile | undefined {
    return this.blockFiles.get(keyHex)
  }

  /** From now on the drive's weights blocks are read from (and written into) `file`. */
  async useBlockFile(keyHex: string, drive: Hyperdrive, file: BlockFile): Promise<void> {
    const blobs = await blobsOf(drive, formatLink(keyHex))
    const previous = detachBlockFile(blobs.core)
    attachBlockFile(blobs.core, file)
    this.blockFiles.set(keyHex, file)
    if (previous && previous !== file) await previous.close()
  }

  /** The drive's blocks go back to the store; the file is closed (not deleted). */
  async dropBlockFile(keyHex: string, drive: Hyperdrive): Promise<void> {
    const blobs = await blobsOf(drive, formatLink(keyHex))
    const file = detachBlockFile(blobs.core) ?? this.blockFiles.get(keyHex)
    this.blockFiles.delete(keyHex)
    await file?.close()
  }

  /**
   * Opening a drive whose blocks live in a file: attach the file again, after checking that it is
   * still what the drive says (same size; a new mtime means a sha256 recheck, as a BitTorrent
   * client rechecks pieces). A file that is gone or changed no longer counts as held: its blocks
   * are cleared from the drive's bitfield, so no peer is ever told we have them, and a complete
   * model stops being seeded (with a warning saying why).
   */
  private async reopenBlockFile(keyHex: string, drive: Hyperdrive): Promise<void> {
    const entry = this.library.get(keyHex)
    const layout = entry?.blockFile
    if (!entry || !layout) return
    const blobs = await blobsOf(drive, formatLink(keyHex))
    try {
      if (layout.path === this.partialPath(keyHex)) {
        await this.useBlockFile(keyHex, drive, await openDownloadFile(blobs.core, layout.path, layout))
        return
      }
      const file = await BlockFile.openSource(layout.path, layout)
      try {
        const { mtimeMs } = await stat(layout.path)
        if (mtimeMs !== layout.mtimeMs) {
          const expected = entry.manifest ? weightsFile(entry.manifest).sha256 : null
          if ((await sha256File(layout.path)) !== expected) throw new Error('its contents changed')
          await this.library.update(keyHex, { blockFile: { ...layout, mtimeMs } })
        }
      } catch (err) {
        await file.close()
        throw err
      }
      await this.useBlockFile(keyHex, drive, file)
    } catch (err) {
      await forgetFileBlocks(blobs.core, layout)
      const name = entry.manifest?.name ?? keyHex
      if (entry.complete) await this.library.update(keyHex, { blockFile: undefined, blocksStored: false, seeding: false })
      else await this.library.update(keyHex, { blockFile: undefined })
      this.warn(`${name}: ${layout.path} is missing or changed (${firstLine(err)}); no longer seeding it. Fetch or share it again to seed it.`)
    }
  }

  private warn(message: string): void {
    this.warnings.push(message)
    this.events.emit('warning', message)
  }

  joinRoom(room: Room): void {
    this.requireExchange().addRoom(room)
    this.swarm.join(room.topic, { server: true, client: true })
    // Two peers that join at the same moment both look the room up before either has announced
    // and can miss each other for minutes: look again while the room is empty, for a while.
    const id = bytesToHex(room.topic)
    this.roomLookups.get(id)?.abort()
    const stop = new AbortController()
    this.roomLookups.set(id, stop)
    const until = Date.now() + ROOM_LOOKUP_MS
    void this.swarm
      .refreshUntil(room.topic, () => this.peersInRoom(room).length > 0 || Date.now() > until, stop.signal)
      .finally(() => {
        if (this.roomLookups.get(id) === stop) this.roomLookups.delete(id)
      })
  }

  async leaveRoom(room: Room): Promise<void> {
    this.roomLookups.get(bytesToHex(room.topic))?.abort()
    this.requireExchange().removeRoom(room)
    await this.swarm.leave(room.topic)
  }

  /** The peers (hex public keys) we exchange catalogs with in this room. */
  peersInRoom(room: Room): string[] {
    return this.exchange?.peersIn(room) ?? []
  }

  /** Peers we exchange catalogs with, in any room. */
  get roomPeerCount(): number {
    const peers = new Set<string>()
    for (const room of this.rooms) for (const peer of this.exchange?.peersIn(room) ?? []) peers.add(peer)
    return peers.size
  }

  /**
   * Waits until every peer's catalog seems in (no change for `quietMs`, at most `waitMs`) and
   * relayed entries were checked against their drives, never past `timeoutMs` in all.
   */
  async settleCatalog(opts: { waitMs: number; timeoutMs?: number; quietMs?: number; signal?: AbortSignal }): Promise<void> {
    const started = Date.now()
    const quietMs = opts.quietMs ?? 1500
    const end = started + (opts.timeoutMs ?? opts.waitMs + 10_000)
    const deadline = Math.min(end, started + opts.waitMs)
    // Quiet counts from the first room peer on: one that just joined has not sent its catalog yet.
    let firstPeerAt = 0
    while (Date.now() < deadline && !opts.signal?.aborted) {
      if (this.roomPeerCount > 0) firstPeerAt ||= Date.now()
      const quiet = firstPeerAt > 0 && Date.now() - Math.max(this.lastCatalogChange, this.openedAt, firstPeerAt) > quietMs
      if (quiet) break
      await sleep(100, opts.signal)
    }
    await this.verifier?.idle(Math.max(0, end - Date.now()))
  }

  get rooms(): Room[] {
    return this.exchange?.joinedRooms ?? []
  }

  /** Re-reads what we seed into the catalog and tells the rooms (after a share, fetch or reclaim). */
  async refreshLocalCatalog(): Promise<void> {
    const seeded = this.library.list().filter((e) => e.manifest && e.complete && e.seeding && !e.quarantined)
    const seededLinks = new Set(seeded.map((e) => e.link))
    for (const item of this.catalog.list({ local: true })) if (!seededLinks.has(item.link)) this.catalog.setLocal(item.link, false)
    for (const entry of seeded) {
      if (!entry.manifest) continue
      const facts = entry.cardFacts ?? (await this.learnCardFacts(entry))
      if (facts === null) continue
      const catalogEntry = this.toCatalogEntry(entry.link, entry.manifest, facts)
      if (catalogEntry) this.catalog.addFromDrive(catalogEntry, { local: true })
    }
    this.exchange?.broadcast()
  }

  /** What we tell peers: the summaries of the drives we seed, without our local bookkeeping. */
  private localCatalogEntries(): CatalogEntry[] {
    return this.catalog.localMessages().flatMap((m) => m.entries)
  }

  toCatalogEntry(link: string, manifest: Manifest, card?: CardFacts): CatalogEntry | undefined {
    try {
      return catalogEntryFromManifest(link, manifest, { gguf: { baseModels: manifest.ggufBaseModels }, card })
    } catch {
      return undefined
    }
  }

  /**
   * A library model's card facts, for an entry that has none recorded (a home from before they
   * were): read once from the store, never from a peer, within bounds, and recorded. A card whose
   * entry lies about its data sets the model aside (quarantined, reported, no longer seeded):
   * null.
   */
  private async learnCardFacts(entry: LibraryEntry): Promise<CardFacts | null> {
    const drive = await this.openDrive(entry.keyHex)
    try {
      const card = await readDriveCard(drive, entry.link, Date.now() + LOCAL_READ_MS, { local: true })
      const cardFacts = cardFactsOf(card)
      await this.library.update(entry.keyHex, { cardFacts })
      return cardFacts
    } catch (err) {
      await this.quarantine(entry, `its model card cannot be read: ${firstLine(err)}`)
      return null
    }
  }

  /** Sets a library model aside for good: no longer seeded or offered, with the reason recorded and told once. */
  async quarantine(entry: LibraryEntry, reason: string): Promise<void> {
    await this.library.update(entry.keyHex, { quarantined: reason, seeding: false })
    if (this.seeded.has(entry.keyHex)) await this.stopSeeding(entry.keyHex).catch(() => {})
    this.warn(`${entry.manifest?.name ?? entry.link} is set aside: ${reason}`)
  }

  private requireExchange(): CatalogExchange {
    if (!this.exchange) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    return this.exchange
  }

  get seededKeys(): string[] {
    return [...this.seeded]
  }

  async share(file: string, opts: ShareOptions = {}): Promise<ShareResult> {
    const result = await shareModel(this, file, opts)
    if (this.hasNetwork) {
      await this.seedDrive(result.keyHex, { lookup: false })
      await this.refreshLocalCatalog()
    }
    return result
  }

  async fetch(link: string, opts: FetchOptions = {}): Promise<FetchResult> {
    const result = await fetchModel(this, link, opts)
    if (!result.alreadyHad && this.hasNetwork) await this.refreshLocalCatalog()
    return result
  }

  /** Turns serving a library model to the swarm on or off (remembered across runs). */
  async setSeeding(keyHex: string, seeding: boolean): Promise<LibraryEntry> {
    const entry = this.library.get(keyHex)
    if (!entry) throw new GroveError('NOT_FOUND', 'That model is not in the library')
    if (seeding && !entry.blocksStored) {
      throw new GroveError('BAD_INPUT', 'Its seeding copy was reclaimed; fetch it again to seed it')
    }
    const updated = await this.library.update(keyHex, { seeding })
    if (this.hasNetwork) {
      if (seeding) await this.seedDrive(keyHex, { lookup: !entry.complete })
      else await this.stopSeeding(keyHex)
      await this.refreshLocalCatalog()
    }
    return updated
  }

  /** Drops the drive's copy of the weights (the seeding copy); the loadable file stays. */
  async reclaimSeedingCopy(keyHex: string): Promise<{ freedBytes: number }> {
    const entry = this.library.get(keyHex)
    if (!entry) throw new GroveError('NOT_FOUND', 'That model is not in the library')
    if (!entry.path || !entry.complete) throw new GroveError('BAD_INPUT', 'Only a complete model with a loadable file can give up its seeding copy')
    if (entry.blockFile) throw new GroveError('BAD_INPUT', `${entry.manifest?.name ?? 'This model'} is seeded from its file in place (${entry.path}): there is no separate seeding copy to free`)
    await this.stopSeeding(keyHex)
    const drive = await this.openDrive(keyHex)
    let freedBytes = 0
    for (const file of entry.manifest?.files ?? []) {
      await drive.clear(file.path)
      freedBytes += file.size
    }
    // Deleted blocks stay on disk in RocksDB's blob files, which also hold small live values
    // (bitfield pages): only a garbage collection that moves those out frees the file. Forced
    // over every blob file, it also rewrites the other models' blocks once (~disk speed).
    await this.storage?.compact({ blobGarbageCollectionPolicy: FORCE_BLOB_GC, blobGarbageCollectionAgeCutoff: 1 })
    await this.library.update(keyHex, { seeding: false, blocksStored: false })
    if (this.hasNetwork) await this.refreshLocalCatalog()
    return { freedBytes }
  }
}
