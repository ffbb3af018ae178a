// Inference through the worker process (main/inference): determinism across processes, LoRA
// adapters and their refusals, broken and hostile files, a worker killed mid-generation, prompts
// longer than the context, cancel, chat, and the fit estimate. Tiny generated models (64-wide,
// 2 layers) keep every test to seconds on two cores.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { GroveError, isGroveError, type ErrorCode } from '../../shared/errors.js'
import { sha256File } from '../core/sha256.js'
import type { LoadSpec } from '../inference/protocol.js'
import { InferenceService } from '../inference/service.js'
import { forkSpawner, type WorkerSpawner } from '../process/spawn.js'
import { defaultThreads } from '../inference/threads.js'
import { Harness, waitFor } from '../testing/harness.js'
import { writeCorruptedCopy, writeLlamaModel, writeLoraAdapter, writeTruncatedCopy, type LlamaModelOptions } from '../testing/gguf-fixture.js'

const h = new Harness()
after(() => h.teardown())

const dir = await h.tmpDir('grove-inference-')
const BASE: LlamaModelOptions = { seed: 42, name: 'Inference Base', embeddingLength: 64, blockCount: 2 }
const modelPath = join(dir, 'base.gguf')
const otherPath = join(dir, 'other-base.gguf')
const adapterPath = join(dir, 'adapter.gguf')
const written = await writeLlamaModel(modelPath, BASE, { sha256: true })
await writeLlamaModel(otherPath, { ...BASE, seed: 43, name: 'Other Base' })
await writeLoraAdapter(adapterPath, { base: BASE, seed: 7, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'] })
const modelSha256 = written.sha256!
const PROMPT = 'The quick brown fox'
const GREEDY = { temperature: 0, maxTokens: 16 }
const spec: LoadSpec = { modelPath, contextSize: 256 }

function service(): InferenceService {
  const s = new InferenceService({ gpu: false })
  h.onTeardown(() => s.close())
  return s
}

/** One worker shared by the tests that leave it healthy. */
const shared = service()

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<GroveError> {
  try {
    await promise
  } catch (err) {
    assert.ok(isGroveError(err), `expected a GroveError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.match(err.message, message)
    return err
  }
  assert.fail(`expected a ${code} error`)
}

/** The offset just past a metadata key's name in a GGUF header (its value type follows). */
function keyEnd(buf: Buffer, key: string): number {
  const name = Buffer.from(key)
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(name.length))
  const at = buf.indexOf(Buffer.concat([length, name]))
  assert.ok(at >= 0, `no key ${key}`)
  return at + 8 + name.length
}

async function patchU32(src: string, dst: string, key: string, value: number): Promise<void> {
  const buf = await readFile(src)
  const at = keyEnd(buf, key)
  assert.equal(buf.readUInt32LE(at), 4, `${key} is a uint32`)
  buf.writeUInt32LE(value, at + 4)
  await writeFile(dst, buf)
}

/** Replaces a string value with another of the same length. */
async function patchString(src: string, dst: string, key: string, value: string): Promise<void> {
  const buf = await readFile(src)
  const at = keyEnd(buf, key)
  assert.equal(buf.readUInt32LE(at), 8, `${key} is a string`)
  assert.equal(Number(buf.readBigUInt64LE(at + 4)), Buffer.byteLength(value))
  buf.write(value, at + 12)
  await writeFile(dst, buf)
}

/** Points a tensor's data offset somewhere else. */
async function patchTensorOffset(src: string, dst: string, tensor: string, offset: bigint): Promise<void> {
  const buf = await readFile(src)
  let at = keyEnd(buf, tensor)
  const dims = buf.readUInt32LE(at)
  at += 4 + 8 * dims + 4
  buf.writeBigUInt64LE(offset, at)
  await writeFile(dst, buf)
}

test('the same seed gives the same tokens in two separate worker processes', async () => {
  const a = shared
  const b = service()
  const sampled = { temperature: 0.9, seed: 1234, maxTokens: 24 }
  const fromA = await a.complete(spec, PROMPT, sampled)
  const fromB = await b.complete(spec, PROMPT, sampled)
  assert.notEqual(a.pid, b.pid)
  assert.equal(fromA.tokens.length, 24)
  assert.deepEqual(fromB.tokens, fromA.tokens)
  assert.equal(fromB.text, fromA.text)
  assert.equal(fromA.seed, 1234)
  // Greedy is the same everywhere too; another seed at temperature 0.9 samples something else.
  assert.deepEqual((await b.complete(spec, PROMPT, GREEDY)).tokens, (await a.complete(spec, PROMPT, GREEDY)).tokens)
  assert.notDeepEqual((await a.complete(spec, PROMPT, { ...sampled, seed: 99 })).tokens, fromA.tokens)
  // The result carries what the CLI prints with --json.
  assert.ok(fromA.timings.loadMs >= 0 && fromA.timings.firstTokenMs >= 0 && fromA.timings.tokensPerSecond > 0)
  assert.equal(fromA.load.threads, defaultThreads(), 'threads from the real core count')
  assert.equal(fromA.load.gpu, false)
})

test('an adapter changes the output; scale 0 gives the base output; the model is reused', async () => {
  const base = await shared.complete(spec, PROMPT, GREEDY)
  const adapted = await shared.complete({ ...spec, adapters: [{ path: adapterPath, scale: 1 }] }, PROMPT, GREEDY)
  const zero = await shared.complete({ ...spec, adapters: [{ path: adapterPath, scale: 0 }] }, PROMPT, GREEDY)
  assert.notDeepEqual(adapted.tokens, base.tokens)
  assert.deepEqual(zero.tokens, base.tokens)
  assert.deepEqual(adapted.load.adapters, [{ path: adapterPath, name: 'Inference Base LoRA', scale: 1, baseHash: 'unknown' }])
  const again = await shared.complete(spec, PROMPT, GREEDY)
  assert.deepEqual(again.tokens, base.tokens)
  const reused = await shared.complete(spec, PROMPT, GREEDY)
  assert.equal(reused.load.reused, true)
})

test('an adapter for another architecture or another base is refused with the reason', async () => {
  const otherArch = join(dir, 'adapter-gemma.gguf')
  await patchString(adapterPath, otherArch, 'general.architecture', 'gemma')
  await rejectsWith(
    shared.complete({ ...spec, adapters: [{ path: otherArch }] }, PROMPT, GREEDY),
    'INCOMPATIBLE_ADAPTER',
    /made for the "gemma" architecture and the model is "llama"/
  )
  const wider = join(dir, 'adapter-wider.gguf')
  await writeLoraAdapter(wider, { base: { ...BASE, embeddingLength: 128 } })
  await rejectsWith(
    shared.complete({ ...spec, adapters: [{ path: wider }] }, PROMPT, GREEDY),
    'INCOMPATIBLE_ADAPTER',
    /tensor blk\.0\.attn_q\.weight is 64×64 in the model but 128×128 in the adapter .*different base model/
  )
  // The shape check cannot be overridden.
  await rejectsWith(
    shared.complete({ ...spec, ignoreBaseHash: true, adapters: [{ path: wider }] }, PROMPT, GREEDY),
    'INCOMPATIBLE_ADAPTER',
    /64×64 in the model but 128×128/
  )
  const deeper = join(dir, 'adapter-deeper.gguf')
  await writeLoraAdapter(deeper, { base: { ...BASE, blockCount: 3 } })
  await rejectsWith(shared.complete({ ...spec, adapters: [{ path: deeper }] }, PROMPT, GREEDY), 'INCOMPATIBLE_ADAPTER', /modifies tensor blk\.2\.attn_q\.weight, which the model does not have/)
  await rejectsWith(shared.complete({ ...spec, adapters: [{ path: otherPath }] }, PROMPT, GREEDY), 'INCOMPATIBLE_ADAPTER', /is a model, not a LoRA adapter/)
  await rejectsWith(shared.complete({ ...spec, modelPath: adapterPath }, PROMPT, GREEDY), 'BAD_INPUT', /is a LoRA adapter, not a model/)
  // Nothing broke: the worker still serves.
  assert.equal((await shared.complete(spec, PROMPT, GREEDY)).tokens.length, 16)
})

test('a base hash other than the manifest records is refused unless overridden', async () => {
  const otherSha = await sha256File(otherPath)
  const adapter = { path: adapterPath, expectedBaseSha256: otherSha }
  const err = await rejectsWith(
    shared.complete({ ...spec, adapters: [adapter] }, PROMPT, GREEDY),
    'INCOMPATIBLE_ADAPTER',
    new RegExp(`records base sha256 ${otherSha.slice(0, 16)}… but this model's sha256 is ${modelSha256.slice(0, 16)}….*--ignore-base-hash`)
  )
  assert.match(err.message, /the shapes match/)
  const overridden = await shared.complete({ ...spec, ignoreBaseHash: true, adapters: [adapter] }, PROMPT, GREEDY)
  assert.equal(overridden.load.adapters[0]?.baseHash, 'ignored')
  const verified = await shared.complete({ ...spec, adapters: [{ path: adapterPath, expectedBaseSha256: modelSha256 }] }, PROMPT, GREEDY)
  assert.equal(verified.load.adapters[0]?.baseHash, 'verified')
  assert.deepEqual(verified.tokens, overridden.tokens)
  // A model hash from the library is trusted as given (no hashing).
  await rejectsWith(
    shared.complete({ ...spec, modelSha256: otherSha, adapters: [{ path: adapterPath, expectedBaseSha256: modelSha256 }] }, PROMPT, GREEDY),
    'INCOMPATIBLE_ADAPTER',
    /records base sha256/
  )
})

test('bad files get a clear error, no crash, and the next request works', async () => {
  const pid = shared.pid
  const notGguf = join(dir, 'notes.gguf')
  await writeFile(notGguf, 'these are not weights\n'.repeat(100))
  await rejectsWith(shared.complete({ ...spec, modelPath: notGguf }, PROMPT, GREEDY), 'NOT_GGUF', /Not a GGUF file/)

  const { dataOffset, fileSize } = written.layout
  const truncated = join(dir, 'truncated.gguf')
  await writeTruncatedCopy(modelPath, truncated, dataOffset + Math.floor((fileSize - dataOffset) / 2))
  await rejectsWith(shared.complete({ ...spec, modelPath: truncated }, PROMPT, GREEDY), 'BAD_GGUF', /Malformed GGUF file .*truncated\.gguf: tensor \d+ \("[^"]+"\): its data ends at byte \d+, past the end of the file/)
  const cutHeader = join(dir, 'cut-header.gguf')
  await writeTruncatedCopy(modelPath, cutHeader, 2000)
  await rejectsWith(shared.complete({ ...spec, modelPath: cutHeader }, PROMPT, GREEDY), 'BAD_GGUF', /Malformed GGUF file .*: (the file ends in|.* are left)/)

  const outOfBounds = join(dir, 'out-of-bounds.gguf')
  await patchTensorOffset(modelPath, outOfBounds, 'blk.1.ffn_down.weight', 2n ** 40n)
  await rejectsWith(shared.complete({ ...spec, modelPath: outOfBounds }, PROMPT, GREEDY), 'BAD_GGUF', /past the end of the file|expected \d+/)

  const badMagic = join(dir, 'bad-magic.gguf')
  await writeCorruptedCopy(modelPath, badMagic, 0, Buffer.from('NOPE'))
  await rejectsWith(shared.complete({ ...spec, modelPath: badMagic }, PROMPT, GREEDY), 'NOT_GGUF', /does not start with "GGUF"/)

  // Absurd metadata: a 2^30-wide embedding would need terabytes; refused with the figures.
  const absurd = join(dir, 'absurd-width.gguf')
  await patchU32(modelPath, absurd, 'llama.embedding_length', 2 ** 30)
  await rejectsWith(shared.complete({ ...spec, modelPath: absurd }, PROMPT, GREEDY), 'WONT_FIT', /will not fit .*needs about [\d.]+ (TB|PB) of RAM/)

  // llama.cpp's own reason, captured from its log: an architecture it does not know.
  const unknownArch = join(dir, 'unknown-arch.gguf')
  await patchString(modelPath, unknownArch, 'general.architecture', 'llamb')
  await rejectsWith(shared.complete({ ...spec, modelPath: unknownArch }, PROMPT, GREEDY), 'BAD_GGUF', /llama\.cpp could not load .*unknown model architecture: 'llamb'/)

  await rejectsWith(shared.complete({ ...spec, modelPath: join(dir, 'missing.gguf') }, PROMPT, GREEDY), 'NOT_FOUND', /missing\.gguf/)
  assert.equal(shared.pid, pid, 'the same worker, still up')
  assert.equal((await shared.complete(spec, PROMPT, GREEDY)).tokens.length, 16)
})

test('a file that makes llama.cpp abort is reported as a crash, and the next request works', async () => {
  const s = service()
  const before = (await s.complete(spec, PROMPT, GREEDY)).tokens
  const firstPid = s.pid
  const noHeads = join(dir, 'no-heads.gguf')
  await patchU32(modelPath, noHeads, 'llama.attention.head_count', 0)
  await rejectsWith(s.complete({ ...spec, modelPath: noHeads }, PROMPT, GREEDY), 'WORKER_CRASHED', /inference process (was killed \(SIGABRT\)|exited).*GGML_ASSERT.*still running/)
  const manyLayers = join(dir, 'many-layers.gguf')
  await patchU32(modelPath, manyLayers, 'llama.block_count', 2 ** 31 - 1)
  await rejectsWith(s.complete({ ...spec, modelPath: manyLayers }, PROMPT, GREEDY), 'WORKER_CRASHED', /GGML_ASSERT\(hparams\.n_layer/)
  const after = await s.complete(spec, PROMPT, GREEDY)
  assert.deepEqual(after.tokens, before)
  assert.notEqual(s.pid, firstPid, 'a fresh worker')
})

test('the worker killed mid-generation: the caller gets an error, the next request works', async () => {
  const s = service()
  let chunks = 0
  let killed = false
  const long = s.complete({ ...spec, contextSize: 2048 }, PROMPT, { temperature: 0, maxTokens: 2000 }, {
    onToken: () => {
      if (++chunks === 5 && s.pid !== undefined) {
        killed = true
        process.kill(s.pid, 'SIGKILL')
      }
    }
  })
  await rejectsWith(long, 'WORKER_CRASHED', /was killed \(SIGKILL\) while generating with .*base\.gguf/)
  assert.ok(killed)
  const next = await s.complete(spec, PROMPT, GREEDY)
  assert.deepEqual(next.tokens, (await shared.complete(spec, PROMPT, GREEDY)).tokens)
})

test('a worker that dies as it starts is an error; the next request starts another (injectable spawner)', async () => {
  const broken = join(dir, 'broken-worker.mjs')
  await writeFile(broken, "process.stderr.write('Error: cannot start\\n'); process.exit(3)\n")
  const started: string[] = []
  // Spawns 1 and 3 run a worker that exits at once.
  const spawner: WorkerSpawner = (options) => {
    started.push(options.entry)
    return forkSpawner(started.length % 2 === 1 ? { ...options, entry: broken } : options)
  }
  const s = new InferenceService({ gpu: false, spawner })
  h.onTeardown(() => s.close())
  await s.ready()
  assert.equal(s.pid, undefined, 'the first worker died; ready() does not keep that failure')
  assert.equal((await s.complete(spec, PROMPT, GREEDY)).tokens.length, 16)
  assert.match(started[1] ?? '', /worker\.js$/)
  process.kill(s.pid!, 'SIGKILL')
  await waitFor(() => s.pid === undefined, 10_000, 'the worker to go')
  await rejectsWith(s.complete(spec, PROMPT, GREEDY), 'WORKER_CRASHED', /exited with code 3 while starting: Error: cannot start/)
  assert.equal((await s.complete(spec, PROMPT, GREEDY)).tokens.length, 16)
  assert.equal(started.length, 4)
})

test('a prompt longer than the context is a clear error, quickly', async () => {
  const small = { ...spec, contextSize: 64 }
  const started = Date.now()
  await rejectsWith(shared.complete(small, 'word '.repeat(200), GREEDY), 'CONTEXT_OVERFLOW', /The prompt is \d+ tokens but the context holds 64/)
  await rejectsWith(shared.chat(small, [{ role: 'user', content: 'word '.repeat(200) }], GREEDY), 'CONTEXT_OVERFLOW', /context holds 64/)
  // "Not a hang": bounded even on a busy two-core machine (it takes well under a second on an idle one).
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`)
  // Generation stays within the context: a long request stops at its end instead of shifting.
  const full = await shared.complete(small, PROMPT, { temperature: 0, maxTokens: 1000 })
  assert.equal(full.stopReason, 'maxTokens')
  assert.equal(full.promptTokens + full.tokens.length, 63)
})

test('cancel stops a generation mid-stream', async () => {
  const stop = new AbortController()
  const streamed: number[] = []
  const result = await shared.complete({ ...spec, contextSize: 2048 }, PROMPT, { temperature: 0, maxTokens: 2000 }, {
    signal: stop.signal,
    onToken: ({ tokens }) => {
      streamed.push(...tokens)
      if (streamed.length >= 5) stop.abort()
    }
  })
  assert.equal(result.stopReason, 'cancelled')
  assert.ok(result.tokens.length >= 5 && result.tokens.length < 100, `${result.tokens.length} tokens`)
  assert.deepEqual(result.tokens.slice(0, 5), streamed.slice(0, 5))
  assert.equal((await shared.complete(spec, PROMPT, GREEDY)).stopReason, 'maxTokens')
})

test('chat with a system prompt; auto mode uses completion for a model without a chat template', async () => {
  const messages = [{ role: 'user' as const, content: 'Hello there' }]
  const plain = await shared.chat(spec, messages, GREEDY)
  const withSystem = await shared.chat(spec, [{ role: 'system', content: 'You answer in one word.' }, ...messages], GREEDY)
  assert.equal(plain.mode, 'chat')
  assert.equal(plain.tokens.length, 16)
  assert.ok(withSystem.promptTokens > plain.promptTokens)
  assert.notDeepEqual(withSystem.tokens, plain.tokens)
  const auto = await shared.generate({ spec, input: { kind: 'auto', prompt: PROMPT }, options: GREEDY })
  assert.equal(auto.mode, 'completion')
  assert.deepEqual(auto.tokens, (await shared.complete(spec, PROMPT, GREEDY)).tokens)
  const autoSystem = await shared.generate({ spec, input: { kind: 'auto', prompt: 'Hello there', system: 'You answer in one word.' }, options: GREEDY })
  assert.equal(autoSystem.mode, 'chat')
  assert.deepEqual(autoSystem.tokens, withSystem.tokens)
  // Streamed text adds up to the result.
  let text = ''
  const streamed = await shared.chat(spec, messages, GREEDY, { onToken: (c) => { text += c.text } })
  assert.equal(text, streamed.text)
})

test('the fit estimate: a tiny model fits; one that cannot fit is refused with the figures', async () => {
  const fit = await shared.fit(spec)
  assert.equal(fit.verdict, 'fits')
  assert.ok(fit.need.ram > 0 && fit.need.ram < 50e6, `needs ${fit.need.ram}`)
  assert.equal(fit.gpuLayers, 0)
  assert.match(fit.summary, /needs about .* of RAM \(weights .* \+ context .* \(256 tokens\)\); .* of RAM free of/)
  await rejectsWith(
    shared.complete({ ...spec, memoryBudgetBytes: 500_000 }, PROMPT, GREEDY),
    'WONT_FIT',
    /Model "Inference Base" will not fit in this machine's memory: it needs about [\d.]+ MB of RAM .*500\.0 kB of RAM free of 500\.0 kB/
  )
  const hardware = await shared.hardware()
  assert.equal(hardware.threads, defaultThreads(hardware.cpuMathCores))
  assert.ok(hardware.ram.total > 0)
})
