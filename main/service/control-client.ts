// The client end of a home's control channel (./protocol.ts): finds the Grove that owns a home,
// calls its API (results checked against shared/api.ts, as the service checked the arguments),
// receives its events, and runs commands in it. When the service goes away mid-call, whatever
// waits on it ends at once with a clear error.
import net from 'node:net'
import split2 from 'split2'
import { Calls, EventMessage, Events, type CallArgs, type CallName, type CallOutcome, type CallResult } from '../../shared/api.js'
import { GroveError } from '../../shared/errors.js'
import type { ApiEndpoint, ApiEvent, ApiEventListener } from '../api/events.js'
import type { HomeLayout } from '../core/home.js'
import { controlEndpoint } from './endpoint.js'
import { encode, MAX_LINE_BYTES, ServiceMessage, CONTROL_PROTOCOL_VERSION, type ClientMessage, type ServiceInfo } from './protocol.js'
import type { CommandStreams, ForwardedCommand } from './control-server.js'

/** How long a service has to say hello once connected (it answers from its event loop at once). */
const HELLO_TIMEOUT_MS = 5000

export interface RunningCommand {
  /** The command's exit status, once it ends. */
  readonly exit: Promise<number>
  /** Ctrl-C: asks the service to cancel this command (it still ends with an exit status). */
  cancel(): void
}

export class ServiceConnection implements ApiEndpoint {
  private nextId = 1
  private readonly calls = new Map<number, (outcome: CallOutcome<CallName>) => void>()
  private readonly commands = new Map<number, { streams: CommandStreams; done: (code: number) => void; fail: (err: Error) => void }>()
  private readonly listeners = new Set<ApiEventListener>()
  private subscribed = false
  private lost: GroveError | null = null

  private constructor(
    private readonly socket: net.Socket,
    readonly info: ServiceInfo
  ) {}

