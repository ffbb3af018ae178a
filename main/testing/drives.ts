// Model drives made by hand for tests: what a drive `grove share` would not write, published by
// a test's own Grove and seeded, so a downloader meets it as a peer serves it.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { bytesToHex, formatLink } from '../../shared/link.js'
import { MANIFEST_PATH } from '../../shared/manifest.js'
import type { Grove } from '../core/grove.js'

/** A manifest for a drive holding `file`, signed as any publisher may sign it. */
export function manifestFor(file: { path: string; size: number; sha256: string }, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schemaVersion: 1,
    kind: 'model',
    name: 'hostile',
    files: [{ ...file, role: 'weights' }],
    parents: [],
    publisher: 'd'.repeat(64),
    created: new Date().toISOString(),
    ...extra
  })
}

/** A drive whose weights are cut into blocks of three sizes (not what `grove share` writes): they are kept in the store. */
export async function unevenDrive(a: Grove, bytes: Buffer): Promise<string> {
  const drive = await a.createDrive(`uneven/${Math.random()}`)
  const sizes = [300_000, 700_000, 123_456]
  const chunks: Buffer[] = []
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!
    chunks.push(bytes.subarray(offset, offset + size))
    offset += size
  }
  await pipeline(Readable.from(chunks), drive.createWriteStream('/model.gguf'))
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  await drive.put(MANIFEST_PATH, Buffer.from(manifestFor({ path: '/model.gguf', size: bytes.length, sha256 }, { name: 'uneven' })))
  const keyHex = bytesToHex(drive.key)
  await a.seedDrive(keyHex, { lookup: false })
  return formatLink(keyHex)
}
