// HTTP at the byte level for tests of request hygiene: the request line and headers go out as
// written (two Host headers, a malformed escape, a tab in the path, two Content-Length headers),
// so a test keeps holding whatever framework parses requests on the server side.
import { connect, type Socket } from 'node:net'
import { withTimeout } from './harness.js'

export interface RawReply {
  status: number
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
  json: unknown
}

export interface RawRequest {
  method?: string
  /** The request target exactly as sent. */
  target: string
  /** Header lines as sent, in order (repeats allowed); `Connection: close` is added. */
  headers?: Array<[string, string]>
  body?: string
}

/** Sends one request on a fresh connection and reads the reply until the server closes it. */
export function rawRequest(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawReply> {
  const body = request.body ?? ''
  const lines = [`${request.method ?? 'GET'} ${request.target} HTTP/1.1`, ...(request.headers ?? []).map(([name, value]) => `${name}: ${value}`), 'Connection: close']
  if (body.length > 0) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return rawSend(port, `${lines.join('\r\n')}\r\n\r\n${body}`, timeoutMs, `${request.method ?? 'GET'} ${request.target}`)
}

/** Sends these bytes exactly (nothing added) on a fresh connection and reads the reply until the server closes it. */
export function rawSend(port: number, bytes: string | Buffer, timeoutMs = 10_000, what = 'the request'): Promise<RawReply> {
  const connection = rawConnection(port, timeoutMs, what)
  // write, not end: Node's server takes a half-closed connection for a client that left.
  connection.socket.write(bytes)
  return connection.reply
}

export interface RawConnection {
  /** Write the request to it, at any pace. */
  socket: Socket
  /** The server's reply, once the server has closed the connection (or `timeoutMs` passed). */
  reply: Promise<RawReply>
}

/**
 * A fresh connection for a request the test writes itself. A connection the server resets after
 * it answered (it stopped reading a body the test was still sending) still yields the answer.
 */
export function rawConnection(port: number, timeoutMs = 10_000, what = 'the request'): RawConnection {
  const socket = connect(port, '127.0.0.1')
  const reply = new Promise<RawReply>((resolve, reject) => {
    const chunks: Buffer[] = []
    let failure: Error | undefined
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (err) => {
      failure = err
    })
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const split = raw.indexOf('\r\n\r\n')
      if (split < 0) return reject(failure ?? new Error(`no HTTP reply to ${what}: ${JSON.stringify(raw.slice(0, 200))}`))
      resolve(parseReply(raw, split))
    })
  })
  return {
    socket,
    reply: withTimeout(reply, timeoutMs, () => {
      socket.destroy()
      return `no reply to ${what} within ${timeoutMs} ms`
    })
  }
}

function parseReply(raw: string, split: number): RawReply {
  const [statusLine = '', ...headerLines] = raw.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let payload = raw.slice(split + 4)
  if (headers['transfer-encoding'] === 'chunked') payload = unchunk(payload)
  let json: unknown = null
  try {
    json = JSON.parse(payload)
  } catch {
    // not JSON
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: payload, json }
}

function unchunk(text: string): string {
  let out = ''
  let rest = text
  for (;;) {
    const eol = rest.indexOf('\r\n')
    if (eol < 0) return out
    const size = parseInt(rest.slice(0, eol), 16)
    if (!(size > 0)) return out
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
}
