// The catalog wire format: what peers exchange about the models they seed. A `CatalogEntry` is a
// small summary of one model drive, taken from its manifest (and, for lineage, from the GGUF's
// `general.base_model.*` keys and the card's `base_model` front matter); a `CatalogMessage` is a
// versioned batch of entries. Everything a peer sends is untrusted: the schemas bound every
// string, number and list, so parsing one entry costs little whatever the peer wrote.
import { z } from 'zod'
import { KINDS, MAX_MODEL_FILE_BYTES, RELATIONS, Sha256Hex, weightsFile, type Manifest, type Relation } from '../manifest.js'
import { canonicalLink } from './link-keys.js'

export const CATALOG_PROTOCOL_VERSION = 1
export const MAX_CATALOG_ENTRIES_PER_MESSAGE = 1000
export const MAX_ENTRY_PARENTS = 32
export const MAX_ENTRY_BASE_MODELS = 16

const shortText = z.string().max(200)

/** One `general.base_model.N` of a GGUF, as relayed in a catalog entry. */
export const GgufBaseModelRef = z.object({
  name: shortText.optional(),
  organization: shortText.optional(),
  repoUrl: z.string().max(500).optional(),
  version: z.string().max(100).optional()
})
export type GgufBaseModelRef = z.infer<typeof GgufBaseModelRef>

/**
 * A grove:// link, checked by pattern: it accepts exactly what `parseLink` accepts (52 z-base-32
 * or 64 hex key characters, optional `/v<n>` or `/<n>`, trailing slashes), except surrounding
 * whitespace and seeder hints (`?seeder=`: a catalog names models, peers are its own business),
 * without decoding the key. manifest.ts's GroveLinkString decodes it, which costs
 * several microseconds per link; catalogs carry hundreds of thousands of them.
 */
export const CatalogLink = z
  .string()
  .max(200)
  .regex(/^grove:\/\/(?:[ybndrfg8ejkmcpqxot1uwisza345h769]{52}|[0-9a-fA-F]{64})(?:\/v?\d{1,15})?\/*$/, 'must be a grove:// link')

/** The manifest's ParentRef (same shape and rules), with the faster link check. */
export const CatalogParentRef = z
  .object({
    link: CatalogLink.optional(),
    sha256: Sha256Hex.optional(),
    relation: z.enum(RELATIONS),
    name: z.string().max(200).optional()
  })
  .refine((p) => p.link !== undefined || p.sha256 !== undefined, 'a parent needs a link or a sha256')

/**
 * The drive's own signature over its entry (main/core/entry-proofs.ts): `signer` is the public
 * key whose default Hypercore manifest hashes to the link's key. Peers that predate it drop it.
 */
export const EntryProof = z.object({
  signer: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.string().regex(/^[0-9a-f]{128}$/)
})
export type EntryProof = z.infer<typeof EntryProof>

/** One model summary as peers exchange it. */
export const CatalogEntry = z.object({
  link: CatalogLink,
  name: z.string().min(1).max(200),
  kind: z.enum(KINDS),
  /** sha256 of the weights file. */
  sha256: Sha256Hex,
  size: z.number().int().min(1).max(MAX_MODEL_FILE_BYTES),
  architecture: shortText.optional(),
  license: shortText.optional(),
  quantization: shortText.optional(),
  parameterCount: z.number().int().min(0).max(1e14).optional(),
  /** The manifest's parent references. */
  parents: z.array(CatalogParentRef).max(MAX_ENTRY_PARENTS),
  /** The GGUF's own `general.base_model.N.*` keys. */
  ggufBaseModels: z.array(GgufBaseModelRef).max(MAX_ENTRY_BASE_MODELS).optional(),
  /** The model card's `base_model` front matter. */
  cardBaseModels: z.array(shortText.min(1)).max(MAX_ENTRY_BASE_MODELS).optional(),
  /** The model card's `base_model_relation`. */
  cardRelation: z.enum(RELATIONS).optional(),
  publisher: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.iso.datetime(),
  proof: EntryProof.optional()
})
export type CatalogEntry = z.infer<typeof CatalogEntry>

/** What goes over the wire: a versioned batch of entries. */
export const CatalogMessage = z.object({
  version: z.literal(CATALOG_PROTOCOL_VERSION),
  entries: z.array(CatalogEntry).max(MAX_CATALOG_ENTRIES_PER_MESSAGE)
})
export type CatalogMessage = z.infer<typeof CatalogMessage>

/** The envelope alone, so one malformed entry does not cost the whole batch (Catalog.applyMessage). */
export const CatalogEnvelope = z.object({
  version: z.literal(CATALOG_PROTOCOL_VERSION),
  entries: z.array(z.unknown()).max(MAX_CATALOG_ENTRIES_PER_MESSAGE)
})

/** Lineage metadata found outside the manifest (structurally compatible with GgufSummary/CardFrontMatter). */
export interface EntryExtras {
  gguf?: { baseModels?: readonly { name?: string; organization?: string; repoUrl?: string; version?: string }[] }
  card?: { base_model?: readonly string[]; base_model_relation?: Relation; license?: string }
}

/** Builds the catalog entry for a drive from its parsed manifest (plus GGUF and card lineage). */
export function catalogEntryFromManifest(link: string, manifest: Manifest, extras: EntryExtras = {}): CatalogEntry {
  const weights = weightsFile(manifest)
  const clip = (s: string | undefined, max = 200): string | undefined => (s === undefined || s.length === 0 ? undefined : s.slice(0, max))
  const gguf = (extras.gguf?.baseModels ?? [])
    .slice(0, MAX_ENTRY_BASE_MODELS)
    .map((b) => dropUndefined({ name: clip(b.name), organization: clip(b.organization), repoUrl: clip(b.repoUrl, 500), version: clip(b.version, 100) }))
    .filter((b) => Object.keys(b).length > 0)
  const card = (extras.card?.base_model ?? []).filter((s) => s.length > 0).slice(0, MAX_ENTRY_BASE_MODELS).map((s) => s.slice(0, 200))
  const entry = dropUndefined({
    link: canonicalLink(link),
    name: manifest.name,
    kind: manifest.kind,
    sha256: weights.sha256,
    size: weights.size,
    architecture: manifest.architecture,
    license: manifest.license ?? clip(extras.card?.license),
    quantization: manifest.quantization,
    parameterCount: manifest.parameterCount,
    parents: manifest.parents.slice(0, MAX_ENTRY_PARENTS).map((p) => dropUndefined({ ...p, link: p.link !== undefined ? canonicalLink(p.link) : undefined })),
    ggufBaseModels: gguf.length > 0 ? gguf : undefined,
    cardBaseModels: card.length > 0 ? card : undefined,
    cardRelation: extras.card?.base_model_relation,
    publisher: manifest.publisher,
    created: manifest.created
  })
  return CatalogEntry.parse(entry)
}

function dropUndefined<T extends object>(obj: T): T {
  for (const k of Object.keys(obj) as (keyof T)[]) if (obj[k] === undefined) delete obj[k]
  return obj
}

/** Splits entries into wire messages of at most MAX_CATALOG_ENTRIES_PER_MESSAGE. */
export function toCatalogMessages(entries: readonly CatalogEntry[]): CatalogMessage[] {
  const out: CatalogMessage[] = []
  for (let i = 0; i < entries.length; i += MAX_CATALOG_ENTRIES_PER_MESSAGE) {
    out.push({ version: CATALOG_PROTOCOL_VERSION, entries: entries.slice(i, i + MAX_CATALOG_ENTRIES_PER_MESSAGE) })
  }
  return out
}
