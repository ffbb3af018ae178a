// A home's corestore: Hypercore's storage (RocksDB) with Grove's settings, opened so that a
// full disk never leaves it unopenable, and its explicit garbage collection.
import Corestore from 'corestore'
import CoreStorage from 'hypercore-storage'
import { removeUnfinishedDeviceFile } from './store-device-file.js'

/** rocksdb-native's constants.garbageCollectionPolicy.FORCE */
const FORCE_BLOB_GC = 1

export interface OpenStore {
  store: Corestore
  storage: CoreStorage
}

/**
 * Opens the store in `dir`. RocksDB gets a much smaller memtable than hypercore-storage's
 * 64 MiB default: weights are kept in the models' own files (file-blocks.ts), so only metadata
 * (and the rare drive whose blocks are uneven) passes through it, and a downloader's memory
 * must stay flat and small; RocksDB preallocates its log at about this size, too. No blob
 * garbage collection during compactions: Grove's blocks are never rewritten, so the default
 * (relocate the oldest quarter of blob files in every compaction) only copied live weights
 * again, ~8% of a downloader's CPU in a profile; `collectGarbage` does it explicitly instead.
 */
export async function openStore(dir: string): Promise<OpenStore> {
  await removeUnfinishedDeviceFile(dir)
  const storage = new CoreStorage(dir, { writeBufferSize: 4 * 1024 * 1024, blobGarbageCollectionAgeCutOff: 0 })
  const store = new Corestore(storage)
  await store.ready()
  return { store, storage }
}

/**
 * Frees the disk that cleared blocks still take: they stay in RocksDB's blob files, which also
 * hold small live values (bitfield pages), until a garbage collection moves those out. Forced
 * over every blob file, it also rewrites the other drives' stored blocks once (~disk speed).
 */
export async function collectGarbage(storage: CoreStorage): Promise<void> {
  await storage.compact({ blobGarbageCollectionPolicy: FORCE_BLOB_GC, blobGarbageCollectionAgeCutoff: 1 })
}
