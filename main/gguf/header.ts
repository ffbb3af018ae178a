// A bounded reader of a GGUF file's header: the key-value metadata and the tensor table, read
// from a file Grove did not write. Every count and length the file states is checked against a
// cap and against the bytes the file has left before anything is read or allocated, so a
// 24-byte file claiming 2^63 keys is refused at once, whatever it claims. It refuses what
// llama.cpp's own reader (ggml/src/gguf.cpp) refuses — bad versions, unknown value and tensor
// types, nested arrays, duplicate keys and tensor names, more than 4 dimensions, element counts
// that overflow, rows that are not whole blocks, an alignment that is not a power of two,
// tensor data that is not laid out back to back at the alignment, or that lies past the end of
// the file — with a one-line reason. Memory stays small: big strings and arrays are skipped,
// only their sizes (and the first few elements) are kept.
import { open, stat, type FileHandle } from 'node:fs/promises'
import { GroveError, firstLine } from '../../shared/errors.js'
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  MAX_DIMS,
  MAX_TENSOR_NAME,
  TENSOR_TYPES,
  VALUE_TYPE_BYTES,
  VALUE_TYPE_NAMES,
  ValueType
} from './format.js'

/** Grove's caps. No real model comes near them; llama.cpp's own are far looser (2^30 elements). */
export const GGUF_LIMITS = {
  /**
   * Key-value pairs (real models: 20–60) and tensors (the largest mixture-of-experts models:
   * ~1,100–3,000). llama.cpp compares every pair of keys and of tensor names: 8,192 tensors
   * took it 2 s here, 32,768 took 40 s.
   */
  maxKeyValues: 4096,
  maxTensors: 8192,
  /** Bytes of one key (real keys: under 64). */
  maxKeyBytes: 1024,
  /** Elements of one array of numbers. */
  maxArrayLength: 1 << 24,
  /**
   * Strings in one array (the largest vocabularies: 262,144 tokens, Gemma 3's; merges are fewer
   * than tokens). Tighter than numbers: llama.cpp and node-llama-cpp make an object of every
   * string, and llama.cpp also prints every array into one string when it loads a model (a
   * 524,288-token file took the inference process to 489 MB).
   */
  maxStringArrayLength: 1 << 18,
  /** Bytes of one string value (chat templates: tens of kB). */
  maxStringBytes: 64 * 1024 * 1024,
  /** Bytes from the start of the file to the end of the tensor table. */
  maxHeaderBytes: 1024 * 1024 * 1024
} as const

/** Strings up to this many bytes are kept (decoded); longer ones only by length. */
const KEPT_STRING_BYTES = 64 * 1024
/** Elements of an array that are kept; the rest only counted. */
const KEPT_ARRAY_ELEMENTS = 64
/** All kept strings together (keys included). */
const KEPT_TEXT_BUDGET = 8 * 1024 * 1024
const READ_CHUNK = 1024 * 1024
const INT64_MAX = (1n << 63n) - 1n

export type GgufScalar = number | bigint | boolean | string

/** A string too long to keep: only its length is known. */
export interface GgufLongString {
  kind: 'long-string'
  bytes: number
}

export interface GgufArray {
  kind: 'array'
  elementType: number
  length: number
  /** The first elements (at most KEPT_ARRAY_ELEMENTS; long strings among them as GgufLongString). */
  head: Array<GgufScalar | GgufLongString>
}

export type GgufValue = GgufScalar | GgufLongString | GgufArray

/** A metadata value with the GGUF type it was stored as (llama.cpp insists on some: a uint32 alignment). */
export interface GgufEntry {
  type: number
  value: GgufValue
}

export interface GgufTensor {
  name: string
  /** ne[0…n_dims-1], ne[0] the fastest-moving. */
  dims: bigint[]
  type: number
  typeName: string
  /** From the start of the data section. */
  offset: bigint
  elements: bigint
  bytes: bigint
}

export interface GgufHeader {
  path: string
  fileSize: number
  version: number
  alignment: number
  metadata: Map<string, GgufEntry>
  tensors: GgufTensor[]
  /** File offset where the tensor data starts. */
  dataOffset: number
  /** Bytes of tensor data, alignment padding included. */
  dataBytes: bigint
}

