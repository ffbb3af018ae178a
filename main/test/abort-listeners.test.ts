// Waits never leave listeners behind on a signal, and many tasks under one signal do not pile
// theirs on it: a browse that verifies dozens of relayed models, or `grove seed` fetching many
// links, printed Node's "MaxListenersExceededWarning: Possible EventTarget memory leak detected"
// (issue #22). Run in a network namespace (local testnet).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { childSignal, sleep, within } from '../core/abort.js'
import { formatLink, bytesToHex } from '../../shared/link.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'
import { Harness } from '../testing/harness.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length
}

/** Every MaxListenersExceededWarning this process emits while `work` runs. */
async function listenerWarnings(work: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') seen.push(warning.message)
  }
  process.on('warning', onWarning)
  try {
    await work()
    await sleep(50) // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning)
  }
  return seen
}

test('within: the timer and the listener go when the work wins, and when the time is up', async () => {
  const stop = new AbortController()
  for (let i = 0; i < 20; i++) assert.equal(await within(Promise.resolve(), 10_000, stop.signal), true)
  assert.equal(await within(Promise.reject(new Error('no peer')), 10_000, stop.signal), true)
  assert.equal(await within(new Promise(() => {}), 5, stop.signal), false)
  assert.equal(abortListeners(stop.signal), 0)
  const pending = within(new Promise(() => {}), 10_000, stop.signal)
  stop.abort()
  assert.equal(await pending, false)
  assert.equal(await within(Promise.resolve(), 10_000, stop.signal), false, 'an aborted signal answers at once')
})

test('child signals: one listener on the parent for all of them, none once they are disposed', async () => {
  const parent = new AbortController()
  const children = Array.from({ length: 50 }, () => childSignal(parent.signal))
  assert.equal(abortListeners(parent.signal), 1)
  children[0]!.abort()
  assert.equal(children[0]!.signal.aborted, true)
  assert.equal(children[1]!.signal.aborted, false, 'aborting a child leaves its siblings')
  for (const child of children) child.dispose()
  assert.equal(abortListeners(parent.signal), 0)

  const more = Array.from({ length: 3 }, () => childSignal(parent.signal))
  more[0]!.dispose()
  parent.abort()
  assert.deepEqual(more.map((c) => c.signal.aborted), [false, true, true], 'the parent aborts the children it still has')
  assert.equal(childSignal(parent.signal).signal.aborted, true, 'a child of an aborted parent starts aborted')
  assert.equal(childSignal().signal.aborted, false)
})

test('a dozen fetches that share one signal leave no listener on it and print no warning', async () => {
  const grove = await h.grove()
  const stop = new AbortController()
  let most = 0
  const warnings = await listenerWarnings(async () => {
    const links = Array.from({ length: 12 }, () => formatLink(bytesToHex(randomBytes(32))))
    const fetches = links.map((link) => grove.fetch(link, { signal: stop.signal, timeoutMs: 3000 }).then(() => 'fetched', (err: Error) => err.message))
    const watch = setInterval(() => (most = Math.max(most, abortListeners(stop.signal))), 50)
    const results = await Promise.all(fetches)
    clearInterval(watch)
    assert.ok(results.every((r) => /No peer serves/.test(r)), results.join('\n'))
  })
  assert.deepEqual(warnings, [])
  assert.ok(most <= 1, `${most} listeners on the shared signal at once`)
  assert.equal(abortListeners(stop.signal), 0)
})

test('browse verifies a seeder’s dozen models without a listener warning', async () => {
  const seeder = await h.grove()
  const dir = await h.tmpDir()
  const count = 12
  for (let i = 0; i < count; i++) {
    const path = join(dir, `m${i}.gguf`)
    await writeLlamaModel(path, { seed: i + 1, name: `Lab Model ${i}`, license: 'mit', embeddingLength: 64, blockCount: 2 })
    await seeder.share(path)
  }
  const home = await h.tmpDir('grove-home-')
  const browse = await h.runGrove(['--home', home, '--bootstrap', await h.bootstrapArg(), '--json', 'browse', '--wait', '5'], { timeoutMs: 60_000 })
  assert.equal(browse.code, 0, browse.stderr)
  assert.doesNotMatch(browse.stderr, /MaxListenersExceededWarning|memory leak/, browse.stderr)
  const models = browse.json[0]!.models as Array<{ verified: boolean }>
  assert.equal(models.length, count)
  assert.ok(models.every((m) => m.verified), 'each model was read from its drive')
})
