// Seeding in place: the blocks of a model's weights live in its .gguf, not in RocksDB, the way a
// BitTorrent client serves pieces out of the files it downloaded. Hypercore still keeps
// everything else in its store (the Merkle tree, the bitfield, the signatures), so every block
// a peer sends is still verified against the publisher's tree before it is written, and every
// block we serve still goes out with its proof.
//
// Storing each 512 KiB block in RocksDB as well as in the file cost a second copy on disk, and
// on the downloader most of its CPU: the block went through the write-ahead log, the memtable
// and a blob file, each with a software CRC32C, and it grew the process by ~100 MB of malloc
// arenas. With this, a downloader writes each verified block once, at its offset in the file.
//
// How: hypercore-storage hands Hypercore a transaction object per write (CoreTX) and per read
// (CoreRX). Their putBlock, flush and getBlock are wrapped once, process-wide, and consult a
// table of "block files" per core: blocks in a file's range are written to (or, for the
// publisher's own file, already are in) the file and read back out of it; any other block
// (model card, manifest, other drives) goes to RocksDB as before. Hypercore is pinned (see
// package.json overrides) because this relies on its storage internals; `attachBlockFile`
// checks them and fails loudly if they change.
//
// Crash safety: a block is in the file before the transaction that marks it present in the
// bitfield is committed, so a killed process leaves at worst a block written but not marked
// (fetched again). A file changed behind Grove's back is caught when the model is opened
// (size, mtime, then a sha256 recheck: see Grove.attachModelFile); a block that still goes
// out wrong is rejected by the receiving peer's verification.
import { createRequire } from 'node:module'
import { open, stat, type FileHandle } from 'node:fs/promises'
import type Hypercore from 'hypercore'
import { GroveError } from '../../shared/errors.js'

/** Where one blob's blocks sit in one file: every block `blockBytes` long but the last. */
export interface BlockLayout {
  /** The blob's first block in the core, its number of blocks and its length in bytes. */
  blockOffset: number
  blockLength: number
  byteLength: number
  blockBytes: number
  /**
   * The first block kept in the file. A fetch keeps the blob's first block in RocksDB: it is
   * how the block size is learnt before anything is written (see fetch.ts).
   */
  first: number
}

export function isValidLayout(l: BlockLayout): boolean {
  const ints = [l.blockOffset, l.blockLength, l.byteLength, l.blockBytes, l.first].every((n) => Number.isSafeInteger(n) && n >= 0)
  return (
    ints &&
    l.blockBytes > 0 &&
    l.blockLength > 0 &&
    (l.blockLength - 1) * l.blockBytes < l.byteLength &&
    l.byteLength <= l.blockLength * l.blockBytes &&
    l.first >= l.blockOffset &&
    l.first <= l.blockOffset + l.blockLength
  )
}

type Mode = 'source' | 'download'

/**
 * A file holding a blob's blocks. `source`: the publisher's own file, which already holds every
 * block (writes are only checked against the layout). `download`: a fetch's file, which blocks
 * are written into as they are verified.
 */
export class BlockFile {
  /** The first write that failed (a full disk, say): the fetch stops with it. */
  failure: Error | null = null
  /** A block did not fit the layout: it went to RocksDB instead, and the fetch falls back. */
  misfit = false
  /** Whether the core holds a block (its bitfield); set when attached. */
  has: (index: number) => boolean = () => false

  private constructor(
    public path: string,
    private handle: FileHandle,
    readonly layout: BlockLayout,
    readonly mode: Mode
  ) {}

  /** Opens a file that already holds every block (read only); it must be as long as the blob. */
  static async openSource(path: string, layout: BlockLayout): Promise<BlockFile> {
    checkLayout(layout)
    const handle = await open(path, 'r')
    try {
      const { size } = await handle.stat()
      if (size !== layout.byteLength) throw new GroveError('BAD_INPUT', `${path} is ${size} bytes, not the ${layout.byteLength} it was shared with`)
    } catch (err) {
      await handle.close()
      throw err
    }
    return new BlockFile(path, handle, layout, 'source')
  }

