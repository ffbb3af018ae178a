// Minimal typings for the BitTorrent packages the transfer benchmark uses as references
// (devDependencies; they ship no types). Only the surface bench/webtorrent-peer.ts calls.

declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string
    announceList?: string[][]
    pieceLength?: number
    private?: boolean
    createdBy?: string
    comment?: string
  }
  export default function createTorrent(
    input: string | string[],
    opts: CreateTorrentOptions,
    cb: (err: Error | null, torrent: Uint8Array) => void
  ): void
}

declare module 'parse-torrent' {
  export interface ParsedTorrent {
    infoHash: string
    name?: string
    length?: number
    pieceLength?: number
    pieces?: string[]
    announce?: string[]
  }
  export default function parseTorrent(torrentId: string | Uint8Array): Promise<ParsedTorrent>
}

declare module 'webtorrent' {
  import { EventEmitter } from 'node:events'

  export interface WebTorrentOptions {
    dht?: boolean
    lsd?: boolean
    utPex?: boolean
    utp?: boolean
    natUpnp?: boolean
    natPmp?: boolean
    webSeeds?: boolean
    tracker?: boolean | Record<string, unknown>
    torrentPort?: number
    maxConns?: number
  }

  export interface AddOptions {
    path?: string
    announce?: string[]
    skipVerify?: boolean
    strategy?: 'sequential' | 'rarest'
    private?: boolean
  }

  export interface Torrent extends EventEmitter {
    infoHash: string
    length: number
    pieceLength: number
    downloaded: number
    uploaded: number
    numPeers: number
    done: boolean
    progress: number
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions)
    torrentPort: number
    add(torrentId: string | Uint8Array, opts?: AddOptions, ontorrent?: (torrent: Torrent) => void): Torrent
    destroy(cb?: (err?: Error | null) => void): void
  }
}

declare module 'bittorrent-dht' {
  export default class DHT {
    constructor(opts?: { bootstrap?: string[] | false; host?: string })
    listen(port: number, address: string, onlistening?: () => void): void
    once(event: 'error', listener: (err: Error) => void): this
    toJSON(): { nodes: Array<{ host: string; port: number }> }
    destroy(cb?: () => void): void
  }
}
