// The swarm: one Hyperswarm for the whole process. Every connection replicates the corestore,
// so each drive we hold is served to (and fetched from) every peer that asks for it.
//
// Three ways to find peers (DESIGN.md, "Networking"):
// - public: the public HyperDHT bootstrap nodes (the default);
// - bootstrap: our own bootstrap list (`--bootstrap`, e.g. a campus `grove bootstrap` node);
// - lan: no internet, no configuration (`--lan`, or by itself when no public bootstrap node
//   answers). Every instance runs a persistent DHT node on its LAN address and advertises it by
//   multicast DNS (main/core/lan.ts); the instances' nodes form a DHT of their own, and the
//   Hyperswarm of each instance is an ephemeral client of it. Only nodes on our own subnets
//   are ever used, and the public bootstrap list never is.
// When the network changes (an address comes, goes or moves) a LAN instance re-advertises and
// asks again; if its own address changed it rebuilds its DHT node and swarm on the new address
// and joins every topic again, without a restart.
import { createSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type Discovery, type SwarmConnection } from 'hyperswarm'
import type Corestore from 'corestore'
import ReadyResource from 'ready-resource'
import { bytesToHex, hexToBytes } from '../../shared/link.js'
import { sleep, within } from './abort.js'
import { Announcer, type AnnounceDht } from './announcer.js'
import { DirectLinks, type Transport } from './direct-link.js'
import { swarmKeyPair } from './store.js'
import { LanDiscovery, NetworkWatcher, lanInterfaces, onLocalNetwork, type LanInterface, type LanNode } from './lan.js'

/** Kept here too: the command line imports it from this module. */
export { sleep } from './abort.js'

export interface BootstrapNode {
  host: string
  port: number
}

export interface PeerInfo {
  publicKey: string
  host?: string
  port?: number
  connectedAt: number
  /** What carries the replication: a direct TCP link or the UDX connection (null: deciding). */
  transport?: Transport | null
}

/** true: LAN mode; false: never; 'auto': LAN mode when no public bootstrap node answers. */
export type LanSetting = boolean | 'auto'

export type NetworkMode = 'public' | 'bootstrap' | 'lan'

export interface NetworkStatus {
  mode: NetworkMode
  /** In LAN mode because no public bootstrap node answered (not because it was asked for). */
  fallback: boolean
  /** LAN mode: this instance's DHT node, as advertised on the LAN. */
  dhtNode?: BootstrapNode
  /** LAN mode: other instances' DHT nodes heard on the LAN. */
  lanNodes: number
}

export interface SwarmOptions {
  store: Corestore
  /** Replaces the public HyperDHT bootstrap nodes (an offline LAN, a test network). */
  bootstrap?: BootstrapNode[]
  /** Default 'auto' (which only applies when no `bootstrap` list is given). */
  lan?: LanSetting
  /** 'auto': how long the public DHT may take to answer before we switch to LAN mode. */
  lanFallbackMs?: number
  /** How often the network interfaces are checked for changes (LAN and 'auto'). */
  networkPollMs?: number
  /** The multicast DNS port (5353). */
  mdnsPort?: number
  /**
   * TCP port for direct links to peers whose address takes TCP (main/core/direct-link.ts);
   * 0 (the default): any free port; null: never, replicate over UDX only.
   */
  directPort?: number | null
}

export const DEFAULT_LAN_FALLBACK_MS = 10_000
const DEFAULT_NETWORK_POLL_MS = 2000
const REFRESH_DEBOUNCE_MS = 250
/**
 * How long unannouncing may take when the swarm closes. A seeder of a thousand models has a
 * thousand announcements to withdraw, one DHT query each, and SIGTERM must end it within 10 s;
 * what is not withdrawn by then expires on the DHT by itself.
 */
const CLOSE_GRACE_MS = 3000
/** How long a peer dropped for stalling is refused. */
const DROPPED_PEER_MS = 30_000
const SWITCH_GRACE_MS = 500
/**
 * LAN request timeouts (dht-rpc's adaptive timeouts: per-node round trips once known, else this
 * schedule per try). The default, 1 s a try and 6 tries, lets every node that has gone away
 * (a `grove fetch` that finished) hold each query, and so each announcement, for ~6 s.
 */
