// The model drives of a home and the files their blocks live in. One Hyperdrive per model,
// opened once and shared; when a model seeds in place (file-blocks.ts), its weights' blocks are
// read from — and, while it downloads, written into — a file instead of the store: the user's
// own .gguf for a share, the fetch's partial file and then the finished .gguf for a download.
// Reopening a drive attaches its file again, after checking that the file is still what the
// drive says.
//
// A seeded drive nobody else asked for is open only while a peer uses it (openToServe): a lab's
// thousand models held open cost ~90 MB for nothing. Its block file stays attached while it is
// closed, and Corestore opens its cores again from the store when a peer asks for them; that
// reopens the drive here too, so its traffic is counted.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type Corestore from 'corestore'
import Hyperdrive from 'hyperdrive'
import { GroveError, firstLine } from '../../shared/errors.js'
import { bytesToHex, formatLink, hexToBytes } from '../../shared/link.js'
import { weightsFile } from '../../shared/manifest.js'
import { BlockFile, attachBlockFile, type BlockLayout, detachBlockFile, forgetFileBlocks, openDownloadFile } from './file-blocks.js'
import { sha256File } from './sha256.js'
import type { HomeLayout } from './home.js'
import type { Library } from './library.js'
import { blobsOf } from './remote-drive.js'

export interface ModelDrivesOptions {
  store: Corestore
  home: HomeLayout
  library: Library
  /** Every drive, once opened or created (to count its traffic). */
  onOpen?(keyHex: string, drive: Hyperdrive): void
  /** Something the user should know: a model's file is gone or changed, so it no longer seeds. */
  onWarning?(message: string): void
}

/** How often drives open only to serve are closed again when no peer uses them. */
const RELEASE_IDLE_MS = 30_000
/**
 * Corestore closes a core 4–6 s after its last session closes (its gc strikes, every 2 s), even
 * when a peer started replicating it meanwhile: a fetch that came in that window stopped at ~75 %
 * with "every peer left". So a released drive's cores are watched that long, and a peer on one
 * reopens the drive (its new sessions take the core off Corestore's gc list).
 */
const LINGER_WATCH_MS = 10_000
const LINGER_CHECK_MS = 250

export class ModelDrives {
  private readonly drives = new Map<string, Promise<Hyperdrive>>()
  /** Drives open only to serve peers (see openToServe): closed again when no peer uses them. */
  private readonly servingOnly = new Set<string>()
  /** The discovery keys (hex) of served drives' cores, to the drive's key: a peer asking for one reopens the drive. */
  private readonly servedCores = new Map<string, string>()
  private releaseTimer: NodeJS.Timeout | null = null
  /** Released drives whose cores Corestore may still hold: key → their discovery keys (hex), until when. */
  private readonly lingering = new Map<string, { cores: string[]; until: number }>()
  private lingerTimer: NodeJS.Timeout | null = null
  /** Models whose blocks live in a file (see file-blocks.ts), by key. */
  private readonly blockFiles = new Map<string, BlockFile>()
  /** Drives opened only to be looked at (see peek), until their look ends. */
  private readonly peeking = new Set<Hyperdrive>()
  private closed = false

  constructor(private readonly options: ModelDrivesOptions) {
    options.store.watch((core) => {
      const keyHex = core.discoveryKey ? this.servedCores.get(bytesToHex(core.discoveryKey)) : undefined
      // Later: this runs while open() itself creates the drive's cores.
      if (keyHex) setImmediate(() => this.drives.has(keyHex) || this.closed || this.openToServe(keyHex).catch(() => {}))
    })
  }

  /** Opens (once) the drive with this key, read-only unless this store wrote it; it stays open. */
  open(keyHex: string): Promise<Hyperdrive> {
    this.servingOnly.delete(keyHex)
    return this.openShared(keyHex)
  }

  /**
   * Opens a seeded drive to serve it, to be closed again once no peer uses it (unless something
   * opens it meanwhile). Its block file stays attached, and a peer asking for it reopens it.
   */
  async openToServe(keyHex: string): Promise<Hyperdrive> {
    if (!this.drives.has(keyHex)) this.servingOnly.add(keyHex)
    const drive = await this.openShared(keyHex)
    this.servedCores.set(bytesToHex(drive.discoveryKey), keyHex)
    const blobs = await drive.getBlobs().catch(() => null)
    if (blobs?.core.discoveryKey) this.servedCores.set(bytesToHex(blobs.core.discoveryKey), keyHex)
    if (this.servingOnly.has(keyHex)) this.releaseLater()
    return drive
  }

  /** The caller is done with this drive (a share that wrote it): from now on it is open only while peers use it. */
  doneWith(keyHex: string): void {
    if (!this.drives.has(keyHex)) return
    this.servingOnly.add(keyHex)
    this.releaseLater()
  }

  private releaseLater(): void {
    if (this.releaseTimer || this.closed) return
    this.releaseTimer = setInterval(() => void this.sweep(), RELEASE_IDLE_MS)
    this.releaseTimer.unref()
  }

