// Offline LAN discovery. With no internet the public HyperDHT bootstrap nodes are unreachable,
// so in LAN mode every Grove runs a DHT node of its own and advertises it (host:port) by
// multicast DNS: queries and answers go to 224.0.0.251:5353, which is link-local (routers never
// forward it), so discovery never leaves the local network. Each instance asks for the others'
// nodes when it starts, again with growing intervals (1 s doubling to a minute), and at once
// whenever its network changes, and it answers every query with its own node: two islands merge
// on the next query and a laptop that moved is found on its new LAN.
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import type { RemoteInfo } from 'node:dgram'
import multicastDns, { type MdnsPacket, type MdnsRecord, type MulticastDns } from 'multicast-dns'

/** The DNS-SD service name Grove's DHT nodes are advertised under. */
export const LAN_SERVICE = '_grove-dht._udp.local'
const RECORD_TTL_S = 120
const FIRST_QUERY_INTERVAL_MS = 1000
const MAX_QUERY_INTERVAL_MS = 60_000
/** At most one multicast answer per interface per second (RFC 6762, 6). */
const ANSWER_INTERVAL_MS = 1000
/** Interface names of virtual networks (containers, VMs, VPNs): used, but never preferred. */
const VIRTUAL_INTERFACE = /^(docker|br-|veth|virbr|vboxnet|vmnet|cni|flannel|cali|podman|lxcbr|lxdbr|zt|tailscale|utun|wg|tun|tap)/i

export interface LanInterface {
  name: string
  address: string
  netmask: string
}

export interface LanNode {
  /** The advertising instance (random per process). */
  id: string
  host: string
  port: number
  /** The interface it was heard on. */
  via: string
}

/** This machine's IPv4 LAN interfaces that are up, the preferred one (private, physical) first. */
export function lanInterfaces(): LanInterface[] {
  const found: LanInterface[] = []
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue
      found.push({ name, address: a.address, netmask: a.netmask })
    }
  }
  return found.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name) || a.address.localeCompare(b.address))
}

function rank(iface: LanInterface): number {
  const virtual = VIRTUAL_INTERFACE.test(iface.name) ? 10 : 0
  if (isPrivateIPv4(iface.address)) return virtual
  if (iface.address.startsWith('169.254.')) return virtual + 1 // link-local: a LAN with no DHCP
  return virtual + 2
}

export function isPrivateIPv4(address: string): boolean {
  const n = ipv4ToInt(address)
  if (n === null) return false
  return (n >>> 24) === 10 || (n >>> 20) === ((172 << 4) | 1) || (n >>> 16) === ((192 << 8) | 168)
}

export function ipv4ToInt(address: string): number | null {
  const parts = address.split('.')
  if (parts.length !== 4) return null
  let n = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null
    n = n * 256 + Number(part)
  }
  return n >>> 0
}

/** Whether `host` is on the subnet of `iface` (an IPv4 address and netmask). */
export function onSubnet(host: string, iface: LanInterface): boolean {
  const h = ipv4ToInt(host)
  const a = ipv4ToInt(iface.address)
  const m = ipv4ToInt(iface.netmask)
  if (h === null || a === null || m === null) return false
  return ((h & m) >>> 0) === ((a & m) >>> 0)
}

/** Whether `host` is on one of this machine's LAN subnets (or is this machine's loopback). */
export function onLocalNetwork(host: string, interfaces: LanInterface[] = lanInterfaces()): boolean {
  if (host.startsWith('127.')) return true
  return interfaces.some((iface) => onSubnet(host, iface))
}

/** What identifies a set of interfaces: changes when an address comes, goes or moves. */
export function interfacesSignature(interfaces: LanInterface[]): string {
  return interfaces.map((i) => `${i.name}/${i.address}/${i.netmask}`).join(',')
}

interface InterfaceSocket {
  iface: LanInterface
  mdns: MulticastDns
  lastAnswer: number
  answerTimer: NodeJS.Timeout | null
}

export interface LanDiscoveryOptions {
  /** The DHT node's UDP port to advertise (the address is each interface's own), or null for none. */
  advertisedPort: () => number | null
  /** The mDNS port (5353; tests may isolate themselves on another). */
  mdnsPort?: number
}

