import { InvalidArgumentError, type Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { firstLine } from '../../../shared/errors.js'
import { parseLink } from '../../../shared/link.js'
import type { Grove } from '../../core/grove.js'
import { DEFAULT_ANNOUNCE_LIMIT } from '../../core/seeding.js'
import { sleep } from '../../core/swarm.js'
import type { CommandContext } from '../context.js'
import { GroveService } from '../service-host.js'
import { inertLine } from '../terminal-text.js'

const STATUS_INTERVAL_MS = 5000
/** With nothing changing, a status line this often all the same (a seeder runs for months: its log must not grow for nothing). */
const HEARTBEAT_MS = 60_000
/** A status line names at most this many of the drives whose traffic changed since the last one. */
const CHANGED_DRIVES_SHOWN = 20

export function registerSeed(program: Command, context: () => CommandContext): void {
  program
    .command('seed [links...]')
    .description('stay up and serve the library (and fetch and serve these links) until SIGINT/SIGTERM or `grove stop`; the other commands on this home run in it meanwhile')
    .option('--announce-limit <n>', `complete models announced on the DHT one by one, the newest (default ${DEFAULT_ANNOUNCE_LIMIT}); the rest are found through this home's key, which the links \`grove share\` prints name`, parseAnnounceLimit)
    .action(async (links: string[], flags: { announceLimit?: number }) => {
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
            if (flags.announceLimit !== undefined) ctx.out.info('--announce-limit is ignored: the running Grove keeps the limit it was started with')
            // Downloads it takes on outlive this client: they are the service's transfers.
            for (const link of links) {
              const transfer = await ctx.inService.host.api.call('transfers.start', { link })
              ctx.out.info(`Fetching ${inertLine(transfer.name ?? link)} in the running Grove (see \`grove status\`)`)
              ctx.out.event({ event: 'transfer', link, state: transfer.state })
            }
          } else {
            if (flags.announceLimit !== undefined) grove.setAnnounceLimit(flags.announceLimit)
            const entries = await grove.seedLibrary()
            const announced = grove.announcedCount
            ctx.out.info(
              `Seeding ${entries.length} model${entries.length === 1 ? '' : 's'} as peer ${grove.swarm.publicKey.slice(0, 16)}…` +
                (announced < entries.length ? ` (${announced} announced one by one, the newest; peers reach the rest through this peer's key, which links from \`grove share\` name)` : '')
            )
            ctx.out.event({ event: 'seeding', peer: grove.swarm.publicKey, links: entries.map((e) => e.link), announced })
          }
          if (!ctx.inService) for (const link of links) void fetchAndSeed(grove, ctx, link, signal)
          const reporter = new StatusReporter(grove, ctx)
          while (!signal.aborted) {
            await sleep(STATUS_INTERVAL_MS, signal)
            if (!signal.aborted) reporter.report()
          }
        } finally {
          await service?.close()
        }
      })
    })
}

function parseAnnounceLimit(text: string): number {
  if (!/^\d{1,7}$/.test(text)) throw new InvalidArgumentError('expected a whole number of models (0 or more)')
  return Number(text)
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

/**
 * The periodic status: a summary (peers, models seeded, totals and rates, models set aside), with
 * the drives whose traffic changed since the last line; per-drive detail for all of them is
 * `grove status --json`. Printed when something changed, else once a minute.
 */
class StatusReporter {
  private lastKey = ''
  private lastAt = 0
  private lastTotals = { uploadedBytes: 0, downloadedBytes: 0, at: Date.now() }
  private readonly lastByDrive = new Map<string, number>()

  constructor(
    private readonly grove: Grove,
    private readonly ctx: CommandContext
  ) {}

  report(): void {
    const { grove, ctx } = this
    const now = Date.now()
    const peers = grove.swarm.peers.length
    const seeding = grove.seededKeys.length
    const setAside = grove.library.list().filter((e) => e.quarantined).length
    const total = grove.traffic.total
    const key = JSON.stringify([peers, seeding, setAside, total.uploadedBytes, total.downloadedBytes])
    if (key === this.lastKey && now - this.lastAt < HEARTBEAT_MS) return
    const seconds = Math.max(0.001, (now - this.lastTotals.at) / 1000)
    const uploadBytesPerSecond = Math.round((total.uploadedBytes - this.lastTotals.uploadedBytes) / seconds)
    const downloadBytesPerSecond = Math.round((total.downloadedBytes - this.lastTotals.downloadedBytes) / seconds)
    const changed: Array<{ keyHex: string; uploadedBytes: number; downloadedBytes: number }> = []
    for (const keyHex of grove.seededKeys) {
      const traffic = grove.traffic.of(keyHex)
      const sum = traffic.uploadedBytes + traffic.downloadedBytes
      if (sum !== (this.lastByDrive.get(keyHex) ?? 0)) changed.push({ keyHex, ...traffic })
      this.lastByDrive.set(keyHex, sum)
    }
    this.lastKey = key
    this.lastAt = now
    this.lastTotals = { ...total, at: now }
    ctx.out.event({
      event: 'status',
      peers,
      seeding,
      setAside,
      uploadedBytes: total.uploadedBytes,
      downloadedBytes: total.downloadedBytes,
      uploadBytesPerSecond,
      downloadBytesPerSecond,
      changed: changed.slice(0, CHANGED_DRIVES_SHOWN),
      moreChanged: Math.max(0, changed.length - CHANGED_DRIVES_SHOWN)
    })
    ctx.out.info(
      `${peers} peer${peers === 1 ? '' : 's'} · seeding ${seeding} · uploaded ${bytesText(total.uploadedBytes)} (${bytesText(uploadBytesPerSecond)}/s) · downloaded ${bytesText(total.downloadedBytes)}` +
        (setAside > 0 ? ` · ${setAside} set aside (see grove ls)` : '')
    )
  }
}
