// How much disk the library takes: per model (a seeding copy in the store's blocks, unless the
// model seeds in place from its file; its loadable file) and in all (the store and models
// folders as they really are on disk).
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { HomeLayout } from './home.js'
import type { LibraryEntry } from './library.js'

export interface ModelDisk {
  /** Bytes of weights held as drive blocks in the store, besides the file (a separate seeding copy). */
  blockBytes: number
  /** The drive's blocks are served out of the model's file itself: no separate copy. */
  inPlace: boolean
  /** Bytes of the loadable .gguf that Grove itself wrote (a fetched model's export). */
  fileBytes: number
  /** Bytes of the user's own file that a share points at (not Grove's to count as overhead). */
  sourceFileBytes: number
}

export function modelDisk(entry: LibraryEntry, home: HomeLayout): ModelDisk {
  const size = entry.manifest?.files.reduce((sum, f) => sum + f.size, 0) ?? 0
  const inPlace = entry.blocksStored && entry.blockFile !== undefined
  const blockBytes = entry.blocksStored && !inPlace ? size : 0
  const ownFile = entry.origin === 'fetched' && entry.complete
  const inHome = entry.path?.startsWith(home.root) ?? false
  return {
    blockBytes,
    inPlace,
    fileBytes: ownFile && inHome ? size : 0,
    sourceFileBytes: entry.complete && !(ownFile && inHome) ? size : 0
  }
}

/** Bytes used on disk under a folder (allocated blocks, not apparent sizes). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch {
    return 0
  }
  for (const name of entries) {
    const path = join(dir, name)
    const info = await lstat(path).catch(() => null)
    if (!info) continue
    total += info.isDirectory() ? await diskUsage(path) : info.blocks * 512
  }
  return total
}
