// The part of multicast-dns (https://github.com/mafintosh/multicast-dns) that main/core/lan.ts
// uses. Records are dns-packet's: A data is an address string, PTR data a name, SRV data
// { port, target, priority, weight }, TXT data a list of strings or buffers.
declare module 'multicast-dns' {
  import type { EventEmitter } from 'node:events'
  import type { RemoteInfo } from 'node:dgram'

  export interface MdnsQuestion {
    name: string
    type: string
    class?: string
  }
  export interface MdnsRecord {
    name: string
    type: string
    ttl?: number
    class?: string
    flush?: boolean
    data?: unknown
  }
  export interface MdnsPacket {
    type?: 'query' | 'response'
    id?: number
    flags?: number
    questions?: MdnsQuestion[]
    answers?: MdnsRecord[]
    authorities?: MdnsRecord[]
    additionals?: MdnsRecord[]
  }
  export interface MdnsOptions {
    /** The multicast interface (an address of this machine) to join, send and answer on. */
    interface?: string
    /** Address to bind the socket to (default: `interface`). */
    bind?: string
    port?: number
    ip?: string
    ttl?: number
    loopback?: boolean
    reuseAddr?: boolean
    multicast?: boolean
  }
  export interface MulticastDns extends EventEmitter {
    query(packet: MdnsPacket, cb?: (err?: Error | null) => void): void
    respond(packet: MdnsPacket, cb?: (err?: Error | null) => void): void
    update(): void
    destroy(cb?: () => void): void
    on(event: 'query' | 'response', listener: (packet: MdnsPacket, rinfo: RemoteInfo) => void): this
    on(event: 'ready' | 'networkInterface', listener: () => void): this
    on(event: 'error' | 'warning', listener: (err: Error) => void): this
  }
  export default function multicastDns(opts?: MdnsOptions): MulticastDns
}
