import { createSocket } from 'node:dgram'
import { networkInterfaces } from 'node:os'
import type { Command } from 'commander'
import HyperDHT from 'hyperdht'
import { GroveError } from '../../../shared/errors.js'
import { sleep } from '../../core/swarm.js'
import type { CommandContext } from '../context.js'

export function registerBootstrap(program: Command, context: () => CommandContext): void {
  program
    .command('bootstrap')
    .description('run a standing DHT bootstrap node (for offline or campus networks); peers use --bootstrap HOST:PORT')
    .option('--host <ipv4>', "this machine's IPv4 address that peers reach (default: its first non-loopback address)")
    .option('--port <port>', 'UDP port (0: any free port)', '49737')
    .action(async (flags: { host?: string; port: string }) => {
      const ctx = context()
      const host = flags.host ?? firstLanAddress()
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') {
        throw new GroveError('BAD_INPUT', '--host must be the IPv4 address peers use to reach this machine (not 0.0.0.0)')
      }
      let port = Number(flags.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new GroveError('BAD_INPUT', '--port must be 0-65535 (0: any free port)')
      if (port === 0) port = await freeUdpPort(host)
      const node = HyperDHT.bootstrapper(port, host, ctx.bootstrap ? { bootstrap: ctx.bootstrap } : undefined)
      await node.ready()
      ctx.out.result({ event: 'listening', host, port }, `DHT bootstrap node listening on ${host}:${port}. On every peer: --bootstrap ${host}:${port}`)
      const stop = new AbortController()
      process.once('SIGINT', () => stop.abort())
      process.once('SIGTERM', () => stop.abort())
      while (!stop.signal.aborted) await sleep(60_000, stop.signal)
      await node.destroy()
    })
}

function firstLanAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, host, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}
