// A plain TCP copy over loopback: the simplest reference for the transfer benchmark.
//
//   node tcp-copy.js recv <outFile> [--fsync]
//     listens on 127.0.0.1 (a free port), prints `LISTENING <port>`, accepts ONE connection,
//     writes every byte to <outFile>, optionally fsyncs, prints `DONE <bytes> <seconds>`
//     (seconds from accept to written) and exits 0.
//   node tcp-copy.js send <file> <port> [<port>...]
//     connects to each port on 127.0.0.1 at once, streams <file> to each, prints
//     `SENT <bytes per receiver> <seconds>` once every stream is flushed and exits 0.
//
// Output lines are read by references.ts. Exits non-zero with a message on stderr on error.

import { createReadStream, createWriteStream, promises as fsp } from 'node:fs'
import net from 'node:net'
import { pipeline } from 'node:stream/promises'

const CHUNK = 1 << 20

async function recv(outFile: string, fsync: boolean): Promise<void> {
  const server = net.createServer()
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    server.once('error', reject)
    server.once('connection', (s: net.Socket) => {
      server.close()
      resolve(s)
    })
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      if (addr === null || typeof addr === 'string') {
        reject(new Error('no TCP address'))
        return
      }
      process.stdout.write(`LISTENING ${addr.port}\n`)
    })
  })
  const started = performance.now()
  const out = createWriteStream(outFile, { highWaterMark: CHUNK })
  await pipeline(socket, out)
  const bytes = out.bytesWritten
  if (fsync) {
    const fh = await fsp.open(outFile, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  }
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(`DONE ${bytes} ${seconds.toFixed(6)}\n`)
}

async function sendOne(file: string, port: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const input = createReadStream(file, { highWaterMark: CHUNK })
  await pipeline(input, socket)
  return input.bytesRead
}

async function send(file: string, ports: number[]): Promise<void> {
  const started = performance.now()
  const sent = await Promise.all(ports.map((port) => sendOne(file, port)))
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(`SENT ${sent[0] ?? 0} ${seconds.toFixed(6)}\n`)
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv
  if (mode === 'recv') {
    const outFile = rest.find((a) => !a.startsWith('--'))
    if (outFile === undefined) throw new Error('usage: tcp-copy recv <outFile> [--fsync]')
    await recv(outFile, rest.includes('--fsync'))
    return
  }
  if (mode === 'send') {
    const [file, ...portArgs] = rest
    const ports = portArgs.map((p) => Number(p))
    if (file === undefined || ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
      throw new Error('usage: tcp-copy send <file> <port> [<port>...]')
    }
    await send(file, ports)
    return
  }
  throw new Error('usage: tcp-copy recv <outFile> [--fsync] | send <file> <port>...')
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tcp-copy: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
)
