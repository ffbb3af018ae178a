// The Grove service: what a process that owns a home (`grove seed`, `grove serve`, the desktop
// app) runs besides its own work, so that every other `grove` command on that home is carried
// out by it instead of failing with "in use". It owns the API (transfers, chats, inference) for
// the home and listens on the home's control channel (main/service): API calls and events for
// the app, forwarded commands for the command line.
import { GroveApi, packageVersion } from '../api/api.js'
import type { Grove } from '../core/grove.js'
import { GenerationScheduler } from '../inference/scheduler.js'
import { InferenceService } from '../inference/service.js'
import { ControlServer, type CommandStreams, type ForwardedCommand } from '../service/control-server.js'
import { controlEndpoint } from '../service/endpoint.js'
import type { ServiceInfo } from '../service/protocol.js'

/** The owner's command line options (what forwarded commands are compared with). */
export interface HostOptions {
  room?: string[]
  roomSecret?: string
  bootstrap?: string
  lan?: boolean
  tcpPort?: string
  tcp?: boolean
}

/** What a forwarded command sees of the service that runs it. */
export interface ServiceHost {
  readonly grove: Grove
  readonly api: GroveApi
  readonly inference: InferenceService
  readonly generations: GenerationScheduler
  readonly info: ServiceInfo
  readonly options: HostOptions
  /** The commands running for clients now (for `grove status`): their first words. */
  running(): string[]
  /** Shuts the service down as SIGTERM would (`grove stop`). */
  requestStop(): void
}

/** Runs one forwarded command in this process (the command line's program, built for the service). */
export type ForwardedRunner = (command: ForwardedCommand, streams: CommandStreams, signal: AbortSignal, host: ServiceHost) => Promise<number>

export interface ServiceStartOptions {
  grove: Grove
  owner: ServiceInfo['owner']
  options: HostOptions
  /** The owner's API parts, when it made them itself (`grove serve` configures inference); else made here. */
  parts?: { api: GroveApi; inference: InferenceService; generations: GenerationScheduler }
  run: ForwardedRunner
  requestStop(): void
}

export class GroveService {
  readonly host: ServiceHost
  private readonly control: ControlServer
  private readonly ownsParts: boolean
  private readonly running = new Map<object, string>()

  private constructor(options: ServiceStartOptions, parts: NonNullable<ServiceStartOptions['parts']>) {
    this.ownsParts = options.parts === undefined
    const grove = options.grove
    const info: ServiceInfo = { protocol: 1, version: packageVersion(), pid: process.pid, home: grove.home.root, startedAt: Date.now(), owner: options.owner }
    this.host = { grove, ...parts, info, options: options.options, running: () => [...this.running.values()], requestStop: options.requestStop }
    this.control = new ControlServer({
      endpoint: controlEndpoint(grove.home),
      info,
      api: parts.api,
      runCommand: async (command, streams, signal) => {
        const token = {}
        this.running.set(token, command.title)
        try {
          return await options.run(command, streams, signal, this.host)
        } finally {
          this.running.delete(token)
        }
      }
    })
  }

  /** Starts the service on an open Grove with the network; the caller closes it before the Grove. */
  static async start(options: ServiceStartOptions): Promise<GroveService> {
    let parts = options.parts
    if (!parts) {
      const inference = new InferenceService({ gpu: 'auto' })
      const generations = new GenerationScheduler()
      const api = await GroveApi.create({ grove: options.grove, inference, transport: 'http', scheduler: generations })
      parts = { api, inference, generations }
    }
    const service = new GroveService(options, parts)
    await service.control.listen()
    return service
  }

  /** Stops taking clients (their commands are cancelled), then closes what it made. */
  async close(): Promise<void> {
    await this.control.close()
    if (this.ownsParts) {
      this.host.generations.close()
      await this.host.api.close()
      await this.host.inference.close()
    }
  }
}