  /**
   * Opens a download's file: the existing one when it has the blob's length (`resumed`),
   * otherwise a new, empty one of that length. Use openDownloadFile, which first clears the
   * blocks the core would otherwise think the new file holds.
   */
  static async openDownload(path: string, layout: BlockLayout): Promise<{ file: BlockFile; resumed: boolean }> {
    checkLayout(layout)
    let handle = await open(path, 'r+').catch(() => null)
    const resumed = handle !== null && (await handle.stat()).size === layout.byteLength
    if (!resumed) {
      await handle?.close()
      handle = await open(path, 'w+')
      try {
        await handle.truncate(layout.byteLength)
      } catch (err) {
        await handle.close()
        throw err
      }
    }
    return { file: new BlockFile(path, handle!, layout, 'download'), resumed }
  }

  get end(): number {
    return this.layout.blockOffset + this.layout.blockLength
  }

  contains(index: number): boolean {
    return index >= this.layout.first && index < this.end
  }

  /** The block's length under the layout (the last one holds the remainder). */
  lengthOf(index: number): number {
    const { blockOffset, blockLength, byteLength, blockBytes } = this.layout
    return index === blockOffset + blockLength - 1 ? byteLength - (blockLength - 1) * blockBytes : blockBytes
  }

  offsetOf(index: number): number {
    return (index - this.layout.blockOffset) * this.layout.blockBytes
  }

  /** False (and `misfit` set) for a block whose length breaks the layout. */
  fits(index: number, block: Uint8Array): boolean {
    if (block.byteLength === this.lengthOf(index)) return true
    this.misfit = true
    return false
  }

  /** Bytes of the blob the core holds (its bitfield says so), in the file or, for the first block, in the store. */
  heldBytes(): number {
    let bytes = 0
    for (let index = this.layout.blockOffset; index < this.end; index++) if (this.has(index)) bytes += this.lengthOf(index)
    return bytes
  }

  async read(index: number): Promise<Buffer | null> {
    if (!this.has(index)) return null
    const length = this.lengthOf(index)
    const block = Buffer.allocUnsafe(length)
    const offset = this.offsetOf(index)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.handle.read(block, done, length - done, offset + done)
      if (bytesRead === 0) throw new Error(`${this.path} ends before block ${index}: was it changed?`)
      done += bytesRead
    }
    return block
  }

  async write(index: number, block: Uint8Array): Promise<void> {
    const offset = this.offsetOf(index)
    try {
      let done = 0
      while (done < block.byteLength) {
        const { bytesWritten } = await this.handle.write(block, done, block.byteLength - done, offset + done)
        if (bytesWritten === 0) throw new Error('the file took no bytes')
        done += bytesWritten
      }
    } catch (err) {
      this.failure ??= err instanceof Error ? err : new Error(String(err))
      // Hypercore stops pulling from a peer whose data it could not write (WRITE_FAILED).
      throw Object.assign(new Error(`Could not write block ${index} into ${this.path}: ${String(err)}`), { code: 'WRITE_FAILED', cause: err })
    }
  }

  /** Flushes what was written to the disk. */
  sync(): Promise<void> {
    return this.handle.sync()
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {})
  }
}

/**
 * A download's file, ready to be attached: the existing one if it is whole, else a new one, in
 * which case the blocks the core thought it had in the file's range are cleared first (so a
 * crash in between never leaves the bitfield vouching for an empty file).
 */
export async function openDownloadFile(core: Hypercore, path: string, layout: BlockLayout): Promise<BlockFile> {
  const whole = (await stat(path).catch(() => null))?.size === layout.byteLength
  if (!whole) await forgetFileBlocks(core, layout)
  return (await BlockFile.openDownload(path, layout)).file
}

/** Clears the blocks of the layout's file range from the core: it no longer claims to hold them. */
export async function forgetFileBlocks(core: Hypercore, layout: BlockLayout): Promise<void> {
  await core.clear(layout.first, layout.blockOffset + layout.blockLength)
}

function checkLayout(layout: BlockLayout): void {
  if (!isValidLayout(layout)) throw new GroveError('INTERNAL', `Not an even block layout: ${JSON.stringify(layout)}`)
}

// ---- The table of block files, and the storage hooks that consult it ----

interface StoragePointer {
  dataPointer: number
  dependencies?: unknown[]
}
/** A CoreTX (writes: `db` is its RocksDB session) or CoreRX (reads: `read` is its batch). */
interface StorageTx {
  core: StoragePointer
  db?: { _state?: object }
  read?: { _db?: { _state?: object } }
  groveFileWrites?: Promise<void>[]
}
interface CoreInternals {
  state?: { storage?: { core?: StoragePointer; db?: { _state?: object } } }
  core?: { bitfield?: { get(index: number): boolean } }
}