  /**
   * Connects to the Grove that owns `home`, or gives null when none runs there (no socket, or one
   * a killed process left behind: nobody listens on it).
   */
  static async connect(home: HomeLayout): Promise<ServiceConnection | null> {
    const endpoint = controlEndpoint(home)
    const socket = await new Promise<net.Socket | null>((resolve, reject) => {
      const s = net.connect(endpoint.path)
      s.once('connect', () => {
        s.off('error', onError)
        resolve(s)
      })
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') resolve(null)
        else if (err.code === 'EACCES' || err.code === 'EPERM') reject(new GroveError('FORBIDDEN', `Grove's control socket ${endpoint.path} belongs to another user`))
        else reject(new GroveError('INTERNAL', `Could not reach the Grove running on ${home.root}: ${err.message}`))
      }
      s.once('error', onError)
    })
    if (!socket) return null
    const lines = socket.pipe(split2({ maxLength: MAX_LINE_BYTES }))
    const info = await new Promise<ServiceInfo>((resolve, reject) => {
      const timer = setTimeout(() => fail(new GroveError('TIMEOUT', `The Grove running on ${home.root} did not answer on its control socket within ${HELLO_TIMEOUT_MS / 1000} s`)), HELLO_TIMEOUT_MS)
      const fail = (err: Error) => {
        clearTimeout(timer)
        lines.off('data', onLine)
        socket.destroy()
        reject(err)
      }
      const onLine = (line: string) => {
        const message = parseServiceMessage(line)
        if (message?.t === 'refused') return fail(new GroveError(message.error.code, message.error.message))
        if (message?.t !== 'hello') return fail(new GroveError('INTERNAL', `The Grove running on ${home.root} did not greet as a Grove service`))
        if (message.info.protocol !== CONTROL_PROTOCOL_VERSION) {
          return fail(new GroveError('IN_USE', `The Grove running on ${home.root} (pid ${message.info.pid}, version ${message.info.version}) speaks another control protocol; stop it with that version's \`grove stop\``))
        }
        clearTimeout(timer)
        lines.off('data', onLine)
        resolve(message.info)
      }
      lines.on('data', onLine)
      socket.once('close', () => fail(new GroveError('CLOSED', `The Grove running on ${home.root} closed its control socket`)))
      lines.once('error', () => fail(new GroveError('INTERNAL', 'The Grove service sent a line over the size limit')))
    })
    const connection = new ServiceConnection(socket, info)
    connection.attach(lines)
    return connection
  }

  // --- the API contract (what Electron's IPC and the HTTP server also take) ----------------------

  async dispatch(name: string, args: unknown): Promise<CallOutcome<CallName>> {
    if (this.lost) return { ok: false, error: { code: this.lost.code, message: this.lost.message } }
    const id = this.nextId++
    const outcome = await new Promise<CallOutcome<CallName>>((resolve) => {
      this.calls.set(id, resolve)
      this.write({ t: 'call', id, name, args })
    })
    if (!outcome.ok) return outcome
    const spec = (Calls as Record<string, { result: { safeParse(v: unknown): { success: boolean; data?: unknown } } }>)[name]
    const checked = spec?.result.safeParse(outcome.result)
    if (!checked?.success) return { ok: false, error: { code: 'INTERNAL', message: `The Grove service answered ${name.slice(0, 100)} outside the API contract` } }
    return { ok: true, result: checked.data } as CallOutcome<CallName>
  }

  /** The typed client: throws a GroveError on failure. */
  async call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    const outcome = await this.dispatch(name, args)
    if (!outcome.ok) throw new GroveError(outcome.error.code, outcome.error.message)
    return outcome.result as CallResult<N>
  }

  onEvent(listener: ApiEventListener): () => void {
    this.listeners.add(listener)
    if (!this.subscribed) {
      this.subscribed = true
      this.write({ t: 'subscribe' })
    }
    return () => this.listeners.delete(listener)
  }

  // --- commands ----------------------------------------------------------------------------------

  runCommand(command: ForwardedCommand, streams: CommandStreams): RunningCommand {
    const id = this.nextId++
    const exit = new Promise<number>((resolve, reject) => {
      if (this.lost) return reject(this.lost)
      this.commands.set(id, { streams, done: resolve, fail: reject })
      this.write({ t: 'command', id, ...command })
    })
    return { exit, cancel: () => this.write({ t: 'cancel', id }) }
  }

  /** Resolves when the service closes the connection (it stopped), or after `timeoutMs`. */
  closed(timeoutMs: number): Promise<boolean> {
    if (this.socket.destroyed) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.socket.once('close', () => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  close(): void {
    this.socket.destroy()
  }

  private write(message: ClientMessage): void {
    if (!this.socket.destroyed) this.socket.write(encode(message))
  }

  private attach(lines: NodeJS.ReadableStream): void {
    lines.on('data', (line: string) => this.receive(line))
    lines.on('error', () => this.socket.destroy())
    this.socket.on('error', () => {})
    this.socket.once('close', () => {
      this.lost = new GroveError('CLOSED', `The Grove service (pid ${this.info.pid}) stopped before it answered`)
      for (const resolve of this.calls.values()) resolve({ ok: false, error: { code: 'CLOSED', message: this.lost.message } })
      this.calls.clear()
      for (const command of this.commands.values()) command.fail(this.lost)
      this.commands.clear()
    })
  }

  private receive(line: string): void {
    const message = parseServiceMessage(line)
    if (!message) return
    switch (message.t) {
      case 'result': {
        const resolve = this.calls.get(message.id)
        this.calls.delete(message.id)
        resolve?.(message.ok ? { ok: true, result: message.result as never } : { ok: false, error: message.error ?? { code: 'INTERNAL', message: 'The call failed' } })
        return
      }
      case 'event': {
        const event = toApiEvent(message.event, message.payload)
        if (event) for (const listener of this.listeners) listener(event)
        return
      }
      case 'out': {
        const command = this.commands.get(message.id)
        if (command) command.streams[message.stream](message.data)
        return
      }
      case 'exit': {
        const command = this.commands.get(message.id)
        this.commands.delete(message.id)
        command?.done(message.code)
        return
      }
      case 'refused': {
        const failure = new GroveError(message.error.code, message.error.message)
        if (message.id === undefined) return
        const resolve = this.calls.get(message.id)
        if (resolve) {
          this.calls.delete(message.id)
          return resolve({ ok: false, error: message.error })
        }
        const command = this.commands.get(message.id)
        this.commands.delete(message.id)
        command?.fail(failure)
        return
      }
      case 'hello':
        return
    }
  }
}

function parseServiceMessage(line: string): ServiceMessage | null {
  if (line.length === 0) return null
  try {
    const parsed = ServiceMessage.safeParse(JSON.parse(line))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** An event is passed on only when it is one of the contract's, with a payload of its schema. */
function toApiEvent(event: string, payload: unknown): ApiEvent | null {
  const message = EventMessage.safeParse({ event, payload })
  if (!message.success) return null
  const checked = Events[message.data.event].safeParse(payload)
  return checked.success ? ({ event: message.data.event, payload: checked.data } as ApiEvent) : null
}