const LAN_TIMEOUTS = { fallback: [100, 150, 200, 300, 400], min: 50, max: 1000, jitter: 50 }
const MAX_LAN_NODES = 512

/** The parts of HyperDHT (dht-rpc) used here beyond main/types/holepunch.d.ts. */
interface DhtNode {
  addNode(node: BootstrapNode): void
  toArray(opts?: { limit?: number }): BootstrapNode[]
  fullyBootstrapped(): Promise<void>
  destroy(): Promise<void>
  address(): BootstrapNode | null
  bootstrapNodes: BootstrapNode[]
  ephemeral: boolean
}

interface TopicState {
  topic: Buffer
  server: boolean
  client: boolean
  discovery: Discovery | null
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
  /** 'connection' (conn, key), 'peers' (PeerInfo[]), 'network' (NetworkStatus, reason), 'lan-node' (LanNode). */
  readonly events = new EventEmitter()
  private swarm: Hyperswarm | null = null
  private keyPair: { publicKey: Buffer; secretKey: Buffer } | null = null
  private readonly topics = new Map<string, TopicState>()
  /** Announces the topics only served (a seeder's drives); Hyperswarm has the looked-up ones. */
  private announcer: Announcer | null = null
  private readonly peerInfo = new Map<string, PeerInfo & { conn: SwarmConnection }>()
  /** Peers dropped for misbehaving (hex key → until when), refused if they connect again. */
  private readonly dropped = new Map<string, number>()
  private _mode: NetworkMode = 'public'
  private fallback = false
  /** LAN mode: our persistent DHT node (the one advertised), and where it is. */
  private lanNode: DhtNode | null = null
  private lanSelf: BootstrapNode | null = null
  /** The address our LAN DHT node is on, or is being moved to. */
  private lanTarget: string | null = null
  private lanDiscovery: LanDiscovery | null = null
  private readonly lanNodes = new Map<string, LanNode & { seenAt: number }>()
  private watcher: NetworkWatcher | null = null
  private switching: Promise<void> = Promise.resolve()
  private refreshTimer: NodeJS.Timeout | null = null
  private readonly stop = new AbortController()
  private direct: DirectLinks | null = null
  /** Peers dialled by their key (a link's seeders), hex → how many asked; kept across network changes. */
  private readonly explicitPeers = new Map<string, number>()
  /** Our server is announced under our key, for peers that dial it (see Seeding). */
  private listening = false

  constructor(private readonly options: SwarmOptions) {
    super()
  }

  protected override async _open(): Promise<void> {
    this.keyPair = await swarmKeyPair(this.options.store)
    const store = this.options.store
    this.direct = new DirectLinks({ keyPair: this.keyPair, port: this.options.directPort === undefined ? 0 : this.options.directPort, replicate: (stream) => store.replicate(stream) })
    await this.direct.listen()
    const lan = this.options.lan ?? 'auto'
    const auto = lan === 'auto' && !this.options.bootstrap
    if (lan === true) await this.startLan()
    else if (auto) this.rebuild(() => this.startAuto(null)) // topics join once it has decided
    else this.startInternet()
    if (lan === true || auto) {
      this.watcher = new NetworkWatcher(this.options.networkPollMs ?? DEFAULT_NETWORK_POLL_MS)
      this.watcher.on('change', (now: LanInterface[], before: LanInterface[]) => this.onNetworkChange(now, before))
      this.watcher.start()
    }
  }

  protected override async _close(): Promise<void> {
    this.stop.abort()
    this.watcher?.stop()
    this.watcher = null
    if (this.refreshTimer) clearTimeout(this.refreshTimer)
    await this.switching
    trace(`dht ${this._mode} ${JSON.stringify(this.dhtNodes())}`)
    await this.stopNetwork(CLOSE_GRACE_MS)
    await this.direct?.close()
    this.topics.clear()
  }

