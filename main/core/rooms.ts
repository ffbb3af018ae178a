// Rooms and catalog exchange. Peers who join the same room topic open a `grove/catalog`
// protomux channel on their connection (one per room) and send each other the summaries of
// the drives they seed. Everything a peer sends is bounded and schema-checked; a peer that
// floods or sends garbage is disconnected. Private rooms derive their topic from a secret and
// prove knowledge of it in the channel handshake, bound to this connection.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import c from 'compact-encoding'
import Protomux, { type Channel, type Message } from 'protomux'
import type { SwarmConnection } from 'hyperswarm'
import { Catalog } from '../../shared/catalog/store.js'
import { GroveError } from '../../shared/errors.js'
import { toCatalogMessages, type CatalogEntry } from '../../shared/catalog/wire.js'
import { bytesToHex } from '../../shared/link.js'

export const CATALOG_PROTOCOL = 'grove/catalog/v1'
/** A wire message above this is a protocol violation (1000 entries fit in far less). */
export const MAX_CATALOG_MESSAGE_BYTES = 2 * 1024 * 1024
/** More messages than this per peer and minute is a flood. */
export const MAX_MESSAGES_PER_MINUTE = 120

export type RoomKind = 'public' | 'named' | 'private'

export interface Room {
  kind: RoomKind
  /** What a person calls it ("public", the room name, or a label for a private room). */
  name: string
  topic: Buffer
  /** Private rooms only: the key that proves membership. */
  authKey?: Buffer
  /**
   * Private rooms only: the secret itself, so the room can be remembered and rebuilt at the
   * next start (see joined-rooms.ts). Never sent to peers or put in API results.
   */
  secret?: string
}

/** A room's id, as the API and the command line show it: its topic in hex. */
export function roomId(room: Room): string {
  return bytesToHex(room.topic)
}

const sha256 = (text: string) => createHash('sha256').update(text).digest()

export function publicRoom(): Room {
  return { kind: 'public', name: 'public', topic: sha256('grove/room/v1/public') }
}

export const MAX_ROOM_NAME = 100
export const MIN_ROOM_SECRET = 8
export const MAX_ROOM_SECRET = 200

export function namedRoom(name: string): Room {
  const clean = name.trim()
  if (clean.length === 0 || clean.length > MAX_ROOM_NAME) throw new Error(`A room name must be 1-${MAX_ROOM_NAME} characters`)
  return { kind: 'named', name: clean, topic: sha256(`grove/room/v1/named/${clean.toLowerCase()}`) }
}

/** A private room: only peers that know `secret` find its topic or can read its catalog. */
export function privateRoom(secret: string, label = 'private'): Room {
  if (secret.length < MIN_ROOM_SECRET || secret.length > MAX_ROOM_SECRET) {
    throw new Error(`A private room secret must be ${MIN_ROOM_SECRET}-${MAX_ROOM_SECRET} characters`)
  }
  const name = label.trim()
  if (name.length > MAX_ROOM_NAME) throw new Error(`A room label must be at most ${MAX_ROOM_NAME} characters`)
  return {
    kind: 'private',
    name: name || 'private',
    topic: sha256(`grove/room/v1/private/topic/${secret}`),
    authKey: sha256(`grove/room/v1/private/auth/${secret}`),
    secret
  }
}

/** The room a person asked for by name ("public" is the public room) or by secret; bad input is BAD_INPUT. */
export function roomAskedFor(ask: { name: string } | { secret: string; label?: string }): Room {
  try {
    if ('secret' in ask) return privateRoom(ask.secret, ask.label)
    return ask.name.trim().toLowerCase() === 'public' ? publicRoom() : namedRoom(ask.name)
  } catch (err) {
    throw new GroveError('BAD_INPUT', (err as Error).message)
  }
}

interface PeerChannel {
  room: Room
  channel: Channel
  catalog: Message
  peerId: string
  authenticated: boolean
  messageTimes: number[]
}

export interface ExchangeEvents {
  /** A peer's entries changed the catalog (for the UI and for manifest verification). */
  onEntries?(peerId: string, entries: number): void
  onViolation?(peerId: string, reason: string): void
}

export class CatalogExchange {
  private readonly rooms = new Map<string, Room>()
  private readonly connections = new Set<SwarmConnection>()
  private readonly channels = new Set<PeerChannel>()

  constructor(
    readonly catalog: Catalog,
    private readonly localEntries: () => CatalogEntry[],
    private readonly events: ExchangeEvents = {}
  ) {}

  get joinedRooms(): Room[] {
    return [...this.rooms.values()]
  }

