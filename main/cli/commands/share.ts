import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { RELATIONS, type Relation } from '../../../shared/manifest.js'
import { firstLine, GroveError, toErrorPayload } from '../../../shared/errors.js'
import type { Grove } from '../../core/grove.js'
import { ProbeSession } from '../../gguf/probe.js'
import type { ShareResult } from '../../core/publish.js'
import type { CommandContext } from '../context.js'
import type { ProgressBar } from '../output.js'
import { inertLine } from '../terminal-text.js'

interface ShareFlags {
  name?: string
  license?: string
  card?: string
  description?: string
  parent: string[]
  relation?: string
}

export function registerShare(program: Command, context: () => CommandContext): void {
  program
    .command('share <files...>')
    .description('publish GGUF models or LoRA adapters (files, or folders: every .gguf in them) as model drives and print their grove:// links')
    .option('--name <name>', 'display name (default: the GGUF general.name or the file name; one file only)')
    .option('--license <spdx>', 'licence, as an SPDX identifier (default: the GGUF general.license)')
    .option('--card <README.md>', 'a Markdown model card with Hugging Face style front matter (one file only)')
    .option('--description <text>', 'a one-paragraph description (one file only)')
    .option('--parent <link|sha256>', 'a parent model: grove:// link or sha256 of its weights (repeatable; one file only)', collect, [])
    .option('--relation <relation>', `how it derives from its parents: ${RELATIONS.join(' | ')}`)
    .action(async (targets: string[], flags: ShareFlags) => {
      const ctx = context()
      const relation = parseRelation(flags.relation)
      const files = await filesToShare(targets.map((t) => ctx.path(t)))
      const many = files.length !== 1 || targets.length !== 1 || files[0] !== ctx.path(targets[0]!)
      if (many) {
        const single = [flags.name && '--name', flags.card && '--card', flags.description && '--description', flags.parent.length > 0 && '--parent'].filter(Boolean)
        if (single.length > 0) throw new GroveError('BAD_INPUT', `${single.join(', ')} name${single.length === 1 ? 's' : ''} one model: share one file with ${single.length === 1 ? 'it' : 'them'}`)
      }
      await ctx.withGrove({ network: false }, async (grove, signal) => {
        if (!many) return shareOne(ctx, grove, files[0]!, { ...flags, relation })
        return shareMany(ctx, grove, files, { license: flags.license, relation }, signal)
      })
    })
}

interface OneShare {
  name?: string
  license?: string
  card?: string
  description?: string
  parent: string[]
  relation?: Relation
}

async function shareOne(ctx: CommandContext, grove: Grove, file: string, flags: OneShare): Promise<void> {
  let bar: ProgressBar | null = null
  const result = await grove.share(file, {
    name: flags.name,
    license: flags.license,
    cardPath: flags.card === undefined ? undefined : ctx.path(flags.card),
    description: flags.description,
    parents: flags.parent,
    relation: flags.relation,
    onProgress: (bytes, total) => {
      bar ??= ctx.out.bar('Importing', total)
      bar.update(bytes)
    }
  })
  ;(bar as ProgressBar | null)?.stop()
  ctx.out.result(resultJson(result), () =>
    [
      `${result.existing ? 'Already shared' : 'Shared'} ${result.kind} "${inertLine(result.name)}" (${bytesText(result.size)}, sha256 ${result.sha256})`,
      result.shareLink,
      grove.hasNetwork ? 'The running Grove seeds it now.' : 'Run `grove seed` to serve it to the swarm.'
    ].join('\n')
  )
}

/**
 * Several files: one JSON line (or text line) each as it is shared, a failed one reported and
 * skipped, then a summary; the catalog is told once at the end, not once per model.
 */
async function shareMany(ctx: CommandContext, grove: Grove, files: string[], opts: { license?: string; relation?: Relation }, signal: AbortSignal): Promise<void> {
  let shared = 0
  let existing = 0
  let failed = 0
  const started = Date.now()
  const bar = ctx.out.bar('Sharing', files.length)
  const probes = new ProbeSession()
  try {
    await grove.library.batch(async () => {
      for (const [index, file] of files.entries()) {
        if (signal.aborted) break
        try {
          const result = await grove.share(file, { license: opts.license, relation: opts.relation, announce: false, probes })
          if (result.existing) existing++
          else shared++
          ctx.out.event({ event: 'shared', file, ...resultJson(result) })
          ctx.out.info(`${result.existing ? 'Already shared' : 'Shared'} "${inertLine(result.name)}" ${result.shareLink}`)
        } catch (err) {
          failed++
          const { code, message } = toErrorPayload(err)
          ctx.out.event({ event: 'error', file, error: { code, message: firstLine(message) } })
          ctx.out.info(`Could not share ${inertLine(file)}: ${inertLine(firstLine(message))}`)
        }
        bar.update(index + 1)
      }
    })
  } finally {
    probes.close()
    bar.stop()
    if (grove.hasNetwork) await grove.refreshLocalCatalog()
  }
  const seconds = (Date.now() - started) / 1000
  ctx.out.result({ event: 'done', files: files.length, shared, existing, failed, seconds: Math.round(seconds * 100) / 100 }, () =>
    `${shared} shared, ${existing} already shared, ${failed} failed, of ${files.length} file${files.length === 1 ? '' : 's'} in ${seconds.toFixed(1)} s.` +
    (grove.hasNetwork ? ' The running Grove seeds them now.' : ' Run `grove seed` to serve them to the swarm.')
  )
  if (failed > 0) ctx.exitCode = 1
}

function resultJson(result: ShareResult) {
  return { link: result.link, shareLink: result.shareLink, sha256: result.sha256, kind: result.kind, name: result.name, size: result.size, existing: result.existing }
}

/** Files as given, and every `.gguf` directly inside each folder given (sorted); none at all is an error. */
async function filesToShare(paths: string[]): Promise<string[]> {
  const files: string[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => null)
    if (!info?.isDirectory()) {
      files.push(path)
      continue
    }
    const names = (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.gguf')).map((e) => e.name)
    if (names.length === 0) throw new GroveError('BAD_INPUT', `No .gguf files in ${path}`)
    files.push(...names.sort().map((name) => join(path, name)))
  }
  return [...new Set(files)]
}

function parseRelation(text: string | undefined): Relation | undefined {
  if (text === undefined) return undefined
  if (!(RELATIONS as readonly string[]).includes(text)) {
    throw new GroveError('BAD_INPUT', `--relation must be one of ${RELATIONS.join(', ')}`)
  }
  return text as Relation
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}
