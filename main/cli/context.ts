// What every command gets: the global options, the output, and a way to open Grove that closes
// it again in order on exit, SIGINT or SIGTERM.
import { GroveError } from '../../shared/errors.js'
import { Grove } from '../core/grove.js'
import { parseBootstrapList, type BootstrapNode } from '../core/swarm.js'
import { namedRoom, privateRoom, publicRoom, type Room } from '../core/rooms.js'
import { Output } from './output.js'
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

export class CommandContext {
  readonly out: Output
  readonly bootstrap?: BootstrapNode[]
  readonly rooms: Room[]
  /** Direct TCP links: the port to listen on (0: any), or null for none. */
  readonly directPort: number | null

  constructor(readonly options: GlobalOptions) {
    this.out = new Output({ json: Boolean(options.json) })
    try {
      this.bootstrap = options.bootstrap ? parseBootstrapList(options.bootstrap) : undefined
      this.rooms = roomsFromOptions(options)
      this.directPort = directPortFromOptions(options)
    } catch (err) {
      throw new GroveError('BAD_INPUT', (err as Error).message)
    }
  }

  /**
   * Opens Grove, runs `work`, and closes Grove whatever happens. SIGINT/SIGTERM abort `signal`
   * so long work can stop cleanly; a second signal exits at once.
   */
  async withGrove<T>(opts: { network: boolean }, work: (grove: Grove, signal: AbortSignal) => Promise<T>): Promise<T> {
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
    const stop = new AbortController()
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
      if (grove.hasNetwork) grove.swarm.events.on('network', (_status: unknown, reason: string) => process.stderr.write(`Network: ${inertLine(reason)}\n`))
      // Warnings name models, and so carry text from peers and files.
      for (const message of grove.warnings) process.stderr.write(`Warning: ${inertLine(message)}\n`)
      grove.events.on('warning', (message: string) => process.stderr.write(`Warning: ${inertLine(message)}\n`))
      return await work(grove, stop.signal)
    } finally {
      await grove.close()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
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