/**
 * Reads and checks a GGUF file's header. Throws NOT_FOUND/BAD_INPUT for a path that is not a
 * readable regular file, NOT_GGUF when it does not start with the magic, BAD_GGUF with the
 * reason for anything malformed.
 */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const fileSize = await regularFileSize(path)
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw new GroveError('NOT_FOUND', `Cannot read ${path}: ${firstLine(err)}`)
  }
  try {
    return await new HeaderParser(path, new BoundedReader(handle, fileSize, path)).parse()
  } finally {
    await handle.close().catch(() => {})
  }
}

/** The size of a regular file; anything else (a folder, a device, a FIFO, /proc) is refused. */
export async function regularFileSize(path: string): Promise<number> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    throw new GroveError('NOT_FOUND', `Cannot read ${path}: ${firstLine(err)}`)
  }
  if (!info.isFile()) throw new GroveError('BAD_INPUT', `Not a regular file: ${path}`)
  // /proc and /sys files say they are empty regular files: there is no GGUF in zero bytes.
  if (info.size === 0) throw new GroveError('NOT_GGUF', `Not a GGUF file: ${path} is empty`)
  return info.size
}

class HeaderParser {
  private keptText = 0

  constructor(
    private readonly path: string,
    private readonly r: BoundedReader
  ) {}

  async parse(): Promise<GgufHeader> {
    const r = this.r
    if (r.size < 4 || (await r.bytes(4)).toString('latin1') !== GGUF_MAGIC) {
      throw new GroveError('NOT_GGUF', `Not a GGUF file: ${this.path} (it does not start with "GGUF")`)
    }
    const version = await r.u32('the version')
    this.checkVersion(version)
    const tensorCount = await r.i64('the tensor count')
    const kvCount = await r.i64('the key-value count')
    if (tensorCount < 0n || tensorCount > BigInt(GGUF_LIMITS.maxTensors)) {
      this.bad(`it claims ${tensorCount} tensors (at most ${GGUF_LIMITS.maxTensors} allowed)`)
    }
    if (kvCount < 0n || kvCount > BigInt(GGUF_LIMITS.maxKeyValues)) {
      this.bad(`it claims ${kvCount} key-value pairs (at most ${GGUF_LIMITS.maxKeyValues} allowed)`)
    }
    // Smallest encodings: a key-value pair 14 bytes (key length, one key byte, type, a uint8),
    // a tensor 24 bytes (name length, no dimensions, type, offset).
    const least = kvCount * 14n + tensorCount * 24n
    if (least > BigInt(r.remaining)) {
      this.bad(`it claims ${kvCount} key-value pairs and ${tensorCount} tensors, which need at least ${least} bytes, but only ${r.remaining} are left`)
    }

    const metadata = new Map<string, GgufEntry>()
    for (let i = 0; i < Number(kvCount); i++) {
      const key = await this.key(i)
      if (metadata.has(key)) this.bad(`key ${i} ("${clip(key)}") appears twice`)
      const type = await r.u32(`the type of key "${clip(key)}"`)
      metadata.set(key, { type, value: await this.value(type, key) })
    }
    const alignment = this.alignment(metadata)

    const tensors: GgufTensor[] = []
    const names = new Set<string>()
    for (let i = 0; i < Number(tensorCount); i++) {
      const tensor = await this.tensor(i)
      if (names.has(tensor.name)) this.bad(`tensor ${i} ("${clip(tensor.name)}"): the name appears twice`)
      names.add(tensor.name)
      tensors.push(tensor)
    }
    if (r.position > GGUF_LIMITS.maxHeaderBytes) this.bad(`its header is ${r.position} bytes (at most ${GGUF_LIMITS.maxHeaderBytes} allowed)`)

    const dataOffset = tensors.length > 0 ? alignUp(r.position, alignment) : r.position
    if (dataOffset > r.size) this.bad(`the tensor data would start at byte ${dataOffset}, past the end of the file (${r.size} bytes)`)
    const dataBytes = this.layout(tensors, alignment, dataOffset)
    return { path: this.path, fileSize: r.size, version, alignment, metadata, tensors, dataOffset, dataBytes }
  }

  private checkVersion(version: number): void {
    if (version === 0) this.bad('its version is 0')
    if ((version & 0xffff) === 0) this.bad(`its version is ${version}: a big-endian file, or not a GGUF file`)
    if (version === 1) this.bad('it is GGUF version 1, which llama.cpp no longer reads')
    if (version > GGUF_VERSION) this.bad(`it is GGUF version ${version}; llama.cpp reads up to version ${GGUF_VERSION}`)
  }

