// `npm run bench:hostile`: the worst case of each class of hostile input, as a person meets it.
// Every file of the malformed-GGUF corpus through `grove info`, `grove share` and `grove run`,
// and every lying drive through `grove fetch` and `grove info` (a publisher on a local testnet),
// each timed and with its peak RSS (GNU time: grove and every process it waited for). Prints a
// table per class and a JSON summary last. Runs in a network namespace (see package.json).
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlobId } from 'hyperblobs'
import { CARD_PATH, MANIFEST_PATH } from '../../shared/manifest.js'
import { sha256File } from '../core/sha256.js'
import { writeLlamaModel, writeLoraAdapter } from '../testing/gguf-fixture.js'
import { Harness, type GroveRun } from '../testing/harness.js'
import { hostileGgufCorpus } from '../testing/hostile-gguf.js'
import { manifestFor } from '../testing/drives.js'
import { lyingDrive } from '../testing/hostile-peer.js'

interface Worst {
  group: string
  command: string
  cases: number
  worstMs: number
  worstMsCase: string
  peakRssMb: number
  peakRssCase: string
  refused: number
}

const h = new Harness()

async function main(): Promise<void> {
  const dir = await h.tmpDir('grove-bench-hostile-')
  const model = join(dir, 'base.gguf')
  const adapter = join(dir, 'base-lora.gguf')
  await writeLlamaModel(model, { seed: 3 })
  await writeLoraAdapter(adapter, { base: { seed: 3 } })
  const rows = new Map<string, Worst>()
  const record = (group: string, command: string, name: string, run: GroveRun) => {
    const key = `${group} ${command}`
    const row = rows.get(key) ?? { group, command, cases: 0, worstMs: 0, worstMsCase: '', peakRssMb: 0, peakRssCase: '', refused: 0 }
    row.cases++
    if (run.code !== 0) row.refused++
    if (run.wallMs! > row.worstMs) Object.assign(row, { worstMs: Math.round(run.wallMs!), worstMsCase: name })
    const rss = Math.round(run.peakRssBytes! / 1e6)
    if (rss > row.peakRssMb) Object.assign(row, { peakRssMb: rss, peakRssCase: name })
    rows.set(key, row)
  }

  const home = await h.tmpDir('grove-bench-hostile-home-')
  const corpus = await hostileGgufCorpus(model, adapter)
  for (const [i, c] of corpus.entries()) {
    const path = join(dir, `case-${i}.gguf`)
    await writeFile(path, c.bytes)
    const group = `gguf/${c.class}`
    record(group, 'info', c.name, await h.runGrove(['--home', home, 'info', path], { measure: true, timeoutMs: 60_000 }))
    record(group, 'share', c.name, await h.runGrove(['--home', home, 'share', path], { measure: true, timeoutMs: 60_000 }))
    if (!c.name.startsWith('adapter')) record(group, 'run', c.name, await h.runGrove(['--home', home, 'run', path, '--prompt', 'hi', '--max-tokens', '2'], { measure: true, timeoutMs: 60_000 }))
    process.stderr.write('.')
  }

  const publisher = await h.grove()
  const bootstrap = await h.bootstrapArg()
  const weights = await readFile(model)
  const truth = {
    [MANIFEST_PATH]: manifestFor({ path: '/model.gguf', size: weights.length, sha256: await sha256File(model) }),
    [CARD_PATH]: '# Liar\n',
    '/model.gguf': weights
  }
  const lies: Array<[string, string, (b: BlobId) => Record<string, unknown>]> = [
    ['manifest in 3e6 blocks', MANIFEST_PATH, (b) => ({ ...b, blockLength: 3e6 })],
    ['card in 3e6 blocks', CARD_PATH, (b) => ({ ...b, blockLength: 3e6 })],
    ['weights in 2e8 blocks', '/model.gguf', (b) => ({ ...b, blockLength: 2e8 })],
    ['weights past the end', '/model.gguf', (b) => ({ ...b, blockOffset: 1e9 })],
    ['manifest shorter than its entry', MANIFEST_PATH, (b) => ({ ...b, byteLength: b.byteLength + 1000 })]
  ]
  for (const [name, path, change] of lies) {
    const link = await lyingDrive(publisher, { files: truth, entries: { [path]: (real) => change(real!) } })
    const liarHome = await h.tmpDir('grove-bench-liar-')
    for (const command of ['fetch', 'info']) {
      record('peer/lying drive', command, name, await h.runGrove(['--home', liarHome, '--bootstrap', bootstrap, command, link, '--timeout', '20'], { measure: true, timeoutMs: 90_000 }))
    }
    process.stderr.write('.')
  }
  process.stderr.write('\n')

  const table = [...rows.values()]
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd([22, 7, 6, 8, 9, 44][i] ?? 10)).join(' ')
  console.log(line(['class', 'command', 'cases', 'refused', 'worst ms', 'worst case (time) / peak RSS MB (case)']))
  for (const r of table) console.log(line([r.group, r.command, String(r.cases), String(r.refused), String(r.worstMs), `${r.worstMsCase} / ${r.peakRssMb} (${r.peakRssCase})`]))
  console.log(JSON.stringify({ worst: table }))
}

main()
  .catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
  .finally(() => h.teardown())
