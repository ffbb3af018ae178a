// The library index: what this home holds (shared and fetched models), saved as one JSON file
// that is replaced atomically, so a crash leaves either the old or the new index, never half.
import { readFile } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { GroveError } from '../../shared/errors.js'
import { Manifest, RELATIONS } from '../../shared/manifest.js'
import { parseCard } from '../../shared/model-card.js'
import { EntryProof } from '../../shared/catalog/wire.js'

export const LibraryEntry = z.object({
  keyHex: z.string().regex(/^[0-9a-f]{64}$/),
  link: z.string(),
  origin: z.enum(['shared', 'fetched']),
  /** The manifest, once known (a fetch records the entry before the manifest arrives). */
  manifest: Manifest.optional(),
  /** The loadable .gguf: the user's own file for a share, the exported file for a fetch. */
  path: z.string().optional(),
  /** The fetched file is complete and its sha256 verified. */
  complete: z.boolean(),
  /** Serve this drive to the swarm whenever Grove runs. */
  seeding: z.boolean(),
  /** The drive still holds the weights' blocks (the seeding copy). */
  blocksStored: z.boolean(),
  /**
   * The weights' blocks are kept in a file, not in the store (see file-blocks.ts): the model's
   * own file, or a fetch's partial file until it is complete. `mtimeMs`: the complete file's,
   * to notice a change made behind Grove's back.
   */
  blockFile: z
    .object({
      path: z.string(),
      blockOffset: z.number().int().nonnegative(),
      blockLength: z.number().int().positive(),
      byteLength: z.number().int().positive(),
      blockBytes: z.number().int().positive(),
      first: z.number().int().nonnegative(),
      mtimeMs: z.number().optional()
    })
    .optional(),
  addedAt: z.string(),
  /**
   * The card's lineage and licence fields (front matter), read once when the model came in, so
   * that opening the home never reads cards again.
   */
  cardFacts: z
    .object({
      license: z.string().max(200).optional(),
      base_model: z.array(z.string().max(500)).max(32).optional(),
      base_model_relation: z.enum(RELATIONS).optional()
    })
    .optional(),
  /** For a model this home published: its drive's signature over its catalog entry (entry-proofs.ts). */
  entryProof: EntryProof.optional(),
  /** Why this entry is set aside (its drive lies about its data): reported, never retried at start-up. */
  quarantined: z.string().max(1000).optional()
})
export type LibraryEntry = z.infer<typeof LibraryEntry>
export type CardFacts = NonNullable<LibraryEntry['cardFacts']>

/** The facts a library entry keeps from a model card (its licence and lineage fields). */
export function cardFactsOf(card: string | null): CardFacts {
  const front = card ? parseCard(card).frontMatter : {}
  return { license: front.license, base_model: front.base_model?.slice(0, 32).map((b) => b.slice(0, 500)), base_model_relation: front.base_model_relation }
}
/** Where a model's blocks are kept in a file, as the library remembers it. */
export type BlockFileRecord = NonNullable<LibraryEntry['blockFile']>

const LibraryFile = z.object({ version: z.literal(1), entries: z.array(LibraryEntry) })

/** Inside a batch, the index is written at most this often. */
const BATCH_WRITE_MS = 1000

export class Library {
  private entries = new Map<string, LibraryEntry>()
  private batches = 0
  private dirty = false
  private batchTimer: NodeJS.Timeout | null = null
  private batchError: unknown = null

  constructor(private readonly file: string) {}

  async load(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const parsed = LibraryFile.safeParse(safeJson(text))
    if (!parsed.success) throw new GroveError('INTERNAL', `The library index ${this.file} is damaged; move it aside to start afresh`)
    for (const entry of parsed.data.entries) this.entries.set(entry.keyHex, entry)
  }

  list(): LibraryEntry[] {
    return [...this.entries.values()].sort((a, b) => a.addedAt.localeCompare(b.addedAt))
  }

  get(keyHex: string): LibraryEntry | undefined {
    return this.entries.get(keyHex)
  }

  findBySha256(sha256: string): LibraryEntry | undefined {
    return this.list().find((e) => e.manifest?.files.some((f) => f.sha256 === sha256))
  }

  async put(entry: LibraryEntry): Promise<void> {
    this.entries.set(entry.keyHex, LibraryEntry.parse(entry))
    await this.save()
  }

  async update(keyHex: string, patch: Partial<LibraryEntry>): Promise<LibraryEntry> {
    const current = this.entries.get(keyHex)
    if (!current) throw new GroveError('NOT_FOUND', `Not in the library: ${keyHex}`)
    const next = { ...current, ...patch }
    await this.put(next)
    return next
  }

  async remove(keyHex: string): Promise<void> {
    this.entries.delete(keyHex)
    await this.save()
  }

  /**
   * Runs `work` with the index written at most once a second meanwhile, and once at the end:
   * sharing a folder of a thousand models rewrites a 1 MB index a few dozen times, not two
   * thousand. A crash in the middle loses at most the last second's records (their drives stay in
   * the store, unreferenced, and sharing those files again makes them anew).
   */
  async batch<T>(work: () => Promise<T>): Promise<T> {
    this.batches++
    try {
      return await work()
    } finally {
      if (--this.batches === 0 && this.dirty) await this.flush()
    }
  }

  private save(): Promise<void> {
    if (this.batches === 0) return this.write()
    if (this.batchError) {
      const err = this.batchError
      this.batchError = null
      return Promise.reject(err)
    }
    this.dirty = true
    this.batchTimer ??= setTimeout(() => {
      this.flush().catch((err: unknown) => (this.batchError = err))
    }, BATCH_WRITE_MS)
    return Promise.resolve()
  }

  private flush(): Promise<void> {
    if (this.batchTimer) clearTimeout(this.batchTimer)
    this.batchTimer = null
    this.dirty = false
    return this.write()
  }

  /**
   * Replaces the index atomically (write-file-atomic: a temp file, fsynced, renamed over it; writes
   * to the same file queue up). One that fails (a full disk) fails its caller and leaves the old
   * index; the next one still runs.
   */
  private write(): Promise<void> {
    return writeFileAtomic(this.file, JSON.stringify({ version: 1, entries: this.list() }, null, 2))
  }
}

/** Reads the index without taking the home lock (for `ls` while a seeder runs). */
export async function readLibrary(file: string): Promise<LibraryEntry[]> {
  const library = new Library(file)
  await library.load()
  return library.list()
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
