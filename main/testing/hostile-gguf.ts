// Grove's corpus of malformed GGUF files, by class: each case starts from a real tiny model or
// adapter (gguf-fixture.ts) and breaks one thing — a count, a length, the nesting, a type, the
// dimensions, an offset, the alignment, the version, the end of the file — or keeps every bound
// and breaks what only llama.cpp notices (an unknown architecture, a short tokenizer array, a
// missing tensor). Tests run every case through the header reader, the probe, the CLI and the
// API. Classes matter more than files: Grove is also tried with corpora that are not here.
//
// The GGUF is decoded into a plain description (values kept as their raw bytes), changed, and
// encoded again, so a case says what it breaks and nothing else moves.
import { readFile } from 'node:fs/promises'
import { ValueType } from '../gguf/format.js'

export interface RawKv {
  key: string
  type: number
  /** The value's encoding, after its type (for an array: element type, count, elements). */
  raw: Buffer
  /** Written instead of the key's real byte length. */
  keyLength?: bigint
}

export interface RawTensor {
  name: string
  dims: bigint[]
  type: number
  offset: bigint
  /** Written instead of the name's real byte length / the dimension count. */
  nameLength?: bigint
  nDims?: number
}

export interface RawGguf {
  version: number
  kv: RawKv[]
  tensors: RawTensor[]
  alignment: number
  /** The tensor data section, as it was. */
  data: Buffer
  /** Written instead of the real counts. */
  tensorCount?: bigint
  kvCount?: bigint
}

/** Decodes a GGUF Grove generated (trusted input: this is not the bounded reader). */
export async function decodeGguf(path: string): Promise<RawGguf> {
  const buf = await readFile(path)
  let at = 4
  const u32 = () => ((at += 4), buf.readUInt32LE(at - 4))
  const u64 = () => ((at += 8), buf.readBigUInt64LE(at - 8))
  const str = () => {
    const n = Number(u64())
    at += n
    return buf.toString('utf8', at - n, at)
  }
  const version = u32()
  const tensorCount = Number(u64())
  const kvCount = Number(u64())
  const kv: RawKv[] = []
  let alignment = 32
  for (let i = 0; i < kvCount; i++) {
    const key = str()
    const type = u32()
    const start = at
    skipValue(type)
    kv.push({ key, type, raw: Buffer.from(buf.subarray(start, at)) })
    if (key === 'general.alignment') alignment = buf.readUInt32LE(start)
  }
  function skipValue(type: number): void {
    if (type === ValueType.STRING) str()
    else if (type === ValueType.ARRAY) {
      const elementType = u32()
      const n = Number(u64())
      for (let i = 0; i < n; i++) skipValue(elementType)
    } else at += FIXED[type]!
  }
  const tensors: RawTensor[] = []
  for (let i = 0; i < tensorCount; i++) {
    const name = str()
    const n = u32()
    const dims: bigint[] = []
    for (let d = 0; d < n; d++) dims.push(u64())
    tensors.push({ name, dims, type: u32(), offset: u64() })
  }
  const dataOffset = Math.ceil(at / alignment) * alignment
  return { version, kv, tensors, alignment, data: Buffer.from(buf.subarray(dataOffset)) }
}

const FIXED: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }

export function encodeGguf(g: RawGguf): Buffer {
  const parts: Buffer[] = [Buffer.from('GGUF'), u32(g.version), u64(g.tensorCount ?? BigInt(g.tensors.length)), u64(g.kvCount ?? BigInt(g.kv.length))]
  for (const kv of g.kv) {
    const key = Buffer.from(kv.key)
    parts.push(u64(kv.keyLength ?? BigInt(key.length)), key, u32(kv.type), kv.raw)
  }
  for (const t of g.tensors) {
    const name = Buffer.from(t.name)
    parts.push(u64(t.nameLength ?? BigInt(name.length)), name, u32(t.nDims ?? t.dims.length))
    for (const d of t.dims) parts.push(i64(d))
    parts.push(u32(t.type), u64(t.offset))
  }
  const header = Buffer.concat(parts)
  const padded = Math.ceil(header.length / g.alignment) * g.alignment
  return Buffer.concat([header, Buffer.alloc(Math.max(0, padded - header.length)), g.data])
}