  /**
   * Closes the drives open only to serve that no peer uses, and reopens closed ones a peer uses:
   * Corestore keeps a closed drive's cores a few seconds before letting them go, and a peer that
   * comes back then is served from them without the store opening anything (so without `watch`).
   */
  async sweep(): Promise<{ released: number; reopened: number }> {
    const released = await this.releaseIdle()
    let reopened = 0
    for (const [discoveryHex, keyHex] of this.servedCores) {
      if (this.drives.has(keyHex) || this.closed || !this.usedByPeer(discoveryHex)) continue
      await this.openToServe(keyHex).catch(() => {})
      reopened++
    }
    return { released, reopened }
  }

  /** Whether a peer replicates the core with this discovery key (Corestore's own core object, open or lingering). */
  private usedByPeer(discoveryHex: string): boolean {
    const cores = (this.options.store as unknown as { cores?: { get(id: string): { replicator?: { peers?: unknown[] } } | null } }).cores
    return (cores?.get(discoveryHex)?.replicator?.peers?.length ?? 0) > 0
  }

  private watchLingering(keyHex: string, cores: string[]): void {
    this.lingering.set(keyHex, { cores, until: Date.now() + LINGER_WATCH_MS })
    if (!this.lingerTimer) {
      this.lingerTimer = setInterval(() => this.checkLingering(), LINGER_CHECK_MS)
      this.lingerTimer.unref()
    }
  }

  private checkLingering(): void {
    const now = Date.now()
    for (const [keyHex, { cores, until }] of this.lingering) {
      if (this.closed || this.drives.has(keyHex) || now > until) this.lingering.delete(keyHex)
      else if (cores.some((id) => this.usedByPeer(id))) {
        this.lingering.delete(keyHex)
        this.openToServe(keyHex).catch(() => {})
      }
    }
    if (this.lingering.size === 0 && this.lingerTimer) {
      clearInterval(this.lingerTimer)
      this.lingerTimer = null
    }
  }

  /** Closes the drives open only to serve that no peer uses now (their block files stay attached). */
  async releaseIdle(): Promise<number> {
    let released = 0
    for (const keyHex of [...this.servingOnly]) if (await this.releaseIfIdle(keyHex)) released++
    return released
  }

  /** Closes this drive if it is open only to serve and no peer uses it; whether it did. */
  async releaseIfIdle(keyHex: string): Promise<boolean> {
    const pending = this.servingOnly.has(keyHex) ? this.drives.get(keyHex) : undefined
    const drive = pending ? await pending.catch(() => null) : null
    if (!drive || !this.servingOnly.has(keyHex) || this.drives.get(keyHex) !== pending) return false
    const blobs = drive.blobs
    if (drive.core.peers.length > 0 || (blobs?.core.peers.length ?? 0) > 0) return false
    this.servingOnly.delete(keyHex)
    this.drives.delete(keyHex)
    await drive.close().catch(() => {})
    const cores = [drive.discoveryKey, blobs?.core.discoveryKey].flatMap((key) => (key ? [bytesToHex(key)] : []))
    this.collectNow(cores)
    this.watchLingering(keyHex, cores)
    return true
  }

  /**
   * Corestore keeps a core 6–8 s after its last session closes (four gc strikes, 2 s apart). A
   * lab's start-up releases a thousand drives in about two seconds, so all their cores were alive
   * at once: 2000 cores, 30 MB more live heap, the seeder's peak memory (251 MB, N = 1000). A
   * released core that no peer is on is closed now, as Corestore's gc would close it later; a
   * peer that asks for it afterwards has the store open it again (and `watch` reopens the drive).
   */
  private collectNow(discoveryKeys: string[]): void {
    const tracker = (this.options.store as unknown as { cores?: CoreTrackerInternals }).cores
    if (!tracker?.map || !tracker._gcing || typeof tracker._gc !== 'function') return
    for (const id of discoveryKeys) {
      const core = tracker.map.get(id)
      // `gc` > 0: on Corestore's gc list, so no session holds it.
      if (!core || !core.gc || core.closing || (core.replicator?.peers?.length ?? 0) > 0) continue
      tracker._gcing.delete(core)
      const forget = () => tracker._gc(core)
      core.close().then(forget, forget)
    }
  }

  /** Drives open now (served, or in use). */
  get openCount(): number {
    return this.drives.size
  }

  private openShared(keyHex: string): Promise<Hyperdrive> {
    if (this.closed) return Promise.reject(new GroveError('CLOSED', 'Grove is not open'))
    let pending = this.drives.get(keyHex)
    if (!pending) {
      pending = (async () => {
        // A session of its own: closing a drive closes the store it was given.
        const drive = new Hyperdrive(this.options.store.session(), Buffer.from(hexToBytes(keyHex)))
        await drive.ready()
        await this.reattachBlockFile(keyHex, drive)
        this.options.onOpen?.(keyHex, drive)
        return drive
      })()
      pending.catch(() => this.drives.delete(keyHex))
      this.drives.set(keyHex, pending)
    }
    return pending
  }

