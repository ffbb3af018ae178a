// Bytes each drive has sent to and received from the swarm, for `grove seed`, the UI's peers
// and transfers views, and the benchmark (downloaders serving each other shows as upload).
import type Hyperdrive from 'hyperdrive'
import type Hypercore from 'hypercore'
import { bytesToHex } from '../../shared/link.js'
import { noteBlocksMoving } from './heap-tuning.js'

export interface DriveTrafficStats {
  uploadedBytes: number
  downloadedBytes: number
}

export class DriveTraffic {
  private readonly stats = new Map<string, DriveTrafficStats>()
  /** The same counts per remote peer (hex public key), over all drives. */
  private readonly peerStats = new Map<string, DriveTrafficStats>()

  watch(keyHex: string, drive: Hyperdrive): void {
    const stats = this.of(keyHex)
    const count = (core: Hypercore) => {
      core.on('upload', (_index: number, bytes: number, from?: PeerRef) => {
        noteBlocksMoving()
        stats.uploadedBytes += bytes
        const peer = this.peerOf(from)
        if (peer) peer.uploadedBytes += bytes
      })
      core.on('download', (_index: number, bytes: number, from?: PeerRef) => {
        noteBlocksMoving()
        stats.downloadedBytes += bytes
        const peer = this.peerOf(from)
        if (peer) peer.downloadedBytes += bytes
      })
    }
    count(drive.core)
    // A drive that closes first has no blob store: nothing to count (a TypeError here was uncaught).
    drive.getBlobs().then(
      (blobs: { core: Hypercore } | null) => {
        if (blobs) count(blobs.core)
      },
      () => {}
    )
  }

  of(keyHex: string): DriveTrafficStats {
    let stats = this.stats.get(keyHex)
    if (!stats) {
      stats = { uploadedBytes: 0, downloadedBytes: 0 }
      this.stats.set(keyHex, stats)
    }
    return stats
  }

  /** Bytes exchanged with one peer (hex public key) since this process started. */
  ofPeer(peerHex: string): DriveTrafficStats {
    return this.peerStats.get(peerHex) ?? { uploadedBytes: 0, downloadedBytes: 0 }
  }

  private peerOf(from: PeerRef | undefined): DriveTrafficStats | undefined {
    const key = from?.remotePublicKey
    if (!key) return undefined
    let id = peerIds.get(key)
    if (id === undefined) {
      id = bytesToHex(key)
      peerIds.set(key, id)
    }
    let stats = this.peerStats.get(id)
    if (!stats) {
      stats = { uploadedBytes: 0, downloadedBytes: 0 }
      this.peerStats.set(id, stats)
    }
    return stats
  }

  get total(): DriveTrafficStats {
    let uploadedBytes = 0
    let downloadedBytes = 0
    for (const s of this.stats.values()) {
      uploadedBytes += s.uploadedBytes
      downloadedBytes += s.downloadedBytes
    }
    return { uploadedBytes, downloadedBytes }
  }
}

const peerIds = new WeakMap<Uint8Array, string>()

/** The replicator's peer that hypercore passes with 'upload'/'download'. */
interface PeerRef {
  remotePublicKey?: Uint8Array
}
