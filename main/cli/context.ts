// What every command gets: the global options, the output, and a way to open Grove that closes
// it again in order on exit, SIGINT or SIGTERM. A command runs either in its own process (it
// opens the home itself) or inside the Grove service that owns the home, for a client that
// forwarded it (./forward.ts): then `withGrove` lends the service's open Grove, the output goes
// back to the client, paths are the client's, and Ctrl-C in the client is the command's signal.
import { resolve } from 'node:path'
import { GroveError } from '../../shared/errors.js'
import { Grove } from '../core/grove.js'
import { parseBootstrapList, type BootstrapNode } from '../core/swarm.js'
import { namedRoom, privateRoom, publicRoom, type Room } from '../core/rooms.js'
import { processIO, type CommandIO } from './command-io.js'
import { Output } from './output.js'
import type { ForwardedRunner, ServiceHost } from './service-host.js'
import { inertLine } from './terminal-text.js'

export interface GlobalOptions {
  home?: string
  bootstrap?: string
  room?: string[]
  roomSecret?: string
  lan?: boolean
  tcpPort?: string
  /** false with --no-tcp. */
  tcp?: boolean
  json?: boolean
}

/** A command run inside the service: the service, and the signal of this one command. */
export interface ServiceCommand {
  host: ServiceHost
  signal: AbortSignal
}

export class CommandContext {
  readonly out: Output
  readonly bootstrap?: BootstrapNode[]
  readonly rooms: Room[]
  /** Direct TCP links: the port to listen on (0: any), or null for none. */
  readonly directPort: number | null
  /** Set by a command that ends without an error but must not exit 0 (`grove status` with nothing running). */
  exitCode = 0
  private readonly stopping = new AbortController()

  readonly options: GlobalOptions

  constructor(
    options: GlobalOptions,
    readonly io: CommandIO = processIO(),
    /** Set when the command runs inside the Grove service for a client. */
    readonly inService?: ServiceCommand,
    /** How a service this command starts runs its clients' commands (the whole program, from main.ts). */
    readonly runForwarded?: ForwardedRunner
  ) {
    // A relative --home was the client's; the service's own home is the same one, by its full path.
    this.options = inService ? { ...options, home: inService.host.grove.home.root } : options
    this.out = new Output({ json: Boolean(options.json), io })
    try {
      this.bootstrap = options.bootstrap ? parseBootstrapList(options.bootstrap) : undefined
      this.rooms = roomsFromOptions(options)
      this.directPort = directPortFromOptions(options)
    } catch (err) {
      throw new GroveError('BAD_INPUT', (err as Error).message)
    }
  }

  /** A path from the command line, made absolute against the caller's working folder. */
  path(text: string): string {
    return resolve(this.io.cwd, text)
  }

  async readStdin(): Promise<string> {
    if (this.io.stdin !== undefined) return this.io.stdin
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  /** The signal `withGrove` passes on: SIGINT/SIGTERM here, or the client's Ctrl-C in the service. */
  get signal(): AbortSignal {
    return this.inService?.signal ?? this.stopping.signal
  }

  /** Ends the running `withGrove` work as SIGTERM would (`grove stop`, for the service). */
  requestStop(): void {
    this.stopping.abort()
  }

  /**
   * Opens Grove, runs `work`, and closes Grove whatever happens. SIGINT/SIGTERM abort `signal`
   * so long work can stop cleanly; a second signal exits at once. Inside the service, the
   * service's Grove is lent instead, and stays open.
   */
  async withGrove<T>(opts: { network: boolean }, work: (grove: Grove, signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.inService) return this.withServiceGrove(this.inService, work)
    const grove = new Grove({
      home: this.options.home,
      network: opts.network,
      bootstrap: this.bootstrap,
      rooms: this.rooms,
      // --lan: LAN mode; otherwise LAN mode only when no bootstrap node answers
      // (GROVE_LAN_FALLBACK_MS: how long to wait for one, default 10 s).
      lan: this.options.lan ? true : 'auto',
      lanFallbackMs: lanFallbackMs(),
      directPort: this.directPort
    })
    const stop = this.stopping
    let signals = 0
    const onSignal = () => {
      if (++signals > 1) process.exit(130)
      this.out.info('Stopping…')
      stop.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      await grove.ready()
      // Network switches (to LAN mode when no bootstrap node answers, a moved laptop) go to stderr,
      // even with --json, whose stdout stays for results.
      if (grove.hasNetwork) grove.swarm.events.on('network', (_status: unknown, reason: string) => this.io.stderr(`Network: ${inertLine(reason)}\n`))
      // Warnings name models, and so carry text from peers and files.
      for (const message of grove.warnings) this.io.stderr(`Warning: ${inertLine(message)}\n`)
      grove.events.on('warning', (message: string) => this.io.stderr(`Warning: ${inertLine(message)}\n`))
      return await work(grove, stop.signal)
    } finally {
      await grove.close()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }

  private async withServiceGrove<T>(command: ServiceCommand, work: (grove: Grove, signal: AbortSignal) => Promise<T>): Promise<T> {
    const grove = command.host.grove
    const ignored = networkFlags(this.options, command.host.options)
    if (ignored.length > 0) {
      this.io.stderr(
        `Note: Grove is already running on this home (pid ${process.pid}) with its own network settings; ${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} ignored (\`grove rooms join\` joins a room there)\n`
      )
    }
    const onWarning = (message: string) => this.io.stderr(`Warning: ${inertLine(message)}\n`)
    grove.events.on('warning', onWarning)
    try {
      return await work(grove, command.signal)
    } finally {
      grove.events.off('warning', onWarning)
    }
  }
}

export function parseSeconds(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0 || value > 86400 * 365) throw new GroveError('BAD_INPUT', `${name} must be a positive number of seconds`)
  return value
}

function lanFallbackMs(): number | undefined {
  const value = Number(process.env.GROVE_LAN_FALLBACK_MS)
  return Number.isFinite(value) && value > 0 ? value : undefined
}

/** The network options a forwarded command gives that the running service was not started with (it keeps its own). */
function networkFlags(options: GlobalOptions, service: GlobalOptions): string[] {
  const differs = (a: unknown, b: unknown) => a !== undefined && JSON.stringify(a) !== JSON.stringify(b)
  return [
    ...(differs(options.room, service.room) ? ['--room'] : []),
    ...(differs(options.roomSecret, service.roomSecret) ? ['--room-secret'] : []),
    ...(differs(options.bootstrap, service.bootstrap) ? ['--bootstrap'] : []),
    ...(options.lan && !service.lan ? ['--lan'] : []),
    ...(differs(options.tcpPort, service.tcpPort) ? ['--tcp-port'] : []),
    ...(options.tcp === false && service.tcp !== false ? ['--no-tcp'] : [])
  ]
}

/** `--room NAME` (repeatable) and `--room-secret SECRET`; the public room when neither is given. */
function roomsFromOptions(options: GlobalOptions): Room[] {
  const rooms = (options.room ?? []).map((name) => (name === 'public' ? publicRoom() : namedRoom(name)))
  if (options.roomSecret) rooms.push(privateRoom(options.roomSecret))
  return rooms.length > 0 ? rooms : [publicRoom()]
}

function directPortFromOptions(options: GlobalOptions): number | null {
  if (options.tcp === false) return null
  if (options.tcpPort === undefined) return 0
  const port = Number(options.tcpPort)
  if (!/^\d{1,5}$/.test(options.tcpPort) || port > 65535) throw new Error(`Bad --tcp-port "${options.tcpPort}" (a port number, 0 for any free one)`)
  return port
}
