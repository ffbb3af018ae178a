import type { Command } from 'commander'
import HyperDHT from 'hyperdht'
import { GroveError } from '../../../shared/errors.js'
import { sleep } from '../../core/swarm.js'
import type { CommandContext } from '../context.js'

export function registerBootstrap(program: Command, context: () => CommandContext): void {
  program
    .command('bootstrap')
    .description('run a standing DHT bootstrap node (for offline or campus networks); peers use --bootstrap HOST:PORT')
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'UDP port', '49737')
    .action(async (flags: { host: string; port: string }) => {
      const ctx = context()
      const port = Number(flags.port)
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new GroveError('BAD_INPUT', '--port must be 1-65535')
      const node = HyperDHT.bootstrapper(port, flags.host, { bootstrap: ctx.bootstrap ?? [] })
      await node.ready()
      const address = node.address()
      ctx.out.result({ event: 'listening', host: flags.host, port: address.port }, `DHT bootstrap node listening on ${flags.host}:${address.port}. Peers: --bootstrap <this host's address>:${address.port}`)
      const stop = new AbortController()
      process.once('SIGINT', () => stop.abort())
      process.once('SIGTERM', () => stop.abort())
      while (!stop.signal.aborted) await sleep(60_000, stop.signal)
      await node.destroy()
    })
}
