// Minimal typings for the Holepunch modules Grove uses. They ship no types of their own; these
// declare only the surface Grove calls, from each module's README and source.

declare module 'ready-resource' {
  import { EventEmitter } from 'node:events'
  export default class ReadyResource extends EventEmitter {
    opening: Promise<void> | null
    closing: Promise<void> | null
    opened: boolean
    closed: boolean
    ready(): Promise<void>
    close(): Promise<void>
    protected _open(): Promise<void>
    protected _close(): Promise<void>
  }
}

declare module 'hypercore' {
  import { EventEmitter } from 'node:events'
  export interface Range { start?: number; end?: number; blocks?: number[]; linear?: boolean }
  export interface Download { done(): Promise<void>; destroy(): void }
  export interface Peer { remotePublicKey: Uint8Array; stream: { rawStream: { remoteHost?: string; remotePort?: number } } }
  export default class Hypercore extends EventEmitter {
    key: Buffer | null
    discoveryKey: Buffer | null
    length: number
    contiguousLength: number
    byteLength: number
    writable: boolean
    readable: boolean
    peers: Peer[]
    ready(): Promise<void>
    close(): Promise<void>
    get(index: number, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
    append(blocks: Buffer | Buffer[]): Promise<{ length: number; byteLength: number }>
    has(start: number, end?: number): Promise<boolean>
    download(range?: Range): Download
    clear(start: number, end?: number, opts?: { diff?: boolean }): Promise<{ blocks: number } | null>
    update(opts?: { wait?: boolean }): Promise<boolean>
    info(opts?: { storage?: boolean }): Promise<{ length: number; contiguousLength: number; byteLength: number; storage?: unknown }>
    findingPeers(): () => void
    setActive(active: boolean): void
    session(opts?: { wait?: boolean; timeout?: number }): Hypercore
    /** The pair this session signs with; `secretKey` only where this store wrote the core. */
    keyPair: { publicKey: Buffer; secretKey?: Buffer | null } | null
    /** A core's key: the hash of its (default) manifest for this signer's public key. */
    static key(publicKey: Buffer): Buffer
    static discoveryKey(key: Buffer): Buffer
  }
}

declare module 'hypercore-crypto' {
  const crypto: {
    sign(message: Buffer, secretKey: Buffer): Buffer
    verify(message: Buffer, signature: Buffer, publicKey: Buffer): boolean
    keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
  }
  export default crypto
}

declare module 'hypercore-storage' {
  export default class CoreStorage {
    constructor(dir: string, opts?: { writeBufferSize?: number; blobGarbageCollectionAgeCutOff?: number; blockCache?: boolean; treeCache?: { maxSize: number } })
    /** Compacts the whole database (RocksDB compactRange with no bounds). */
    compact(opts?: { blobGarbageCollectionPolicy?: number; blobGarbageCollectionAgeCutoff?: number; bottommostLevelCompaction?: number }): Promise<void>
  }
}

declare module 'corestore' {
  import Hypercore from 'hypercore'
  import { EventEmitter } from 'node:events'
  export interface KeyPair { publicKey: Buffer; secretKey: Buffer }
  export default class Corestore extends EventEmitter {
    constructor(storage: string | import('hypercore-storage').default, opts?: { primaryKey?: Buffer; writable?: boolean })
    ready(): Promise<void>
    close(): Promise<void>
    get(opts: { key?: Buffer | Uint8Array; name?: string; valueEncoding?: string }): Hypercore
    namespace(name: string): Corestore
    session(): Corestore
    replicate(stream: unknown): unknown
    createKeyPair(name: string): Promise<KeyPair>
    /** Called with every core this store opens (its internal Core object), a peer's request included. */
    watch(fn: (core: { discoveryKey: Buffer | null }) => void): void
  }
}

declare module 'hyperblobs' {
  import Hypercore from 'hypercore'
  export interface BlobId { blockOffset: number; blockLength: number; byteOffset: number; byteLength: number }
  export default class Hyperblobs {
    core: Hypercore
    blockSize: number
  }
}

declare module 'hyperdrive' {
  import Corestore from 'corestore'
  import Hypercore from 'hypercore'
  import Hyperblobs, { BlobId } from 'hyperblobs'
  import { Readable, Writable } from 'node:stream'
  export interface Entry {
    seq: number
    key: string
    value: { executable: boolean; linkname: string | null; blob: BlobId | null; metadata: unknown }
  }
  export default class Hyperdrive {
    constructor(store: Corestore, key?: Buffer | Uint8Array | null, opts?: Record<string, unknown>)
    key: Buffer
    discoveryKey: Buffer
    core: Hypercore
    /** The blob store once opened (getBlobs), else null. */
    blobs: Hyperblobs | null
    version: number
    writable: boolean
    ready(): Promise<void>
    close(): Promise<void>
    put(path: string, data: Buffer | Uint8Array, opts?: { executable?: boolean; metadata?: unknown }): Promise<void>
    get(path: string, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
    entry(path: string, opts?: { wait?: boolean; timeout?: number; follow?: boolean }): Promise<Entry | null>
    exists(path: string): Promise<boolean>
    del(path: string): Promise<void>
    list(folder?: string, opts?: { recursive?: boolean }): AsyncIterable<Entry>
    createReadStream(path: string, opts?: { start?: number; end?: number; length?: number; wait?: boolean; timeout?: number }): Readable
    createWriteStream(path: string, opts?: { executable?: boolean; metadata?: unknown }): Writable
    findingPeers(): () => void
    update(opts?: { wait?: boolean }): Promise<boolean>
    /** Null once the drive is closing (or has no blob store). */
    getBlobs(): Promise<Hyperblobs | null>
    putEntry(path: string, entry: { executable?: boolean; linkname?: string | null; blob?: unknown; metadata?: unknown }): Promise<void>
    clear(path: string, opts?: { diff?: boolean }): Promise<{ blocks: number } | null>
  }
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  import { Duplex } from 'node:stream'
  export interface PeerInfo { publicKey: Buffer; topics: Buffer[]; prioritized: boolean; ban(banned?: boolean): void }
  export interface Discovery { flushed(): Promise<void>; refresh(opts?: { client?: boolean; server?: boolean }): Promise<void>; destroy(): Promise<void> }
  export interface SwarmConnection extends Duplex {
    remotePublicKey: Buffer
    publicKey: Buffer
    isInitiator: boolean
    rawStream?: { remoteHost?: string; remotePort?: number }
    rawBytesRead?: number
    rawBytesWritten?: number
    handshakeHash?: Buffer
  }
  export interface SwarmOptions {
    bootstrap?: Array<{ host: string; port: number } | string>
    keyPair?: { publicKey: Buffer; secretKey: Buffer }
    maxPeers?: number
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
    dht?: unknown
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: SwarmOptions)
    keyPair: { publicKey: Buffer; secretKey: Buffer }
    connections: Set<SwarmConnection>
    peers: Map<string, PeerInfo>
    dht: { destroy(): Promise<void>; ready(): Promise<void>; bootstrapNodes?: unknown }
    server: { relayAddresses: unknown[] }
    join(topic: Buffer | Uint8Array, opts?: { server?: boolean; client?: boolean }): Discovery
    leave(topic: Buffer | Uint8Array): Promise<void>
    flush(): Promise<void>
    listen(): Promise<void>
    joinPeer(publicKey: Buffer): void
    leavePeer(publicKey: Buffer): void
    destroy(): Promise<void>
    on(event: 'connection', listener: (conn: SwarmConnection, info: PeerInfo) => void): this
    on(event: 'update', listener: () => void): this
  }
}

declare module 'hyperdht' {
  export interface DHTNodeOptions {
    bootstrap?: Array<{ host: string; port: number } | string>
    port?: number
    host?: string
    ephemeral?: boolean
    firewalled?: boolean
    /** How long a node keeps announcements (20 min). */
    maxAge?: number
  }
  export interface DHTQuery extends AsyncIterable<{ peers: Array<{ publicKey: Buffer }> }> {
    finished(): Promise<void>
    destroy(err?: Error): void
    closestNodes: unknown[]
  }
  type KeyPair = { publicKey: Buffer; secretKey: Buffer }
  export default class HyperDHT {
    constructor(opts?: DHTNodeOptions)
    static bootstrapper(port: number, host: string, opts?: DHTNodeOptions): HyperDHT
    static keyPair(seed?: Buffer): KeyPair
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    lookup(target: Buffer, opts?: { closestNodes?: unknown[] | null }): DHTQuery
    announce(target: Buffer, keyPair: KeyPair, relayAddresses: unknown[], opts?: { clear?: boolean; closestNodes?: unknown[] | null }): DHTQuery
    unannounce(target: Buffer, keyPair: KeyPair, opts?: { closestNodes?: unknown[]; onlyClosestNodes?: boolean; force?: boolean }): Promise<void>
    destroy(): Promise<void>
    address(): { host: string; port: number }
  }
}

declare module 'hyperdht/testnet.js' {
  export interface Testnet {
    bootstrap: Array<{ host: string; port: number }>
    nodes: unknown[]
    destroy(): Promise<void>
  }
  export default function createTestnet(size?: number, opts?: { host?: string; port?: number; teardown?: unknown }): Promise<Testnet>
}

declare module 'z32' {
  export function encode(buf: Uint8Array | string): string
  export function decode(str: string): Uint8Array
}

declare module 'protomux' {
  export interface Encoding<T> {
    preencode(state: unknown, value: T): void
    encode(state: unknown, value: T): void
    decode(state: unknown): T
  }
  export interface Message {
    send(data: unknown): boolean
  }
  export interface Channel {
    open(handshake?: unknown): void
    close(): void
    addMessage<T>(opts: { encoding: Encoding<T>; onmessage?: (message: T) => void | Promise<void> }): Message
    opened: boolean
    closed: boolean
  }
  export default class Protomux {
    static from(stream: unknown): Protomux
    createChannel<H>(opts: {
      protocol: string
      id?: Buffer | null
      handshake?: Encoding<H>
      unique?: boolean
      onopen?: (handshake: H) => void | Promise<void>
      onclose?: () => void | Promise<void>
      ondestroy?: () => void | Promise<void>
      ondrain?: () => void
    }): Channel | null
  }
}

declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'node:stream'
  export default class NoiseSecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream: Duplex | null, opts?: { keyPair?: { publicKey: Buffer; secretKey: Buffer }; remotePublicKey?: Buffer })
    static keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
    readonly isInitiator: boolean
    remotePublicKey: Buffer | null
    handshakeHash: Buffer | null
    opened: Promise<boolean>
    rawStream: Duplex
    setKeepAlive(ms: number): void
  }
}
