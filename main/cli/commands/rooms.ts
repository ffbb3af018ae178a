// `grove rooms`, `grove rooms join`, `grove rooms leave`: the rooms this home is in. Joined rooms
// are remembered in the home and joined at every start. Run on their own these commands only
// change that list; run inside a Grove that has the network (a running service), they also join
// and leave at once and show the peers in each room.
import type { Command } from 'commander'
import { GroveError } from '../../../shared/errors.js'
import type { Grove } from '../../core/grove.js'
import { roomAskedFor, roomId, type Room } from '../../core/rooms.js'
import type { CommandContext } from '../context.js'
import { table } from '../output.js'
import { inertLine } from '../terminal-text.js'

/** A room as `grove rooms --json` prints it (never with a private room's secret). */
interface RoomRow {
  id: string
  kind: Room['kind']
  name: string
  peers: number
  remembered: boolean
}

export function registerRooms(program: Command, context: () => CommandContext): void {
  const rooms = program.command('rooms').description('the rooms this home is in (joined rooms are remembered and joined at every start)')

  rooms
    .command('list', { isDefault: true })
    .description('list the rooms: name, kind, id and peers')
    .action(async () => {
      const ctx = context()
      await ctx.withGrove({ network: false }, async (grove) => {
        const rows = roomRows(grove)
        ctx.out.result(rows, () => {
          if (rows.length === 0) return 'This home remembers no rooms (each start joins the public room, or those given with --room). Join one with `grove rooms join NAME`.'
          const lines = grove.hasNetwork
            ? table(['NAME', 'KIND', 'ID', 'PEERS', 'REMEMBERED'], rows.map((r) => [r.name, r.kind, shortId(r.id), String(r.peers), r.remembered ? 'yes' : 'no (this run only)']))
            : table(['NAME', 'KIND', 'ID'], rows.map((r) => [r.name, r.kind, shortId(r.id)]))
          return grove.hasNetwork ? lines : `${lines}\n\nNot connected: peers are counted while Grove runs with the network (grove seed, grove serve).`
        })
      })
    })

  rooms
    .command('join [name]')
    .description('join a named room, or a private room with --secret; remembered for every start')
    .option('--secret <secret>', 'the private room this secret names (8-200 characters; share it only with invited peers)')
    .option('--label <label>', 'what to call the private room here (default "private")')
    .action(async (name: string | undefined, flags: { secret?: string; label?: string }) => {
      const ctx = context()
      const room = roomFromArguments(name, flags)
      await ctx.withGrove({ network: false }, async (grove) => {
        const joined = await grove.joinRoomAndRemember(room)
        const row = { ...rowOf(grove, joined), joined: grove.hasNetwork }
        const what = `${inertLine(row.name)} (${row.kind} room, id ${shortId(row.id)})`
        ctx.out.result(row, grove.hasNetwork ? `Joined ${what}; Grove joins it at every start.` : `Remembered ${what}: Grove joins it whenever it runs with the network.`)
      })
    })

  rooms
    .command('leave <room>')
    .description('leave a room (by name or id) and forget it')
    .action(async (target: string) => {
      const ctx = context()
      await ctx.withGrove({ network: false }, async (grove) => {
        const room = findRoom(grove, target)
        const { left, forgotten } = await grove.leaveRoomAndForget(roomId(room))
        const what = `${inertLine(room.name)} (${room.kind} room, id ${shortId(roomId(room))})`
        const human = forgotten ? `${left ? 'Left' : 'Forgot'} ${what}${left ? ' and forgot it' : ''}.` : `Left ${what} for this run; it was joined by --room or by default, not remembered.`
        ctx.out.result({ id: roomId(room), kind: room.kind, name: room.name, left, forgotten }, human)
      })
    })
}

function roomFromArguments(name: string | undefined, flags: { secret?: string; label?: string }): Room {
  if (flags.secret !== undefined) {
    if (name !== undefined) throw new GroveError('BAD_INPUT', 'Give a room name or --secret, not both')
    return roomAskedFor({ secret: flags.secret, label: flags.label })
  }
  if (flags.label !== undefined) throw new GroveError('BAD_INPUT', '--label names a private room: use it with --secret')
  if (name === undefined) throw new GroveError('BAD_INPUT', 'Give a room name, or --secret SECRET for a private room')
  return roomAskedFor({ name })
}

/** The rooms joined now (with the network), then the remembered ones not joined, each once. */
function roomRows(grove: Grove): RoomRow[] {
  const rows = new Map<string, RoomRow>()
  for (const room of [...grove.rooms, ...grove.joinedRooms.list()]) {
    if (!rows.has(roomId(room))) rows.set(roomId(room), rowOf(grove, room))
  }
  return [...rows.values()]
}

function rowOf(grove: Grove, room: Room): RoomRow {
  const id = roomId(room)
  return { id, kind: room.kind, name: room.name, peers: grove.peersInRoom(room).length, remembered: grove.joinedRooms.has(id) }
}

/**
 * The room a person named: by id (the 16 characters `grove rooms` shows, or more), or by name
 * (a named room's is case-insensitive; a private room by its label). Several matches ask for the id.
 */
function findRoom(grove: Grove, target: string): Room {
  const known = new Map<string, Room>()
  for (const room of [...grove.rooms, ...grove.joinedRooms.list()]) if (!known.has(roomId(room))) known.set(roomId(room), room)
  const text = target.trim()
  const byId = /^[0-9a-f]{16,64}$/i.test(text) ? text.toLowerCase() : null
  let namedId: string | null = null
  try {
    namedId = roomId(roomAskedFor({ name: text }))
  } catch {
    // not a valid room name: only an id or a private room's label can match
  }
  const matches = [...known.entries()].filter(([id, room]) => (byId !== null && id.startsWith(byId)) || id === namedId || (room.kind === 'private' && room.name === text)).map(([, room]) => room)
  if (matches.length === 0) throw new GroveError('NOT_FOUND', `This home is not in a room called ${text} (see grove rooms)`)
  if (matches.length > 1) throw new GroveError('BAD_INPUT', `Several rooms match ${text} (${matches.map((r) => shortId(roomId(r))).join(', ')}): leave one by its id`)
  return matches[0]!
}

function shortId(id: string): string {
  return id.slice(0, 16)
}
