// The lineage claims a catalog entry makes outside its manifest: the parents its GGUF names in
// `general.base_model.N.*` and its card names in `base_model`. A claim is a grove:// link or a
// name; shared/lineage/parents.ts matches it against the catalog. (Manifest parents are not claims.)
import type { Relation } from '../manifest.js'
import { linkKey } from './link-keys.js'
import { nameKey } from './name-keys.js'
import type { CatalogEntry } from './wire.js'

/** A lineage claim found in a GGUF's base_model keys or a card's base_model list. */
export interface LineageClaim {
  source: 'gguf' | 'card'
  /** What the claim said, for display. */
  text: string
  /** The drive key when the claim is a grove:// link. */
  linkKey?: string
  /** Name keys to match against entry names, most specific first. */
  keys: string[]
  /** The relation the source states (only cards state one). */
  relation?: Relation
}

const HF_PREFIX = /^https?:\/\/(?:www\.)?huggingface\.co\//i

function tryLinkKey(text: string): string | undefined {
  if (!text.trim().startsWith('grove://')) return undefined
  try {
    return linkKey(text)
  } catch {
    return undefined
  }
}

function pathKeys(path: string): string[] {
  const parts = path.replace(HF_PREFIX, '').replace(/^https?:\/\/[^/]+\//i, '').split('/').filter((p) => p.length > 0)
  const last = parts[parts.length - 1]
  const prev = parts[parts.length - 2]
  const out: string[] = []
  if (prev !== undefined && last !== undefined) out.push(nameKey(`${prev}/${last}`))
  if (last !== undefined) out.push(nameKey(last))
  return out
}

/** The GGUF and card lineage claims of an entry (manifest parents are not claims, see shared/lineage/parents.ts). */
export function lineageClaims(entry: CatalogEntry): LineageClaim[] {
  const out: LineageClaim[] = []
  for (const b of entry.ggufBaseModels ?? []) {
    const keys: string[] = []
    const name = b.name?.trim()
    const org = b.organization?.trim()
    if (name && org) keys.push(nameKey(`${org}/${name}`))
    const repoLink = b.repoUrl !== undefined ? tryLinkKey(b.repoUrl) : undefined
    if (b.repoUrl !== undefined && repoLink === undefined) keys.push(...pathKeys(b.repoUrl))
    if (name) keys.push(nameKey(name))
    const text = name ? (org ? `${org}/${name}` : name) : (b.repoUrl ?? org ?? '')
    if (keys.length === 0 && repoLink === undefined) continue
    out.push({ source: 'gguf', text, ...(repoLink !== undefined ? { linkKey: repoLink } : {}), keys: unique(keys.filter((k) => k.length > 0)) })
  }
  for (const s of entry.cardBaseModels ?? []) {
    const key = tryLinkKey(s)
    const keys = key === undefined ? unique([nameKey(s.replace(HF_PREFIX, '')), ...pathKeys(s)]).filter((k) => k.length > 0) : []
    if (keys.length === 0 && key === undefined) continue
    out.push({ source: 'card', text: s, ...(key !== undefined ? { linkKey: key } : {}), keys, ...(entry.cardRelation !== undefined ? { relation: entry.cardRelation } : {}) })
  }
  return out
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)]
}