  private async key(index: number): Promise<string> {
    const length = await this.r.u64(`the length of key ${index}`)
    if (length === 0n) this.bad(`key ${index} is empty`)
    if (length > BigInt(GGUF_LIMITS.maxKeyBytes)) this.bad(`key ${index} is ${length} bytes long (at most ${GGUF_LIMITS.maxKeyBytes} allowed)`)
    this.spendText(Number(length))
    return (await this.r.bytes(Number(length), `key ${index}`)).toString('utf8')
  }

  private async value(type: number, key: string): Promise<GgufValue> {
    if (type === ValueType.ARRAY) {
      const elementType = await this.r.u32(`the element type of "${clip(key)}"`)
      if (elementType === ValueType.ARRAY) this.bad(`"${clip(key)}" is an array of arrays, which GGUF does not allow`)
      if (VALUE_TYPE_BYTES[elementType] === undefined) this.bad(`"${clip(key)}" is an array of unknown type ${elementType}`)
      const length = await this.r.u64(`the length of "${clip(key)}"`)
      const cap = elementType === ValueType.STRING ? GGUF_LIMITS.maxStringArrayLength : GGUF_LIMITS.maxArrayLength
      if (length > BigInt(cap)) this.bad(`"${clip(key)}" claims ${length} elements (at most ${cap} allowed)`)
      const least = length * BigInt(VALUE_TYPE_BYTES[elementType]!)
      if (least > BigInt(this.r.remaining)) this.bad(`"${clip(key)}" claims ${length} ${VALUE_TYPE_NAMES[elementType]} elements, which need at least ${least} bytes, but only ${this.r.remaining} are left`)
      return this.array(elementType, Number(length), key)
    }
    if (VALUE_TYPE_BYTES[type] === undefined) this.bad(`"${clip(key)}" has unknown value type ${type}`)
    return this.scalar(type, key)
  }

  private async array(elementType: number, length: number, key: string): Promise<GgufArray> {
    const head: Array<GgufScalar | GgufLongString> = []
    if (elementType !== ValueType.STRING) {
      const size = VALUE_TYPE_BYTES[elementType]!
      const kept = Math.min(length, KEPT_ARRAY_ELEMENTS)
      for (let i = 0; i < kept; i++) head.push(await this.scalar(elementType, key))
      await this.r.skip((length - kept) * size, `the elements of "${clip(key)}"`)
      return { kind: 'array', elementType, length, head }
    }
    const kept = Math.min(length, KEPT_ARRAY_ELEMENTS)
    for (let i = 0; i < kept; i++) head.push(await this.string(key))
    await this.r.skipStrings(length - kept, GGUF_LIMITS.maxStringBytes, `the strings of "${clip(key)}"`)
    return { kind: 'array', elementType, length, head }
  }

  private async scalar(type: number, key: string): Promise<GgufScalar | GgufLongString> {
    const r = this.r
    const what = `the value of "${clip(key)}"`
    switch (type) {
      case ValueType.UINT8:
        return r.u8(what)
      case ValueType.INT8:
        return r.i8(what)
      case ValueType.UINT16:
        return r.u16(what)
      case ValueType.INT16:
        return r.i16(what)
      case ValueType.UINT32:
        return r.u32(what)
      case ValueType.INT32:
        return r.i32(what)
      case ValueType.FLOAT32:
        return r.f32(what)
      case ValueType.BOOL:
        return (await r.i8(what)) !== 0
      case ValueType.STRING:
        return this.string(key)
      case ValueType.UINT64:
        return r.u64(what)
      case ValueType.INT64:
        return r.i64(what)
      default:
        return r.f64(what)
    }
  }

  /** A string value: kept when short (and within the budget), else skipped and only measured. */
  private async string(key: string): Promise<string | GgufLongString> {
    const length = await this.stringLength(key)
    if (length > KEPT_STRING_BYTES || this.keptText + length > KEPT_TEXT_BUDGET) {
      await this.r.skip(length, `a string of "${clip(key)}"`)
      return { kind: 'long-string', bytes: length }
    }
    this.spendText(length)
    return (await this.r.bytes(length, `a string of "${clip(key)}"`)).toString('utf8')
  }

  private async stringLength(key: string): Promise<number> {
    const length = await this.r.u64(`a string length of "${clip(key)}"`)
    if (length > BigInt(GGUF_LIMITS.maxStringBytes)) this.bad(`a string of "${clip(key)}" is ${length} bytes (at most ${GGUF_LIMITS.maxStringBytes} allowed)`)
    if (length > BigInt(this.r.remaining)) this.bad(`a string of "${clip(key)}" claims ${length} bytes, but only ${this.r.remaining} are left in the file`)
    return Number(length)
  }

