// Free disk space, and the one error a full disk ends as. A full disk shows up in many shapes:
// Node's fs calls throw ENOSPC (or EDQUOT, a quota), RocksDB reports "Batch was not applied"
// with the real error as its cause, or an EIO whose message says "No space left on device".
// Wherever one surfaces, the user gets one line: `disk full: needs 1.2 GB more at <dir>`, what
// is kept, and that running the same command again goes on.
import { bytesText } from '../../shared/units.js'
import { stat, statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import { GroveError } from '../../shared/errors.js'

const MIB = 1024 * 1024

/** What opening a home takes on a fresh disk: the lock, the store's device file, RocksDB's first files (~100 kB measured). */
export const OPEN_STORE_BYTES = MIB

/**
 * Room the store needs beside a model's weights while fetching it. Measured on a fresh home: its
 * tree, bitfield and signatures grow by ~1.6 kB per MB of model (0.65 MB on disk after a 1 MB
 * fetch, 2.3 MB after a 1 GiB one); the ~9 MB RocksDB sets aside for its log when it opens is
 * already taken when a fetch checks. 4 kB per MB, and 1 MiB for the library index and RocksDB's
 * flushes, leaves room to spare.
 */
export function storeHeadroom(modelBytes: number): number {
  return MIB + Math.ceil(modelBytes / 256)
}

/** The canonical disk-full error (see the top of this file). */
export class DiskFullError extends GroveError {
  constructor(
    readonly neededBytes: number,
    readonly dir: string,
    /** What is kept, and how to go on: "12 MB of 40 MB are saved; …". */
    kept: string,
    options?: { cause?: unknown }
  ) {
    super('DISK_FULL', `disk full: needs ${bytesText(neededBytes)} more at ${dir}; ${kept}`, options)
  }
}

/** The error for a home that could not be opened because its disk is full. */
export async function diskFullOpening(home: string, cause: unknown): Promise<DiskFullError> {
  const free = await freeBytes(home).catch(() => 0)
  const needed = free < OPEN_STORE_BYTES ? OPEN_STORE_BYTES - free : OPEN_STORE_BYTES
  return new DiskFullError(needed, home, 'nothing is lost; free some space and run the same command again', { cause })
}

/** Whether an error (or one it wraps: `cause`, an AggregateError's errors) is a full disk or quota. */
export function isDiskFull(err: unknown): boolean {
  const seen = new Set<unknown>()
  const pending = [err]
  while (pending.length > 0 && seen.size < 16) {
    const e = pending.pop()
    if (!e || typeof e !== 'object' || seen.has(e)) continue
    seen.add(e)
    const { code, message, cause, errors } = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
    if (e instanceof GroveError) {
      // Its message may quote a peer or a file: only its code and cause count.
      if (code === 'DISK_FULL') return true
    } else {
      if (code === 'ENOSPC' || code === 'EDQUOT') return true
      if (typeof message === 'string' && /no space left on device|disk quota exceeded/i.test(message)) return true
    }
    pending.push(cause)
    if (Array.isArray(errors)) pending.push(...errors.slice(0, 8))
  }
  return false
}

/** Bytes free for an unprivileged writer on the filesystem that holds `dir` (or would, once created). */
export async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(await existingAncestor(dir))
  return info.bavail * info.bsize
}

/** Bytes a file really takes on disk (a sparse partial file takes only what was written), 0 if absent. */
export async function allocatedBytes(path: string): Promise<number> {
  const info = await stat(path).catch(() => null)
  return info?.isFile() ? info.blocks * 512 : 0
}

/** The id of the filesystem that holds `dir` (or would, once created). */
export async function filesystemOf(dir: string): Promise<number> {
  return (await stat(await existingAncestor(dir))).dev
}

/** `dir`, or the nearest folder above it that exists. */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir
  for (;;) {
    const info = await stat(current).catch(() => null)
    if (info?.isDirectory()) return current
    const parent = dirname(current)
    if (parent === current) return current
    current = parent
  }
}

