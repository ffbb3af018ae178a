// The inference checks that need no worker and no model: adapter compatibility (architecture,
// shapes), the fit verdict, tensor bounds, resolving links / names / paths from the library,
// adapter arguments, native log and crash messages, the protocol schemas and thread counts.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { GgmlType, type GgufFileInfo, type GgufTensorInfo } from 'node-llama-cpp'
import { formatLink } from '../../shared/link.js'
import { adapterKindProblem, adapterShapeProblems, architectureProblem } from '../inference/compat.js'
import { describeFit, judgeFit, type FitNeeds, type MemoryState } from '../inference/fit.js'
import { cleanNativeMessage } from '../llama/native-log.js'
import { LoadSpec, WorkerMessage, WorkerRequest } from '../inference/protocol.js'
import { parseAdapterArg, resolveLoadSpec, resolveTarget } from '../inference/resolve.js'
import { nativeCrashReason } from '../process/crash-reason.js'
import { defaultThreads, physicalCores } from '../inference/threads.js'
import { Harness } from '../testing/harness.js'

const h = new Harness()
after(() => h.teardown())

function tensor(name: string, dimensions: number[], fileOffset = 0, ggmlType = GgmlType.F32): GgufTensorInfo {
  return { name, dimensions, ggmlType, offset: fileOffset, fileOffset, filePart: 1 }
}

function info(general: Record<string, unknown>, tensors: GgufTensorInfo[], extra: Record<string, unknown> = {}): GgufFileInfo {
  return { metadata: { general, ...extra }, tensorInfo: tensors } as unknown as GgufFileInfo
}

const MODEL_TENSORS = [
  tensor('token_embd.weight', [64, 354]),
  tensor('blk.0.attn_q.weight', [64, 64]),
  tensor('blk.0.attn_k.weight', [64, 32]),
  tensor('blk.0.ffn_up.weight', [64, 192])
]

test('adapter shapes are checked the way llama.cpp checks them', () => {
  const good = [
    tensor('blk.0.attn_q.weight.lora_a', [64, 4]),
    tensor('blk.0.attn_q.weight.lora_b', [4, 64]),
    tensor('blk.0.ffn_up.weight.lora_a', [64, 8]),
    tensor('blk.0.ffn_up.weight.lora_b', [8, 192]),
    // token_embd's pair is stored the other way round.
    tensor('token_embd.weight.lora_a', [4, 354]),
    tensor('token_embd.weight.lora_b', [4, 64])
  ]
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, good), [])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('blk.0.attn_k.weight.lora_a', [64, 4]), tensor('blk.0.attn_k.weight.lora_b', [4, 64])]), [
    'tensor blk.0.attn_k.weight is 64×32 in the model but 64×64 in the adapter'
  ])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('blk.0.attn_q.weight.lora_a', [64, 4]), tensor('blk.0.attn_q.weight.lora_b', [8, 64])]), [
    "tensor blk.0.attn_q.weight's lora_a and lora_b have different ranks (4 and 8)"
  ])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('token_embd.weight.lora_a', [4, 354]), tensor('token_embd.weight.lora_b', [64, 4])]), [
    'tensor token_embd.weight is 64×354 in the model but 4×354 in the adapter'
  ])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('blk.0.attn_q.weight.lora_a', [64, 4])]), ['tensor blk.0.attn_q.weight has a lora_a but no lora_b'])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('blk.7.attn_q.weight.lora_a', [64, 4]), tensor('blk.7.attn_q.weight.lora_b', [4, 64])]), [
    'it modifies tensor blk.7.attn_q.weight, which the model does not have'
  ])
  assert.deepEqual(adapterShapeProblems(MODEL_TENSORS, [tensor('something.else', [1])]), ['it has no lora_a/lora_b tensors'])
})

test('adapter kind and architecture', () => {
  const lora = info({ architecture: 'llama', type: 'adapter' }, [tensor('x.lora_a', [1, 1])], { adapter: { type: 'lora' } })
  assert.equal(adapterKindProblem(lora), null)
  assert.equal(adapterKindProblem(info({ architecture: 'llama', type: 'model' }, MODEL_TENSORS)), 'it is a model, not a LoRA adapter')
  assert.match(adapterKindProblem(info({ type: 'adapter' }, [], { adapter: { type: 'control_vector' } })) ?? '', /"control_vector" adapter; only LoRA/)
  assert.equal(architectureProblem(info({ architecture: 'llama' }, []), lora), null)
  assert.equal(architectureProblem(info({ architecture: 'qwen2' }, []), lora), 'it was made for the "llama" architecture and the model is "qwen2"')
})

const MACHINE: MemoryState = { ramTotal: 16e9, ramFree: 8e9, swapFree: 2e9, vramTotal: 0, vramFree: 0, unified: false }
const needs = (ram: number, vram = 0): FitNeeds => ({
  contextSize: 4096,
  gpuLayers: vram > 0 ? 10 : 0,
  totalLayers: 33,
  model: { ram: ram * 0.9, vram: vram * 0.9 },
  context: { ram: ram * 0.1, vram: vram * 0.1 },
  adapters: 0
})

