// Tests for the deterministic GGUF fixture generator (main/testing/gguf-fixture.ts): the files
// must be byte-identical per seed, readable by node-llama-cpp's GGUF reader, loadable and
// runnable by llama.cpp (model and LoRA adapter), and broken copies must be rejected cleanly.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { getLlama, readGgufFileInfo, type Llama, type LlamaModel, type LlamaContextOptions, type Token } from 'node-llama-cpp'
import {
  BASE_VOCAB_SIZE,
  describeLlamaModel,
  describeLoraAdapter,
  writeCorruptedCopy,
  writeLlamaModel,
  writeLoraAdapter,
  writeTruncatedCopy,
  type LlamaModelOptions
} from '../testing/gguf-fixture.js'

const dir = await mkdtemp(join(tmpdir(), 'grove-gguf-fixture-'))
const threads = Math.max(1, Math.min(2, availableParallelism()))

const BASE: LlamaModelOptions = {
  seed: 42,
  name: 'Fixture Llama',
  license: 'apache-2.0',
  organization: 'Grove Tests',
  embeddingLength: 64,
  blockCount: 2,
  baseModels: [
    { name: 'Root Model', organization: 'Root Org', repoUrl: 'https://example.org/root', version: '1.0' },
    { name: 'Second Parent', organization: 'Other Org' }
  ]
}

let llamaPromise: Promise<Llama> | undefined
const loaded: LlamaModel[] = []
function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never' })
  return llamaPromise
}
async function loadModel(modelPath: string): Promise<LlamaModel> {
  const model = await (await llama()).loadModel({ modelPath })
  loaded.push(model)
  return model
}

after(async () => {
  for (const m of loaded) await m.dispose()
  if (llamaPromise !== undefined) await (await llamaPromise).dispose()
  await rm(dir, { recursive: true, force: true })
})

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

interface Generation { tokens: number[], firstProbabilities: Map<number, number> }

/** Greedy generation of `count` tokens after `prompt`, plus the first step's distribution. */
async function generate(model: LlamaModel, prompt: string, count: number, lora?: LlamaContextOptions['lora']): Promise<Generation> {
  const context = await model.createContext({ contextSize: 256, threads, ...(lora === undefined ? {} : { lora }) })
  try {
    const sequence = context.getSequence()
    const tokens: number[] = []
    let firstProbabilities = new Map<number, number>()
    for await (const out of sequence.evaluateWithMetadata(model.tokenize(prompt), { probabilities: true }, { temperature: 0 })) {
      if (tokens.length === 0) firstProbabilities = new Map(out.probabilities as Map<number, number>)
      tokens.push(out.token as number)
      if (tokens.length >= count) break
    }
    return { tokens, firstProbabilities }
  } finally {
    await context.dispose()
  }
}

function maxProbabilityDiff(a: Map<number, number>, b: Map<number, number>): number {
  let max = 0
  for (const k of new Set([...a.keys(), ...b.keys()])) max = Math.max(max, Math.abs((a.get(k) ?? 0) - (b.get(k) ?? 0)))
  return max
}

