import type { Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { firstLine } from '../../../shared/errors.js'
import { parseLink } from '../../../shared/link.js'
import type { Grove } from '../../core/grove.js'
import { sleep } from '../../core/swarm.js'
import type { CommandContext } from '../context.js'
import { GroveService } from '../service-host.js'
import { inertLine } from '../terminal-text.js'

const STATUS_INTERVAL_MS = 5000

export function registerSeed(program: Command, context: () => CommandContext): void {
  program
    .command('seed [links...]')
    .description('stay up and serve the library (and fetch and serve these links) until SIGINT/SIGTERM or `grove stop`; the other commands on this home run in it meanwhile')
    .action(async (links: string[]) => {
      const ctx = context()
      for (const link of links) parseLink(link)
      await ctx.withGrove({ network: true }, async (grove, signal) => {
        const service = ctx.inService ? null : await startService(ctx, grove)
        try {
          if (ctx.inService) {
            // A second `grove seed` on a running home: the running one takes the links; this one shows its status.
            const { info } = ctx.inService.host
            ctx.out.info(`Grove is already running on this home (grove ${info.owner}, pid ${info.pid}); attached to it. Ctrl-C detaches, \`grove stop\` stops it.`)
            ctx.out.event({ event: 'attached', pid: info.pid, peer: grove.swarm.publicKey, links: grove.seededKeys })
            // Downloads it takes on outlive this client: they are the service's transfers.
            for (const link of links) {
              const transfer = await ctx.inService.host.api.call('transfers.start', { link })
              ctx.out.info(`Fetching ${inertLine(transfer.name ?? link)} in the running Grove (see \`grove status\`)`)
              ctx.out.event({ event: 'transfer', link, state: transfer.state })
            }
          } else {
            const entries = await grove.seedLibrary()
            ctx.out.info(`Seeding ${entries.length} model${entries.length === 1 ? '' : 's'} as peer ${grove.swarm.publicKey.slice(0, 16)}…`)
            ctx.out.event({ event: 'seeding', peer: grove.swarm.publicKey, links: entries.map((e) => e.link) })
          }
          if (!ctx.inService) for (const link of links) void fetchAndSeed(grove, ctx, link, signal)
          while (!signal.aborted) {
            await sleep(STATUS_INTERVAL_MS, signal)
            if (!signal.aborted) report(grove, ctx)
          }
        } finally {
          await service?.close()
        }
      })
    })
}

/** Makes this process the home's service, so that other commands on the home run in it. */
function startService(ctx: CommandContext, grove: Grove): Promise<GroveService> {
  return GroveService.start({ grove, owner: 'seed', options: ctx.options, run: ctx.runForwarded!, requestStop: () => ctx.requestStop() })
}

async function fetchAndSeed(grove: Grove, ctx: CommandContext, link: string, signal: AbortSignal): Promise<void> {
  try {
    const result = await grove.fetch(link, { signal, timeoutMs: 24 * 3600 * 1000 })
    ctx.out.info(`Fetched ${inertLine(result.manifest.name)}; seeding it`)
    ctx.out.event({ event: 'fetched', link: result.link, path: result.path, sha256: result.sha256 })
  } catch (err) {
    if (!signal.aborted) ctx.out.info(`Could not fetch ${inertLine(link)}: ${inertLine(firstLine(err))}`)
    ctx.out.event({ event: 'error', link, message: firstLine(err) })
  }
}

function report(grove: Grove, ctx: CommandContext): void {
  const peers = grove.swarm.peers
  const total = grove.traffic.total
  const drives = grove.seededKeys.map((keyHex) => ({ keyHex, ...grove.traffic.of(keyHex) }))
  ctx.out.event({ event: 'status', peers: peers.length, uploadedBytes: total.uploadedBytes, downloadedBytes: total.downloadedBytes, drives })
  ctx.out.info(`${peers.length} peer${peers.length === 1 ? '' : 's'} · uploaded ${bytesText(total.uploadedBytes)} · downloaded ${bytesText(total.downloadedBytes)}`)
}
