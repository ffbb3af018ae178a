// A BitTorrent (mainline, BEP 5) DHT testnet for `npm run bench:lab`'s reference, in a process of
// its own: `node lab-mainline-dht.js <host> <size>` starts `size` bittorrent-dht nodes bound on
// `host` (ports 6881 on), each bootstrapped from the first, prints {"nodes":["host port",…]} and
// runs until SIGTERM. transmission-daemon, with its DHT on (its default), is pointed at it through
// its config folder's dht.bootstrap file, so it announces the same N files on a DHT of the same
// size as Grove's seeder: the same job, not a daemon that tells nobody what it seeds.
import DHT from 'bittorrent-dht'

const host = process.argv[2] ?? '127.0.0.1'
const size = Math.max(2, Math.min(64, Number(process.argv[3] ?? '20')))
const BASE_PORT = 6881
const nodes: DHT[] = []
for (let i = 0; i < size; i++) {
  const node = new DHT({ bootstrap: i === 0 ? false : [`${host}:${BASE_PORT}`], host })
  await new Promise<void>((resolve, reject) => {
    node.once('error', reject)
    node.listen(BASE_PORT + i, host, () => resolve())
  })
  nodes.push(node)
}
// Until every node has found the others (bounded: a testnet is up within seconds or not at all).
const deadline = Date.now() + 30_000
while (Date.now() < deadline && nodes.some((n) => n.toJSON().nodes.length < size - 1)) await new Promise((r) => setTimeout(r, 250))
process.stdout.write(JSON.stringify({ nodes: nodes.map((_, i) => `${host} ${BASE_PORT + i}`), known: Math.min(...nodes.map((n) => n.toJSON().nodes.length)) }) + '\n')
const stop = (): void => {
  for (const n of nodes) n.destroy()
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
setInterval(() => {}, 60_000)