test('the fit verdict: fits in free memory, tight within total memory and swap, else refused', () => {
  assert.equal(judgeFit(needs(4e9), MACHINE).verdict, 'fits')
  assert.equal(judgeFit(needs(12e9), MACHINE).verdict, 'tight')
  assert.equal(judgeFit(needs(17e9), MACHINE).verdict, 'tight')
  assert.equal(judgeFit(needs(19e9), MACHINE).verdict, 'wontFit')
  const gpu: MemoryState = { ...MACHINE, vramTotal: 8e9, vramFree: 6e9 }
  assert.equal(judgeFit(needs(1e9, 5e9), gpu).verdict, 'fits')
  assert.equal(judgeFit(needs(1e9, 7e9), gpu).verdict, 'tight')
  assert.equal(judgeFit(needs(1e9, 9e9), gpu).verdict, 'wontFit')
  // Unified memory: what the GPU takes comes out of RAM.
  assert.equal(judgeFit(needs(5e9, 5e9), { ...gpu, vramFree: 8e9, unified: true }).verdict, 'tight')
  const report = judgeFit({ ...needs(4e9), adapters: 50e6 }, MACHINE)
  assert.equal(report.need.ram, 4.05e9)
  assert.equal(
    describeFit(report),
    'needs about 4.0 GB of RAM (weights 3.6 GB + context 400.0 MB (4096 tokens) + adapters 50.0 MB); 8.0 GB of RAM free of 16.0 GB (+2.0 GB swap), no GPU'
  )
  assert.match(describeFit(judgeFit(needs(1e9, 5e9), gpu)), /and 5\.0 GB of VRAM \(10 of 33 layers on the GPU\).*6\.0 GB of VRAM free of 8\.0 GB/)
})

test('adapter arguments take an optional :scale', () => {
  assert.deepEqual(parseAdapterArg('adapter.gguf'), { target: 'adapter.gguf', scale: 1 })
  assert.deepEqual(parseAdapterArg('adapter.gguf:0.5'), { target: 'adapter.gguf', scale: 0.5 })
  assert.deepEqual(parseAdapterArg('grove://abc:0'), { target: 'grove://abc', scale: 0 })
  assert.deepEqual(parseAdapterArg('My Adapter:-1'), { target: 'My Adapter', scale: -1 })
  assert.deepEqual(parseAdapterArg('C:\\models\\a.gguf'), { target: 'C:\\models\\a.gguf', scale: 1 })
  assert.throws(() => parseAdapterArg('a.gguf:99'), /between -16 and 16/)
})

test('native log lines and crash output become short reasons', () => {
  assert.equal(cleanNativeMessage("llama_model_load: error loading model: unknown model architecture: 'llamb'"), "unknown model architecture: 'llamb'")
  assert.equal(
    cleanNativeMessage('llama_model_load: error loading model: error loading model hyperparameters: invalid n_rot: 16, expected 268435456'),
    'invalid n_rot: 16, expected 268435456'
  )
  assert.equal(
    cleanNativeMessage("llama_adapter_lora_init_from_file_ptr: failed to apply lora adapter: tensor 'blk.0.attn_q.weight' has incorrect shape (hint: maybe wrong base model?)"),
    "failed to apply lora adapter: tensor 'blk.0.attn_q.weight' has incorrect shape (hint: maybe wrong base model?)"
  )
  const stderr = 'some noise\n/home/runner/work/node-llama-cpp/node-llama-cpp/llama/llama.cpp/src/llama-model-loader.cpp:1328: GGML_ASSERT(t_meta.ne[dim] >= 1) failed\n(no debugging symbols)\n'
  assert.equal(nativeCrashReason(stderr), 'GGML_ASSERT(t_meta.ne[dim] >= 1) failed')
  assert.equal(nativeCrashReason("terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc"), 'what():  std::bad_alloc')
  assert.equal(nativeCrashReason(''), undefined)
})

test('the protocol refuses malformed messages and fills defaults', () => {
  assert.equal(WorkerRequest.safeParse({ type: 'generate', id: 1, spec: { modelPath: 'm.gguf' } }).success, false)
  assert.equal(WorkerRequest.safeParse({ type: 'load', id: -1, spec: { modelPath: 'm.gguf' } }).success, false)
  assert.equal(WorkerRequest.safeParse({ type: 'rm -rf', id: 1 }).success, false)
  const spec = LoadSpec.parse({ modelPath: 'm.gguf', adapters: [{ path: 'a.gguf' }] })
  assert.deepEqual(spec, { modelPath: 'm.gguf', adapters: [{ path: 'a.gguf', scale: 1 }], ignoreBaseHash: false })
  assert.equal(LoadSpec.safeParse({ modelPath: 'm.gguf', contextSize: 1.5 }).success, false)
  assert.equal(WorkerMessage.safeParse({ type: 'error', id: 3, error: { code: 'NOPE', message: 'x' } }).success, false)
  assert.equal(WorkerMessage.safeParse({ type: 'chunk', id: 3, tokens: [1, 2], text: 'ab' }).success, true)
  assert.equal(
    WorkerRequest.safeParse({ type: 'generate', id: 1, spec: { modelPath: 'm' }, input: { kind: 'chat', messages: [{ role: 'assistant', content: 'x' }] }, options: {} }).success,
    false,
    'a chat must end with the user'
  )
})