/**
 * Advertises this instance's DHT node and finds the others' on every LAN interface. Emits
 * 'node' (LanNode) for each answer from another instance, every time one is heard.
 */
export class LanDiscovery extends EventEmitter {
  readonly id = randomBytes(8).toString('hex')
  private readonly sockets = new Map<string, InterfaceSocket>()
  private queryTimer: NodeJS.Timeout | null = null
  private queryDelay = FIRST_QUERY_INTERVAL_MS
  private closed = false

  constructor(private readonly options: LanDiscoveryOptions) {
    super()
  }

  private get instanceName(): string {
    return `${this.id}.${LAN_SERVICE}`
  }

  private get targetName(): string {
    return `grove-${this.id}.local`
  }

  /**
   * Listens on exactly these interfaces (opening and closing sockets as they come and go),
   * announces our node on each and starts asking again from the shortest interval.
   */
  update(interfaces: LanInterface[]): void {
    if (this.closed) return
    const wanted = new Map(interfaces.map((i) => [`${i.name}/${i.address}/${i.netmask}`, i]))
    for (const [key, socket] of this.sockets) {
      if (wanted.has(key)) continue
      this.sockets.delete(key)
      closeSocket(socket)
    }
    for (const [key, iface] of wanted) {
      if (!this.sockets.has(key)) this.sockets.set(key, this.openSocket(iface))
    }
    this.kick()
  }

  /** Asks now, announces now, and restarts the query back-off. */
  kick(): void {
    if (this.closed) return
    this.queryDelay = FIRST_QUERY_INTERVAL_MS
    if (this.queryTimer) clearTimeout(this.queryTimer)
    this.queryTimer = null
    for (const socket of this.sockets.values()) this.answer(socket)
    this.queryAndSchedule()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.queryTimer) clearTimeout(this.queryTimer)
    this.queryTimer = null
    for (const socket of this.sockets.values()) closeSocket(socket)
    this.sockets.clear()
    this.removeAllListeners('node')
  }

  private openSocket(iface: LanInterface): InterfaceSocket {
    // Bound to 0.0.0.0 (Linux delivers multicast only to wildcard or group-bound sockets), with
    // membership and outgoing multicast on this one interface.
    const mdns = multicastDns({ interface: iface.address, bind: '0.0.0.0', port: this.options.mdnsPort ?? 5353, reuseAddr: true, loopback: true, ttl: 255 })
    const socket: InterfaceSocket = { iface, mdns, lastAnswer: 0, answerTimer: null }
    mdns.on('error', (err) => this.emit('warning', err))
    mdns.on('warning', () => {})
    mdns.on('query', (packet, rinfo) => this.onQuery(socket, packet, rinfo))
    mdns.on('response', (packet, rinfo) => this.onResponse(socket, packet, rinfo))
    return socket
  }

  private queryAndSchedule(): void {
    if (this.closed) return
    for (const { mdns } of this.sockets.values()) mdns.query({ questions: [{ name: LAN_SERVICE, type: 'PTR' }] }, () => {})
    this.queryTimer = setTimeout(() => this.queryAndSchedule(), this.queryDelay)
    this.queryTimer.unref()
    this.queryDelay = Math.min(MAX_QUERY_INTERVAL_MS, this.queryDelay * 2)
  }

  private onQuery(socket: InterfaceSocket, packet: MdnsPacket, rinfo: RemoteInfo): void {
    // Every wildcard-bound socket hears every group member's traffic: answer only our subnet.
    if (!onSubnet(rinfo.address, socket.iface)) return
    const asks = (packet.questions ?? []).some((q) => q.name.toLowerCase() === LAN_SERVICE && (q.type === 'PTR' || q.type === 'ANY'))
    if (asks) this.answer(socket)
  }

  /** Sends our records on this interface, at most once a second (later calls coalesce). */
  private answer(socket: InterfaceSocket): void {
    if (this.closed || socket.answerTimer) return
    const wait = socket.lastAnswer + ANSWER_INTERVAL_MS - Date.now()
    if (wait > 0) {
      socket.answerTimer = setTimeout(() => {
        socket.answerTimer = null
        this.answer(socket)
      }, wait)
      socket.answerTimer.unref()
      return
    }
    const port = this.options.advertisedPort()
    if (!port) return
    socket.lastAnswer = Date.now()
    socket.mdns.respond(
      {
        answers: [{ name: LAN_SERVICE, type: 'PTR', ttl: RECORD_TTL_S, data: this.instanceName }],
        additionals: [
          { name: this.instanceName, type: 'SRV', ttl: RECORD_TTL_S, flush: true, data: { port, target: this.targetName, priority: 0, weight: 0 } },
          { name: this.instanceName, type: 'TXT', ttl: RECORD_TTL_S, flush: true, data: ['v=1'] },
          { name: this.targetName, type: 'A', ttl: RECORD_TTL_S, flush: true, data: socket.iface.address }
        ]
      },
      () => {}
    )
  }

  private onResponse(socket: InterfaceSocket, packet: MdnsPacket, rinfo: RemoteInfo): void {
    if (!onSubnet(rinfo.address, socket.iface)) return
    for (const node of parseNodes(packet, rinfo)) {
      if (node.id === this.id) continue
      // Only nodes on this interface's own subnet: LAN mode never talks to anything further away.
      if (!onSubnet(node.host, socket.iface)) continue
      this.emit('node', { ...node, via: socket.iface.name })
    }
  }
}

