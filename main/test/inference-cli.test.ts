// `grove run` as scripts use it: a child process, no network, models by link, library name or
// path, adapters from the library with their recorded base hash, --json output and exit codes.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { Harness } from '../testing/harness.js'
import { writeLlamaModel, writeLoraAdapter, type LlamaModelOptions } from '../testing/gguf-fixture.js'

const h = new Harness()
after(() => h.teardown())

const BASE: LlamaModelOptions = { seed: 11, name: 'Cli Base', embeddingLength: 64, blockCount: 2, license: 'mit' }
let dir = ''
let home = ''
let basePath = ''
let twinPath = ''
let baseLink = ''
let adapterLink = ''
const GREEDY = ['--temperature', '0', '--max-tokens', '8', '--context', '128']

before(async () => {
  dir = await h.tmpDir('grove-run-cli-')
  home = await h.tmpDir('grove-run-home-')
  basePath = join(dir, 'base.gguf')
  twinPath = join(dir, 'twin.gguf')
  const adapterPath = join(dir, 'adapter.gguf')
  await writeLlamaModel(basePath, BASE)
  // Same shapes, other weights: an adapter made for BASE fits it, but its base hash differs.
  await writeLlamaModel(twinPath, { ...BASE, seed: 12, name: 'Cli Twin' })
  await writeLoraAdapter(adapterPath, { base: BASE, seed: 3, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'] })
  const shared = await h.runGrove(['--home', home, '--json', 'share', basePath])
  assert.equal(shared.code, 0, shared.stderr)
  baseLink = String(shared.json.at(-1)?.link)
  const sharedAdapter = await h.runGrove(['--home', home, '--json', 'share', adapterPath, '--name', 'Cli Adapter', '--parent', baseLink])
  assert.equal(sharedAdapter.code, 0, sharedAdapter.stderr)
  adapterLink = String(sharedAdapter.json.at(-1)?.link)
})

async function run(args: string[]) {
  return h.runGrove(['--home', home, ...args], { timeoutMs: 120_000 })
}

test('grove run --json prints text, token ids and timings; link, name and path give the same tokens', async () => {
  const byLink = await run(['--json', 'run', baseLink, '--prompt', 'The quick brown fox', ...GREEDY])
  assert.equal(byLink.code, 0, byLink.stderr)
  assert.equal(byLink.json.length, 1, 'one JSON object on stdout')
  const result = byLink.json[0] as { text: string; tokens: number[]; timings: Record<string, number>; model: { name: string; threads: number }; fit: { verdict: string } }
  assert.equal(typeof result.text, 'string')
  assert.equal(result.tokens.length, 8)
  assert.ok(result.tokens.every((t) => Number.isInteger(t)))
  for (const key of ['loadMs', 'firstTokenMs', 'tokensPerSecond']) assert.ok(typeof result.timings[key] === 'number' && result.timings[key] >= 0, key)
  assert.ok(result.timings.tokensPerSecond! > 0)
  assert.equal(result.model.name, 'Cli Base')
  assert.equal(result.fit.verdict, 'fits')
  assert.equal(byLink.stderr, '', 'nothing on stderr with --json')

  const byName = await run(['--json', 'run', 'cli base', '--prompt', 'The quick brown fox', ...GREEDY])
  const byPath = await run(['--json', 'run', basePath, '--prompt', 'The quick brown fox', ...GREEDY])
  assert.deepEqual(byName.json[0]?.tokens, result.tokens)
  assert.deepEqual(byPath.json[0]?.tokens, result.tokens)

  // Without --json the text streams to stdout and the figures go to stderr.
  const human = await run(['run', baseLink, '--prompt', 'The quick brown fox', ...GREEDY])
  assert.equal(human.code, 0, human.stderr)
  assert.equal(human.stdout, `${result.text}\n`)
  assert.match(human.stderr, /Loaded Cli Base \(llama, .* parameters; 128-token context; CPU, \d threads?\)/)
  assert.match(human.stderr, /8 tokens, [\d.]+ tokens\/s, first token \d+ ms/)
})

test('grove run with a library adapter: verified base, scale 0 is the base output', async () => {
  const plain = await run(['--json', 'run', baseLink, '--prompt', 'Hello', ...GREEDY])
  const adapted = await run(['--json', 'run', baseLink, '--prompt', 'Hello', '--adapter', adapterLink, ...GREEDY])
  const zero = await run(['--json', 'run', baseLink, '--prompt', 'Hello', '--adapter', `${adapterLink}:0`, ...GREEDY])
  assert.equal(adapted.code, 0, adapted.stderr)
  const adapters = adapted.json[0]?.adapters as Array<{ baseHash: string; scale: number; name: string }>
  assert.deepEqual(adapters.map((a) => [a.name, a.scale, a.baseHash]), [['Cli Adapter', 1, 'verified']])
  assert.notDeepEqual(adapted.json[0]?.tokens, plain.json[0]?.tokens)
  assert.deepEqual(zero.json[0]?.tokens, plain.json[0]?.tokens)
})

test('grove run refuses an adapter made for another base, unless told to ignore the hash', async () => {
  const refused = await run(['run', twinPath, '--prompt', 'Hello', '--adapter', adapterLink, ...GREEDY])
  assert.equal(refused.code, 1)
  assert.equal(refused.stdout, '')
  const lines = refused.stderr.trim().split('\n')
  assert.match(lines.at(-1) ?? '', /^grove: Adapter "Cli Adapter" cannot be applied to model "Cli Twin": its manifest records base sha256 [0-9a-f]{16}… but this model.s sha256 is [0-9a-f]{16}….*\(--ignore-base-hash\)$/)
  const overridden = await run(['--json', 'run', twinPath, '--prompt', 'Hello', '--adapter', adapterLink, '--ignore-base-hash', ...GREEDY])
  assert.equal(overridden.code, 0, overridden.stderr)
  assert.equal((overridden.json[0]?.adapters as Array<{ baseHash: string }>)[0]?.baseHash, 'ignored')
})

test('grove run errors: not a GGUF, a missing model, bad flags, a prompt longer than the context', async () => {
  const notGguf = join(dir, 'notes.gguf')
  await writeFile(notGguf, 'plain text, not weights')
  const bad = await run(['run', notGguf, '--prompt', 'hi'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /^grove: Not a GGUF file: .*notes\.gguf/m)
  const missing = await run(['run', 'no such model', '--prompt', 'hi'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /grove: No file, grove:\/\/ link or library model named "no such model"/)
  const flags = await run(['run', basePath, '--prompt', 'hi', '--temperature', 'hot'])
  assert.equal(flags.code, 2)
  assert.match(flags.stderr, /grove: --temperature must be a number/)
  const long = await run(['run', basePath, '--prompt', 'word '.repeat(300), '--context', '64'])
  assert.equal(long.code, 1)
  assert.match(long.stderr, /grove: The prompt is \d+ tokens but the context holds 64/)
})