  get publicKey(): string {
    return this.keyPair ? bytesToHex(this.keyPair.publicKey) : ''
  }

  get peers(): PeerInfo[] {
    return [...this.peerInfo.values()].map(({ conn, ...info }) => ({ ...info, transport: this.direct?.transportOf(conn) ?? null }))
  }

  /** The TCP port peers may open direct links to (0: none). */
  get directPort(): number {
    return this.direct?.port ?? 0
  }

  get connectionCount(): number {
    return this.swarm?.connections.size ?? 0
  }

  get status(): NetworkStatus {
    return { mode: this._mode, fallback: this.fallback, dhtNode: this.lanSelf ?? undefined, lanNodes: this.lanNodes.size }
  }

  /** The DHT nodes this instance knows and bootstraps from (diagnostics, and the LAN tests). */
  dhtNodes(): { nodes: BootstrapNode[]; bootstrap: BootstrapNode[]; lanNode?: { nodes: BootstrapNode[]; bootstrap: BootstrapNode[] } } {
    const dht = this.swarm?.dht as unknown as DhtNode | undefined
    const lan = this.lanNode
    return {
      nodes: dht?.toArray() ?? [],
      bootstrap: dht?.bootstrapNodes.map(({ host, port }) => ({ host, port })) ?? [],
      lanNode: lan ? { nodes: lan.toArray(), bootstrap: lan.bootstrapNodes.map(({ host, port }) => ({ host, port })) } : undefined
    }
  }

  /**
   * Announce (server) and/or look up (client) a topic such as a drive's discovery key. The topic
   * stays joined across network changes until `leave`.
   */
  join(topic: Uint8Array, opts: { server: boolean; client: boolean }): void {
    const id = bytesToHex(topic)
    let state = this.topics.get(id)
    if (!state) {
      state = { topic: Buffer.from(topic), server: false, client: false, discovery: null }
      this.topics.set(id, state)
    }
    state.server ||= opts.server
    state.client ||= opts.client
    if (!this.swarm) return
    if (opts.client || state.client) {
      // Someone waits for peers: Hyperswarm looks the topic up (and announces it if served).
      void this.announcer?.remove(topic, { withdraw: false })
      state.discovery = this.swarm.join(state.topic, opts)
    } else if (!state.discovery) {
      this.announcer?.add(state.topic)
    }
  }

  /**
   * Dials these peers (swarm keys, hex) until the returned function is called, across network
   * changes: a link's seeders, tried besides the DHT lookup of its model.
   */
  joinPeers(keysHex: readonly string[]): () => void {
    const keys = keysHex.filter((keyHex) => keyHex !== this.publicKey)
    for (const keyHex of keys) {
      const asked = this.explicitPeers.get(keyHex) ?? 0
      this.explicitPeers.set(keyHex, asked + 1)
      if (asked === 0) this.swarm?.joinPeer(Buffer.from(hexToBytes(keyHex)))
    }
    let released = false
    return () => {
      if (released) return
      released = true
      for (const keyHex of keys) {
        const asked = (this.explicitPeers.get(keyHex) ?? 1) - 1
        if (asked > 0) {
          this.explicitPeers.set(keyHex, asked)
          continue
        }
        this.explicitPeers.delete(keyHex)
        this.swarm?.leavePeer(Buffer.from(hexToBytes(keyHex)))
      }
    }
  }

  /** Announces our server under our own key (Hyperswarm's `listen`), from now on. */
  listen(): void {
    if (this.listening) return
    this.listening = true
    this.swarm?.listen().catch((err: Error) => trace(`listen: ${err.message}`))
  }

  async leave(topic: Uint8Array): Promise<void> {
    const id = bytesToHex(topic)
    const state = this.topics.get(id)
    if (!state || !this.swarm) {
      this.topics.delete(id)
      return
    }
    this.topics.delete(id)
    await this.announcer?.remove(topic)
    if (state.discovery) await this.swarm.leave(topic)
  }