/** The Grove DHT nodes a DNS response advertises (PTR → SRV → A, else the sender's address). */
export function parseNodes(packet: MdnsPacket, rinfo: Pick<RemoteInfo, 'address'>): Array<Omit<LanNode, 'via'>> {
  const records: MdnsRecord[] = [...(packet.answers ?? []), ...(packet.additionals ?? [])]
  const srv = new Map<string, { port: number; target: string }>()
  const addresses = new Map<string, string>()
  for (const r of records) {
    const name = r.name.toLowerCase()
    if (r.type === 'SRV' && isSrv(r.data)) srv.set(name, { port: r.data.port, target: r.data.target.toLowerCase() })
    if (r.type === 'A' && typeof r.data === 'string') addresses.set(name, r.data)
  }
  const nodes: Array<Omit<LanNode, 'via'>> = []
  for (const r of records) {
    if (r.type !== 'PTR' || r.name.toLowerCase() !== LAN_SERVICE || typeof r.data !== 'string' || r.ttl === 0) continue
    const instance = r.data.toLowerCase()
    if (!instance.endsWith(`.${LAN_SERVICE}`)) continue
    const id = instance.slice(0, -(LAN_SERVICE.length + 1))
    const service = srv.get(instance)
    if (!/^[0-9a-f]{16}$/.test(id) || !service || !(service.port > 0 && service.port < 65536)) continue
    const host = addresses.get(service.target) ?? rinfo.address
    if (ipv4ToInt(host) === null) continue
    nodes.push({ id, host, port: service.port })
  }
  return nodes
}

function isSrv(data: unknown): data is { port: number; target: string } {
  const d = data as { port?: unknown; target?: unknown } | null
  return typeof d === 'object' && d !== null && typeof d.port === 'number' && typeof d.target === 'string'
}

function closeSocket(socket: InterfaceSocket): void {
  if (socket.answerTimer) clearTimeout(socket.answerTimer)
  socket.answerTimer = null
  socket.mdns.removeAllListeners('query')
  socket.mdns.removeAllListeners('response')
  socket.mdns.destroy()
}

/** Polls the interfaces (cheap: one getifaddrs) and emits 'change' when the LAN addresses change. */
export class NetworkWatcher extends EventEmitter {
  private timer: NodeJS.Timeout | null = null
  private signature: string
  current: LanInterface[]

  constructor(private readonly intervalMs: number) {
    super()
    this.current = lanInterfaces()
    this.signature = interfacesSignature(this.current)
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => this.poll(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.removeAllListeners('change')
  }

  /** Checks now; emits 'change' (current, previous) if anything moved. */
  poll(): void {
    const now = lanInterfaces()
    const signature = interfacesSignature(now)
    if (signature === this.signature) return
    const previous = this.current
    this.current = now
    this.signature = signature
    this.emit('change', now, previous)
  }
}
