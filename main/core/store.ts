// A home's corestore: Hypercore's storage (RocksDB) with Grove's settings, opened so that a
// full disk never leaves it unopenable, and its explicit garbage collection.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import Corestore from 'corestore'
import CoreStorage from 'hypercore-storage'
import { removeUnfinishedDeviceFile } from './store-device-file.js'

/** rocksdb-native's constants.garbageCollectionPolicy.FORCE */
const FORCE_BLOB_GC = 1

/**
 * How many of RocksDB's old info logs a store keeps. Every open renames the current `LOG` to
 * `LOG.old.<microseconds>`, and RocksDB keeps up to 1000 of them (its keep_log_file_num, which
 * rocksdb-native does not expose): a home that ran `grove share` 200 times had 201.
 */
export const KEPT_OLD_LOGS = 4

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
  await pruneOldLogs(join(dir, 'db'), KEPT_OLD_LOGS)
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

/**
 * Removes all but the newest `keep` of RocksDB's `LOG.old.*` files in `dbDir`. Safe while the
 * database is open: RocksDB only ever writes `LOG`. A failure leaves them (it is housekeeping).
 */
export async function pruneOldLogs(dbDir: string, keep: number): Promise<void> {
  const names = await readdir(dbDir).catch(() => [] as string[])
  // The suffix is the time of the rename in microseconds (digits): newest last.
  const old = names.filter((n) => /^LOG\.old\.\d+$/.test(n)).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
  for (const name of old.slice(0, Math.max(0, old.length - keep))) await rm(join(dbDir, name), { force: true }).catch(() => {})
}

/**
 * This home's key pair in the swarm: its peers know it by the public key, and links this home
 * prints name it as a seeder. Derived from the store's primary key, so it is the same on every
 * start, with the network or without.
 */
export function swarmKeyPair(store: Corestore): Promise<{ publicKey: Buffer; secretKey: Buffer }> {
  return store.createKeyPair('grove/swarm')
}