  private alignment(metadata: Map<string, GgufEntry>): number {
    const entry = metadata.get(GGUF_ALIGNMENT_KEY)
    if (!entry) return GGUF_DEFAULT_ALIGNMENT
    const value = entry.value
    if (entry.type !== ValueType.UINT32 || typeof value !== 'number') {
      this.bad(`${GGUF_ALIGNMENT_KEY} is a ${VALUE_TYPE_NAMES[entry.type]}, not the uint32 llama.cpp requires`)
    }
    if (value === 0 || (value & (value - 1)) !== 0) this.bad(`${GGUF_ALIGNMENT_KEY} is ${value}, which is not a power of two`)
    return value
  }

  private async tensor(index: number): Promise<GgufTensor> {
    const r = this.r
    const nameLength = await r.u64(`the name length of tensor ${index}`)
    if (nameLength >= BigInt(MAX_TENSOR_NAME)) this.bad(`tensor ${index}: its name is ${nameLength} bytes (at most ${MAX_TENSOR_NAME - 1} allowed)`)
    const name = (await r.bytes(Number(nameLength), `the name of tensor ${index}`)).toString('utf8')
    const label = `tensor ${index} ("${clip(name)}")`
    const nDims = await r.u32(`the dimension count of ${label}`)
    if (nDims > MAX_DIMS) this.bad(`${label} has ${nDims} dimensions (at most ${MAX_DIMS})`)
    const dims: bigint[] = []
    for (let d = 0; d < nDims; d++) {
      const ne = await r.i64(`dimension ${d} of ${label}`)
      if (ne < 0n) this.bad(`${label}: dimension ${d} is ${ne}, below 0`)
      dims.push(ne)
    }
    const ne = [...dims, 1n, 1n, 1n, 1n].slice(0, MAX_DIMS) as [bigint, bigint, bigint, bigint]
    const elements = ne[0] * ne[1] * ne[2] * ne[3]
    // llama.cpp's check: the element count must stay below INT64_MAX at every step.
    if (elements > 0n && (INT64_MAX / ne[1] <= ne[0] || INT64_MAX / ne[2] <= ne[0] * ne[1] || INT64_MAX / ne[3] <= ne[0] * ne[1] * ne[2])) {
      this.bad(`${label} has ${dims.join('×')} elements, more than a 64-bit count holds`)
    }
    const type = await r.u32(`the type of ${label}`)
    const layout = TENSOR_TYPES[type]
    if (!layout) this.bad(`${label} has unknown tensor type ${type}`)
    if (ne[0] % BigInt(layout.blockSize) !== 0n) {
      this.bad(`${label}: rows of ${ne[0]} elements are not whole ${layout.name} blocks of ${layout.blockSize}`)
    }
    const bytes = (elements / BigInt(layout.blockSize)) * BigInt(layout.typeSize)
    const offset = await r.u64(`the data offset of ${label}`)
    return { name, dims, type, typeName: layout.name, offset, elements, bytes }
  }

  /**
   * The data section as llama.cpp lays it out: each tensor starts where the previous one ended,
   * padded to the alignment (so tensors never overlap and are always aligned), and every
   * tensor's data must lie inside the file. Returns the section's size.
   */
  private layout(tensors: GgufTensor[], alignment: number, dataOffset: number): bigint {
    const align = BigInt(alignment)
    const fileSize = BigInt(this.r.size)
    let expected = 0n
    for (const [i, t] of tensors.entries()) {
      const label = `tensor ${i} ("${clip(t.name)}")`
      if (t.offset !== expected) {
        const why = t.offset % align !== 0n ? `not a multiple of the alignment ${alignment}` : t.offset < expected ? 'overlapping the tensor before it' : 'leaving a gap after the tensor before it'
        this.bad(`${label} has its data at offset ${t.offset}, expected ${expected} (${why})`)
      }
      const end = BigInt(dataOffset) + t.offset + t.bytes
      if (end > fileSize) this.bad(`${label}: its data ends at byte ${end}, past the end of the file (${this.r.size} bytes)`)
      expected += ((t.bytes + align - 1n) / align) * align
    }
    return expected
  }