/** Block files by RocksDB instance, then by the core's data pointer in it. */
const attached = new WeakMap<object, Map<number, BlockFile>>()

function internalsOf(core: Hypercore): { db: object; dataPointer: number; bitfield: { get(index: number): boolean } } {
  const c = core as unknown as CoreInternals
  const pointer = c.state?.storage?.core
  const db = c.state?.storage?.db?._state
  const bitfield = c.core?.bitfield
  if (!pointer || typeof pointer.dataPointer !== 'number' || !db || typeof bitfield?.get !== 'function') {
    throw new GroveError('INTERNAL', 'Hypercore storage internals changed: seeding in place needs the pinned hypercore and hypercore-storage versions')
  }
  return { db, dataPointer: pointer.dataPointer, bitfield }
}

/** Routes the core's blocks in `file`'s range to the file (the core must be ready). */
export function attachBlockFile(core: Hypercore, file: BlockFile): void {
  installStorageHooks()
  const { db, dataPointer, bitfield } = internalsOf(core)
  // A source file holds every block (checked when attached) and stays attached while its drive is
  // closed and reopened (model-drives.ts): not tied to one core's bitfield, which then goes stale.
  file.has = file.mode === 'source' ? () => true : (index) => bitfield.get(index)
  let byPointer = attached.get(db)
  if (!byPointer) attached.set(db, (byPointer = new Map()))
  byPointer.set(dataPointer, file)
}

/** Stops routing the core's blocks to a file; returns the file (still open) if there was one. */
export function detachBlockFile(core: Hypercore): BlockFile | undefined {
  const { db, dataPointer } = internalsOf(core)
  const byPointer = attached.get(db)
  const file = byPointer?.get(dataPointer)
  byPointer?.delete(dataPointer)
  return file
}

export function blockFileOf(core: Hypercore): BlockFile | undefined {
  const { db, dataPointer } = internalsOf(core)
  return attached.get(db)?.get(dataPointer)
}

function fileFor(tx: StorageTx, index: number): BlockFile | null {
  const state = tx.db?._state ?? tx.read?._db?._state
  const file = state ? attached.get(state)?.get(tx.core.dataPointer) : undefined
  return file && file.contains(index) ? file : null
}

let hooksInstalled = false

/** Wraps hypercore-storage's block reads and writes, once per process (on the first attach). */
function installStorageHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  const require = createRequire(import.meta.url)
  const { CoreTX, CoreRX } = require('hypercore-storage/lib/tx.js') as {
    CoreTX: { prototype: Record<string, (...args: never[]) => unknown> }
    CoreRX: { prototype: Record<string, (...args: never[]) => unknown> }
  }
  const putBlock = CoreTX.prototype.putBlock as (this: StorageTx, index: number, data: Uint8Array) => void
  const flush = CoreTX.prototype.flush as (this: StorageTx) => Promise<boolean>
  const getBlock = CoreRX.prototype.getBlock as (this: StorageTx, index: number) => Promise<Buffer | null>
  if (typeof putBlock !== 'function' || typeof flush !== 'function' || typeof getBlock !== 'function') {
    throw new GroveError('INTERNAL', 'hypercore-storage changed: seeding in place needs its pinned version')
  }

  CoreTX.prototype.putBlock = function (this: StorageTx, index: number, data: Uint8Array): void {
    const file = fileFor(this, index)
    if (!file || !file.fits(index, data)) return putBlock.call(this, index, data)
    // A source file holds the block already; a download's is written before the commit.
    if (file.mode === 'download') (this.groveFileWrites ??= []).push(file.write(index, data))
  } as never

  CoreTX.prototype.flush = function (this: StorageTx): Promise<boolean> {
    const writes = this.groveFileWrites
    if (!writes) return flush.call(this)
    this.groveFileWrites = undefined
    return Promise.all(writes).then(() => flush.call(this))
  } as never

  CoreRX.prototype.getBlock = function (this: StorageTx, index: number): Promise<Buffer | null> {
    const file = (this.core.dependencies?.length ?? 0) === 0 ? fileFor(this, index) : null
    return file ? file.read(index) : getBlock.call(this, index)
  } as never
}
