// A store that is opened over and over (a lab's `grove share` per model, a seeder restarted for
// months) keeps its size to what it holds: RocksDB's old info logs are pruned at every open.
import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { Grove } from '../core/grove.js'
import { KEPT_OLD_LOGS, pruneOldLogs } from '../core/store.js'
import { Harness } from '../testing/harness.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

async function oldLogs(dbDir: string): Promise<string[]> {
  return (await readdir(dbDir)).filter((n) => n.startsWith('LOG.old')).sort()
}

test('opening a home many times keeps only a few of RocksDB’s old logs', async () => {
  const home = await h.tmpDir('grove-home-')
  const dbDir = join(home, 'store', 'db')
  for (let i = 0; i < 12; i++) {
    const grove = new Grove({ home, network: false })
    await grove.ready()
    await grove.close()
  }
  const logs = await oldLogs(dbDir)
  assert.ok(logs.length >= 1, 'RocksDB renames its LOG at every open')
  assert.ok(logs.length <= KEPT_OLD_LOGS, `${logs.length} old logs: ${logs.join(', ')}`)
  assert.ok((await readdir(dbDir)).includes('LOG'), 'the current log stays')
})

test('pruning keeps the newest old logs, by their time suffix, and nothing else is touched', async () => {
  const dir = await h.tmpDir()
  const names = ['LOG', 'LOG.old.999', 'LOG.old.1733250000000001', 'LOG.old.1733250000000003', 'LOG.old.1733250000000002', 'LOG.old.x', 'CURRENT', 'MANIFEST-000005']
  for (const name of names) await writeFile(join(dir, name), '')
  await pruneOldLogs(dir, 2)
  assert.deepEqual((await readdir(dir)).sort(), ['CURRENT', 'LOG', 'LOG.old.1733250000000002', 'LOG.old.1733250000000003', 'LOG.old.x', 'MANIFEST-000005'])
  await pruneOldLogs(join(dir, 'missing'), 2) // no store yet: nothing to do, no error
})
