// Licences a person accepted, per model link, kept in the home (`licenses.json`). A model whose
// licence asks for acceptance (`licenseNeedsAcceptance` in shared/api.ts) is shown and accepted
// once before it is downloaded or run; the acceptance names the licence it was given for, so a
// drive whose manifest later names another licence asks again. Written like the library index:
// to a temp file renamed over the old one, so a crash leaves the old or the new file, never half.
import { readFile } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { join } from 'node:path'
import { z } from 'zod'
import { GroveError } from '../../shared/errors.js'
import { formatLink, parseLink } from '../../shared/link.js'

export const LICENSES_FILE = 'licenses.json'

const Acceptance = z.object({
  link: z.string(),
  license: z.string().max(200),
  acceptedAt: z.string()
})
export type Acceptance = z.infer<typeof Acceptance>

const LicensesFile = z.object({ version: z.literal(1), accepted: z.array(Acceptance) })

export class LicenseStore {
  private readonly accepted = new Map<string, Acceptance>()
  private loaded = false

  constructor(private readonly file: string) {}

  /** The store for a Grove home folder. */
  static inHome(homeRoot: string): LicenseStore {
    return new LicenseStore(join(homeRoot, LICENSES_FILE))
  }

  async load(): Promise<void> {
    if (this.loaded) return
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.loaded = true
      return
    }
    const parsed = LicensesFile.safeParse(safeJson(text))
    if (!parsed.success) throw new GroveError('INTERNAL', `The licence record ${this.file} is damaged; move it aside to start afresh`)
    for (const entry of parsed.data.accepted) this.accepted.set(entry.link, entry)
    this.loaded = true
  }

  /** Whether this licence was accepted for this model (any link form of the same drive). */
  isAccepted(link: string, license: string): boolean {
    const entry = this.accepted.get(canonical(link))
    return entry !== undefined && entry.license.toLowerCase() === license.toLowerCase()
  }

  /** Records the acceptance (replacing an older one for the same model). */
  async accept(link: string, license: string): Promise<Acceptance> {
    const entry: Acceptance = { link: canonical(link), license: license.slice(0, 200), acceptedAt: new Date().toISOString() }
    this.accepted.set(entry.link, entry)
    await this.save()
    return entry
  }

  list(): Acceptance[] {
    return [...this.accepted.values()]
  }

  /** Replaces the record atomically (write-file-atomic); a failed write fails this call, not every later one. */
  private save(): Promise<void> {
    return writeFileAtomic(this.file, JSON.stringify({ version: 1, accepted: this.list() }, null, 2))
  }
}

function canonical(link: string): string {
  return formatLink(parseLink(link).keyHex)
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
