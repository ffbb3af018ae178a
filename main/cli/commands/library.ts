// `grove ls`, `grove info`, `grove reclaim`: what the library holds and what a link or file is.
import { bytesText } from '../../../shared/units.js'
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { GroveError } from '../../../shared/errors.js'
import { isLink, parseLink } from '../../../shared/link.js'
import { DEFAULT_FETCH_TIMEOUT_MS, describeRemote } from '../../core/fetch.js'
import { diskUsage, modelDisk } from '../../core/disk.js'
import { sha256File } from '../../core/sha256.js'
import { probeGguf } from '../../gguf/probe.js'
import { resolveHome } from '../../core/home.js'
import { readLibrary } from '../../core/library.js'
import { libraryItem } from '../../api/views.js'
import { parseSeconds, type CommandContext } from '../context.js'
import { table } from '../output.js'
import { inertLine, inertText } from '../terminal-text.js'

export function registerLibrary(program: Command, context: () => CommandContext): void {
  program
    .command('ls')
    .description('list the models and adapters in the library, with sizes, disk used and seeding state')
    .action(async () => {
      const ctx = context()
      const home = resolveHome(ctx.options.home)
      const entries = await readLibrary(home.libraryFile)
      const models = entries.map((e) => ({ ...libraryItem(e, home), disk: modelDisk(e, home) }))
      const storeBytes = await diskUsage(home.storeDir)
      const filesBytes = await diskUsage(home.modelsDir)
      ctx.out.result({ home: home.root, models, disk: { storeBytes, filesBytes } }, () => {
        if (models.length === 0) return `The library at ${home.root} is empty. Add a model with \`grove share <file.gguf>\` or \`grove fetch <grove://link>\`.`
        const rows = models.map((m) => [
          m.name,
          m.kind,
          m.size === null ? '?' : bytesText(m.size),
          bytesText(m.disk.blockBytes + m.disk.fileBytes),
          m.quarantined ? 'set aside (see grove ls --json)' : m.complete ? (m.seeding ? (m.disk.inPlace ? 'seeding in place' : 'seeding') : 'not seeding') : 'incomplete',
          m.link
        ])
        return [
          table(['NAME', 'KIND', 'SIZE', 'DISK', 'STATE', 'LINK'], rows),
          '',
          `Disk in ${home.root}: ${bytesText(storeBytes)} in the store (drive metadata, and any seeding copies), ${bytesText(filesBytes)} in fetched .gguf files.`
        ].join('\n')
      })
    })

  program
    .command('info <target>')
    .description('describe a grove:// link (manifest and card, from the library or the swarm) or a local GGUF file')
    .option('--timeout <seconds>', 'how long to wait for a peer when the link is not in the library', String(DEFAULT_FETCH_TIMEOUT_MS / 1000))
    .action(async (target: string, flags: { timeout?: string }) => {
      const ctx = context()
      if (!isLink(target) && existsSync(ctx.path(target))) {
        // What the file says, and whether llama.cpp opens it; a malformed header is an error.
        const file = ctx.path(target)
        const { summary, problem } = await probeGguf(file)
        const sha256 = await sha256File(file)
        const info = { file: target, sha256, size: summary.fileSize, name: summary.name ?? null, link: null, ...summary, loadable: problem === null, problem }
        ctx.out.result(info, () => describeFields({ ...info, problem: undefined }) + (problem ? `\nThis file cannot be loaded: ${inertLine(problem)}` : ''))
        return
      }
      const { keyHex } = parseLink(target)
      const home = resolveHome(ctx.options.home)
      const known = (await readLibrary(home.libraryFile)).find((e) => e.keyHex === keyHex && e.manifest)
      if (known?.manifest) {
        const info = modelInfo(known.link, known.manifest, { inLibrary: true, path: known.path ?? null, seeding: known.seeding })
        ctx.out.result(info, () => describeFields(info))
        return
      }
      const timeoutMs = (parseSeconds(flags.timeout, '--timeout') ?? DEFAULT_FETCH_TIMEOUT_MS / 1000) * 1000
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        const remote = await describeRemote(grove, target, timeoutMs, signal)
        const info = { ...modelInfo(remote.link, remote.manifest, { inLibrary: false, path: null, seeding: false }), peers: remote.peers, card: remote.card }
        ctx.out.result(info, () => describeFields({ ...info, card: undefined }) + (remote.card ? `\n\n${inertText(remote.card)}` : ''))
      })
    })

  program
    .command('seeding <link> <on|off>')
    .description('turn serving a library model to the swarm on or off (kept across runs)')
    .action(async (link: string, state: string) => {
      const ctx = context()
      const { keyHex } = parseLink(link)
      if (state !== 'on' && state !== 'off') throw new GroveError('BAD_INPUT', 'say "on" or "off"')
      await ctx.withGrove({ network: false }, async (grove) => {
        const entry = await grove.setSeeding(keyHex, state === 'on')
        ctx.out.result({ link: entry.link, seeding: entry.seeding }, `${entry.link} is ${entry.seeding ? 'seeded' : 'no longer seeded'} whenever Grove runs.`)
      })
    })

  program
    .command('reclaim <link>')
    .description("free a separate seeding copy of a model in the store (models seeded in place from their .gguf have none); the .gguf stays, seeding stops")
    .action(async (link: string) => {
      const ctx = context()
      const { keyHex } = parseLink(link)
      await ctx.withGrove({ network: false }, async (grove) => {
        const { freedBytes } = await grove.reclaimSeedingCopy(keyHex)
        ctx.out.result({ link, freedBytes, seeding: false }, `Freed ${bytesText(freedBytes)} of drive blocks; ${link} is no longer seeded.`)
      })
    })
}

function modelInfo(link: string, manifest: import('../../../shared/manifest.js').Manifest, local: { inLibrary: boolean; path: string | null; seeding: boolean }) {
  const weights = manifest.files[0]
  return {
    link,
    name: manifest.name,
    kind: manifest.kind,
    sha256: weights?.sha256 ?? null,
    size: weights?.size ?? null,
    license: manifest.license ?? null,
    architecture: manifest.architecture ?? null,
    parameterCount: manifest.parameterCount ?? null,
    quantization: manifest.quantization ?? null,
    contextLength: manifest.contextLength ?? null,
    parents: manifest.parents,
    publisher: manifest.publisher,
    created: manifest.created,
    ...local,
    manifest
  }
}

function describeFields(info: Record<string, unknown>): string {
  return Object.entries(info)
    .filter(([key, value]) => value !== undefined && value !== null && key !== 'manifest' && !(Array.isArray(value) && value.length === 0))
    .map(([key, value]) => `${key.padEnd(16)} ${inertLine(typeof value === 'object' ? JSON.stringify(value) : String(value))}`)
    .join('\n')
}
