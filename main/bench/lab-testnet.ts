// A HyperDHT testnet for `npm run bench:lab`, in a process of its own (so that the bench's own
// work never stalls the DHT nodes): `node lab-testnet.js <host> <size>` starts `size` persistent,
// unfirewalled nodes bound on `host`, prints {"bootstrap":"host:port"} and runs until SIGTERM.
import createTestnet from 'hyperdht/testnet.js'

const host = process.argv[2] ?? '127.0.0.1'
const size = Number(process.argv[3] ?? '20')
const testnet = await createTestnet(size, { host })
process.stdout.write(JSON.stringify({ bootstrap: testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(','), nodes: testnet.nodes.length }) + '\n')
const stop = (): void => void testnet.destroy().finally(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
setInterval(() => {}, 60_000)
