// The renderer's one way to talk to Grove: a typed `GroveClient` (shared/api.ts) whatever
// carries it. In the desktop app the preload exposes `window.grove` (Electron IPC); in a browser
// opened on `grove serve` the same calls go over HTTP and events arrive on a WebSocket. Views
// never know which transport they are on.
import { API_CALL_PATH, API_EVENTS_PATH, type CallArgs, type CallName, type CallResult, type EventName, type EventPayload, type GroveClient } from '../../../shared/api.js'
import type { ErrorCode } from '../../../shared/errors.js'

/** Codes a call can fail with: Grove's own, plus NETWORK when Grove could not be reached at all. */
export type ClientErrorCode = ErrorCode | 'NETWORK'

/** A failed call: the coded error Grove returned (or NETWORK), with its one-line message. */
export class GroveCallError extends Error {
  readonly code: ClientErrorCode
  readonly call: string

  constructor(code: ClientErrorCode, message: string, call: string) {
    super(message)
    this.name = 'GroveCallError'
    this.code = code
    this.call = call
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed'

/**
 * Optional extras a desktop preload may add next to `call`/`on`: the real path of a file the
 * person picked or dropped (Electron's `webUtils.getPathForFile`), which `library.share` needs.
 */
export interface DesktopExtras {
  pathForFile?: (file: File) => string
}

declare global {
  interface Window {
    grove?: GroveClient & DesktopExtras
  }
}

export interface RendererClient extends GroveClient {
  readonly transport: 'electron' | 'http'
  /** The event stream's state; calls may still work while it reconnects. */
  connection(): ConnectionState
  /** Called on every change of `connection()`; returns an unsubscribe function. */
  onConnection(listener: (state: ConnectionState) => void): () => void
  /** The local path of a picked/dropped file, when the transport can know it (desktop only). */
  pathForFile(file: File): string | null
}

export function createClient(): RendererClient {
  const desktop = typeof window !== 'undefined' ? window.grove : undefined
  if (desktop && typeof desktop.call === 'function' && typeof desktop.on === 'function') return electronClient(desktop)
  return httpClient(window.location)
}

// --- Electron: the preload's window.grove -----------------------------------------------------

function electronClient(grove: GroveClient & DesktopExtras): RendererClient {
  return {
    transport: 'electron',
    async call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
      let value: unknown
      try {
        value = await grove.call(name, args)
      } catch (err) {
        throw toCallError(err, name)
      }
      return unwrapOutcome(value, name) as CallResult<N>
    },
    on: (event, listener) => grove.on(event, listener),
    connection: () => 'open',
    onConnection: () => () => {},
    pathForFile(file) {
      if (grove.pathForFile) {
        const path = grove.pathForFile(file)
        return path !== '' ? path : null
      }
      // Electron before 32 put the path on the File itself.
      const legacy = (file as File & { path?: unknown }).path
      return typeof legacy === 'string' && legacy !== '' ? legacy : null
    }
  }
}

/**
 * The preload may answer with the call's result or, like HTTP, with a `CallOutcome`
 * (`{ ok: true, result }` / `{ ok: false, error }`); no call's result has an `ok` field.
 */
function unwrapOutcome(value: unknown, call: string): unknown {
  if (value === null || typeof value !== 'object' || !('ok' in value)) return value
  const outcome = value as { ok: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } }
  if (outcome.ok === true) return outcome.result
  if (outcome.ok === false) {
    const code = typeof outcome.error?.code === 'string' ? (outcome.error.code as ClientErrorCode) : 'INTERNAL'
    throw new GroveCallError(code, typeof outcome.error?.message === 'string' ? outcome.error.message : 'The call failed', call)
  }
  return value
}

/** IPC rejections lose their class; keep a `code` if one survived, else read it from the message. */
function toCallError(err: unknown, call: string): GroveCallError {
  if (err instanceof GroveCallError) return err
  const raw = err as { code?: unknown; message?: unknown } | null
  const message = typeof raw?.message === 'string' ? raw.message : String(err)
  const code = typeof raw?.code === 'string' ? raw.code : /\b([A-Z][A-Z_]{2,})\b:/.exec(message)?.[1]
  const clean = message.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '')
  return new GroveCallError((code ?? 'INTERNAL') as ClientErrorCode, clean, call)
}