// --- value encodings ---------------------------------------------------------------------------

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v >>> 0)
  return b
}
export function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt.asUintN(64, v))
  return b
}
export function i64(v: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64LE(BigInt.asIntN(64, v))
  return b
}
export function f32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeFloatLE(v)
  return b
}
export function str(s: string): Buffer {
  const bytes = Buffer.from(s)
  return Buffer.concat([u64(BigInt(bytes.length)), bytes])
}
/** An array value: element type, count, then the elements' encodings. */
export function array(elementType: number, count: bigint, elements: Buffer[] = []): Buffer {
  return Buffer.concat([u32(elementType), u64(count), ...elements])
}

/** A bare 24-byte header: magic, version, tensor count, kv count — what a hostile file can be. */
export function bareHeader(tensors: bigint, kvs: bigint, version = 3): Buffer {
  return Buffer.concat([Buffer.from('GGUF'), u32(version), u64(tensors), u64(kvs)])
}

/** A tensor's data size, padded to the alignment (F32 and F16 tensors, as the fixtures write). */
function padded(t: RawTensor, alignment: number): bigint {
  const bytes = t.dims.reduce((a, b) => a * b, 1n) * (t.type === 1 ? 2n : 4n)
  const align = BigInt(alignment)
  return ((bytes + align - 1n) / align) * align
}

// --- the corpus ---------------------------------------------------------------------------------

export type HostileClass = 'not-gguf' | 'version' | 'counts' | 'lengths' | 'nesting' | 'types' | 'dims' | 'offsets' | 'alignment' | 'truncation' | 'duplicates' | 'semantics'

export interface HostileCase {
  name: string
  class: HostileClass
  bytes: Buffer
  /**
   * Where it is refused: 'header' by the bounded reader (any process, in milliseconds),
   * 'open' only once llama.cpp (or the adapter checks) looks at it.
   */
  stage: 'header' | 'open'
  code: 'NOT_GGUF' | 'BAD_GGUF'
  /** The reason the error or problem must give. */
  reason: RegExp
}

