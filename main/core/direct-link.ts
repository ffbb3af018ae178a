// Direct TCP links between swarm peers. Hyperswarm connects peers over UDX (encrypted UDP that
// holepunches through NATs), which costs a system call and a JS callback per ~1.4 KB packet: on
// loopback that caps one stream at ~80 MB/s of CPU where TCP moves over 1 GB/s (DESIGN.md). So
// when a peer's address takes TCP (a LAN, a lab's server, loopback), the two open a
// Noise-encrypted TCP link, authenticated with the same swarm keys, and the corestore replicates
// over that; otherwise over the UDX connection, as before. Exactly one of the two carries the
// replication of a connection at any time, so no block is ever asked for twice.
//
// Replication never waits for that decision. Per swarm connection both sides open a
// `grove/direct/v2` channel whose handshake is their TCP port (0: no direct links):
// - a peer with no port, or one that does not open the channel within an RTT-scaled deadline (a
//   stock Hyperdrive reader): replicate over the UDX connection at once;
// - both ports set: replicate at once through a tunnel (a Noise stream carried as messages of the
//   channel) while the connection's initiator dials the other's address. Once the TCP link is
//   authenticated both replicate over it; if dialing fails the initiator sends `fallback` and
//   both replicate over the UDX connection itself. Either way the tunnel closes.
// The tunnel is there so that replication can move: Corestore replicates over a stream until that
// stream closes, and the swarm connection must stay (it carries this channel, and it is the peer).
// A link that closes while the connection stays gets UDX, as before. Except while moving, when
// hypercore asks the new stream for what the closed one did not deliver, one stream carries the
// replication of a connection, so no block is asked for twice.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import c from 'compact-encoding'
import Protomux, { type Message } from 'protomux'
import type { SwarmConnection } from 'hyperswarm'
import { GroveError } from '../../shared/errors.js'

export const DIRECT_PROTOCOL = 'grove/direct/v2'
/**
 * How long a peer may take to open the channel before we replicate over UDX: a few round trips
 * of the connection (its UDX stream measures them), within these bounds.
 */
const NEGOTIATE_RTTS = 4
const NEGOTIATE_MIN_MS = 250
const NEGOTIATE_MAX_MS = 1500
/** How long the initiator tries to open a link (TCP connect and Noise handshake). */
const DIAL_MS = 3000
/** How long the responder waits for the initiator's link or fallback (> DIAL_MS); blocks flow through the tunnel meanwhile. */
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
  /** Replication while the transport is decided (see the top of this file). */
  tunnel: NoiseSecretStream | null
  tunnelRaw: ChannelStream | null
  fallback: Message | null
  data: Message | null
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

  /** Call for every new swarm connection: replication starts at once (see the top of this file). */
  attach(conn: SwarmConnection): void {
    const link: PeerLink = { conn, remoteKey: conn.remotePublicKey, isInitiator: Boolean(conn.isInitiator), transport: null, tcp: null, tunnel: null, tunnelRaw: null, fallback: null, data: null, timer: null }
    this.links.set(conn, link)
    conn.once('close', () => this.forget(link))
    const channel = Protomux.from(conn).createChannel({
      protocol: DIRECT_PROTOCOL,
      handshake: c.uint,
      onopen: (remotePort: number) => this.onChannelOpen(link, remotePort),
      ondrain: () => link.tunnelRaw?.drained()
    })
    if (!channel) return this.useUdx(link)
    link.fallback = channel.addMessage({ encoding: c.uint, onmessage: () => this.useUdx(link) })
    link.data = channel.addMessage({ encoding: c.raw, onmessage: (data: Uint8Array) => this.onTunnelData(link, data) })
    channel.open(this.listeningPort)
    link.timer = setTimeout(() => this.useUdx(link), negotiateMs(conn))
  }

  private onChannelOpen(link: PeerLink, remotePort: number): void {
    if (link.transport) return
    // Both sides see both ports, so both take this branch together.
    if (!remotePort || !this.listeningPort) return this.useUdx(link)
    const host = link.conn.rawStream?.remoteHost
    if (link.isInitiator && !host) return this.useUdx(link)
    this.openTunnel(link)
    if (!link.isInitiator) {
      this.restartTimer(link, RESPONDER_WAIT_MS)
      return
    }
    this.restartTimer(link, DIAL_MS + 1000)
    void this.dial(link, host!, remotePort).then((stream) => {
      if (stream && !link.transport && this.links.has(link.conn)) return this.useTcp(link, stream)
      stream?.destroy()
      this.useUdx(link)
    })
  }

  /** Replicates through the channel until the transport is decided. */
  private openTunnel(link: PeerLink): void {
    const data = link.data
    if (!data) return
    const raw = new ChannelStream(data)
    const tunnel = new NoiseSecretStream(link.isInitiator, raw, { keyPair: this.options.keyPair })
    tunnel.on('error', () => {})
    link.tunnelRaw = raw
    link.tunnel = tunnel
    void tunnel.opened.then((opened) => {
      // The connection is authenticated already; the tunnel must be the same peer.
      if (!opened || !tunnel.remotePublicKey?.equals(link.remoteKey)) tunnel.destroy()
    })
    this.options.replicate(tunnel)
  }

  private onTunnelData(link: PeerLink, data: Uint8Array): void {
    const raw = link.tunnelRaw
    if (!raw) return
    if (data.byteLength > 0) return raw.receive(data)
    // The other side moved: its TCP link is up (ours is a moment away) or it fell back.
    this.closeTunnel(link)
    if (!link.transport && !link.isInitiator) this.restartTimer(link, INBOUND_HANDSHAKE_MS)
  }

  private closeTunnel(link: PeerLink): void {
    const tunnel = link.tunnel
    link.tunnel = null
    link.tunnelRaw = null
    tunnel?.destroy()
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
    // The new stream first, then the tunnel closes: hypercore asks it for what the tunnel owed.
    this.options.replicate(stream)
    this.closeTunnel(link)
  }

  private useUdx(link: PeerLink): void {
    if (link.transport || !this.links.has(link.conn)) return
    this.clearTimer(link)
    // The responder waits for the initiator's word: tell it, whatever the reason.
    if (link.isInitiator) link.fallback?.send(0)
    link.transport = 'udx'
    this.options.replicate(link.conn)
    this.closeTunnel(link)
  }

  private forget(link: PeerLink): void {
    this.clearTimer(link)
    this.closeTunnel(link)
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

function negotiateMs(conn: SwarmConnection): number {
  const rtt = (conn.rawStream as { rtt?: number } | undefined)?.rtt ?? 0
  return Math.min(NEGOTIATE_MAX_MS, Math.max(NEGOTIATE_MIN_MS, NEGOTIATE_RTTS * rtt))
}

/**
 * A byte stream carried as messages of the direct-link channel: the tunnel's raw stream. An empty
 * message ends it (the side that sends it has moved its replication elsewhere).
 */
class ChannelStream extends Duplex {
  private waiting: (() => void) | null = null
  private ended = false

  constructor(private readonly message: Message) {
    super()
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // The channel's connection buffers what it cannot send yet; wait for its drain to take more.
    if (this.message.send(chunk)) callback()
    else this.waiting = callback
  }

  drained(): void {
    const callback = this.waiting
    this.waiting = null
    callback?.()
  }

  receive(data: Uint8Array): void {
    this.push(data)
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.ended) {
      this.ended = true
      this.message.send(Buffer.alloc(0))
    }
    this.waiting = null
    callback(err)
  }
}
