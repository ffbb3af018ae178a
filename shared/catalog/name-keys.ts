// Name keys: how model names are compared when a GGUF or card names a parent by name rather than
// by link (see claims.ts and shared/lineage/parents.ts).

/**
 * The key under which names are compared: case-insensitive, runs of spaces/underscores read as
 * "-" (GGUF `general.name` tends to say "Llama 3 8B" where a repo says "Llama-3-8B").
 */
export function nameKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_]+/g, '-')
}

/** The name keys a catalog entry is known by: its whole name and, for "org/name", the last segment. */
export function entryNameKeys(name: string): string[] {
  const full = nameKey(name)
  const slash = full.lastIndexOf('/')
  const last = slash >= 0 ? full.slice(slash + 1) : ''
  return last.length > 0 && last !== full ? [full, last] : [full]
}