/** Every case, made from a tiny model and a LoRA adapter for it (files from gguf-fixture.ts). */
export async function hostileGgufCorpus(modelPath: string, adapterPath: string): Promise<HostileCase[]> {
  const model = await decodeGguf(modelPath)
  const adapter = await decodeGguf(adapterPath)
  const cases: HostileCase[] = []
  const add = (name: string, cls: HostileClass, bytes: Buffer, reason: RegExp, stage: 'header' | 'open' = 'header', code: 'NOT_GGUF' | 'BAD_GGUF' = 'BAD_GGUF') =>
    cases.push({ name, class: cls, bytes, stage, code, reason })
  /** The model with `change` applied to a deep copy. */
  const m = (change: (g: RawGguf) => void, from: RawGguf = model): Buffer => {
    const g = structuredClone(from)
    g.data = from.data
    change(g)
    return encodeGguf(g)
  }
  const kvIndex = (g: RawGguf, key: string) => {
    const i = g.kv.findIndex((k) => k.key === key)
    if (i < 0) throw new Error(`the fixture has no ${key}`)
    return i
  }
  /** Replaces a key's value, or adds the key. */
  const setKv = (g: RawGguf, key: string, type: number, raw: Buffer) => {
    const i = g.kv.findIndex((k) => k.key === key)
    g.kv[i < 0 ? g.kv.length : i] = { key, type, raw }
  }
  const tensor = (g: RawGguf, suffix: string) => {
    const t = g.tensors.find((x) => x.name.endsWith(suffix))
    if (!t) throw new Error(`the fixture has no tensor ${suffix}`)
    return t
  }
  const whole = encodeGguf(model)

  // Not GGUF at all.
  add('text file', 'not-gguf', Buffer.from('these are not weights\n'.repeat(40)), /does not start with "GGUF"/, 'header', 'NOT_GGUF')
  add('magic only', 'not-gguf', Buffer.from('GGUF'), /the file ends in the version/)
  add('empty file', 'not-gguf', Buffer.alloc(0), /is empty/, 'header', 'NOT_GGUF')
  add('safetensors-looking', 'not-gguf', Buffer.concat([u64(64n), Buffer.from('{"__metadata__":{}}')]), /does not start with "GGUF"/, 'header', 'NOT_GGUF')

  // Versions.
  add('version 0', 'version', m((g) => (g.version = 0)), /version is 0/)
  add('version 1', 'version', m((g) => (g.version = 1)), /version 1/)
  add('version 4', 'version', m((g) => (g.version = 4)), /version 4; llama\.cpp reads up to version 3/)
  add('big-endian version', 'version', m((g) => (g.version = 0x03000000)), /big-endian/)

  // Counts, alone in 24 bytes and in a whole file.
  add('24 bytes, 2^63-1 key-value pairs', 'counts', bareHeader(0n, 2n ** 63n - 1n), /claims 9223372036854775807 key-value pairs/)
  add('24 bytes, kv count 2^63 (negative)', 'counts', bareHeader(0n, 2n ** 63n), /claims -9223372036854775808 key-value pairs/)
  add('24 bytes, 2^64-1 tensors (negative)', 'counts', bareHeader(2n ** 64n - 1n, 0n), /claims -1 tensors/)
  add('24 bytes, 2^40 tensors', 'counts', bareHeader(2n ** 40n, 0n), /claims 1099511627776 tensors/)
  add('24 bytes, 4000 key-value pairs', 'counts', bareHeader(0n, 4000n), /need at least 56000 bytes, but only 0 are left/)
  add('kv count one too many', 'counts', m((g) => (g.kvCount = BigInt(g.kv.length + 1))), /tensor \d+|ends in|claims|unknown|empty|bytes long/)
  add('tensor count 8193', 'counts', m((g) => (g.tensorCount = 8193n)), /claims 8193 tensors \(at most 8192/)
  add('kv count 4097', 'counts', m((g) => (g.kvCount = 4097n)), /claims 4097 key-value pairs \(at most 4096/)
  add('tensor count doubled', 'counts', m((g) => (g.tensorCount = BigInt(g.tensors.length * 2))), /tensor|ends in/)

  // Lengths.
  add('key length 1e9', 'lengths', m((g) => (g.kv[0]!.keyLength = 1_000_000_000n)), /key 0 is 1000000000 bytes long/)
  add('key length 2^64-1', 'lengths', m((g) => (g.kv[0]!.keyLength = 2n ** 64n - 1n)), /key 0 is 18446744073709551615 bytes long/)
  add('empty key', 'lengths', m((g) => (g.kv[1]!.key = '')), /key 1 is empty/)
  add('string length 1e9', 'lengths', m((g) => setKv(g, 'general.name', ValueType.STRING, u64(1_000_000_000n))), /"general\.name" (is|claims) 1000000000 bytes/)
  add('string length 2^63', 'lengths', m((g) => setKv(g, 'general.name', ValueType.STRING, u64(2n ** 63n))), /"general\.name" is 9223372036854775808 bytes/)
  add('string longer than the file', 'lengths', m((g) => setKv(g, 'general.name', ValueType.STRING, Buffer.concat([u64(10_000_000n), Buffer.from('x')]))), /claims 10000000 bytes, but only \d+ are left/)
  add('tensor name of 64 bytes', 'lengths', m((g) => (g.tensors[0]!.name = 'n'.repeat(64))), /its name is 64 bytes \(at most 63/)
  add('tensor name length 2^63', 'lengths', m((g) => (g.tensors[0]!.nameLength = 2n ** 63n)), /its name is 9223372036854775808 bytes/)
  add('array count 2^63', 'lengths', m((g) => setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(ValueType.FLOAT32, 2n ** 63n))), /claims 9223372036854775808 elements/)
  add('array count 2^24+1', 'lengths', m((g) => setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(ValueType.FLOAT32, 2n ** 24n + 1n))), /claims 16777217 elements \(at most 16777216/)
  add('array longer than the file', 'lengths', m((g) => setKv(g, 'tokenizer.ggml.token_type', ValueType.ARRAY, array(ValueType.INT32, 1_000_000n))), /claims 1000000 int32 elements, which need at least 4000000 bytes/)
  add('string array element 1e9 bytes', 'lengths', m((g) => setKv(g, 'tokenizer.ggml.tokens', ValueType.ARRAY, array(ValueType.STRING, 2n, [str('a'), u64(1_000_000_000n)]))), /1000000000 bytes/)
  add('2^18+1 strings in an array', 'lengths', m((g) => setKv(g, 'general.tags', ValueType.ARRAY, array(ValueType.STRING, 2n ** 18n + 1n, [Buffer.alloc(8 * (2 ** 18 + 1))]))), /"general\.tags" claims 262145 elements \(at most 262144/)

  // Nesting and value types.
  add('array of arrays', 'nesting', m((g) => setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(ValueType.ARRAY, 1n, [array(ValueType.FLOAT32, 0n)]))), /array of arrays/)
  add('array of arrays, nested 1024 deep', 'nesting', m((g) => setKv(g, 'general.name', ValueType.ARRAY, Buffer.concat(Array.from({ length: 1 << 10 }, () => array(ValueType.ARRAY, 1n))))), /array of arrays/)
  add('unknown value type 13', 'types', m((g) => (g.kv[2]!.type = 13)), /unknown value type 13/)
  add('unknown value type 2^32-1', 'types', m((g) => (g.kv[2]!.type = 0xffffffff)), /unknown value type 4294967295/)
  add('array of unknown type', 'types', m((g) => setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(99, 3n))), /array of unknown type 99/)
  add('unknown tensor type 43', 'types', m((g) => (g.tensors[0]!.type = 43)), /unknown tensor type 43/)
  add('removed tensor type 4 (Q4_2)', 'types', m((g) => (g.tensors[0]!.type = 4)), /unknown tensor type 4/)
  add('tensor type 2^31', 'types', m((g) => (g.tensors[0]!.type = 2 ** 31)), /unknown tensor type 2147483648/)
  add('alignment as a string', 'types', m((g) => setKv(g, 'general.alignment', ValueType.STRING, str('32'))), /general\.alignment is a string, not the uint32/)

  // Dimensions.
  add('n_dims 5', 'dims', m((g) => (g.tensors[0]!.dims = [...g.tensors[0]!.dims, 1n, 1n, 1n].slice(0, 5))), /has 5 dimensions \(at most 4\)/)
  add('n_dims 2^31', 'dims', m((g) => (g.tensors[0]!.nDims = 2 ** 31)), /has 2147483648 dimensions/)
  add('negative dimension', 'dims', m((g) => (g.tensors[0]!.dims[0] = -64n)), /dimension 0 is -64, below 0/)
  add('dimension product overflows int64', 'dims', m((g) => (g.tensors[0]!.dims = [2n ** 32n, 2n ** 32n])), /more than a 64-bit count holds/)
  add('row not a whole Q4_0 block', 'dims', m((g) => {
    const t = g.tensors[0]!
    t.type = 2
    t.dims = [33n, 1n]
  }), /rows of 33 elements are not whole Q4_0 blocks of 32/)
  add('huge but valid-looking dims', 'dims', m((g) => (tensor(g, 'attn_q.weight').dims = [2n ** 20n, 2n ** 20n])), /past the end of the file|expected \d+/)

  // Offsets.
  add('offset off by one (misaligned)', 'offsets', m((g) => (g.tensors[1]!.offset += 1n)), /not a multiple of the alignment/)
  add('overlapping tensors', 'offsets', m((g) => (g.tensors[2]!.offset = g.tensors[1]!.offset)), /overlapping the tensor before it/)
  add('gap between tensors', 'offsets', m((g) => (g.tensors[2]!.offset += 64n)), /leaving a gap/)
  add('offset 2^40', 'offsets', m((g) => (g.tensors[g.tensors.length - 1]!.offset = 2n ** 40n)), /expected \d+/)
  add('offset 2^64-1', 'offsets', m((g) => (g.tensors[0]!.offset = 2n ** 64n - 1n)), /expected 0/)
  add('last tensor past the end', 'offsets', whole.subarray(0, whole.length - 1), /its data ends at byte \d+, past the end of the file/)

  // Alignment.
  add('alignment 0', 'alignment', m((g) => setKv(g, 'general.alignment', ValueType.UINT32, u32(0))), /general\.alignment is 0, which is not a power of two/)
  add('alignment 48', 'alignment', m((g) => setKv(g, 'general.alignment', ValueType.UINT32, u32(48))), /general\.alignment is 48, which is not a power of two/)
  add('alignment 2^31', 'alignment', m((g) => setKv(g, 'general.alignment', ValueType.UINT32, u32(2 ** 31))), /past the end of the file/)
  add('alignment 1024 with data laid out for 32', 'alignment', m((g) => setKv(g, 'general.alignment', ValueType.UINT32, u32(1024))), /expected \d+|past the end/)

  // Truncation: cut in each part of the file.
  const headerEnd = whole.length - model.data.length
  for (const at of [5, 12, 23, 40, Math.floor(headerEnd / 3), Math.floor(headerEnd / 2), headerEnd - 3]) {
    add(`cut at byte ${at} (header)`, 'truncation', whole.subarray(0, at), /the file ends in|past the end|are left/)
  }
  add('cut in the tensor data', 'truncation', whole.subarray(0, headerEnd + Math.floor(model.data.length / 2)), /its data ends at byte \d+, past the end of the file/)

  // Duplicates.
  add('duplicate key', 'duplicates', m((g) => g.kv.push({ ...g.kv[kvIndex(g, 'general.name')]! })), /key \d+ \("general\.name"\) appears twice/)
  add('duplicate tensor name', 'duplicates', m((g) => (g.tensors[3]!.name = g.tensors[2]!.name)), /tensor 3 \("[^"]+"\): the name appears twice/)

  // At the caps: refused by llama.cpp, but within the time and memory a probe has.
  add('8192 tensors llama.cpp does not expect', 'counts', m((g) => {
    const extra = 8192 - g.tensors.length
    const end = g.tensors.reduce((size, t) => size + padded(t, g.alignment), 0n)
    g.tensors.push(...Array.from({ length: extra }, (_, i) => ({ name: `extra.${i}`, dims: [8n], type: 0, offset: end + BigInt(i * 32) })))
    g.data = Buffer.concat([g.data, Buffer.alloc(extra * 32)])
  }), /llama\.cpp cannot open it/, 'open')
  add('a vocabulary of 2^18 tokens', 'lengths', m((g) => {
    const n = 1 << 18
    const token = (i: number) => str(`t${i}`)
    setKv(g, 'tokenizer.ggml.tokens', ValueType.ARRAY, array(ValueType.STRING, BigInt(n), Array.from({ length: n }, (_, i) => token(i))))
    setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(ValueType.FLOAT32, BigInt(n), [Buffer.alloc(4 * n)]))
    setKv(g, 'tokenizer.ggml.token_type', ValueType.ARRAY, array(ValueType.INT32, BigInt(n), [Buffer.alloc(4 * n, 1)]))
  }), /llama\.cpp (cannot open it|aborted)/, 'open')

  // Readable headers that only llama.cpp (or the adapter rules) refuses.
  add('unknown architecture', 'semantics', m((g) => setKv(g, 'general.architecture', ValueType.STRING, str('llamb'))), /unknown model architecture: 'llamb'/, 'open')
  add('architecture not a string', 'semantics', m((g) => setKv(g, 'general.architecture', ValueType.UINT32, u32(7))), /general\.architecture is not a string/, 'open')
  add('no architecture', 'semantics', m((g) => g.kv.splice(kvIndex(g, 'general.architecture'), 1)), /no general\.architecture/, 'open')
  add('short scores array', 'semantics', m((g) => setKv(g, 'tokenizer.ggml.scores', ValueType.ARRAY, array(ValueType.FLOAT32, 3n, [f32(0), f32(0), f32(0)]))), /tokenizer\.ggml\.scores has 3 entries for \d+ tokens/, 'open')
  add('short token types array', 'semantics', m((g) => setKv(g, 'tokenizer.ggml.token_type', ValueType.ARRAY, array(ValueType.INT32, 1n, [u32(1)]))), /tokenizer\.ggml\.token_type has 1 entries/, 'open')
  add('tokens not strings', 'semantics', m((g) => setKv(g, 'tokenizer.ggml.tokens', ValueType.ARRAY, array(ValueType.UINT32, 2n, [u32(1), u32(2)]))), /tokenizer\.ggml\.tokens is not an array of strings/, 'open')
  add('a tensor missing', 'semantics', m((g) => {
    // Drop the output norm (the last tensors keep their offsets: they follow it in the data).
    const i = g.tensors.findIndex((t) => t.name === 'output_norm.weight')
    if (i < 0) throw new Error('the fixture has no output_norm.weight')
    const [dropped] = g.tensors.splice(i, 1)
    const size = BigInt(Math.ceil(Number(dropped!.dims.reduce((a, b) => a * b, 1n)) * 4 / g.alignment) * g.alignment)
    for (const t of g.tensors.slice(i)) t.offset -= size
    const start = Number(dropped!.offset)
    g.data = Buffer.concat([g.data.subarray(0, start), g.data.subarray(start + Number(size))])
  }), /missing tensor|output_norm/, 'open')
  add('a tensor with the wrong shape', 'semantics', m((g) => {
    const t = tensor(g, 'blk.0.attn_q.weight')
    t.dims = [t.dims[1]!, t.dims[0]!].map((d, i) => (i === 0 ? d * 2n : d / 2n))
  }), /wrong shape|shape|attn_q/, 'open')
  add('block count 2^31', 'semantics', m((g) => setKv(g, 'llama.block_count', ValueType.UINT32, u32(2 ** 31))), /block|layer|n_layer|assert|key/i, 'open')

  // LoRA adapters: llama.cpp reads these keys with getters that abort on another type.
  const a = (change: (g: RawGguf) => void) => m(change, adapter)
  add('adapter: general.type not a string', 'semantics', a((g) => setKv(g, 'general.type', ValueType.UINT32, u32(1))), /general\.type is not a string/, 'open')
  add('adapter: alpha not a float32', 'semantics', a((g) => setKv(g, 'adapter.lora.alpha', ValueType.UINT32, u32(4))), /adapter\.lora\.alpha is not a float32/, 'open')
  add('adapter: not LoRA', 'semantics', a((g) => setKv(g, 'adapter.type', ValueType.STRING, str('control_vector'))), /only LoRA adapters/, 'open')
  add('adapter: lora_a without lora_b', 'semantics', a((g) => (g.tensors[1]!.name = g.tensors[1]!.name.replace(/lora_b$/, 'lora_c'))), /neither a lora_a nor a lora_b/, 'open')
  add('adapter: unpaired lora_a', 'semantics', a((g) => (g.tensors[1]!.name = g.tensors[1]!.name.replace(/attn_q/, 'attn_z'))), /has a lora_[ab] but no lora_[ab]/, 'open')
  add('adapter: ranks differ', 'semantics', a((g) => {
    const b = g.tensors[1]!
    b.dims = [b.dims[0]! * 2n, b.dims[1]! / 2n]
  }), /different ranks/, 'open')
  add('adapter: unknown architecture', 'semantics', a((g) => setKv(g, 'general.architecture', ValueType.STRING, str('llamb'))), /architecture "llamb" is unknown to llama\.cpp/, 'open')
  return cases
}
