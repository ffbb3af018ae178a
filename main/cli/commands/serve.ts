// `grove serve`: the headless UI. Runs Grove's core (swarm, library, catalog, inference) in Node
// and serves the built renderer plus the API contract over HTTP/WebSocket (main/server), with
// the OpenAI-compatible endpoint under /v1. Loopback by default; any other address requires a
// token, printed at start. The UI's chats and /v1 share one generation scheduler (a bounded
// queue; beyond it, 429). Seeds the library while it runs; stops on SIGINT/SIGTERM: the queue
// is emptied, then the server, the API, inference and Grove close in that order.
import type { Command } from 'commander'
import { GroveError } from '../../../shared/errors.js'
import type { GroveApi } from '../../api/api.js'
import type { ModelSource } from '../../inference/openai.js'
import { isLoopbackHost } from '../../server/access.js'
import { DEFAULT_HOST, DEFAULT_PORT } from '../../server/listen-defaults.js'
import type { GroveServer } from '../../server/server.js'
import type { CommandContext } from '../context.js'
import { GroveService } from '../service-host.js'
import { collect } from './share.js'

interface ServeFlags {
  host: string
  port: string
  token?: string
  allowHost: string[]
  ui?: string
  cpu?: boolean
}

/** Tokens shorter than this are refused (the generated one is 32 characters). */
const MIN_TOKEN_LENGTH = 16

export function registerServe(program: Command, context: () => CommandContext): void {
  program
    .command('serve')
    .description('serve the Grove UI and API to browsers (loopback by default; off loopback a token is required and printed)')
    .option('--host <host>', 'address to listen on (anything but loopback requires a token)', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on (0: any free port)', String(DEFAULT_PORT))
    .option('--token <token>', 'the access token (default: $GROVE_SERVE_TOKEN, else generated when one is required)')
    .option('--allow-host <name>', 'another host name browsers may use for this server, e.g. its DNS name (repeatable)', collect, [])
    .option('--ui <dir>', 'the built renderer to serve (default: renderer/dist)')
    .option('--cpu', 'do not use a GPU for inference even when there is one')
    .action(async (flags: ServeFlags) => {
      const ctx = context()
      const port = Number(flags.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new GroveError('BAD_INPUT', '--port must be a whole number from 0 to 65535')
      const token = flags.token ?? (process.env.GROVE_SERVE_TOKEN || undefined)
      if (token !== undefined && (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))) {
        throw new GroveError('BAD_INPUT', `--token must be at least ${MIN_TOKEN_LENGTH} characters with no spaces`)
      }
      for (const name of flags.allowHost) {
        if (!/^[a-z0-9.-]{1,253}$/i.test(name)) throw new GroveError('BAD_INPUT', `--allow-host takes a host name without a port: "${name.slice(0, 80)}"`)
      }
      // Loaded here, not with the command line: every other command would pay for the HTTP framework.
      const [{ GroveApi }, { createOpenAIHandler, libraryModelSource }, { GenerationScheduler }, { InferenceService }, { GroveServer }] = await Promise.all([
        import('../../api/api.js'),
        import('../../inference/openai.js'),
        import('../../inference/scheduler.js'),
        import('../../inference/service.js'),
        import('../../server/server.js')
      ])
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        // Inside a running service its API, inference and generation queue are shared; otherwise this process makes them and becomes the service.
        const host = ctx.inService?.host
        if (!host) await grove.seedLibrary()
        const inference = host?.inference ?? new InferenceService({ gpu: flags.cpu ? false : 'auto' })
        const generations = host?.generations ?? new GenerationScheduler()
        let api: GroveApi | null = host?.api ?? null
        let service: GroveService | null = null
        let server: GroveServer | null = null
        try {
          const created = api ?? (await GroveApi.create({ grove, inference, transport: 'http', scheduler: generations }))
          api = created
          if (!host) service = await GroveService.start({ grove, owner: 'serve', options: ctx.options, parts: { api, inference, generations }, run: ctx.runForwarded!, requestStop: () => ctx.requestStop() })
          const library = libraryModelSource({ home: grove.home.root })
          // Licences that ask for acceptance hold for the OpenAI endpoint too.
          const models: ModelSource = {
            list: () => library.list(),
            resolve: async (id, adapters) => {
              created.assertLicensed(id)
              for (const adapter of adapters) created.assertLicensed(adapter.id)
              return library.resolve(id, adapters)
            }
          }
          const remote = !isLoopbackHost(flags.host) || token !== undefined
          server = new GroveServer({
            api,
            host: flags.host,
            port,
            token,
            allowedHosts: flags.allowHost,
            staticDir: flags.ui === undefined ? undefined : ctx.path(flags.ui),
            // Off loopback the server has checked the token before the handler sees a request.
            openai: createOpenAIHandler({ service: inference, models, allowRemote: remote, scheduler: generations })
          })
          const info = await server.listen()
          ctx.out.result({ event: 'listening', url: info.url, openUrl: info.openUrl, ...(info.token ? { token: info.token } : {}), peer: grove.swarm.publicKey }, () =>
            [
              `Grove is serving its UI at ${info.url}`,
              ...(host ? [`(in the Grove already running on this home, pid ${host.info.pid}; Ctrl-C stops serving, not that Grove)`] : []),
              ...(info.token ? [`Access token: ${info.token}`, `Open: ${info.openUrl}`] : []),
              `OpenAI-compatible API: ${info.url}v1`,
              'Stop with Ctrl-C.'
            ].join('\n')
          )
          await untilAborted(signal)
        } finally {
          // Clients' commands end first; waiting requests answer CLOSED now instead of starting on the way down.
          await service?.close()
          if (!host) generations.close()
          await server?.close()
          if (!host) {
            await api?.close()
            await inference.close()
          }
        }
      })
    })
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
