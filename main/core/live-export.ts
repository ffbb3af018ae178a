// The .gguf a fetch is building: each block is written at its place in the file as it arrives
// (in any order, from any peer; Hypercore verified it first), so when the last block is in only a
// sha256 pass over the file is left, instead of reading every block back out of the drive and
// writing the file after the download.
//
// Offsets assume equal blocks but the last, as `grove share` writes them; a drive with any
// other layout switches this off (`usable` false) and the fetch exports from the drive instead.
// The caller still checks the file's sha256 against the manifest before it is kept.
import { open, type FileHandle } from 'node:fs/promises'
import type { BlobId } from 'hyperblobs'

export class LiveExport {
  private blockSize = 0
  private failed: Error | null = null
  private disabled = false
  written = 0

  private constructor(
    private readonly blob: BlobId,
    private readonly file: FileHandle
  ) {}

  /** Starts a new file at `path` (replacing any older one), as long as the blob. */
  static async create(path: string, blob: BlobId): Promise<LiveExport> {
    const file = await open(path, 'w')
    try {
      await file.truncate(blob.byteLength)
    } catch (err) {
      await file.close()
      throw err
    }
    return new LiveExport(blob, file)
  }

  /** False once a block did not fit the equal-blocks layout, or a write failed. */
  get usable(): boolean {
    return !this.disabled && !this.failed
  }

  /** Writes block `index` of the core (blocks outside the blob are ignored). */
  async write(index: number, block: Buffer): Promise<void> {
    const { blockOffset, blockLength } = this.blob
    if (!this.usable || index < blockOffset || index >= blockOffset + blockLength) return
    const offset = this.offsetOf(index, block.length)
    if (offset === null) {
      this.disabled = true
      return
    }
    try {
      let done = 0
      while (done < block.length) {
        const { bytesWritten } = await this.file.write(block, done, block.length - done, offset + done)
        done += bytesWritten
      }
      this.written += block.length
    } catch (err) {
      this.failed ??= err instanceof Error ? err : new Error(String(err))
    }
  }

  /** Flushes the file to disk (if it is usable) and closes it. */
  async finish(): Promise<void> {
    try {
      if (this.usable) await this.file.sync()
    } finally {
      await this.file.close()
    }
  }

  /** Where a block goes in the file, or null if the blob's blocks are not laid out evenly. */
  private offsetOf(index: number, length: number): number | null {
    const { blockOffset, blockLength, byteLength } = this.blob
    const position = index - blockOffset
    if (position === blockLength - 1) {
      // The last block ends the file; the sha256 check catches a last block of the wrong size.
      const offset = byteLength - length
      return offset >= 0 && (this.blockSize === 0 || length <= this.blockSize) ? offset : null
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