  /** Resolves once every joined topic is announced (the queued ones too) and looked up once. */
  async flush(): Promise<void> {
    await this.announcer?.flushed()
    await this.swarm?.flush()
  }

  /**
   * Keeps looking a topic up until `isDone()`: a lookup made before the seeder announced can
   * miss it for minutes, so while nothing is connected we refresh every `intervalMs`.
   */
  async refreshUntil(topic: Uint8Array, isDone: () => boolean, signal: AbortSignal, intervalMs = 2000): Promise<void> {
    const id = bytesToHex(topic)
    while (!isDone() && !signal.aborted && !this.closing) {
      await sleep(intervalMs, signal)
      if (!isDone() && !signal.aborted && !this.closing) await this.topics.get(id)?.discovery?.refresh().catch(() => {})
    }
  }

  // --- starting and stopping the network ------------------------------------------------------

  /** The public DHT, or our bootstrap list. */
  private startInternet(): void {
    const bootstrap = this.options.bootstrap
    // On a private DHT (our own bootstrap: a campus LAN, a test network) peers reach each other
    // directly; saying so skips HyperDHT's firewall probing, whose first connection attempt
    // otherwise stalls ~13 s when two peers dial each other at once.
    const dht = bootstrap ? new HyperDHT({ bootstrap, firewalled: false }) : undefined
    const swarm = new Hyperswarm({ keyPair: this.requireKeyPair(), bootstrap, dht })
    this.fallback = false
    this.install(swarm, bootstrap ? 'bootstrap' : 'public')
  }

  /**
   * 'auto': the public DHT if one of its bootstrap nodes answers within `lanFallbackMs`, else LAN
   * mode. Returns what to tell the user ('' for nothing). `change` names a network change.
   */
  private async startAuto(change: string | null): Promise<string> {
    const waitMs = this.options.lanFallbackMs ?? DEFAULT_LAN_FALLBACK_MS
    if (await probePublicDht(waitMs, this.stop.signal)) {
      this.startInternet()
      return change ? `${change}; the public DHT answers again` : ''
    }
    if (this.closing) return ''
    await this.startLan()
    this.fallback = true
    return `${change ? `${change}; ` : ''}no DHT bootstrap node answered within ${Math.round(waitMs / 100) / 10} s; switched to LAN mode (peers on this network only, found by multicast DNS)`
  }

  private async startLan(): Promise<void> {
    const interfaces = lanInterfaces()
    // With no LAN at all, a node on loopback still serves other Grove processes on this machine.
    const host = interfaces[0]?.address ?? '127.0.0.1'
    this.lanTarget = host
    const known = [...this.lanNodes.values()].filter((n) => onLocalNetwork(n.host, interfaces)).map(({ host, port }) => ({ host, port }))
    const extra = this.options.bootstrap ?? []
    const { node, port } = await startPersistentNode(host, extra, known)
    const self = { host, port }
    // Our Hyperswarm is an ephemeral client of the LAN DHT (ours plus everyone else's nodes): a
    // node never stores its own announcements, so two persistent-only peers would miss each other.
    const dht = new HyperDHT({ bootstrap: [self, ...known, ...extra], firewalled: false, ephemeral: true, adaptiveTimeout: LAN_TIMEOUTS } as never)
    const swarm = new Hyperswarm({ keyPair: this.requireKeyPair(), dht })
    this.lanNode = node
    this.lanSelf = self
    this.install(swarm, 'lan')
    const discovery = new LanDiscovery({ advertisedPort: () => (this.lanSelf === self ? port : null), mdnsPort: this.options.mdnsPort })
    discovery.on('node', (n: LanNode) => this.onLanNode(n))
    discovery.on('warning', (err: Error) => trace(`mdns: ${err.message}`))
    this.lanDiscovery = discovery
    discovery.update(interfaces)
    trace(`lan: DHT node ${host}:${port} on ${interfaces.map((i) => `${i.name} ${i.address}`).join(', ') || 'loopback only'}`)
  }

