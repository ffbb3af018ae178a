// `grove status` and `grove stop`: is a Grove running on this home, what is it doing; stop it.
// Both are carried out by the running service (see ../forward.ts); run in a process of their
// own, they find nothing running.
import type { Command } from 'commander'
import { bytesText } from '../../../shared/units.js'
import { resolveHome } from '../../core/home.js'
import type { CommandContext } from '../context.js'
import type { ServiceHost } from '../service-host.js'
import { inertLine } from '../terminal-text.js'

export function registerService(program: Command, context: () => CommandContext): void {
  program
    .command('status')
    .description('whether a Grove runs on this home (seed, serve or the app), and what it is doing; exit status 1 when none does')
    .action(async () => {
      const ctx = context()
      const host = ctx.inService?.host
      if (!host) {
        const home = resolveHome(ctx.options.home).root
        ctx.exitCode = 1
        ctx.out.result({ running: false, home }, `No Grove is running on ${home}.`)
        return
      }
      const status = await statusOf(host)
      ctx.out.result(status, () => describeStatus(status))
    })

  program
    .command('stop')
    .description('stop the Grove running on this home, gracefully: transfers are checkpointed and drives closed in order')
    .action(async () => {
      const ctx = context()
      const host = ctx.inService?.host
      if (!host) {
        const home = resolveHome(ctx.options.home).root
        ctx.out.result({ stopped: false, running: false, home }, `No Grove is running on ${home}.`)
        return
      }
      ctx.out.result({ stopping: true, pid: host.info.pid, home: host.info.home }, `Stopping Grove (pid ${host.info.pid})…`)
      // After this command has answered: stopping closes the channel it answers on.
      setImmediate(() => host.requestStop())
    })
}

async function statusOf(host: ServiceHost) {
  const { grove, info } = host
  const total = grove.traffic.total
  const transfers = (await host.api.call('transfers.list', {})).filter((t) => t.state !== 'done')
  return {
    running: true,
    pid: info.pid,
    owner: info.owner,
    version: info.version,
    home: info.home,
    startedAt: info.startedAt,
    uptimeSeconds: Math.round((Date.now() - info.startedAt) / 1000),
    peer: grove.swarm.publicKey,
    peers: grove.swarm.peers.length,
    rooms: grove.rooms.map((room) => ({ name: room.name, kind: room.kind, peers: grove.peersInRoom(room).length })),
    seeding: grove.seededKeys.length,
    uploadedBytes: total.uploadedBytes,
    downloadedBytes: total.downloadedBytes,
    transfers: transfers.map((t) => ({ link: t.link, name: t.name, state: t.state, bytes: t.bytes, total: t.total })),
    // Per drive: what `grove seed`'s status lines summarise.
    drives: grove.seededKeys.map((keyHex) => ({ keyHex, ...grove.traffic.of(keyHex) })),
    // This `grove status` is one of them.
    commands: host.running().filter((words) => words !== 'status')
  }
}

function describeStatus(s: Awaited<ReturnType<typeof statusOf>>): string {
  const owner = s.owner === 'app' ? 'the desktop app' : `grove ${s.owner}`
  const lines = [
    `Grove ${s.version} is running on ${s.home}: ${owner}, pid ${s.pid}, up ${durationText(s.uptimeSeconds)}`,
    `Peer ${s.peer.slice(0, 16)}… · ${s.peers} peer${s.peers === 1 ? '' : 's'} · seeding ${s.seeding} model${s.seeding === 1 ? '' : 's'} · uploaded ${bytesText(s.uploadedBytes)} · downloaded ${bytesText(s.downloadedBytes)}`,
    `Rooms: ${s.rooms.map((r) => `${inertLine(r.name)} (${r.kind}, ${r.peers} peer${r.peers === 1 ? '' : 's'})`).join(', ') || 'none'}`
  ]
  for (const t of s.transfers) lines.push(`Transfer: ${inertLine(t.name ?? t.link)} ${t.state}${t.total ? ` ${bytesText(t.bytes)} of ${bytesText(t.total)}` : ''}`)
  if (s.commands.length > 0) lines.push(`Commands running for clients: ${s.commands.map((c) => `grove ${inertLine(c)}`).join(', ')}`)
  return lines.join('\n')
}

function durationText(seconds: number): string {
  if (seconds < 90) return `${seconds} s`
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`
  return `${(seconds / 3600).toFixed(1)} h`
}
