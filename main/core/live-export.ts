// Writes a model's blocks into its .gguf as they arrive, at their place in the file, so that
// when the last block is in only a sha256 pass over the file is left (instead of reading every
// block back out of the drive and writing the file after the download). Blocks come in any order
// and from any peer; each was verified by Hypercore before its 'download' event. Read right after
// that event, a block is still in RocksDB's memtable, which costs a copy rather than a blob-file
// read and checksum.
//
// Offsets assume equal blocks but the last, as `grove share` writes them; a drive with any
// other layout switches this off (`usable` false) and the fetch exports from the drive instead.
// The caller still checks the file's sha256 against the manifest before it is kept.
import { open, type FileHandle } from 'node:fs/promises'
import type { BlobId } from 'hyperblobs'

/** The part of a Hypercore this needs. */
export interface BlockSource {
  get(index: number, opts: { wait: false }): Promise<Buffer | null>
  has(index: number): Promise<boolean>
}

/** Blocks read and written at once (each holds one block in memory). */
const CONCURRENCY = 4

export class LiveExport {
  private blockSize = 0
  private failed: Error | null = null
  private readonly queue: number[] = []
  private running = 0
  private idle: Array<() => void> = []
  private disabled = false
  written = 0

  private constructor(
    private readonly core: BlockSource,
    private readonly blob: BlobId,
    private readonly file: FileHandle
  ) {}

  /** Starts a new file at `path` (replacing any older one), as long as the blob. */
  static async create(path: string, core: BlockSource, blob: BlobId): Promise<LiveExport> {
    const file = await open(path, 'w')
    try {
      await file.truncate(blob.byteLength)
    } catch (err) {
      await file.close()
      throw err
    }
    return new LiveExport(core, blob, file)
  }

  /** Waits for the queued writes, flushes the file to disk and closes it. */
  async finish(): Promise<void> {
    try {
      await this.drained()
      if (this.usable) await this.file.sync()
    } finally {
      await this.file.close()
    }
  }

  /** False once a block did not fit the equal-blocks layout, or a write failed. */
  get usable(): boolean {
    return !this.disabled && !this.failed
  }

  /** Queues the blocks of the blob this core already has (a resumed fetch). */
  async addLocalBlocks(): Promise<void> {
    const { blockOffset, blockLength } = this.blob
    for (let i = blockOffset; i < blockOffset + blockLength && this.usable; i++) {
      if (await this.core.has(i)) this.add(i)
    }
  }

  /** Queues one downloaded block (any index: those outside the blob are ignored). */
  add(index: number): void {
    const { blockOffset, blockLength } = this.blob
    if (!this.usable || index < blockOffset || index >= blockOffset + blockLength) return
    this.queue.push(index)
    this.pump()
  }

  /** Resolves once every queued block is written; rejects with the first write error. */
  private async drained(): Promise<void> {
    if (!this.usable) this.queue.length = 0
    if (this.running > 0 || this.queue.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve))
    if (this.failed) throw this.failed
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0 && this.usable) {
      const index = this.queue.shift()!
      this.running++
      this.writeBlock(index)
        .catch((err: unknown) => {
          this.failed ??= err instanceof Error ? err : new Error(String(err))
        })
        .finally(() => {
          this.running--
          this.pump()
          if (this.running === 0 && (this.queue.length === 0 || !this.usable)) {
            this.queue.length = 0
            for (const resolve of this.idle.splice(0)) resolve()
          }
        })
    }
  }

  private async writeBlock(index: number): Promise<void> {
    const block = await this.core.get(index, { wait: false })
    if (!block) return // cleared meanwhile: the export from the drive will notice
    const offset = this.offsetOf(index, block.length)
    if (offset === null) {
      this.disabled = true
      return
    }
    let done = 0
    while (done < block.length) {
      const { bytesWritten } = await this.file.write(block, done, block.length - done, offset + done)
      done += bytesWritten
    }
    this.written += block.length
  }

  /** Where a block goes in the file, or null if the blob's blocks are not laid out evenly. */
  private offsetOf(index: number, length: number): number | null {
    const { blockOffset, blockLength, byteLength } = this.blob
    const position = index - blockOffset
    const isLast = position === blockLength - 1
    if (isLast) {
      const offset = byteLength - length
      return offset >= 0 && (this.blockSize === 0 || (length <= this.blockSize && offset === position * this.blockSize)) ? offset : null
    }
    if (this.blockSize === 0) {
      // The first full block seen fixes the block size; the blob's length must agree with it.
      const fits = length > 0 && (blockLength - 1) * length < byteLength && byteLength <= blockLength * length
      if (!fits) return null
      this.blockSize = length
    }
    return length === this.blockSize ? position * this.blockSize : null
  }
}
