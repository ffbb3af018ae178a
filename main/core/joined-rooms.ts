// The rooms a person joined in this home (`rooms.json`), remembered so that every start joins
// them again. A private room is kept with its secret (its topic and proof key derive from it),
// so the file is the user's alone: written with mode 0600, and tightened to 0600 when found
// looser. The file is read at every start, so one that is damaged or edited into something
// Grove cannot use never stops the start: it is set aside as `rooms.json.bad` and reported.
import { chmod, readFile, rename, stat } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { GroveError } from '../../shared/errors.js'
import { MAX_ROOM_NAME, MAX_ROOM_SECRET, MIN_ROOM_SECRET, namedRoom, privateRoom, publicRoom, roomId, type Room } from './rooms.js'

/** More rooms than this in the file is not something Grove wrote. */
export const MAX_REMEMBERED_ROOMS = 64
/** Far more than 64 rooms take (about 350 bytes each at most): a larger file is not read. */
const MAX_FILE_BYTES = 64 * 1024

const StoredRoom = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('public') }).strict(),
  z.object({ kind: z.literal('named'), name: z.string().min(1).max(MAX_ROOM_NAME) }).strict(),
  z.object({ kind: z.literal('private'), secret: z.string().min(MIN_ROOM_SECRET).max(MAX_ROOM_SECRET), label: z.string().max(MAX_ROOM_NAME) }).strict()
])
type StoredRoom = z.infer<typeof StoredRoom>

const RoomsFile = z.object({ version: z.literal(1), rooms: z.array(StoredRoom).max(MAX_REMEMBERED_ROOMS) })

export class JoinedRooms {
  /** By room id (topic hex), in the order they were joined. */
  private readonly rooms = new Map<string, Room>()

  constructor(private readonly file: string) {}

  /**
   * Reads the file (none: no rooms). Returns a warning when the file could not be used and was
   * set aside; the home then starts with no remembered rooms.
   */
  async load(): Promise<string | null> {
    this.rooms.clear()
    const info = await stat(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    if (!info) return null
    // A file that others may read (written by hand, or copied in) gives away private rooms' secrets.
    if ((info.mode & 0o077) !== 0) await chmod(this.file, 0o600)
    const rooms = info.size <= MAX_FILE_BYTES ? parseRoomsFile(await readFile(this.file, 'utf8')) : null
    if (!rooms) {
      const aside = await this.setAside()
      return `The list of joined rooms ${this.file} is damaged; it was moved to ${aside} and Grove starts with no remembered rooms`
    }
    for (const room of rooms) this.rooms.set(roomId(room), room)
    return null
  }

  list(): Room[] {
    return [...this.rooms.values()]
  }

  has(id: string): boolean {
    return this.rooms.has(id)
  }

  /** Remembers a room; one already remembered stays as it is (its name or label too). Returns the room remembered. */
  async remember(room: Room): Promise<Room> {
    const id = roomId(room)
    const known = this.rooms.get(id)
    if (known) return known
    if (this.rooms.size >= MAX_REMEMBERED_ROOMS) throw new GroveError('BAD_INPUT', `This home remembers at most ${MAX_REMEMBERED_ROOMS} rooms; leave one first`)
    toStored(room) // a private room without its secret cannot be remembered: fail before changing anything
    this.rooms.set(id, room)
    try {
      await this.save()
    } catch (err) {
      this.rooms.delete(id)
      throw err
    }
    return room
  }

  /** Forgets a room; false when it was not remembered. */
  async forget(id: string): Promise<boolean> {
    const room = this.rooms.get(id)
    if (!room) return false
    this.rooms.delete(id)
    try {
      await this.save()
    } catch (err) {
      this.rooms.set(id, room)
      throw err
    }
    return true
  }

  /**
   * Replaces the file atomically (a temp file renamed over it), created 0600 whatever the umask;
   * writes to the same file queue up, so the last one holds the latest list.
   */
  private save(): Promise<void> {
    const rooms = this.list().map(toStored)
    return writeFileAtomic(this.file, JSON.stringify({ version: 1, rooms }, null, 2) + '\n', { mode: 0o600 })
  }

  /** Moves the damaged file out of the way without losing an earlier one set aside. */
  private async setAside(): Promise<string> {
    for (let n = 1; ; n++) {
      const aside = n === 1 ? `${this.file}.bad` : `${this.file}.bad.${n}`
      if (await stat(aside).catch(() => null)) continue
      await rename(this.file, aside)
      return aside
    }
  }
}

function toStored(room: Room): StoredRoom {
  if (room.kind === 'public') return { kind: 'public' }
  if (room.kind === 'named') return { kind: 'named', name: room.name }
  if (!room.secret) throw new GroveError('INTERNAL', 'A private room can only be remembered with its secret')
  return { kind: 'private', secret: room.secret, label: room.name }
}

/** The rooms in the file, rebuilt; null when it is not a list Grove wrote (bad JSON, schema, a name that is all spaces). */
function parseRoomsFile(text: string): Room[] | null {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return null
  }
  const parsed = RoomsFile.safeParse(data)
  if (!parsed.success) return null
  try {
    return parsed.data.rooms.map((stored) => {
      if (stored.kind === 'public') return publicRoom()
      if (stored.kind === 'named') return namedRoom(stored.name)
      return privateRoom(stored.secret, stored.label)
    })
  } catch {
    return null
  }
}
