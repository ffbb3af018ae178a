import type { Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { parseLink } from '../../../shared/link.js'
import { DEFAULT_FETCH_TIMEOUT_MS } from '../../core/fetch.js'
import { parseSeconds, type CommandContext } from '../context.js'
import { type ProgressBar } from '../output.js'
import { inertLine } from '../terminal-text.js'

interface FetchFlags {
  out?: string
  timeout?: string
  seed: boolean
}

export function registerFetch(program: Command, context: () => CommandContext): void {
  program
    .command('fetch <link>')
    .description('download a model from every peer that seeds it, verify its sha256, and keep seeding it')
    .option('--out <dir>', 'write the .gguf into this folder (default: the library)')
    .option('--timeout <seconds>', 'how long to wait for a peer', String(DEFAULT_FETCH_TIMEOUT_MS / 1000))
    .option('--no-seed', 'do not seed this model afterwards')
    .action(async (link: string, flags: FetchFlags) => {
      const ctx = context()
      parseLink(link)
      const timeoutMs = (parseSeconds(flags.timeout, '--timeout') ?? DEFAULT_FETCH_TIMEOUT_MS / 1000) * 1000
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        let bar: ProgressBar | null = null
        let verifyBar: ProgressBar | null = null
        ctx.out.info(`Looking for peers of ${inertLine(link)}…`)
        const result = await grove.fetch(link, {
          timeoutMs,
          outDir: flags.out === undefined ? undefined : ctx.path(flags.out),
          seed: flags.seed,
          signal,
          onEvent: (event) => {
            ctx.out.event(event)
            if (event.event === 'manifest') {
              ctx.out.info(`${inertLine(event.kind)} "${inertLine(event.name)}", ${bytesText(event.size)}, licence ${inertLine(event.license ?? 'not stated')}`)
            } else if (event.event === 'progress') {
              bar ??= ctx.out.bar('Downloading', event.total)
              bar.update(event.bytes, `${event.peers} peer${event.peers === 1 ? '' : 's'}`)
            } else {
              bar?.stop()
              bar = null
              verifyBar ??= ctx.out.bar('Verifying  ', event.total)
              verifyBar.update(event.bytes)
            }
          }
        })
        ;(bar as ProgressBar | null)?.stop()
        ;(verifyBar as ProgressBar | null)?.stop()
        ctx.out.result(
          {
            event: 'done',
            link: result.link,
            path: result.path,
            sha256: result.sha256,
            size: result.size,
            name: result.manifest.name,
            kind: result.manifest.kind,
            // What this downloader served to other downloaders while it fetched.
            uploadedBytes: grove.traffic.of(result.keyHex).uploadedBytes
          },
          `${result.alreadyHad ? 'Already in the library' : 'Fetched and verified'}: ${inertLine(result.path)}\nsha256 ${result.sha256}`
        )
      })
    })
}