const modelPath = join(dir, 'model.gguf')
const adapterPath = join(dir, 'adapter.gguf')
const writtenModel = await writeLlamaModel(modelPath, BASE, { sha256: true })
const writtenAdapter = await writeLoraAdapter(adapterPath, { base: BASE, seed: 7, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'], license: 'mit' }, { sha256: true })

test('same options and seed give a byte-identical file; another seed does not', async () => {
  const again = join(dir, 'again.gguf')
  const other = join(dir, 'other-seed.gguf')
  const r = await writeLlamaModel(again, BASE)
  await writeLlamaModel(other, { ...BASE, seed: 43 })
  const [a, b, c] = await Promise.all([sha256File(modelPath), sha256File(again), sha256File(other)])
  assert.equal(a, b)
  assert.notEqual(a, c)
  assert.equal(writtenModel.sha256, a, 'sha256 computed while writing matches the file')
  assert.equal(r.sha256, undefined, 'no hash unless asked')
  // Same size and header for another seed: only the weights differ.
  assert.equal((await stat(other)).size, (await stat(modelPath)).size)

  const adapterAgain = join(dir, 'adapter-again.gguf')
  await writeLoraAdapter(adapterAgain, { base: BASE, seed: 7, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'], license: 'mit' })
  assert.equal(await sha256File(adapterAgain), writtenAdapter.sha256)
  const adapterOther = join(dir, 'adapter-other.gguf')
  await writeLoraAdapter(adapterOther, { base: BASE, seed: 8, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'], license: 'mit' })
  assert.notEqual(await sha256File(adapterOther), writtenAdapter.sha256)
})

test('describe* predicts the exact size, offsets and parameter count', async () => {
  const layout = describeLlamaModel(BASE)
  assert.equal((await stat(modelPath)).size, layout.fileSize)
  assert.equal(writtenModel.size, layout.fileSize)
  assert.deepEqual(writtenModel.layout, layout)
  const d = layout.dimensions
  const kvDim = (d.embeddingLength / d.headCount) * d.headCountKv
  const perLayer = 2 * d.embeddingLength + 2 * d.embeddingLength * d.embeddingLength +
    2 * d.embeddingLength * kvDim + 3 * d.embeddingLength * d.feedForwardLength
  assert.equal(layout.parameterCount, d.blockCount * perLayer + d.embeddingLength + 2 * d.embeddingLength * d.vocabSize)
  assert.equal(layout.dataOffset % 32, 0)
  for (const t of layout.tensors) assert.equal(t.offset % 32, 0, t.name)

  const adapterLayout = describeLoraAdapter({ base: BASE, seed: 7, rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up'], license: 'mit' })
  assert.equal((await stat(adapterPath)).size, adapterLayout.fileSize)

  // Size targets pick the layer count: within half a layer of the target.
  const gib = describeLlamaModel({ targetBytes: 1024 ** 3 })
  assert.ok(Math.abs(gib.fileSize - 1024 ** 3) < 0.02 * 1024 ** 3, `1 GiB target gave ${gib.fileSize}`)
  const m100 = describeLlamaModel({ targetParams: 100e6 })
  assert.ok(Math.abs(m100.parameterCount - 100e6) < 5e6, `100M target gave ${m100.parameterCount}`)
  assert.equal(m100.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.type, 'f16')
  const f32 = describeLlamaModel({ ...BASE, matrixType: 'f32' })
  assert.equal(f32.tensors.find((t) => t.name === 'output.weight')?.type, 'f32')
  assert.throws(() => describeLlamaModel({ embeddingLength: 64, headCount: 3 }), /multiple of headCount/)
})

test('readGgufFileInfo reads architecture, names, licence, lineage and tokenizer', async () => {
  const info = await readGgufFileInfo(modelPath, { logWarnings: false })
  assert.equal(info.version, 3)
  const md = info.metadata
  assert.equal(md.general.architecture, 'llama')
  assert.equal(md.general.name, 'Fixture Llama')
  assert.equal(md.general.license, 'apache-2.0')
  const general = md.general as typeof md.general & { organization?: string, type?: string }
  assert.equal(general.organization, 'Grove Tests')
  assert.equal(general.type, 'model')
  assert.equal(md.general.file_type, 1)
  const base = md.general.base_model
  assert.ok(base !== undefined)
  assert.equal(base.count, 2)
  assert.deepEqual({ ...base['0'] }, { name: 'Root Model', organization: 'Root Org', repo_url: 'https://example.org/root', version: '1.0' })
  assert.deepEqual({ ...base['1'] }, { name: 'Second Parent', organization: 'Other Org' })

  const l = (md as unknown as { llama: { embedding_length: number, block_count: number, context_length: number, attention: { head_count: number, head_count_kv: number } } }).llama
  assert.equal(l.embedding_length, 64)
  assert.equal(l.block_count, 2)
  assert.equal(l.attention.head_count, 4)
  assert.equal(l.attention.head_count_kv, 2)
  assert.equal(md.tokenizer.ggml.model, 'llama')
  assert.equal(md.tokenizer.ggml.tokens.length, BASE_VOCAB_SIZE)
  assert.equal(md.tokenizer.ggml.tokens[3 + 0x41], '<0x41>')
  assert.equal(info.tensorInfo?.length, writtenModel.layout.tensors.length)
  const q = info.tensorInfo?.find((t) => t.name === 'blk.1.attn_k.weight')
  assert.deepEqual(q?.dimensions.map(Number), [64, 32])

  const ainfo = await readGgufFileInfo(adapterPath, { logWarnings: false })
  const ag = ainfo.metadata.general as typeof md.general & { type?: string }
  assert.equal(ag.architecture, 'llama')
  assert.equal(ag.type, 'adapter')
  assert.equal(ag.name, 'Fixture Llama LoRA')
  assert.equal(ag.license, 'mit')
  assert.equal(ag.base_model?.count, 1)
  assert.equal(ag.base_model?.['0']?.name, 'Fixture Llama')
  const adapterMd = (ainfo.metadata as unknown as { adapter: { type: string, lora: { alpha: number } } }).adapter
  assert.equal(adapterMd.type, 'lora')
  assert.equal(adapterMd.lora.alpha, 8)
  assert.equal(ainfo.tensorInfo?.length, 2 * 2 * 3)
  const a = ainfo.tensorInfo?.find((t) => t.name === 'blk.0.ffn_up.weight.lora_a')
  const b = ainfo.tensorInfo?.find((t) => t.name === 'blk.0.ffn_up.weight.lora_b')
  assert.deepEqual(a?.dimensions.map(Number), [64, 4])
  assert.deepEqual(b?.dimensions.map(Number), [4, 192])
})

test('llama.cpp loads the model, round-trips text and generates deterministically', async () => {
  const model = await loadModel(modelPath)
  assert.equal(model.fileInfo.metadata.general.architecture, 'llama')
  for (const text of ['Hello, world!', 'Grove shares models over Hyperswarm.\n\tTabs & newlines', 'ünïcödé ✓ 🌲 日本語', '']) {
    const tokens = model.tokenize(text)
    assert.equal(model.detokenize(tokens), text)
  }
  assert.ok(model.tokenize('abc').length >= 3)

  const first = await generate(model, 'The quick brown fox', 8)
  const second = await generate(model, 'The quick brown fox', 8)
  // Byte/special output rows are damped: greedy output is printable text and EOS does not cut it short.
  assert.equal(first.tokens.length, 8)
  assert.match(model.detokenize(first.tokens as Token[]), /^[\x20-\x7e]{8}$/)
  assert.deepEqual(second.tokens, first.tokens)
  assert.ok(maxProbabilityDiff(first.firstProbabilities, second.firstProbabilities) < 1e-6)

  // Another seed is another model: a different next-token distribution.
  const otherPath = join(dir, 'other-seed-load.gguf')
  await writeLlamaModel(otherPath, { ...BASE, seed: 1042 })
  const other = await generate(await loadModel(otherPath), 'The quick brown fox', 1)
  assert.ok(maxProbabilityDiff(first.firstProbabilities, other.firstProbabilities) > 1e-3)
})

test('F32 matrices and tied embeddings load and run too', async () => {
  const p = join(dir, 'f32-tied.gguf')
  await writeLlamaModel(p, { ...BASE, matrixType: 'f32', tiedEmbeddings: true, embeddingLength: 32, headCount: 2, headCountKv: 1, blockCount: 1 })
  const model = await loadModel(p)
  const g = await generate(model, 'hi', 2)
  assert.ok(g.tokens.length >= 1)
})

test('the LoRA adapter loads, changes the output, and scale 0 gives the base output', async () => {
  const model = await loadModel(modelPath)
  const prompt = 'The quick brown fox'
  const plain = await generate(model, prompt, 8)
  const adapted = await generate(model, prompt, 8, { adapters: [{ filePath: adapterPath, scale: 1 }] })
  const zero = await generate(model, prompt, 8, { adapters: [{ filePath: adapterPath, scale: 0 }] })
  assert.ok(maxProbabilityDiff(plain.firstProbabilities, adapted.firstProbabilities) > 1e-3,
    'the adapter changes the next-token distribution')
  assert.deepEqual(zero.tokens, plain.tokens)
  assert.ok(maxProbabilityDiff(plain.firstProbabilities, zero.firstProbabilities) < 1e-6)
})

test('an adapter made for another shape is refused by llama.cpp with an error', async () => {
  const model = await loadModel(modelPath)
  const wrong = join(dir, 'adapter-wrong-base.gguf')
  await writeLoraAdapter(wrong, { base: { ...BASE, embeddingLength: 128 } })
  await assert.rejects(model.createContext({ contextSize: 256, threads, lora: { adapters: [{ filePath: wrong }] } }))
})

test('truncated and corrupted files are rejected with errors, not crashes', async () => {
  const { dataOffset, fileSize } = writtenModel.layout

  // Cut inside the header. node-llama-cpp 3.22's readGgufFileInfo reads past the end of the
  // file as zeros instead of failing, so a reader must compare infoEndOffset (and the tensors'
  // fileOffset + size) with the file size; llama.cpp itself refuses the file.
  for (const cut of [16, 2000, dataOffset - 8]) {
    const inHeader = join(dir, `truncated-header-${cut}.gguf`)
    await writeTruncatedCopy(modelPath, inHeader, cut)
    assert.equal((await stat(inHeader)).size, cut)
    const detected = await readGgufFileInfo(inHeader, { logWarnings: false }).then(
      (i) => i.infoEndOffset === undefined || i.infoEndOffset > cut,
      () => true
    )
    assert.ok(detected, `a header cut at ${cut} bytes is detectable`)
    await assert.rejects(loadModel(inHeader))
  }

  // Cut inside the tensor data: the header still reads, but llama.cpp refuses to load it.
  const inData = join(dir, 'truncated-data.gguf')
  await writeTruncatedCopy(modelPath, inData, dataOffset + Math.floor((fileSize - dataOffset) / 2))
  const info = await readGgufFileInfo(inData, { logWarnings: false })
  assert.equal(info.metadata.general.architecture, 'llama')
  await assert.rejects(loadModel(inData))

  const empty = join(dir, 'empty.gguf')
  await writeTruncatedCopy(modelPath, empty, 0)
  await assert.rejects(readGgufFileInfo(empty, { logWarnings: false }))

  // A bad magic.
  const badMagic = join(dir, 'bad-magic.gguf')
  await writeCorruptedCopy(modelPath, badMagic, 0, Buffer.from('NOPE'))
  await assert.rejects(readGgufFileInfo(badMagic, { logWarnings: false }))
  await assert.rejects(loadModel(badMagic))

  // A truncated adapter is refused when a context tries to apply it.
  const model = await loadModel(modelPath)
  const cutAdapter = join(dir, 'truncated-adapter.gguf')
  await writeTruncatedCopy(adapterPath, cutAdapter, writtenAdapter.layout.dataOffset + 16)
  await assert.rejects(model.createContext({ contextSize: 256, threads, lora: { adapters: [{ filePath: cutAdapter }] } }))
})
