// Direct TCP links between swarm peers. Hyperswarm connects peers over UDX (encrypted UDP that
// holepunches through NATs), which costs a system call and a JS callback per ~1.4 KB packet: on
// loopback that caps one stream at ~80 MB/s of CPU where TCP moves over 1 GB/s (DESIGN.md). So
// when a peer's address takes TCP (a LAN, a lab's server, loopback), the two open a
// Noise-encrypted TCP link, authenticated with the same swarm keys, and the corestore replicates
// over that; otherwise over the UDX connection, as before. Exactly one of the two carries the
// replication of a connection at any time, so no block is ever asked for twice.
//
// Per swarm connection both sides open a `grove/direct/v1` channel whose handshake is their TCP
// port (0: no direct links). With both ports set, the connection's initiator dials the other's
// address; when a link whose remote key is the connection's opens, both replicate over it. If
// dialing fails, the initiator sends `fallback` and both replicate over UDX; so does a link that
// closes while the connection stays. A peer that never opens the channel gets UDX after
// NEGOTIATE_MS.
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import c from 'compact-encoding'
import Protomux, { type Message } from 'protomux'
import type { SwarmConnection } from 'hyperswarm'
import { GroveError } from '../../shared/errors.js'

export const DIRECT_PROTOCOL = 'grove/direct/v1'
/** How long a peer may take to open the channel before we replicate over UDX. */
const NEGOTIATE_MS = 3000
/** How long the initiator tries to open a link (TCP connect and Noise handshake). */
const DIAL_MS = 3000
/** How long the responder waits for the initiator's link or fallback (> DIAL_MS). */
const RESPONDER_WAIT_MS = 15_000
/** Unauthenticated inbound sockets at once, and how long each may take to authenticate. */
const MAX_PENDING_INBOUND = 64
const INBOUND_HANDSHAKE_MS = 5000

export type Transport = 'tcp' | 'udx'

export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export interface DirectLinkOptions {
  keyPair: KeyPair
  /** Replicates the corestore over a stream: the UDX connection or a direct link. */
  replicate(stream: Duplex): void
  /** TCP port to listen on (0: any free one); null: no direct links, always UDX. */
  port: number | null
}

interface PeerLink {
  conn: SwarmConnection
  remoteKey: Buffer
  isInitiator: boolean
  transport: Transport | null
  tcp: NoiseSecretStream | null
  fallback: Message | null
  timer: NodeJS.Timeout | null
}

export class DirectLinks {
  private server: Server | null = null
  private listeningPort = 0
  private readonly links = new Map<SwarmConnection, PeerLink>()
  private readonly inbound = new Set<Socket>()
  private closed = false

  constructor(private readonly options: DirectLinkOptions) {}

  /** The TCP port peers are told to dial (0: none). */
  get port(): number {
    return this.listeningPort
  }

