// `grove browse` and `grove lineage`: the room catalog and the model tree as this peer sees
// them. Both join the rooms, collect their neighbours' catalogs, read each relayed model's
// manifest from its drive (no weights), then print and exit.
import { bytesText } from '../../../shared/units.js'
import type { Command } from 'commander'
import { KINDS, RELATIONS, type ModelKind, type Relation } from '../../../shared/manifest.js'
import { GroveError } from '../../../shared/errors.js'
import { formatLink, parseLink } from '../../../shared/link.js'
import { lineageOf, type LineageGraph } from '../../../shared/lineage/graph.js'
import { parseSeconds, type CommandContext } from '../context.js'
import { table } from '../output.js'
import { inertLine } from '../terminal-text.js'

const DEFAULT_WAIT_S = 8
const DEFAULT_TIMEOUT_S = 30

interface BrowseFlags {
  arch?: string
  kind?: string
  license?: string
  relation?: string
  limit: string
  offset: string
  wait?: string
  timeout?: string
}

export function registerCatalog(program: Command, context: () => CommandContext): void {
  program
    .command('browse [text]')
    .description("the room catalog as this peer sees it (models its neighbours seed), filtered; downloads no weights")
    .option('--arch <architecture>', 'only this architecture (e.g. llama)')
    .option('--kind <kind>', `only ${KINDS.join(' or ')}`)
    .option('--license <spdx>', 'only this licence')
    .option('--relation <relation>', `only forks with this relation: ${RELATIONS.join(' | ')}`)
    .option('--limit <n>', 'at most this many results', '100')
    .option('--offset <n>', 'skip this many results first (the next page: --offset 100)', '0')
    .option('--wait <seconds>', 'how long to listen for peers', String(DEFAULT_WAIT_S))
    .option('--timeout <seconds>', 'give up after this long in all, checking the models peers named included', String(DEFAULT_TIMEOUT_S))
    .action(async (text: string | undefined, flags: BrowseFlags) => {
      const ctx = context()
      const kind = oneOf<ModelKind>(flags.kind, KINDS, '--kind')
      const relation = oneOf<Relation>(flags.relation, RELATIONS, '--relation')
      const limit = Number(flags.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new GroveError('BAD_INPUT', '--limit must be 1-10000')
      const offset = Number(flags.offset)
      if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000) throw new GroveError('BAD_INPUT', '--offset must be a whole number from 0 to 1000000')
      const waitMs = (parseSeconds(flags.wait, '--wait') ?? DEFAULT_WAIT_S) * 1000
      const timeoutMs = (parseSeconds(flags.timeout, '--timeout') ?? DEFAULT_TIMEOUT_S) * 1000
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        await grove.settleCatalog({ waitMs, timeoutMs, signal })
        const result = grove.catalog.search({ text, architecture: flags.arch, kind, license: flags.license, relation, limit, offset })
        const models = result.items.map((m) => ({
          link: m.link,
          name: m.name,
          kind: m.kind,
          sha256: m.sha256,
          size: m.size,
          architecture: m.architecture ?? null,
          license: m.license ?? null,
          quantization: m.quantization ?? null,
          parents: m.parents,
          seeders: m.seeders,
          local: m.local,
          verified: m.source === 'drive'
        }))
        // --json: how many matched, not only the page, so a script knows whether to ask for the next one.
        ctx.out.result({ total: result.total, offset, returned: models.length, models }, () => {
          if (models.length === 0) {
            return result.total > 0
              ? `No models past --offset ${offset} (${result.total} matched).`
              : `No models found (${grove.roomPeerCount} peer${grove.roomPeerCount === 1 ? '' : 's'} in ${grove.rooms.map((r) => r.name).join(', ')}).`
          }
          const rest = result.total - offset - models.length
          return (
            table(
              ['NAME', 'KIND', 'ARCH', 'SIZE', 'LICENCE', 'SEEDERS', 'LINK'],
              models.map((m) => [m.name, m.kind, m.architecture ?? '', bytesText(m.size), m.license ?? '', String(m.seeders), m.link])
            ) +
            // Where this is a page of more, which one, and how to get the next.
            (models.length < result.total ? `\n${offset + 1}–${offset + models.length} of ${result.total}` + (rest > 0 ? ` (the next ${Math.min(rest, limit)}: --offset ${offset + models.length})` : '') : '')
          )
        })
      })
    })

  program
    .command('lineage <link>')
    .description('ancestors and descendants of a model known in the swarm, with relations and verified/claimed edges')
    .option('--wait <seconds>', 'how long to listen for peers', String(DEFAULT_WAIT_S))
    .option('--depth <n>', 'generations to follow up and down', '32')
    .option('--timeout <seconds>', 'give up after this long in all, checking the models peers named included', String(DEFAULT_TIMEOUT_S))
    .action(async (link: string, flags: { wait?: string; depth: string; timeout?: string }) => {
      const ctx = context()
      const root = formatLink(parseLink(link).keyHex)
      const waitMs = (parseSeconds(flags.wait, '--wait') ?? DEFAULT_WAIT_S) * 1000
      const timeoutMs = (parseSeconds(flags.timeout, '--timeout') ?? DEFAULT_TIMEOUT_S) * 1000
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        await grove.settleCatalog({ waitMs, timeoutMs, signal })
        if (!grove.catalog.has(root)) {
          throw new GroveError('NOT_FOUND', `No peer in ${grove.rooms.map((r) => r.name).join(', ')} knows ${root} (${grove.roomPeerCount} peers answered)`)
        }
        // Only summaries this peer read from the drives themselves can verify an edge: a relayed
        // child could name any parent with the right hash.
        const graph = lineageOf(grove.catalog, root, { maxDepth: Number(flags.depth) || 32, requireChildFromDrive: true })
        ctx.out.result(graph, () => describeGraph(graph))
      })
    })
}

function describeGraph(graph: LineageGraph): string {
  const names = new Map(graph.nodes.map((n) => [n.link, n.name]))
  const lines = graph.nodes.map((n) => `${n.link === graph.root ? '*' : ' '} ${inertLine(n.name)} (${inertLine(n.kind ?? 'unknown')}${n.missing ? ', not in the swarm' : `, ${n.seeders} seeder${n.seeders === 1 ? '' : 's'}`}) ${n.link}`)
  lines.push('')
  for (const e of graph.edges) {
    const status = e.verified ? 'verified' : `claimed${e.reason ? ` (${inertLine(e.reason)}${e.detail ? `: ${inertLine(e.detail)}` : ''})` : ''}`
    lines.push(`${inertLine(names.get(e.parent) ?? e.parent)} --${inertLine(e.relation)}--> ${inertLine(names.get(e.child) ?? e.child)}  [${status}]`)
  }
  for (const p of graph.problems) lines.push(`! ${inertLine(p.kind)}: ${inertLine(p.detail)}`)
  return lines.join('\n')
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly string[], flag: string): T | undefined {
  if (value === undefined) return undefined
  if (!allowed.includes(value)) throw new GroveError('BAD_INPUT', `${flag} must be one of ${allowed.join(', ')}`)
  return value as T
}