  /**
   * Runs `work` on the drive with this key without keeping it open: the shared drive when it is
   * open already, or else a session of its own, closed when `work` ends. For a drive that is only
   * looked at (a relayed catalog entry checked): kept open, each would be replicated to every
   * peer for the life of the process — a seeder in a room of a thousand models held them all.
   */
  async peek<T>(keyHex: string, work: (drive: Hyperdrive) => Promise<T>): Promise<T> {
    if (this.closed) throw new GroveError('CLOSED', 'Grove is not open')
    const shared = this.drives.get(keyHex)
    if (shared) return work(await shared)
    const drive = new Hyperdrive(this.options.store.session(), Buffer.from(hexToBytes(keyHex)))
    this.peeking.add(drive)
    try {
      await drive.ready()
      return await work(drive)
    } finally {
      this.peeking.delete(drive)
      await drive.close().catch(() => {})
    }
  }

  /** A new drive, written by this store under `namespace`, registered so later opens share it. */
  async create(namespace: string): Promise<Hyperdrive> {
    const drive = new Hyperdrive(this.options.store.namespace(namespace))
    await drive.ready()
    const keyHex = bytesToHex(drive.key)
    this.drives.set(keyHex, Promise.resolve(drive))
    this.options.onOpen?.(keyHex, drive)
    return drive
  }

  /** Where a fetch builds a model's file until it is complete and verified. */
  partialPath(keyHex: string): string {
    return join(this.options.home.tmpDir, `${keyHex}.partial`)
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

  /** Closes every drive, then the files their blocks were read from. */
  async close(): Promise<void> {
    this.closed = true
    if (this.releaseTimer) clearInterval(this.releaseTimer)
    this.releaseTimer = null
    if (this.lingerTimer) clearInterval(this.lingerTimer)
    this.lingerTimer = null
    this.lingering.clear()
    this.servingOnly.clear()
    for (const drive of [...this.peeking]) await drive.close().catch(() => {})
    const drives = [...this.drives.values()]
    this.drives.clear()
    for (const pending of drives) await pending.then((d) => d.close()).catch(() => {})
    for (const file of this.blockFiles.values()) await file.close()
    this.blockFiles.clear()
  }

  /**
   * Opening a drive whose blocks live in a file: attach the file again, after checking that it is
   * still what the drive says (same size; a new mtime means a sha256 recheck, as a BitTorrent
   * client rechecks pieces). A file that is gone or changed no longer counts as held: its blocks
   * are cleared from the drive's bitfield, so no peer is ever told we have them, and a complete
   * model stops being seeded (with a warning saying why).
   */
  private async reattachBlockFile(keyHex: string, drive: Hyperdrive): Promise<void> {
    const { library } = this.options
    const entry = library.get(keyHex)
    const layout = entry?.blockFile
    if (!entry || !layout) return
    const blobs = await blobsOf(drive, formatLink(keyHex))
    const current = this.blockFiles.get(keyHex)
    if (current && current.mode === 'source' && current.path === layout.path && sameLayout(current.layout, layout)) {
      // Still attached while the drive was closed (see openToServe), maybe being read from now.
      const { mtimeMs } = await stat(layout.path).catch(() => ({ mtimeMs: NaN }))
      if (mtimeMs === layout.mtimeMs) {
        attachBlockFile(blobs.core, current)
        return
      }
    }
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
          await library.update(keyHex, { blockFile: { ...layout, mtimeMs } })
        }
      } catch (err) {
        await file.close()
        throw err
      }
      await this.useBlockFile(keyHex, drive, file)
    } catch (err) {
      await forgetFileBlocks(blobs.core, layout)
      const name = entry.manifest?.name ?? keyHex
      if (entry.complete) await library.update(keyHex, { blockFile: undefined, blocksStored: false, seeding: false })
      else await library.update(keyHex, { blockFile: undefined })
      this.options.onWarning?.(`${name}: ${layout.path} is missing or changed (${firstLine(err)}); no longer seeding it. Fetch or share it again to seed it.`)
    }
  }
}

/** The parts of Corestore's CoreTracker (corestore/index.js, 7.x) that collectNow uses. */
interface CoreTrackerInternals {
  map: Map<string, TrackedCore>
  _gcing: Set<TrackedCore>
  _gc(core: TrackedCore): void
}

interface TrackedCore {
  gc: number
  closing: unknown
  replicator?: { peers?: unknown[] }
  close(): Promise<void>
}

function sameLayout(a: BlockLayout, b: BlockLayout): boolean {
  return a.blockOffset === b.blockOffset && a.blockLength === b.blockLength && a.byteLength === b.byteLength && a.blockBytes === b.blockBytes && a.first === b.first
}
