// The events WebSocket (API_EVENTS_PATH), on @fastify/websocket: every API event goes to every
// connected client as one `{ event, payload }` JSON text message. An upgrade passes the same
// onRequest hooks as any request (access.ts: Host, Origin, token) before it is accepted; a plain
// GET answers 426. Clients only listen; what they send is ignored (and a message over 4 KiB
// closes them). A client that stops answering pings, or falls far behind, is dropped rather than
// buffered without bound. On close every client gets 1001 and, a second later, is cut off.
import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'
import { API_EVENTS_PATH } from '../../shared/api.js'
import type { ApiEventListener } from '../api/events.js'
import { sendApiError } from './replies.js'

const PING_INTERVAL_MS = 30_000
/** A client with more than this waiting to be sent is too slow to keep. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024
/** How long closing clients get to answer the close before they are cut off. */
const CLOSE_GRACE_MS = 1000

export interface EventSource {
  onEvent(listener: ApiEventListener): () => void
}

/**
 * Registers @fastify/websocket (before any other route, so that an upgrade to another path is
 * refused rather than answered as HTTP) and the events route.
 */
export function registerEventsRoute(app: FastifyInstance, source: EventSource): void {
  const events = new EventBroadcast(source)
  app.register(fastifyWebsocket, {
    options: { maxPayload: 4096, perMessageDeflate: false },
    preClose: (done) => {
      events.close()
      done()
    }
  })
  app.register(async (scope) => {
    events.start(scope.websocketServer)
    scope.route({
      method: 'GET',
      url: API_EVENTS_PATH,
      handler: async (_request, reply) => sendApiError(reply, 426, 'BAD_INPUT', 'Open this path as a WebSocket'),
      wsHandler: (client) => events.accept(client)
    })
  })
}

class EventBroadcast {
  private wss: WebSocketServer | null = null
  private readonly alive = new WeakMap<WebSocket, boolean>()
  private unsubscribe: (() => void) | null = null
  private ping: NodeJS.Timeout | null = null

  constructor(private readonly source: EventSource) {}

  start(wss: WebSocketServer): void {
    this.wss = wss
    this.unsubscribe = this.source.onEvent((message) => {
      if (wss.clients.size === 0) return
      const text = JSON.stringify(message)
      for (const client of wss.clients) this.send(client, text)
    })
    this.ping = setInterval(() => {
      for (const client of wss.clients) {
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

  accept(client: WebSocket): void {
    this.alive.set(client, true)
    client.on('pong', () => this.alive.set(client, true))
  }

  close(): void {
    this.unsubscribe?.()
    if (this.ping) clearInterval(this.ping)
    const wss = this.wss
    if (!wss) return
    for (const client of wss.clients) client.close(1001, 'Grove is shutting down')
    setTimeout(() => {
      for (const client of wss.clients) client.terminate()
    }, CLOSE_GRACE_MS).unref()
    wss.close()
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
