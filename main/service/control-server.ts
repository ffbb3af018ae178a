// The service end of a home's control channel (./protocol.ts): accepts the home owner's clients
// on a socket only they can open, answers API calls through the same endpoint the HTTP server
// and Electron use, pushes events to those that subscribe, and runs forwarded `grove` commands,
// streaming their output back. A client that goes away cancels only its own commands.
import { lstat, mkdir, rm, chmod } from 'node:fs/promises'
import net from 'node:net'
import split2 from 'split2'
import { GroveError } from '../../shared/errors.js'
import type { ApiEndpoint } from '../api/events.js'
import type { ControlEndpoint } from './endpoint.js'
import { ClientMessage, encode, MAX_CONNECTIONS, MAX_IN_FLIGHT, MAX_LINE_BYTES, type ServiceInfo, type ServiceMessage } from './protocol.js'

/** A `grove` command the service runs for a client. */
export interface ForwardedCommand {
  argv: string[]
  title: string
  cwd: string
  interactive: boolean
  columns?: number
  stdin?: string
}

export interface CommandStreams {
  stdout(text: string): void
  stderr(text: string): void
}

/** Runs one forwarded command to its end and gives its exit status; `signal` is the client's Ctrl-C or departure. */
export type CommandRunner = (command: ForwardedCommand, streams: CommandStreams, signal: AbortSignal) => Promise<number>

export interface ControlServerOptions {
  endpoint: ControlEndpoint
  info: ServiceInfo
  api: ApiEndpoint
  runCommand: CommandRunner
}

/** A client that lets this much output pile up unread is dropped (events outpace a stalled reader). */
const MAX_UNREAD_BYTES = 64 * 1024 * 1024

export class ControlServer {
  private readonly server = net.createServer((socket) => this.accept(socket))
  private readonly connections = new Set<ClientConnection>()
  private listening = false

  constructor(private readonly options: ControlServerOptions) {}

  get path(): string {
    return this.options.endpoint.path
  }

  /**
   * Listens on the home's endpoint. Call only while holding the home's lock: a socket file left
   * there belongs to a process that died, and is removed.
   */
  async listen(): Promise<void> {
    const { endpoint } = this.options
    if (!endpoint.isPipe) {
      if (endpoint.privateDir) await ensurePrivateDir(endpoint.privateDir)
      await removeStaleSocket(endpoint.path)
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      // The socket is created with mode 0600 from the start: no moment where another user can connect.
      const umask = endpoint.isPipe ? null : process.umask(0o177)
      try {
        this.server.listen(endpoint.path, () => {
          this.server.off('error', reject)
          resolve()
        })
      } finally {
        if (umask !== null) process.umask(umask)
      }
    })
    this.listening = true
    if (!endpoint.isPipe) await chmod(endpoint.path, 0o600)
  }

  async close(): Promise<void> {
    if (!this.listening) return
    this.listening = false
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const connection of this.connections) connection.close()
    await closed
    if (!this.options.endpoint.isPipe) await rm(this.options.endpoint.path, { force: true }).catch(() => {})
  }

  private accept(socket: net.Socket): void {
    if (this.connections.size >= MAX_CONNECTIONS) {
      socket.end(encode({ t: 'refused', error: { code: 'BUSY', message: `This Grove already has ${MAX_CONNECTIONS} clients connected` } }))
      return
    }
    const connection = new ClientConnection(socket, this.options)
    this.connections.add(connection)
    socket.once('close', () => {
      this.connections.delete(connection)
      connection.destroy()
    })
  }
}

class ClientConnection {
  private readonly commands = new Map<number, AbortController>()
  private inFlight = 0
  private unsubscribe: (() => void) | null = null
  private closed = false

  constructor(
    private readonly socket: net.Socket,
    private readonly options: ControlServerOptions
  ) {
    socket.on('error', () => this.destroy())
    const lines = socket.pipe(split2({ maxLength: MAX_LINE_BYTES }))
    lines.on('data', (line: string) => this.receive(line))
    lines.on('error', () => {
      this.send({ t: 'refused', error: { code: 'BAD_INPUT', message: `A control message was over ${MAX_LINE_BYTES} bytes` } })
      this.close()
    })
    this.send({ t: 'hello', info: options.info })
  }

  /** The service is stopping: cancels this client's commands and lets what was written reach it. */
  close(): void {
    for (const command of this.commands.values()) command.abort()
    this.socket.end()
    setTimeout(() => this.destroy(), 1000).unref()
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe?.()
    this.unsubscribe = null
    for (const command of this.commands.values()) command.abort()
    this.commands.clear()
    this.socket.destroy()
  }

  private send(message: ServiceMessage): void {
    if (this.closed || this.socket.destroyed) return
    if (this.socket.writableLength > MAX_UNREAD_BYTES) return this.destroy()
    this.socket.write(encode(message))
  }

  private receive(line: string): void {
    if (line.length === 0) return
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch {
      return this.send({ t: 'refused', error: { code: 'BAD_INPUT', message: 'A control message was not JSON' } })
    }
    const parsed = ClientMessage.safeParse(raw)
    if (!parsed.success) return this.send({ t: 'refused', error: { code: 'BAD_INPUT', message: 'A control message did not follow the protocol' } })
    const message = parsed.data
    switch (message.t) {
      case 'subscribe':
        this.unsubscribe ??= this.options.api.onEvent((event) => this.send({ t: 'event', event: event.event, payload: event.payload }))
        return
      case 'cancel':
        this.commands.get(message.id)?.abort()
        return
      case 'call':
        if (!this.admit(message.id)) return
        void this.options.api
          .dispatch(message.name, message.args)
          .then((outcome) => this.send(outcome.ok ? { t: 'result', id: message.id, ok: true, result: outcome.result } : { t: 'result', id: message.id, ok: false, error: outcome.error }))
          .finally(() => this.inFlight--)
        return
      case 'command': {
        if (!this.admit(message.id)) return
        if (this.commands.has(message.id)) {
          this.inFlight--
          return this.send({ t: 'refused', id: message.id, error: { code: 'BAD_INPUT', message: `Command ${message.id} is already running` } })
        }
        const stop = new AbortController()
        this.commands.set(message.id, stop)
        const { id, argv, title, cwd, interactive, columns, stdin } = message
        const streams: CommandStreams = {
          stdout: (data) => this.send({ t: 'out', id, stream: 'stdout', data }),
          stderr: (data) => this.send({ t: 'out', id, stream: 'stderr', data })
        }
        void this.options
          .runCommand({ argv, title, cwd, interactive, columns, stdin }, streams, stop.signal)
          .catch(() => 1)
          .then((code) => this.send({ t: 'exit', id, code }))
          .finally(() => {
            this.commands.delete(id)
            this.inFlight--
          })
        return
      }
    }
  }

  private admit(id: number): boolean {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.send({ t: 'refused', id, error: { code: 'BUSY', message: `At most ${MAX_IN_FLIGHT} calls and commands at once per client` } })
      return false
    }
    this.inFlight++
    return true
  }
}

/** The folder for sockets of homes with long paths: ours alone, or we refuse to use it. */
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const info = await lstat(dir)
  const uid = typeof process.getuid === 'function' ? process.getuid() : info.uid
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o077) !== 0) {
    throw new GroveError('FORBIDDEN', `${dir} must be a folder of this user's with mode 0700 (it holds Grove's control sockets)`)
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null)
  if (!info) return
  if (!info.isSocket()) throw new GroveError('IN_USE', `${path} is in the way of Grove's control socket (it is not a socket); move it away`)
  await rm(path, { force: true })
}
