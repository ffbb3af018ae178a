// The model drives of a home and the files their blocks live in. One Hyperdrive per model,
// opened once and shared; when a model seeds in place (file-blocks.ts), its weights' blocks are
// read from — and, while it downloads, written into — a file instead of the store: the user's
// own .gguf for a share, the fetch's partial file and then the finished .gguf for a download.
// Reopening a drive attaches its file again, after checking that the file is still what the
// drive says.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type Corestore from 'corestore'
import Hyperdrive from 'hyperdrive'
import { GroveError, firstLine } from '../../shared/errors.js'
import { bytesToHex, formatLink, hexToBytes } from '../../shared/link.js'
import { weightsFile } from '../../shared/manifest.js'
import { BlockFile, attachBlockFile, detachBlockFile, forgetFileBlocks, openDownloadFile } from './file-blocks.js'
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

export class ModelDrives {
  private readonly drives = new Map<string, Promise<Hyperdrive>>()
  /** Models whose blocks live in a file (see file-blocks.ts), by key. */
  private readonly blockFiles = new Map<string, BlockFile>()
  /** Drives opened only to be looked at (see peek), until their look ends. */
  private readonly peeking = new Set<Hyperdrive>()
  private closed = false

  constructor(private readonly options: ModelDrivesOptions) {}

  /** Opens (once) the drive with this key, read-only unless this store wrote it. */
  open(keyHex: string): Promise<Hyperdrive> {
    if (this.closed) return Promise.reject(new GroveError('CLOSED', 'Grove is not open'))
    let pending = this.drives.get(keyHex)
    if (!pending) {
      pending = (async () => {
        const drive = new Hyperdrive(this.options.store, Buffer.from(hexToBytes(keyHex)))
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