  /** Peers we exchange catalogs with, per room. */
  peersIn(room: Room): string[] {
    return [...this.channels].filter((ch) => ch.room === room && ch.authenticated).map((ch) => ch.peerId)
  }

  addRoom(room: Room): void {
    const id = bytesToHex(room.topic)
    if (this.rooms.has(id)) return
    this.rooms.set(id, room)
    for (const conn of this.connections) this.openChannel(conn, room)
  }

  removeRoom(room: Room): void {
    this.rooms.delete(bytesToHex(room.topic))
    for (const ch of [...this.channels]) if (ch.room === room) ch.channel.close()
  }

  /** Call for every swarm connection (after the corestore has replicated onto it). */
  attach(conn: SwarmConnection, remoteKey: Buffer): void {
    this.connections.add(conn)
    const peerId = bytesToHex(remoteKey)
    conn.once('close', () => {
      this.connections.delete(conn)
      this.catalog.removePeer(peerId)
    })
    for (const room of this.rooms.values()) this.openChannel(conn, room)
  }

  /** Sends our current catalog to every peer (after a share or a fetch). */
  broadcast(): void {
    for (const ch of this.channels) if (ch.authenticated) this.sendCatalog(ch)
  }

  private openChannel(conn: SwarmConnection, room: Room): void {
    const mux = Protomux.from(conn)
    const peerId = bytesToHex(conn.remotePublicKey)
    let state: PeerChannel | null = null
    const channel = mux.createChannel({
      protocol: CATALOG_PROTOCOL,
      id: room.topic,
      handshake: c.buffer,
      onopen: (proof: Uint8Array | null) => {
        if (!state) return
        if (room.authKey && !this.proofMatches(room, conn, proof)) {
          this.violation(conn, peerId, `bad proof for private room ${room.name}`)
          return
        }
        state.authenticated = true
        this.sendCatalog(state)
      },
      onclose: () => {
        if (state) this.channels.delete(state)
      }
    })
    if (!channel) return
    const catalogMessage = channel.addMessage({
      encoding: c.buffer,
      onmessage: (bytes: Uint8Array) => {
        if (state) this.onCatalogMessage(conn, state, bytes)
      }
    })
    state = { room, channel, catalog: catalogMessage, peerId, authenticated: false, messageTimes: [] }
    this.channels.add(state)
    channel.open(room.authKey ? this.proof(room, conn.handshakeHash) : Buffer.alloc(0))
  }

  private onCatalogMessage(conn: SwarmConnection, ch: PeerChannel, bytes: Uint8Array | null): void {
    if (!ch.authenticated) return this.violation(conn, ch.peerId, 'catalog before handshake')
    const now = Date.now()
    ch.messageTimes = ch.messageTimes.filter((t) => now - t < 60_000)
    ch.messageTimes.push(now)
    if (ch.messageTimes.length > MAX_MESSAGES_PER_MINUTE) return this.violation(conn, ch.peerId, 'too many catalog messages')
    if (!bytes || bytes.length > MAX_CATALOG_MESSAGE_BYTES) return this.violation(conn, ch.peerId, 'oversized catalog message')
    let data: unknown
    try {
      data = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
    } catch {
      return this.violation(conn, ch.peerId, 'catalog message is not JSON')
    }
    const report = this.catalog.applyMessage(ch.peerId, data)
    if (report.quotaExceeded) return this.violation(conn, ch.peerId, 'catalog quota exceeded')
    if (report.rejected > 0 && report.accepted === 0) return this.violation(conn, ch.peerId, `malformed catalog: ${report.errors[0] ?? ''}`)
    if (report.accepted > 0) this.events.onEntries?.(ch.peerId, report.accepted)
  }

  private sendCatalog(ch: PeerChannel): void {
    for (const message of toCatalogMessages(this.localEntries())) {
      ch.catalog.send(Buffer.from(JSON.stringify(message)))
    }
  }

  private proof(room: Room, handshakeHash: Buffer | undefined): Buffer {
    return createHmac('sha256', room.authKey!).update(handshakeHash ?? Buffer.alloc(0)).digest()
  }

  private proofMatches(room: Room, conn: SwarmConnection, proof: Uint8Array | null): boolean {
    if (!proof || proof.length !== 32 || !conn.handshakeHash) return false
    return timingSafeEqual(proof, this.proof(room, conn.handshakeHash))
  }

  private violation(conn: SwarmConnection, peerId: string, reason: string): void {
    this.events.onViolation?.(peerId, reason)
    this.catalog.removePeer(peerId)
    conn.destroy()
  }
}