// --- HTTP + WebSocket: grove serve ------------------------------------------------------------

const TOKEN_KEY = 'grove.token'
const MAX_BACKOFF_MS = 5000

/** The access token `grove serve` printed, from `?token=` (kept for reloads in this tab). */
export function pageToken(location: Location): string | null {
  const fromUrl = new URLSearchParams(location.search).get('token')
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl)
    return fromUrl ?? sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return fromUrl
  }
}

function httpClient(location: Location): RendererClient {
  const token = pageToken(location)
  const listeners = new Map<EventName, Set<(payload: never) => void>>()
  const connectionListeners = new Set<(state: ConnectionState) => void>()
  let state: ConnectionState = 'connecting'
  let socket: WebSocket | null = null
  let attempt = 0

  const setState = (next: ConnectionState): void => {
    if (next === state) return
    state = next
    for (const l of connectionListeners) l(next)
  }

  const eventsUrl = (): string => {
    const url = new URL('.' + API_EVENTS_PATH, location.href)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.hash = ''
    url.search = token ? `?token=${encodeURIComponent(token)}` : ''
    return url.toString()
  }

  const connect = (): void => {
    setState('connecting')
    let ws: WebSocket
    try {
      ws = new WebSocket(eventsUrl())
    } catch {
      retry()
      return
    }
    socket = ws
    ws.onopen = () => {
      attempt = 0
      setState('open')
    }
    ws.onmessage = (message) => {
      if (typeof message.data !== 'string') return
      let parsed: unknown
      try {
        parsed = JSON.parse(message.data)
      } catch {
        return
      }
      if (parsed === null || typeof parsed !== 'object') return
      const { event, payload } = parsed as { event?: unknown; payload?: unknown }
      if (typeof event !== 'string') return
      const set = listeners.get(event as EventName)
      if (!set) return
      for (const l of [...set]) {
        try {
          ;(l as (p: unknown) => void)(payload)
        } catch (err) {
          console.error(`grove: a listener for "${event}" failed`, err)
        }
      }
    }
    ws.onclose = () => {
      if (socket !== ws) return
      socket = null
      setState('closed')
      retry()
    }
    ws.onerror = () => {
      // onclose follows and schedules the reconnect.
    }
  }

  const retry = (): void => {
    const delay = Math.min(MAX_BACKOFF_MS, 300 * 2 ** attempt++)
    setTimeout(connect, delay)
  }

  connect()

  return {
    transport: 'http',
    async call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
      const url = new URL('.' + API_CALL_PATH + name, location.href)
      url.hash = ''
      url.search = ''
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (token) headers.authorization = `Bearer ${token}`
      let response: Response
      try {
        response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(args ?? {}) })
      } catch {
        throw new GroveCallError('NETWORK', `Cannot reach Grove at ${location.host || 'this address'}.`, name)
      }
      let body: unknown
      try {
        body = await response.json()
      } catch {
        if (response.status === 401 || response.status === 403) {
          throw new GroveCallError(response.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', 'Grove refused the request: open the address with the ?token=… that `grove serve` printed.', name)
        }
        throw new GroveCallError('INTERNAL', `Grove answered ${response.status} ${response.statusText} without a result.`, name)
      }
      const outcome = body as { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } }
      if (outcome.ok === true && response.ok) return outcome.result as CallResult<N>
      const code = typeof outcome.error?.code === 'string' ? (outcome.error.code as ClientErrorCode) : 'INTERNAL'
      const message = typeof outcome.error?.message === 'string' ? outcome.error.message : `Grove answered ${response.status} ${response.statusText}.`
      throw new GroveCallError(code, message, name)
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      const l = listener as (payload: never) => void
      set.add(l)
      return () => {
        set.delete(l)
      }
    },
    connection: () => state,
    onConnection(listener) {
      connectionListeners.add(listener)
      return () => {
        connectionListeners.delete(listener)
      }
    },
    pathForFile: () => null
  }
}
