// Model cards: Markdown with Hugging Face style YAML front matter (`license`, `base_model`,
// `base_model_relation`, `tags`, `datasets`). Cards come from peers, so parsing never throws
// and keeps only the fields Grove understands, bounded in size.
import { VFile } from 'vfile'
import { matter } from 'vfile-matter'
import { stringify } from 'yaml'
import { RELATIONS, type Relation } from './manifest.js'

export interface CardFrontMatter {
  license?: string
  base_model?: string[]
  base_model_relation?: Relation
  tags?: string[]
  datasets?: string[]
  model_name?: string
  [key: string]: unknown
}

export interface ModelCard {
  frontMatter: CardFrontMatter
  body: string
}

/** Parses a card's front matter (vfile-matter); a card whose YAML does not parse has none. */
export function parseCard(text: string): ModelCard {
  const file = new VFile(text)
  try {
    // A card is a stranger's: YAML aliases are bounded (no billion laughs).
    matter(file, { strip: true, yaml: { maxAliasCount: 10 } })
  } catch {
    // Shown as it is: the reader sees the broken block.
    return { frontMatter: {}, body: text }
  }
  return { frontMatter: normalize(file.data.matter), body: String(file) }
}

export function formatCard(card: ModelCard): string {
  const fm = Object.fromEntries(Object.entries(card.frontMatter).filter(([, v]) => v !== undefined))
  const yaml = Object.keys(fm).length > 0 ? `---\n${stringify(fm).trimEnd()}\n---\n\n` : ''
  return yaml + card.body.replace(/^\s+/, '')
}

function normalize(data: unknown): CardFrontMatter {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return {}
  const raw = data as Record<string, unknown>
  const out: CardFrontMatter = { ...raw }
  out.license = shortString(raw.license)
  out.base_model = stringList(raw.base_model)
  out.tags = stringList(raw.tags)
  out.datasets = stringList(raw.datasets)
  out.model_name = shortString(raw.model_name)
  const relation = shortString(raw.base_model_relation)
  out.base_model_relation = (RELATIONS as readonly string[]).includes(relation ?? '') ? (relation as Relation) : undefined
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as CardFrontMatter
}

function shortString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 200) : undefined
}

function stringList(value: unknown): string[] | undefined {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined
  if (!list) return undefined
  const strings = list.filter((v): v is string => typeof v === 'string').slice(0, 64).map((v) => v.slice(0, 200))
  return strings.length > 0 ? strings : undefined
}
