// The manifest (`/grove.json`) of a model drive: what a drive holds and where it comes from.
// Every manifest read from a peer is untrusted: it is parsed with these schemas, which bound
// every string, count and size, and only allow plain single-level file names.
import { z } from 'zod'
import { parseLink } from './link.js'

export const MANIFEST_PATH = '/grove.json'
export const CARD_PATH = '/README.md'
export const MANIFEST_SCHEMA_VERSION = 1
/** No GGUF file is anywhere near this big; a larger size claimed by a peer is refused. */
export const MAX_MODEL_FILE_BYTES = 2 ** 41 // 2 TiB
/** Manifests and model cards are small; a peer claiming more is refused before reading. */
export const MAX_MANIFEST_BYTES = 256 * 1024
export const MAX_CARD_BYTES = 1024 * 1024

export const RELATIONS = ['finetune', 'adapter', 'quantized', 'merge'] as const
export type Relation = (typeof RELATIONS)[number]
export const KINDS = ['model', 'adapter'] as const
export type ModelKind = (typeof KINDS)[number]

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')

/** A file inside a drive: one level, plain characters, a .gguf name. */
export const DriveFilePath = z
  .string()
  .max(201)
  .regex(/^\/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, 'must be /<name> with letters, digits, ".", "_" or "-"')
  .refine((p) => !p.includes('..'), 'must not contain ".."')
  .refine((p) => p.toLowerCase().endsWith('.gguf'), 'must be a .gguf file')

/** A link as a manifest names a model: without seeder hints (they say where, not what). */
export const GroveLinkString = z.string().max(200).refine((s) => {
  try {
    return parseLink(s).seeders === undefined
  } catch {
    return false
  }
}, 'must be a grove:// link (without ?seeder=)')

export const ManifestFile = z.object({
  path: DriveFilePath,
  size: z.number().int().min(1).max(MAX_MODEL_FILE_BYTES),
  sha256: Sha256Hex,
  role: z.literal('weights')
})
export type ManifestFile = z.infer<typeof ManifestFile>

export const ParentRef = z
  .object({
    link: GroveLinkString.optional(),
    sha256: Sha256Hex.optional(),
    relation: z.enum(RELATIONS),
    name: z.string().max(200).optional()
  })
  .refine((p) => p.link !== undefined || p.sha256 !== undefined, 'a parent needs a link or a sha256')
export type ParentRef = z.infer<typeof ParentRef>

const shortText = z.string().max(200)

export const Manifest = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  kind: z.enum(KINDS),
  name: z.string().min(1).max(200),
  description: z.string().max(5000).optional(),
  license: shortText.optional(),
  architecture: shortText.optional(),
  parameterCount: z.number().int().min(0).max(1e14).optional(),
  quantization: shortText.optional(),
  contextLength: z.number().int().min(0).max(1e9).optional(),
  files: z.array(ManifestFile).min(1).max(16),
  parents: z.array(ParentRef).max(32),
  /** The GGUF's own `general.base_model.N.*` lineage keys, copied at share time. */
  ggufBaseModels: z
    .array(
      z.object({
        name: shortText.optional(),
        organization: shortText.optional(),
        repoUrl: z.string().max(500).optional(),
        version: z.string().max(100).optional()
      })
    )
    .max(16)
    .optional(),
  publisher: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.iso.datetime()
})
export type Manifest = z.infer<typeof Manifest>

/** The weights file of a manifest (Grove publishes exactly one per drive). */
export function weightsFile(manifest: Manifest): ManifestFile {
  const file = manifest.files.find((f) => f.role === 'weights')
  if (!file) throw new Error('manifest has no weights file')
  return file
}

export function describeSchemaIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ')
}
