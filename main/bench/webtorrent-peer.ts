// A webtorrent (v2) peer for the transfer benchmark's BitTorrent reference. TCP peers and a
// local HTTP tracker only: no DHT, no local service discovery, no WebRTC, no uTP, no NAT
// port mapping, no web seeds.
//
//   node webtorrent-peer.js create <file> <announceUrl> <out.torrent> [--piece-length N]
//     writes a .torrent for <file> (single file; name = basename) announcing only to
//     <announceUrl>; prints `TORRENT {"infoHash":…,"pieceLength":…,"pieces":…,"length":…}`.
//   node webtorrent-peer.js seed <torrent> <dir>
//     seeds <dir>/<name> (assumed complete: no re-hash); prints `READY <port>` when seeding.
//   node webtorrent-peer.js download <torrent> <dir> [--strategy sequential|rarest]
//     downloads into <dir>; prints `DONE <seconds>` once every piece is verified, then keeps
//     seeding (to the other downloaders) until SIGTERM/SIGINT.
//
// Before webtorrent is imported, webtorrent-hooks.ts is installed: it resolves node-datachannel
// (WebRTC; its native addon is missing here) to a stub and works around webtorrent 2.8.5's
// crash with uint8-util 2.3.x.

import { readFile, writeFile } from 'node:fs/promises'
import { installWebTorrentHooks } from './webtorrent-hooks.js'

type WebTorrentModule = typeof import('webtorrent')
type Client = InstanceType<WebTorrentModule['default']>

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

async function createClient(): Promise<Client> {
  installWebTorrentHooks()
  const { default: WebTorrent } = await import('webtorrent')
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utPex: true,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    tracker: {}
  })
  client.on('error', (err: unknown) => fail(err))
  return client
}

let activeClient: Client | null = null

function fail(err: unknown): never {
  process.stderr.write(`webtorrent-peer: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
}

function stopOnSignals(): void {
  const stop = (): void => {
    const client = activeClient
    if (client === null) process.exit(0)
    const force = setTimeout(() => process.exit(0), 3000)
    force.unref()
    client.destroy(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

async function create(args: string[]): Promise<void> {
  const [file, announceUrl, out] = args
  if (file === undefined || announceUrl === undefined || out === undefined) {
    throw new Error('usage: webtorrent-peer create <file> <announceUrl> <out.torrent> [--piece-length N]')
  }
  const pieceLengthArg = option(args, '--piece-length')
  const { default: createTorrent } = await import('create-torrent')
  const { default: parseTorrent } = await import('parse-torrent')
  const torrent = await new Promise<Uint8Array>((resolve, reject) => {
    createTorrent(
      file,
      {
        announceList: [[announceUrl]],
        createdBy: 'grove-bench',
        ...(pieceLengthArg !== undefined ? { pieceLength: Number(pieceLengthArg) } : {})
      },
      (err, buf) => (err ? reject(err) : resolve(buf))
    )
  })
  await writeFile(out, torrent)
  const parsed = await parseTorrent(torrent)
  const info = {
    infoHash: parsed.infoHash,
    name: parsed.name,
    length: parsed.length,
    pieceLength: parsed.pieceLength,
    pieces: parsed.pieces?.length
  }
  process.stdout.write(`TORRENT ${JSON.stringify(info)}\n`)
}

async function seed(args: string[]): Promise<void> {
  const [torrentFile, dir] = args
  if (torrentFile === undefined || dir === undefined) throw new Error('usage: webtorrent-peer seed <torrent> <dir>')
  const torrentBuf = await readFile(torrentFile)
  const client = await createClient()
  activeClient = client
  stopOnSignals()
  const torrent = client.add(torrentBuf, { path: dir, skipVerify: true })
  torrent.on('error', (err: unknown) => fail(err))
  torrent.once('done', () => {
    process.stdout.write(`READY ${client.torrentPort}\n`)
  })
}

async function download(args: string[]): Promise<void> {
  const [torrentFile, dir] = args
  if (torrentFile === undefined || dir === undefined) {
    throw new Error('usage: webtorrent-peer download <torrent> <dir> [--strategy sequential|rarest]')
  }
  const strategy = option(args, '--strategy') === 'rarest' ? 'rarest' : 'sequential'
  const torrentBuf = await readFile(torrentFile)
  const client = await createClient()
  activeClient = client
  stopOnSignals()
  const started = performance.now()
  const torrent = client.add(torrentBuf, { path: dir, strategy })
  torrent.on('error', (err: unknown) => fail(err))
  torrent.once('done', () => {
    const seconds = (performance.now() - started) / 1000
    process.stdout.write(`DONE ${seconds.toFixed(6)} ${torrent.downloaded}\n`)
  })
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv
  if (mode === 'create') return create(rest)
  if (mode === 'seed') return seed(rest)
  if (mode === 'download') return download(rest)
  throw new Error('usage: webtorrent-peer create|seed|download …')
}

main(process.argv.slice(2)).catch(fail)
