// Grove's core service: the home, the library, the corestore, the drives and the swarm, opened
// and closed as one resource stack (children close before parents, in reverse order of
// opening). The CLI, the headless server and the Electron app all drive this one object.
import { EventEmitter } from 'node:events'
import { statfs } from 'node:fs/promises'
import Corestore from 'corestore'
import Hyperdrive from 'hyperdrive'
import ReadyResource from 'ready-resource'
import { GroveError } from '../../shared/errors.js'
import { bytesToHex, hexToBytes } from '../../shared/link.js'
import { ensureHomeDirs, lockHome, resolveHome, type HomeLayout, type HomeLock } from './home.js'
import { Library, type LibraryEntry } from './library.js'
import { SwarmNetwork, type BootstrapNode } from './swarm.js'
import { fetchModel, type FetchOptions, type FetchResult } from './fetch.js'
import { shareModel, type ShareOptions, type ShareResult } from './publish.js'
import { DriveTraffic } from './traffic.js'

export interface GroveOptions {
  home?: string
  /** Join the swarm (false for commands that only touch local state). */
  network?: boolean
  bootstrap?: BootstrapNode[]
}

export class Grove extends ReadyResource {
  readonly home: HomeLayout
  readonly library: Library
  readonly events = new EventEmitter()
  readonly traffic = new DriveTraffic()
  private lock: HomeLock | null = null
  private _store: Corestore | null = null
  private _swarm: SwarmNetwork | null = null
  private readonly drives = new Map<string, Promise<Hyperdrive>>()
  private readonly seeded = new Set<string>()

  constructor(private readonly options: GroveOptions = {}) {
    super()
    this.home = resolveHome(options.home)
    this.library = new Library(this.home.libraryFile)
  }

  protected override async _open(): Promise<void> {
    await ensureHomeDirs(this.home)
    this.lock = await lockHome(this.home)
    try {
      await this.library.load()
      this._store = new Corestore(this.home.storeDir)
      await this._store.ready()
      if (this.options.network) {
        this._swarm = new SwarmNetwork({ store: this._store, bootstrap: this.options.bootstrap })
        await this._swarm.ready()
      }
    } catch (err) {
      await this._close()
      throw err
    }
  }

  protected override async _close(): Promise<void> {
    if (this._swarm) await this._swarm.close()
    this._swarm = null
    const drives = [...this.drives.values()]
    this.drives.clear()
    for (const pending of drives) await pending.then((d) => d.close()).catch(() => {})
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

  /** Announces everything the library seeds. */
  async seedLibrary(): Promise<LibraryEntry[]> {
    const entries = this.library.list().filter((e) => e.seeding && e.blocksStored)
    for (const entry of entries) await this.seedDrive(entry.keyHex, { lookup: !entry.complete })
    return entries
  }

  get seededKeys(): string[] {
    return [...this.seeded]
  }

  share(file: string, opts: ShareOptions = {}): Promise<ShareResult> {
    return shareModel(this, file, opts)
  }

  fetch(link: string, opts: FetchOptions = {}): Promise<FetchResult> {
    return fetchModel(this, link, opts)
  }

  /** Drops the drive's copy of the weights (the seeding copy); the loadable file stays. */
  async reclaimSeedingCopy(keyHex: string): Promise<{ freedBytes: number }> {
    const entry = this.library.get(keyHex)
    if (!entry) throw new GroveError('NOT_FOUND', 'That model is not in the library')
    if (!entry.path || !entry.complete) throw new GroveError('BAD_INPUT', 'Only a complete model with a loadable file can give up its seeding copy')
    await this.stopSeeding(keyHex)
    const drive = await this.openDrive(keyHex)
    let freedBytes = 0
    for (const file of entry.manifest?.files ?? []) {
      await drive.clear(file.path)
      freedBytes += file.size
    }
    await this.library.update(keyHex, { seeding: false, blocksStored: false })
    return { freedBytes }
  }

  async freeDiskBytes(): Promise<number> {
    const info = await statfs(this.home.root)
    return info.bavail * info.bsize
  }
}
