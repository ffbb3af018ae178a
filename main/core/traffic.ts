// Bytes each drive has sent to and received from the swarm, for `grove seed`, the UI's peers
// and transfers views, and the benchmark (downloaders serving each other shows as upload).
import type Hyperdrive from 'hyperdrive'
import type Hypercore from 'hypercore'

export interface DriveTrafficStats {
  uploadedBytes: number
  downloadedBytes: number
}

export class DriveTraffic {
  private readonly stats = new Map<string, DriveTrafficStats>()

  watch(keyHex: string, drive: Hyperdrive): void {
    const stats = this.of(keyHex)
    const count = (core: Hypercore) => {
      core.on('upload', (_index: number, bytes: number) => { stats.uploadedBytes += bytes })
      core.on('download', (_index: number, bytes: number) => { stats.downloadedBytes += bytes })
    }
    count(drive.core)
    drive.getBlobs().then((blobs) => count(blobs.core), () => {})
  }

  of(keyHex: string): DriveTrafficStats {
    let stats = this.stats.get(keyHex)
    if (!stats) {
      stats = { uploadedBytes: 0, downloadedBytes: 0 }
      this.stats.set(keyHex, stats)
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
