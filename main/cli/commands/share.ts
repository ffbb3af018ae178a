import type { Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { RELATIONS, type Relation } from '../../../shared/manifest.js'
import { GroveError } from '../../../shared/errors.js'
import type { CommandContext } from '../context.js'
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
    .command('share <file>')
    .description('publish a GGUF model or LoRA adapter as a model drive and print its grove:// link')
    .option('--name <name>', 'display name (default: the GGUF general.name or the file name)')
    .option('--license <spdx>', 'licence, as an SPDX identifier (default: the GGUF general.license)')
    .option('--card <README.md>', 'a Markdown model card with Hugging Face style front matter')
    .option('--description <text>', 'a one-paragraph description')
    .option('--parent <link|sha256>', 'a parent model: grove:// link or sha256 of its weights (repeatable)', collect, [])
    .option('--relation <relation>', `how it derives from its parents: ${RELATIONS.join(' | ')}`)
    .action(async (file: string, flags: ShareFlags) => {
      const ctx = context()
      const relation = parseRelation(flags.relation)
      await ctx.withGrove({ network: false }, async (grove) => {
        let bar: ReturnType<typeof ctx.out.bar> | null = null
        const result = await grove.share(ctx.path(file), {
          name: flags.name,
          license: flags.license,
          cardPath: flags.card === undefined ? undefined : ctx.path(flags.card),
          description: flags.description,
          parents: flags.parent,
          relation,
          onProgress: (bytes, total) => {
            bar ??= ctx.out.bar('Importing', total)
            bar.update(bytes)
          }
        })
        ;(bar as ReturnType<typeof ctx.out.bar> | null)?.stop()
        ctx.out.result(
          { link: result.link, sha256: result.sha256, kind: result.kind, name: result.name, size: result.size, existing: result.existing },
          () =>
            [
              `${result.existing ? 'Already shared' : 'Shared'} ${result.kind} "${inertLine(result.name)}" (${bytesText(result.size)}, sha256 ${result.sha256})`,
              result.link,
              'Run `grove seed` to serve it to the swarm.'
            ].join('\n')
        )
      })
    })
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
