// Grove's core service, composed: the home (locked), the library, the store, the model drives,
// and with the network the swarm, what is seeded, the rooms and the catalog — opened and closed
// as one resource stack (children close before parents, in reverse order of opening). The CLI,
// the headless server and the Electron app all drive this one object. It only composes: each
// concept lives in its own module, and none of them imports this one.
import { EventEmitter } from 'node:events'
import type Corestore from 'corestore'
import type CoreStorage from 'hypercore-storage'
import type Hyperdrive from 'hyperdrive'
import type { SwarmConnection } from 'hyperswarm'
import ReadyResource from 'ready-resource'
import { Catalog } from '../../shared/catalog/store.js'
import { GroveError } from '../../shared/errors.js'
import { bytesToHex, parseLink } from '../../shared/link.js'
import type { WorkerSpawner } from '../process/spawn.js'
import { CatalogVerifier } from './catalog-verifier.js'
import { diskFullOpening, isDiskFull } from './disk-space.js'
import { fetchModel, type FetchOptions, type FetchResult } from './fetch.js'
import { JoinedRooms } from './joined-rooms.js'
import { ensureHomeDirs, lockHome, resolveHome, type HomeLayout, type HomeLock } from './home.js'
import { Library, type LibraryEntry } from './library.js'
import { entryProofHolds } from './entry-proofs.js'
import { LocalCatalog } from './local-catalog.js'
import { ModelDrives } from './model-drives.js'
import { shareModel, type ShareOptions, type ShareResult } from './publish.js'
import { CatalogExchange, publicRoom, roomId, type Room } from './rooms.js'
import { Seeding } from './seeding.js'
import { collectGarbage, openStore } from './store.js'
import { SwarmNetwork, sleep, type BootstrapNode, type LanSetting } from './swarm.js'
import { DriveTraffic } from './traffic.js'

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
  /**
   * Rooms whose catalogs to exchange for this run (default: the public room); the rooms this
   * home remembers (see joinRoomAndRemember) are joined as well.
   */
  rooms?: Room[]
  /** Direct TCP links to peers (see SwarmOptions.directPort): 0 (default) any port, null none. */
  directPort?: number | null
  /** How worker processes start (the GGUF probe): a forked Node process unless given (Electron: its utility process). */
  spawner?: WorkerSpawner
}

/** How long an empty room is looked up again (every 2 s) after joining it. */
const ROOM_LOOKUP_MS = 120_000

export class Grove extends ReadyResource {
  readonly home: HomeLayout
  readonly library: Library
  /** The rooms joined in this home and remembered across starts (rooms.json). */
  readonly joinedRooms: JoinedRooms
  readonly spawner: WorkerSpawner | undefined
  readonly events = new EventEmitter()
  /** Things the user should know that are not errors (also emitted as 'warning' events). */
  readonly warnings: string[] = []
  readonly traffic = new DriveTraffic()
  /** Every model this peer knows of: its own and its room neighbours'. */
  readonly catalog = new Catalog({ checkProof: entryProofHolds })
  /** When a peer's catalog last changed ours (0: never). */
  lastCatalogChange = 0
  private openedAt = 0
  private lock: HomeLock | null = null
  private _store: Corestore | null = null
  private storage: CoreStorage | null = null
  private _drives: ModelDrives | null = null
  private _seeding: Seeding | null = null
  private _swarm: SwarmNetwork | null = null
  private exchange: CatalogExchange | null = null
  private verifier: CatalogVerifier | null = null
  private localCatalog: LocalCatalog | null = null
  /** Rooms still being looked up again because nobody is in them yet (see joinRoom). */
  private readonly roomLookups = new Map<string, AbortController>()

  constructor(private readonly options: GroveOptions = {}) {
    super()
    this.spawner = options.spawner
    this.home = resolveHome(options.home)
    this.library = new Library(this.home.libraryFile)
    this.joinedRooms = new JoinedRooms(this.home.roomsFile)
  }