  private spendText(bytes: number): void {
    this.keptText += bytes
    if (this.keptText > KEPT_TEXT_BUDGET + GGUF_LIMITS.maxKeyValues * GGUF_LIMITS.maxKeyBytes) this.bad('its keys and names are too long')
  }

  private bad(reason: string): never {
    throw badGguf(this.path, reason)
  }
}

export function badGguf(path: string, reason: string): GroveError {
  return new GroveError('BAD_GGUF', `Malformed GGUF file ${path}: ${reason}`)
}

/**
 * Reads a file front to back through one buffer, refusing to read (or skip) past its end: every
 * read names what it was for, so a short file says which field it ended in.
 */
class BoundedReader {
  private buffer = Buffer.alloc(0)
  /** File offset of buffer[0]. */
  private bufferStart = 0
  position = 0

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly path: string
  ) {}

  get remaining(): number {
    return this.size - this.position
  }

  async bytes(n: number, what = 'the header'): Promise<Buffer> {
    await this.need(n, what)
    const start = this.position - this.bufferStart
    this.position += n
    return Buffer.from(this.buffer.subarray(start, start + n))
  }

  async skip(n: number, what: string): Promise<void> {
    if (n > this.remaining) throw this.short(n, what)
    this.position += n
  }

  async u8(what: string): Promise<number> {
    return (await this.view(1, what)).readUInt8(0)
  }
  async i8(what: string): Promise<number> {
    return (await this.view(1, what)).readInt8(0)
  }
  async u16(what: string): Promise<number> {
    return (await this.view(2, what)).readUInt16LE(0)
  }
  async i16(what: string): Promise<number> {
    return (await this.view(2, what)).readInt16LE(0)
  }
  async u32(what: string): Promise<number> {
    return (await this.view(4, what)).readUInt32LE(0)
  }
  async i32(what: string): Promise<number> {
    return (await this.view(4, what)).readInt32LE(0)
  }
  async f32(what: string): Promise<number> {
    return (await this.view(4, what)).readFloatLE(0)
  }
  async u64(what: string): Promise<bigint> {
    return (await this.view(8, what)).readBigUInt64LE(0)
  }
  async i64(what: string): Promise<bigint> {
    return (await this.view(8, what)).readBigInt64LE(0)
  }
  async f64(what: string): Promise<number> {
    return (await this.view(8, what)).readDoubleLE(0)
  }

  /**
   * Skips `count` strings (a length, then that many bytes each) in a tight loop: a vocabulary
   * has hundreds of thousands, and a hostile array millions.
   */
  async skipStrings(count: number, maxBytes: number, what: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      let start = this.position - this.bufferStart
      if (start < 0 || start + 8 > this.buffer.length) {
        await this.need(8, what)
        start = this.position - this.bufferStart
      }
      const length = this.buffer.readBigUInt64LE(start)
      this.position += 8
      if (length > BigInt(maxBytes)) throw badGguf(this.path, `${what}: string ${i} is ${length} bytes (at most ${maxBytes} allowed)`)
      if (length > BigInt(this.remaining)) throw this.short(Number(length), what)
      this.position += Number(length)
    }
  }

  private async view(n: number, what: string): Promise<Buffer> {
    await this.need(n, what)
    const start = this.position - this.bufferStart
    this.position += n
    return this.buffer.subarray(start, start + n)
  }

  /** Makes bytes [position, position + n) available in the buffer. */
  private async need(n: number, what: string): Promise<void> {
    if (n > this.remaining) throw this.short(n, what)
    const start = this.position - this.bufferStart
    if (start >= 0 && start + n <= this.buffer.length) return
    const length = Math.min(Math.max(n, READ_CHUNK), this.remaining)
    const next = Buffer.allocUnsafe(length)
    let filled = 0
    while (filled < length) {
      let bytesRead: number
      try {
        ;({ bytesRead } = await this.handle.read(next, filled, length - filled, this.position + filled))
      } catch (err) {
        throw new GroveError('BAD_INPUT', `Cannot read ${this.path}: ${firstLine(err)}`)
      }
      if (bytesRead === 0) throw new GroveError('BAD_INPUT', `${this.path} changed while it was read (it is shorter than it said)`)
      filled += bytesRead
    }
    this.buffer = next
    this.bufferStart = this.position
  }

  private short(n: number, what: string): GroveError {
    return badGguf(this.path, `the file ends in ${what} (it needs ${n} more bytes at byte ${this.position}, the file has ${this.size})`)
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

/** A name from the file, short enough for an error line. */
function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}