  private install(swarm: Hyperswarm, mode: NetworkMode): void {
    this.swarm = swarm
    this._mode = mode
    swarm.on('connection', (conn, info) => this.onConnection(conn, info.publicKey))
    const announcer = new Announcer({
      dht: swarm.dht as unknown as AnnounceDht,
      keyPair: swarm.keyPair,
      listen: () => swarm.listen(),
      relayAddresses: () => swarm.server.relayAddresses,
      onError: (message) => trace(message)
    })
    this.announcer = announcer
    if (this.listening) swarm.listen().catch((err: Error) => trace(`listen: ${err.message}`))
    for (const keyHex of this.explicitPeers.keys()) swarm.joinPeer(Buffer.from(hexToBytes(keyHex)))
    for (const state of this.topics.values()) {
      state.discovery = null
      if (state.client) state.discovery = swarm.join(state.topic, { server: state.server, client: state.client })
      else announcer.add(state.topic)
    }
  }

  /**
   * Stops the DHT node(s) and the swarm. Unannouncing is given `graceMs` (a switch of network
   * gives it little: on a network that is gone it only waits for timeouts), then the DHT is
   * destroyed under it.
   */
  private async stopNetwork(graceMs: number): Promise<void> {
    const swarm = this.swarm
    const lanNode = this.lanNode
    const announcer = this.announcer
    this.swarm = null
    this.announcer = null
    this.lanNode = null
    this.lanSelf = null
    this.lanDiscovery?.close()
    this.lanDiscovery = null
    for (const state of this.topics.values()) state.discovery = null
    // Our announcements are withdrawn first: destroying the swarm destroys the DHT they go through.
    const started = Date.now()
    await announcer?.close(graceMs)
    if (swarm) await destroySwarm(swarm, Math.max(500, graceMs - (Date.now() - started)))
    if (lanNode) await lanNode.destroy().catch(() => {})
    for (const { conn } of this.peerInfo.values()) conn.destroy()
    this.peerInfo.clear()
  }

  /**
   * Replaces the running network (if any) by what `start` makes, one switch at a time; `start`
   * returns what to tell the user ('' for nothing), sent as a 'network' event.
   */
  private rebuild(start: () => Promise<string>): void {
    this.switching = this.switching.then(async () => {
      if (this.closing) return
      if (this.swarm) {
        await this.stopNetwork(SWITCH_GRACE_MS)
        this.events.emit('peers', this.peers)
      }
      if (this.closing) return
      let reason: string
      try {
        reason = await start()
      } catch (err) {
        trace(`network start failed: ${(err as Error).message}; retrying`)
        await sleep(2000, this.stop.signal)
        if (!this.closing) this.rebuild(start)
        return
      }
      trace(`network: ${this._mode}${this.fallback ? ' (fallback)' : ''}${reason ? `: ${reason}` : ''}`)
      if (reason) this.events.emit('network', this.status, reason)
    })
  }

  // --- LAN mode ---------------------------------------------------------------------------------

  private onLanNode(found: LanNode): void {
    const swarm = this.swarm
    const lanNode = this.lanNode
    if (!swarm || !lanNode || this._mode !== 'lan') return
    if (this.lanSelf && found.host === this.lanSelf.host && found.port === this.lanSelf.port) return
    const key = `${found.host}:${found.port}`
    const isNew = !this.lanNodes.has(key)
    this.lanNodes.delete(key)
    this.lanNodes.set(key, { ...found, seenAt: Date.now() })
    if (this.lanNodes.size > MAX_LAN_NODES) this.lanNodes.delete(this.lanNodes.keys().next().value!)
    const node = { host: found.host, port: found.port }
    const dht = swarm.dht as unknown as DhtNode
    let added = false
    for (const d of [dht, lanNode]) {
      if (d.toArray().some((n) => n.host === node.host && n.port === node.port)) continue
      d.addNode(node)
      added = true
    }
    if (isNew) {
      trace(`lan: found DHT node ${key} (${found.via})`)
      this.events.emit('lan-node', found)
    }
    if (added) this.scheduleRefresh()
  }