  async listen(): Promise<void> {
    if (this.options.port === null) return
    const server = createServer((socket) => this.onInbound(socket))
    server.on('error', () => {})
    const port = this.options.port
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is in use' : err.code === 'EACCES' ? 'is not allowed' : `failed (${err.message})`
      throw new GroveError('BAD_INPUT', `TCP port ${port} for direct links ${why}: choose another --tcp-port, or --no-tcp`)
    })
    this.server = server
    const address = server.address()
    this.listeningPort = typeof address === 'object' && address ? address.port : 0
  }

  async close(): Promise<void> {
    this.closed = true
    for (const link of this.links.values()) this.forget(link)
    for (const socket of this.inbound) socket.destroy()
    const server = this.server
    this.server = null
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Which transport carries a connection's replication (null while it is being decided). */
  transportOf(conn: SwarmConnection): Transport | null {
    return this.links.get(conn)?.transport ?? null
  }

  /** Call for every new swarm connection: replication starts once the transport is decided. */
  attach(conn: SwarmConnection): void {
    const link: PeerLink = { conn, remoteKey: conn.remotePublicKey, isInitiator: Boolean(conn.isInitiator), transport: null, tcp: null, fallback: null, timer: null }
    this.links.set(conn, link)
    conn.once('close', () => this.forget(link))
    const channel = Protomux.from(conn).createChannel({
      protocol: DIRECT_PROTOCOL,
      handshake: c.uint,
      onopen: (remotePort: number) => this.onChannelOpen(link, remotePort)
    })
    if (!channel) return this.useUdx(link)
    link.fallback = channel.addMessage({ encoding: c.uint, onmessage: () => this.useUdx(link) })
    channel.open(this.listeningPort)
    link.timer = setTimeout(() => this.useUdx(link), NEGOTIATE_MS)
  }

  private onChannelOpen(link: PeerLink, remotePort: number): void {
    if (link.transport) return
    // Both sides see both ports, so both take this branch together.
    if (!remotePort || !this.listeningPort) return this.useUdx(link)
    if (!link.isInitiator) {
      this.restartTimer(link, RESPONDER_WAIT_MS)
      return
    }
    const host = link.conn.rawStream?.remoteHost
    if (!host) return this.useUdx(link)
    this.restartTimer(link, DIAL_MS + 1000)
    void this.dial(link, host, remotePort).then((stream) => {
      if (stream && !link.transport && this.links.has(link.conn)) return this.useTcp(link, stream)
      stream?.destroy()
      this.useUdx(link)
    })
  }

  private async dial(link: PeerLink, host: string, port: number): Promise<NoiseSecretStream | null> {
    const socket = connect({ host, port })
    socket.on('error', () => {})
    socket.setNoDelay(true)
    const stream = new NoiseSecretStream(true, socket, { keyPair: this.options.keyPair })
    stream.on('error', () => {})
    const timer = setTimeout(() => stream.destroy(), DIAL_MS)
    try {
      const opened = await stream.opened
      if (opened && stream.remotePublicKey?.equals(link.remoteKey)) return stream
    } catch {
      // fall through: not reachable, or not the peer we are connected to
    } finally {
      clearTimeout(timer)
    }
    stream.destroy()
    return null
  }

  private onInbound(socket: Socket): void {
    if (this.closed || this.inbound.size >= MAX_PENDING_INBOUND) {
      socket.destroy()
      return
    }
    this.inbound.add(socket)
    socket.on('error', () => {})
    socket.setNoDelay(true)
    const stream = new NoiseSecretStream(false, socket, { keyPair: this.options.keyPair })
    stream.on('error', () => {})
    const timer = setTimeout(() => stream.destroy(), INBOUND_HANDSHAKE_MS)
    const settle = (opened: boolean) => {
      clearTimeout(timer)
      this.inbound.delete(socket)
      const link = opened ? this.awaitingLink(stream.remotePublicKey) : undefined
      if (link) this.useTcp(link, stream)
      else stream.destroy()
    }
    stream.opened.then(settle, () => settle(false))
  }

  /** The undecided connection, where we are the responder, with the peer of this key. */
  private awaitingLink(remoteKey: Buffer | null): PeerLink | undefined {
    if (!remoteKey) return undefined
    for (const link of this.links.values()) {
      if (!link.isInitiator && !link.transport && link.remoteKey.equals(remoteKey)) return link
    }
    return undefined
  }

  private useTcp(link: PeerLink, stream: NoiseSecretStream): void {
    this.clearTimer(link)
    link.transport = 'tcp'
    link.tcp = stream
    stream.once('close', () => {
      if (link.tcp !== stream) return
      link.tcp = null
      // The link broke but the swarm connection did not: go on over UDX.
      if (this.links.has(link.conn)) {
        link.transport = null
        this.useUdx(link)
      }
    })
    this.options.replicate(stream)
  }

  private useUdx(link: PeerLink): void {
    if (link.transport || !this.links.has(link.conn)) return
    this.clearTimer(link)
    // The responder waits for the initiator's word: tell it, whatever the reason.
    if (link.isInitiator) link.fallback?.send(0)
    link.transport = 'udx'
    this.options.replicate(link.conn)
  }

  private forget(link: PeerLink): void {
    this.clearTimer(link)
    this.links.delete(link.conn)
    const tcp = link.tcp
    link.tcp = null
    tcp?.destroy()
  }

  private restartTimer(link: PeerLink, ms: number): void {
    this.clearTimer(link)
    link.timer = setTimeout(() => this.useUdx(link), ms)
  }

  private clearTimer(link: PeerLink): void {
    if (link.timer) clearTimeout(link.timer)
    link.timer = null
  }
}
