// Hostile peers for the P2P tests, on a local testnet.
//
// In-process: `lyingDrive` publishes a drive whose signed entries lie about their data (a small
// file "in 3 million blocks", weights "in 2e8 blocks", blocks past the end, a block map),
// seeded by a test's own Grove, so a downloader meets the lie exactly as a peer tells it.
//
// As a process: a seeder that answers every request but those for a model's weights (after the
// first block): a peer that is connected, says it has everything, and stalls.
//   node dist/main/testing/hostile-peer.js --home H --bootstrap host:port --link grove://… [--stall-weights]
// It prints {"event":"seeding"} once it serves, {"event":"stalled","index":n} for each request
// it sits on, and {"event":"disconnected"} when a peer drops it; SIGTERM stops it.
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { BlobId } from 'hyperblobs'
import type Hyperdrive from 'hyperdrive'
import { bytesToHex, formatLink, parseLink } from '../../shared/link.js'
import { CARD_PATH, MANIFEST_PATH } from '../../shared/manifest.js'
import { Grove } from '../core/grove.js'
import { parseBootstrapList } from '../core/swarm.js'
import { isMain } from './is-main.js'

/** A blob pointer as a liar writes it: any numbers at all, or extra fields. */
export type LyingBlob = Partial<BlobId> & Record<string, unknown>

export interface LyingDriveSpec {
  /** Files written as they are (real data). */
  files?: Record<string, Buffer | string>
  /** Entries whose blob pointer is written as given, over or instead of a real file. */
  entries?: Record<string, LyingBlob | ((real: BlobId | null) => LyingBlob)>
}

/** Publishes a drive on `grove` (which must be on the network) with the given truths and lies; returns its link, seeded. */
export async function lyingDrive(grove: Grove, spec: LyingDriveSpec): Promise<string> {
  const drive = await grove.createDrive(`hostile/${randomBytes(8).toString('hex')}`)
  for (const [path, data] of Object.entries(spec.files ?? {})) await drive.put(path, Buffer.from(data))
  for (const [path, blob] of Object.entries(spec.entries ?? {})) {
    const real = (await drive.entry(path))?.value.blob ?? null
    await drive.putEntry(path, { blob: typeof blob === 'function' ? blob(real) : blob })
  }
  const keyHex = bytesToHex(drive.key)
  await grove.seedDrive(keyHex, { lookup: false })
  return formatLink(keyHex)
}


export const PATHS = { manifest: MANIFEST_PATH, card: CARD_PATH }

// --- the stalling seeder process -----------------------------------------------------------------

interface RequestMessage {
  block?: { index: number } | null
}

interface ReplicatorPeer {
  onrequest(msg: RequestMessage): unknown
}

/** Answers the weights' first block and nothing after it, on every connection. */
async function stallWeights(drive: Hyperdrive, say: (line: Record<string, unknown>) => void): Promise<void> {
  const manifest = JSON.parse((await drive.get(MANIFEST_PATH))!.toString()) as { files: Array<{ path: string }> }
  const weights = (await drive.entry(manifest.files[0]!.path))!.value.blob!
  const blobs = (await drive.getBlobs())!
  blobs.core.on('peer-add', (peer: ReplicatorPeer) => {
    const answer = peer.onrequest.bind(peer)
    peer.onrequest = (msg: RequestMessage) => {
      const index = msg.block?.index
      if (index !== undefined && index > weights.blockOffset && index < weights.blockOffset + weights.blockLength) {
        say({ event: 'stalled', index })
        return undefined
      }
      return answer(msg)
    }
  })
  blobs.core.on('peer-remove', () => say({ event: 'disconnected' }))
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { home: { type: 'string' }, bootstrap: { type: 'string' }, link: { type: 'string' }, 'stall-weights': { type: 'boolean' } }
  })
  if (!values.home || !values.bootstrap || !values.link) throw new Error('usage: hostile-peer --home H --bootstrap host:port --link grove://… [--stall-weights]')
  const say = (line: Record<string, unknown>) => process.stdout.write(JSON.stringify(line) + '\n')
  const grove = new Grove({ home: values.home, network: true, bootstrap: parseBootstrapList(values.bootstrap), lan: false })
  await grove.ready()
  const drive = await grove.openDrive(parseLink(values.link).keyHex)
  if (values['stall-weights']) await stallWeights(drive, say)
  await grove.seedLibrary()
  say({ event: 'seeding' })
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  await grove.close()
}


if (isMain(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`hostile-peer: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    }
  )
}
