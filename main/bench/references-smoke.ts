// Runs every transfer reference (bench/references.ts) and prints the table.
//
//   node dist/main/bench/references-smoke.js [--size-mib 64] [--file PATH] [--work DIR]
//        [--downloaders 1,4] [--only sha256sum,tcp-copy,aria2c,webtorrent] [--fsync]
//        [--strategy sequential|rarest] [--repeats N] [--no-sync] [--json]
//
// Without --file it writes a --size-mib file of random bytes into a temp dir (removed after).
// Run it in a network namespace with only loopback, e.g. as root:
//   unshare -n sh -c 'ip link set lo up && node dist/main/bench/references-smoke.js'

import { randomBytes } from 'node:crypto'
import { createWriteStream, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { formatResults, runAllReferences, type AllReferencesOptions } from './references.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file)
  const chunk = 1 << 20
  for (let written = 0; written < bytes; written += chunk) {
    if (!out.write(randomBytes(Math.min(chunk, bytes - written)))) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

async function main(): Promise<void> {
  const workRoot = arg('--work') ?? os.tmpdir()
  const scratch = await mkdtemp(path.join(workRoot, 'grove-refs-'))
  // references.ts exits the process on SIGINT/SIGTERM after stopping its children.
  const removeScratch = (): void => rmSync(scratch, { recursive: true, force: true })
  process.once('exit', removeScratch)
  try {
    let file = arg('--file')
    if (file === undefined) {
      const mib = Number(arg('--size-mib') ?? 64)
      file = path.join(scratch, 'model.gguf')
      await writeRandomFile(file, Math.round(mib * 1024 * 1024))
    }
    const only = arg('--only')?.split(',') as AllReferencesOptions['only']
    const strategy = arg('--strategy') === 'rarest' ? 'rarest' : 'sequential'
    const results = await runAllReferences(file, scratch, {
      downloaderCounts: (arg('--downloaders') ?? '1,4').split(',').map(Number),
      only,
      fsync: process.argv.includes('--fsync'),
      strategy,
      repeats: Number(arg('--repeats') ?? 1),
      sync: !process.argv.includes('--no-sync'),
      log: (m) => process.stderr.write(`[refs] ${m}\n`)
    })
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
    else process.stdout.write(formatResults(results, { baseline: 'tcp-copy' }) + '\n')
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`references-smoke: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(1)
  }
)