  /** Announces and looks up every topic again (soon, once): new DHT nodes were found. */
  private scheduleRefresh(): void {
    if (this.refreshTimer || this.closing) return
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null
      const refreshes = [...this.topics.values()].map((state) => state.discovery?.refresh().catch(() => {}))
      this.announcer?.refreshAll()
      refreshes.push(this.announcer?.flushed())
      const topics = this.topics.size
      const nodes = this.lanNodes.size
      void Promise.allSettled(refreshes).then(() => trace(`lan: announced and looked up ${topics} topics again (${nodes} other DHT nodes)`))
    }, REFRESH_DEBOUNCE_MS)
  }

  private onNetworkChange(now: LanInterface[], before: LanInterface[]): void {
    if (this.closing) return
    const describe = (list: LanInterface[]) => list.map((i) => `${i.name} ${i.address}`).join(', ') || 'none'
    trace(`network change: ${describe(before)} -> ${describe(now)}`)
    const primary = now[0]?.address ?? null
    const change = `network changed to ${describe(now)}`
    if (this._mode === 'lan') {
      // Forget nodes we can no longer reach directly (a laptop that moved to another LAN).
      for (const [key, n] of this.lanNodes) if (!onLocalNetwork(n.host, now)) this.lanNodes.delete(key)
      if (primary && primary !== this.lanTarget) {
        this.lanTarget = primary
        // Our DHT node's identity is its address: a new address needs a new node (and swarm).
        // In LAN mode by fallback, a new network may have the internet: try the public DHT first.
        if (this.fallback) this.rebuild(() => this.startAuto(change))
        else this.rebuild(async () => (await this.startLan(), `${change}; LAN DHT node moved to ${primary}`))
      } else {
        // Same address (a cable out and back in) or none at all for now: listen on what is up,
        // advertise again and ask again.
        this.lanDiscovery?.update(now)
        this.scheduleRefresh()
      }
    } else if (this._mode === 'public' && this.swarm && primary && primary !== before[0]?.address) {
      // Hyperswarm follows network changes on the public DHT by itself; only check that a
      // bootstrap node still answers on the new network.
      void this.fallBackIfNoAnswer(this.swarm, change)
    }
  }

  private async fallBackIfNoAnswer(swarm: Hyperswarm, change: string): Promise<void> {
    if (await probePublicDht(this.options.lanFallbackMs ?? DEFAULT_LAN_FALLBACK_MS, this.stop.signal)) return
    if (this.closing || this.swarm !== swarm) return
    this.rebuild(async () => {
      await this.startLan()
      this.fallback = true
      return `${change}; no DHT bootstrap node answers there; switched to LAN mode (peers on this network only, found by multicast DNS)`
    })
  }

  // --- connections --------------------------------------------------------------------------------

  /**
   * Disconnects a peer that misbehaves (asked for blocks, it sent none), so its requests go to
   * the other peers, and refuses it for `forMs`: a link that broke (a cable pulled) may come
   * back, a peer that stalls again is dropped again.
   */
  dropPeer(remoteKey: Uint8Array, reason: string, forMs = DROPPED_PEER_MS): void {
    const id = bytesToHex(remoteKey)
    this.dropped.set(id, Date.now() + forMs)
    trace(`dropping peer ${id.slice(0, 8)}: ${reason}`)
    this.peerInfo.get(id)?.conn.destroy()
  }

  private onConnection(conn: SwarmConnection, remoteKey: Buffer): void {
    const id = bytesToHex(remoteKey)
    const until = this.dropped.get(id)
    if (until !== undefined && until > Date.now()) {
      conn.on('error', () => {})
      conn.destroy()
      return
    }
    this.dropped.delete(id)
    this.peerInfo.set(id, {
      publicKey: id,
      host: conn.rawStream?.remoteHost,
      port: conn.rawStream?.remotePort,
      connectedAt: Date.now(),
      conn
    })
    conn.on('error', () => {})
    conn.once('close', () => {
      if (this.peerInfo.get(id)?.conn === conn) this.peerInfo.delete(id)
      this.events.emit('peers', this.peers)
    })
    trace(`connection ${id.slice(0, 8)} ${conn.rawStream?.remoteHost ?? ''}`)
    if (this.direct) this.direct.attach(conn)
    else this.options.store.replicate(conn)
    this.events.emit('connection', conn, remoteKey)
    this.events.emit('peers', this.peers)
  }

  private requireKeyPair(): { publicKey: Buffer; secretKey: Buffer } {
    if (!this.keyPair) throw new Error('swarm is not open')
    return this.keyPair
  }
}

