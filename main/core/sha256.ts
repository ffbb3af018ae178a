// A file's sha256, streamed so memory stays flat whatever the file size.
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'

/** sha256 of a file, streamed in large chunks. `onProgress` gets bytes hashed so far. */
export async function sha256File(path: string, onProgress?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256')
  // One buffer, read into again and again: a stream would allocate a new one per chunk, and
  // every ~64 MB of those makes V8 run a full garbage collection.
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024)
  const file = await open(path, 'r')
  try {
    let done = 0
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
      done += bytesRead
      onProgress?.(done)
    }
  } finally {
    await file.close()
  }
  return hash.digest('hex')
}
