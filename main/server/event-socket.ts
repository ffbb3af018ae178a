// The events WebSocket (API_EVENTS_PATH): every API event goes to every connected client as one
// `{ event, payload }` JSON text message. Clients only listen; what they send is ignored (and a
// large message closes them). A client that stops answering pings, or falls far behind, is
// dropped rather than buffered without bound.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { ApiEventListener } from '../api/events.js'

const PING_INTERVAL_MS = 30_000
/** A client with more than this waiting to be sent is too slow to keep. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024

export interface EventSource {
  onEvent(listener: ApiEventListener): () => void
}

export class EventSocket {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false })
  private readonly alive = new WeakMap<WebSocket, boolean>()
  private readonly unsubscribe: () => void
  private readonly ping: NodeJS.Timeout

  constructor(source: EventSource) {
    this.unsubscribe = source.onEvent((message) => {
      if (this.wss.clients.size === 0) return
      const text = JSON.stringify(message)
      for (const client of this.wss.clients) this.send(client, text)
    })
    this.ping = setInterval(() => {
      for (const client of this.wss.clients) {
        if (this.alive.get(client) === false) {
          client.terminate()
          continue
        }
        this.alive.set(client, false)
        client.ping()
      }
    }, PING_INTERVAL_MS)
    this.ping.unref()
  }

  get clientCount(): number {
    return this.wss.clients.size
  }

  /** Completes an upgrade the server has already checked (Host, Origin, token). */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (client) => {
      this.alive.set(client, true)
      client.on('pong', () => this.alive.set(client, true))
      client.on('error', () => client.terminate())
      this.wss.emit('connection', client, req)
    })
  }

  close(): void {
    this.unsubscribe()
    clearInterval(this.ping)
    for (const client of this.wss.clients) client.close(1001, 'Grove is shutting down')
    setTimeout(() => {
      for (const client of this.wss.clients) client.terminate()
    }, 1000).unref()
    this.wss.close()
  }

  private send(client: WebSocket, text: string): void {
    if (client.readyState !== client.OPEN) return
    if (client.bufferedAmount > MAX_BUFFERED_BYTES) {
      client.terminate()
      return
    }
    client.send(text)
  }
}