/**
 * A persistent DHT node (it stores announcements and routes for the others) that knows its own
 * address, like `grove bootstrap`, on a free UDP port of every interface. Resolves once it is
 * persistent: before that it answers without an id, and queries ignore such answers (an
 * announcement sent to it then would be lost). `nodes` are added after that, so that stale ones
 * cannot hold it up.
 */
async function startPersistentNode(host: string, bootstrap: BootstrapNode[], nodes: BootstrapNode[]): Promise<{ node: DhtNode; port: number }> {
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort()
    const node = HyperDHT.bootstrapper(port, host, { bootstrap, adaptiveTimeout: LAN_TIMEOUTS } as never) as unknown as DhtNode
    try {
      await node.fullyBootstrapped()
      if (node.address()?.port === port && !node.ephemeral) {
        for (const n of nodes) node.addNode(n)
        return { node, port }
      }
      lastError = new Error(`DHT node on port ${String(node.address()?.port)} (wanted ${port}) did not become persistent`)
    } catch (err) {
      lastError = err
    }
    await node.destroy().catch(() => {})
  }
  throw lastError instanceof Error ? lastError : new Error('could not start a LAN DHT node')
}

/**
 * Destroys a swarm, unannouncing its topics for up to `graceMs`; then destroys its DHT under the
 * unannouncing (which then fails at once), so no timer or socket outlives it.
 */
async function destroySwarm(swarm: Hyperswarm, graceMs: number): Promise<void> {
  const destroy = (opts?: { force?: boolean }) => (swarm as unknown as { destroy(opts?: { force?: boolean }): Promise<void> }).destroy(opts).catch(() => {})
  const graceful = destroy()
  if (!(await within(graceful, graceMs))) {
    // Pending lookups of the public bootstrap names (DNS) can take long on a dead network: they
    // are not waited for.
    await within(destroy({ force: true }), 2000)
    await within(graceful, 1000)
  }
}

/**
 * Whether a public HyperDHT bootstrap node answers a ping within `timeoutMs`. Only their IP
 * addresses are tried, not their names: a name lookup on a network without a DNS server cannot
 * be cancelled and would hold the process for tens of seconds after it is done.
 */
async function probePublicDht(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const nodes = publicBootstrapAddresses()
  if (nodes.length === 0) return false
  const probe = new HyperDHT({ bootstrap: [], ephemeral: true }) as unknown as DhtNode & { ping(node: BootstrapNode): Promise<unknown> }
  try {
    await probe.fullyBootstrapped()
    let answered = false
    const pings = Promise.any(nodes.map((node) => probe.ping(node))).then(() => { answered = true }, () => {})
    await within(pings, timeoutMs, signal)
    return answered
  } catch {
    return false
  } finally {
    await probe.destroy().catch(() => {})
  }
}

/** The public bootstrap nodes' addresses (HyperDHT lists them as `ip@name:port`). */
function publicBootstrapAddresses(): BootstrapNode[] {
  const list = (HyperDHT as unknown as { BOOTSTRAP?: unknown }).BOOTSTRAP
  if (!Array.isArray(list)) return []
  return list.flatMap((entry) => {
    const match = typeof entry === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3})(?:@[^:]+)?:(\d+)$/.exec(entry) : null
    return match ? [{ host: match[1]!, port: Number(match[2]) }] : []
  })
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

function trace(text: string): void {
  if (process.env.GROVE_TRACE) process.stderr.write(`[trace] ${Date.now()} ${text}\n`)
}
