// The store's device file: hypercore-storage keeps a `CORESTORE` file (the device-file package)
// that records the inode it was created on, and refuses to open the store when that no longer
// matches, so that a copied store never writes as if it were the original. The file is created,
// given an extended attribute, then written in one go. A full disk at that moment leaves it
// empty with the attribute set, and every later open failed with "Invalid device file, was
// moved unsafely": the home was broken for good.
//
// A device file without its inode line was never finished: the device-file package rejects it
// whatever else it holds, and writes a new one when there is none (it is only ever written when
// none could be opened). So such a file is removed before the store opens. The store's data
// (RocksDB, in store/db) is not touched.
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** Written by device-file@2: a few `key=value` lines, ~100 bytes. Anything much bigger is not one of its half-written files. */
const MAX_DEVICE_FILE_BYTES = 64 * 1024

/** Removes the store's device file if a full disk (or a crash) left it half-written; true if it did. */
export async function removeUnfinishedDeviceFile(storeDir: string): Promise<boolean> {
  const path = join(storeDir, 'CORESTORE')
  const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (!handle) return false
  let text: string
  try {
    if ((await handle.stat()).size > MAX_DEVICE_FILE_BYTES) return false
    text = (await handle.readFile()).toString('utf8')
  } finally {
    await handle.close()
  }
  // The last piece has no line break after it: a line cut short, not a finished one.
  const lines = text.split('\n').slice(0, -1)
  if (lines.some((line) => /^device\/inode=\d+\r?$/.test(line))) return false
  await rm(path, { force: true })
  return true
}