  protected override async _open(): Promise<void> {
    this.openedAt = Date.now()
    try {
      await ensureHomeDirs(this.home)
      this.lock = await lockHome(this.home)
      await this.library.load()
      const roomsProblem = await this.joinedRooms.load()
      if (roomsProblem) this.warn(roomsProblem)
      const { store, storage } = await openStore(this.home.storeDir)
      this._store = store
      this.storage = storage
      const drives = new ModelDrives({
        store,
        home: this.home,
        library: this.library,
        onOpen: (keyHex, drive) => this.traffic.watch(keyHex, drive),
        onWarning: (message) => this.warn(message)
      })
      this._drives = drives
      this.localCatalog = new LocalCatalog({ catalog: this.catalog, library: this.library, drives, onQuarantine: (entry, reason) => this.quarantine(entry, reason) })
      if (!this.options.network) {
        this._seeding = new Seeding(drives, this.library, null)
        return
      }
      const swarm = new SwarmNetwork({ store, bootstrap: this.options.bootstrap, lan: this.options.lan, lanFallbackMs: this.options.lanFallbackMs, directPort: this.options.directPort })
      this._swarm = swarm
      this._seeding = new Seeding(drives, this.library, swarm)
      const verifier = new CatalogVerifier({ catalog: this.catalog, peekDrive: (keyHex, work) => drives.peek(keyHex, work) })
      this.verifier = verifier
      const localCatalog = this.localCatalog
      this.exchange = new CatalogExchange(this.catalog, () => localCatalog.entries(), {
        onEntries: () => {
          this.lastCatalogChange = Date.now()
          verifier.schedule()
          this.events.emit('catalog')
        },
        onViolation: (peerId, reason) => this.events.emit('violation', { peerId, reason })
      })
      swarm.events.on('connection', (conn: SwarmConnection, key: Buffer) => this.exchange?.attach(conn, key))
      await swarm.ready()
      for (const room of this.roomsAtStart()) this.joinRoom(room)
      await this.refreshLocalCatalog()
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
    await this._drives?.close()
    this._drives = null
    if (this._store) await this._store.close()
    this._store = null
    if (this.lock) await this.lock.release()
    this.lock = null
  }

  get store(): Corestore {
    if (!this._store) throw new GroveError('CLOSED', 'Grove is not open')
    return this._store
  }

  get drives(): ModelDrives {
    if (!this._drives) throw new GroveError('CLOSED', 'Grove is not open')
    return this._drives
  }

  get seeding(): Seeding {
    if (!this._seeding) throw new GroveError('CLOSED', 'Grove is not open')
    return this._seeding
  }

  get swarm(): SwarmNetwork {
    if (!this._swarm) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    return this._swarm
  }

  get hasNetwork(): boolean {
    return this._swarm !== null
  }

  // --- drives and seeding (the modules' own calls, for the API, the CLI and tests) --------------

  openDrive(keyHex: string): Promise<Hyperdrive> {
    return this.drives.open(keyHex)
  }

  createDrive(namespace: string): Promise<Hyperdrive> {
    return this.drives.create(namespace)
  }

  seedDrive(keyHex: string, opts: { lookup: boolean }): Promise<Hyperdrive> {
    return this.seeding.seed(keyHex, opts)
  }

  stopSeeding(keyHex: string): Promise<void> {
    return this.seeding.stop(keyHex)
  }

  seedLibrary(): Promise<LibraryEntry[]> {
    return this.seeding.seedLibrary()
  }

  /** See Seeding: how many complete models are announced one by one, the newest (a lab's `grove seed --announce-limit`). */
  setAnnounceLimit(limit: number): void {
    this.seeding.announceLimit = limit
  }

  get announcedCount(): number {
    return this.seeding.announcedCount
  }

  get seededKeys(): string[] {
    return this.seeding.keys
  }

  // --- sharing, fetching, the library ----------------------------------------------------------

  /**
   * Publishes a file and, with the network, seeds it. `announce: false` leaves telling the rooms
   * (and the library's watchers) to the caller's one refreshLocalCatalog after sharing many.
   */
  async share(file: string, opts: ShareOptions & { announce?: boolean } = {}): Promise<ShareResult> {
    const result = await shareModel(this, file, opts)
    if (this.hasNetwork) await this.seedDrive(result.keyHex, { lookup: false })
    this.drives.doneWith(result.keyHex)
    if (this.hasNetwork && opts.announce !== false) await this.refreshLocalCatalog()
    return result
  }

  async fetch(link: string, opts: FetchOptions = {}): Promise<FetchResult> {
    parseLink(link) // a malformed link is BAD_LINK, with or without the network
    const result = await fetchModel({ home: this.home, library: this.library, drives: this.drives, seeding: this.seeding, swarm: this.swarm }, link, opts)
    if (!result.alreadyHad) await this.refreshLocalCatalog()
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
    if (this.storage) await collectGarbage(this.storage)
    await this.library.update(keyHex, { seeding: false, blocksStored: false })
    if (this.hasNetwork) await this.refreshLocalCatalog()
    return { freedBytes }
  }

  /** Sets a library model aside for good: no longer seeded or offered, with the reason recorded and told once. */
  async quarantine(entry: LibraryEntry, reason: string): Promise<void> {
    await this.library.update(entry.keyHex, { quarantined: reason, seeding: false })
    if (this._seeding?.has(entry.keyHex)) await this.stopSeeding(entry.keyHex).catch(() => {})
    this.warn(`${entry.manifest?.name ?? entry.link} is set aside: ${reason}`)
  }

  private warn(message: string): void {
    this.warnings.push(message)
    this.events.emit('warning', message)
  }

  // --- rooms and the catalog ------------------------------------------------------------------

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

  /**
   * Remembers a room in the home, so that every start joins it, and joins it now when this Grove
   * has the network (a room already joined is only remembered; one already remembered stays as
   * it was). Returns the room as joined.
   * Without the network only the home's list changes.
   */
  async joinRoomAndRemember(room: Room): Promise<Room> {
    const remembered = await this.joinedRooms.remember(room)
    if (!this.hasNetwork) return remembered
    const joined = this.rooms.find((r) => roomId(r) === roomId(room))
    if (joined) return joined
    this.joinRoom(remembered)
    return remembered
  }

  /**
   * Forgets a room (by id) and leaves it now. A room joined only because this run was told to
   * (`--room`, the public room by default) is left for this run: it was never remembered.
   */
  async leaveRoomAndForget(id: string): Promise<{ left: boolean; forgotten: boolean }> {
    const forgotten = await this.joinedRooms.forget(id)
    const joined = this.rooms.find((r) => roomId(r) === id)
    if (joined) await this.leaveRoom(joined)
    return { left: joined !== undefined, forgotten }
  }

  /** This run's rooms (the options', or the public room) and the remembered ones, each once. */
  private roomsAtStart(): Room[] {
    const rooms = new Map<string, Room>()
    for (const room of [...(this.options.rooms ?? [publicRoom()]), ...this.joinedRooms.list()]) {
      if (!rooms.has(roomId(room))) rooms.set(roomId(room), room)
    }
    return [...rooms.values()]
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

  get rooms(): Room[] {
    return this.exchange?.joinedRooms ?? []
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

  /** Re-reads what we seed into the catalog and tells the rooms (after a share, fetch or reclaim), and whoever shows the library. */
  async refreshLocalCatalog(): Promise<void> {
    await this.localCatalog?.refresh()
    this.exchange?.broadcast()
    this.events.emit('library')
  }

  private requireExchange(): CatalogExchange {
    if (!this.exchange) throw new GroveError('INTERNAL', 'This Grove was opened without the network')
    return this.exchange
  }
}