test('threads come from the real core count', () => {
  const threads = defaultThreads()
  assert.ok(threads >= 1)
  assert.ok(threads <= availableParallelism())
  assert.ok(threads <= physicalCores())
  assert.equal(defaultThreads(1), 1)
  assert.equal(defaultThreads(10_000), Math.min(availableParallelism(), defaultThreads(10_000)))
})

test('links, library names and paths resolve to files with the hashes the library records', async () => {
  const home = await h.tmpDir('grove-resolve-home-')
  const files = await h.tmpDir('grove-resolve-files-')
  const basePath = join(files, 'base.gguf')
  const adapterPath = join(files, 'adapter.gguf')
  const loosePath = join(files, 'loose.gguf')
  for (const p of [basePath, adapterPath, loosePath]) await writeFile(p, 'GGUF stand-in')
  const size = 'GGUF stand-in'.length
  const baseSha = 'a'.repeat(64)
  const key = (c: string) => c.repeat(64)
  const manifest = (name: string, kind: 'model' | 'adapter', sha: string, parents: unknown[] = []) => ({
    schemaVersion: 1,
    kind,
    name,
    files: [{ path: `/${name.replace(/\W/g, '')}.gguf`, size, sha256: sha, role: 'weights' }],
    parents,
    publisher: 'f'.repeat(64),
    created: '2025-01-01T00:00:00.000Z'
  })
  const entry = (k: string, m: unknown, path: string | undefined, complete = true) => ({
    keyHex: key(k),
    link: formatLink(key(k)),
    origin: 'shared',
    manifest: m,
    path,
    complete,
    seeding: true,
    blocksStored: true,
    addedAt: '2025-01-01T00:00:00.000Z'
  })
  const baseLink = formatLink(key('1'))
  const library = {
    version: 1,
    entries: [
      entry('1', manifest('Base Model', 'model', baseSha), basePath),
      entry('2', manifest('Base Adapter', 'adapter', 'b'.repeat(64), [{ link: baseLink, relation: 'adapter' }]), adapterPath),
      entry('3', manifest('Twin', 'model', 'c'.repeat(64)), loosePath),
      entry('4', manifest('twin', 'model', 'd'.repeat(64)), loosePath),
      entry('5', manifest('Half Fetched', 'model', 'e'.repeat(64)), undefined, false)
    ]
  }
  await mkdir(home, { recursive: true })
  await writeFile(join(home, 'library.json'), JSON.stringify(library))

  const byLink = await resolveTarget(baseLink, { home })
  assert.deepEqual(byLink, { path: basePath, name: 'Base Model', link: baseLink, kind: 'model', sha256: baseSha, baseSha256: undefined })
  assert.deepEqual(await resolveTarget('base model', { home }), byLink, 'names match case-insensitively')
  assert.deepEqual(await resolveTarget(basePath, { home }), byLink, 'a library file by path')
  // The adapter's base hash: from its parent's link, looked up in the library.
  assert.equal((await resolveTarget('Base Adapter', { home })).baseSha256, baseSha)
  await assert.rejects(resolveTarget('twin', { home }), /Several library models are named "twin"/)
  await assert.rejects(resolveTarget('Half Fetched', { home }), /not completely downloaded yet/)
  await assert.rejects(resolveTarget(formatLink(key('9')), { home }), /is not in the library; download it first/)
  await assert.rejects(resolveTarget('nothing-here', { home }), /No file, grove:\/\/ link or library model named "nothing-here"/)
  await assert.rejects(resolveTarget(basePath, { home, libraryOnly: true }), /No library model named/)

  const spec = await resolveLoadSpec({ model: baseLink, adapters: [{ target: 'Base Adapter', scale: 0.5 }], home }, { contextSize: 128 })
  assert.deepEqual(spec, {
    contextSize: 128,
    modelPath: basePath,
    modelName: 'Base Model',
    modelSha256: baseSha,
    adapters: [{ path: adapterPath, scale: 0.5, name: 'Base Adapter', expectedBaseSha256: baseSha }]
  })
  await assert.rejects(resolveLoadSpec({ model: 'Base Adapter', home }), /is a LoRA adapter, not a model/)
  await assert.rejects(resolveLoadSpec({ model: baseLink, adapters: [{ target: 'Base Model' }], home }), /is a model, not a LoRA adapter/)
  // A bare file: no recorded hash, and its name comes from its GGUF metadata (the worker reads it).
  const bare = join(files, 'bare.gguf')
  await writeFile(bare, 'x')
  assert.deepEqual(await resolveLoadSpec({ model: bare, home }), { modelPath: bare, modelName: undefined, modelSha256: undefined, adapters: [] })
})
