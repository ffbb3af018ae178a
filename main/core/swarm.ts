// The swarm: one Hyperswarm for the whole process. Every connection replicates the corestore,
// so each drive we hold is served to (and fetched from) every peer that asks for it.
import { EventEmitter } from 'node:events'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type Discovery, type SwarmConnection } from 'hyperswarm'
import type Corestore from 'corestore'
import ReadyResource from 'ready-resource'
import { bytesToHex } from '../../shared/link.js'

export interface BootstrapNode {
  host: string
  port: number
}

export interface PeerInfo {
  publicKey: string
  host?: string
  port?: number
  connectedAt: number
}

export interface SwarmOptions {
  store: Corestore
  /** Replaces the public HyperDHT bootstrap nodes (an offline LAN, a test network). */
  bootstrap?: BootstrapNode[]
}

/** Parses `host:port,host:port`; a bad entry is an error naming it. */
export function parseBootstrapList(list: string): BootstrapNode[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^(\[[0-9a-f:]+\]|[^:\s]+):(\d{1,5})$/i.exec(entry)
      const port = Number(match?.[2])
      if (!match?.[1] || !(port > 0 && port < 65536)) throw new Error(`Bad bootstrap node "${entry}" (expected host:port)`)
      return { host: match[1].replace(/^\[|\]$/g, ''), port }
    })
}

export class SwarmNetwork extends ReadyResource {
  readonly events = new EventEmitter()
  private swarm: Hyperswarm | null = null
  private readonly topics = new Map<string, Discovery>()
  private readonly peerInfo = new Map<string, PeerInfo>()

  constructor(private readonly options: SwarmOptions) {
    super()
  }

  protected override async _open(): Promise<void> {
    const keyPair = await this.options.store.createKeyPair('grove/swarm')
    // On a private DHT (our own bootstrap: a campus LAN, a test network) peers reach each other
    // directly; saying so skips HyperDHT's firewall probing, whose first connection attempt
    // otherwise stalls ~13 s when two peers dial each other at once.
    const dht = this.options.bootstrap ? new HyperDHT({ bootstrap: this.options.bootstrap, firewalled: false }) : undefined
    const swarm = new Hyperswarm({ keyPair, bootstrap: this.options.bootstrap, dht })
    swarm.on('connection', (conn, info) => this.onConnection(conn, info.publicKey))
    this.swarm = swarm
  }

  protected override async _close(): Promise<void> {
    const swarm = this.swarm
    this.swarm = null
    if (swarm) await swarm.destroy()
    this.topics.clear()
    this.peerInfo.clear()
  }

  get publicKey(): string {
    return this.swarm ? bytesToHex(this.swarm.keyPair.publicKey) : ''
  }

  get peers(): PeerInfo[] {
    return [...this.peerInfo.values()]
  }

  get connectionCount(): number {
    return this.swarm?.connections.size ?? 0
  }

  /** Announce (server) and/or look up (client) a topic such as a drive's discovery key. */
  join(topic: Uint8Array, opts: { server: boolean; client: boolean }): Discovery {
    const swarm = this.requireSwarm()
    const id = bytesToHex(topic)
    const discovery = swarm.join(topic, opts)
    this.topics.set(id, discovery)
    return discovery
  }

  async leave(topic: Uint8Array): Promise<void> {
    const id = bytesToHex(topic)
    if (!this.topics.delete(id) || !this.swarm) return
    await this.swarm.leave(topic)
  }

  async flush(): Promise<void> {
    await this.swarm?.flush()
  }

  /**
   * Keeps looking a topic up until `isDone()`: a lookup made before the seeder announced can
   * miss it for minutes, so while nothing is connected we refresh every `intervalMs`.
   */
  async refreshUntil(topic: Uint8Array, isDone: () => boolean, signal: AbortSignal, intervalMs = 2000): Promise<void> {
    const discovery = this.topics.get(bytesToHex(topic))
    while (!isDone() && !signal.aborted && !this.closing) {
      await sleep(intervalMs, signal)
      if (!isDone() && !signal.aborted && !this.closing) await discovery?.refresh().catch(() => {})
    }
  }

  private onConnection(conn: SwarmConnection, remoteKey: Buffer): void {
    const id = bytesToHex(remoteKey)
    this.peerInfo.set(id, {
      publicKey: id,
      host: conn.rawStream?.remoteHost,
      port: conn.rawStream?.remotePort,
      connectedAt: Date.now()
    })
    conn.on('error', () => {})
    conn.once('close', () => {
      this.peerInfo.delete(id)
      this.events.emit('peers', this.peers)
    })
    if (process.env.GROVE_TRACE) process.stderr.write(`[trace] ${Date.now()} connection ${id.slice(0, 8)}\n`)
    this.options.store.replicate(conn)
    this.events.emit('connection', conn, remoteKey)
    this.events.emit('peers', this.peers)
  }

  private requireSwarm(): Hyperswarm {
    if (!this.swarm) throw new Error('swarm is not open')
    return this.swarm
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
