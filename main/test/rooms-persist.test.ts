// Joined rooms are remembered in the home (rooms.json) and joined again at the next start:
// through the API, through Grove without the network, and through `grove rooms`. The file holds
// private rooms' secrets (mode 0600, never shown); a damaged one is set aside, never fatal.
// Run in a network namespace (local testnet).
import assert from 'node:assert/strict'
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { isGroveError } from '../../shared/errors.js'
import { GroveApi } from '../api/api.js'
import { Grove } from '../core/grove.js'
import { MAX_REMEMBERED_ROOMS } from '../core/joined-rooms.js'
import { namedRoom, privateRoom, publicRoom, roomId } from '../core/rooms.js'
import { InferenceService } from '../inference/service.js'
import { Harness } from '../testing/harness.js'

let h: Harness
beforeEach(() => {
  h = new Harness()
})
afterEach(() => h.teardown())

const SECRET = 'a-long-lab-secret'

/** An open Grove on `home`; close it (or leave it to teardown) before opening the home again. */
async function openGrove(home: string, opts: { network?: boolean; rooms?: ReturnType<typeof namedRoom>[] } = {}): Promise<Grove> {
  const network = opts.network ?? true
  const grove = new Grove({ home, network, bootstrap: network ? await h.bootstrap() : undefined, rooms: opts.rooms })
  await grove.ready()
  h.onTeardown(() => grove.close())
  return grove
}

async function apiOf(grove: Grove): Promise<GroveApi> {
  const inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  const api = await GroveApi.create({ grove, inference, transport: 'http' })
  h.onTeardown(() => api.close())
  return api
}

const names = (grove: Grove) => grove.rooms.map((r) => `${r.kind}:${r.name}`).sort()

test('rooms joined through the API are joined again when the home is opened again', async () => {
  const home = await h.tmpDir('grove-home-')
  const first = await openGrove(home)
  const api = await apiOf(first)
  const physics = await api.call('rooms.join', { name: 'physics' })
  const lab = await api.call('rooms.join', { secret: SECRET, label: 'lab' })
  // Joining a room already joined is no error, and remembers it.
  await api.call('rooms.join', { name: 'public' })
  assert.deepEqual(names(first), ['named:physics', 'private:lab', 'public:public'])
  await api.close()
  await first.close()

  const again = await openGrove(home)
  assert.deepEqual(names(again), ['named:physics', 'private:lab', 'public:public'])
  const rejoined = again.rooms.find((r) => roomId(r) === lab.id)
  assert.deepEqual(rejoined?.authKey, privateRoom(SECRET).authKey, 'the private room is rebuilt from its secret')
  assert.equal(again.rooms.find((r) => roomId(r) === physics.id)?.name, 'physics')
})

test('the rooms file is 0600, tightened when looser, and no secret leaves it', async () => {
  const home = await h.tmpDir('grove-home-')
  const grove = await openGrove(home)
  const api = await apiOf(grove)
  await api.call('rooms.join', { secret: SECRET, label: 'lab' })
  const file = join(home, 'rooms.json')
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  assert.match(await readFile(file, 'utf8'), new RegExp(SECRET))
  const listed = await api.call('rooms.list', {})
  assert.equal(listed.length, 2)
  assert.doesNotMatch(JSON.stringify(listed), new RegExp(SECRET))
  assert.doesNotMatch(JSON.stringify(await api.call('rooms.join', { secret: SECRET })), new RegExp(SECRET))
  await api.close()
  await grove.close()

  await chmod(file, 0o644)
  const again = await openGrove(home, { network: false })
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  assert.equal(again.joinedRooms.list().length, 1)
  await again.close()

  const run = await h.runGrove(['--home', home, '--json', 'rooms'])
  assert.equal(run.code, 0, run.stderr)
  assert.doesNotMatch(run.stdout + run.stderr, new RegExp(SECRET))
  const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>
  assert.deepEqual(rows.map((r) => [r.kind, r.name, r.remembered]), [['private', 'lab', true]])
})

test('a damaged rooms file does not stop the start: warned about, set aside, earlier ones kept', async () => {
  const home = await h.tmpDir('grove-home-')
  const file = join(home, 'rooms.json')
  await writeFile(file, '{"version": 1, "rooms": [{"kind": "named"')
  const grove = await openGrove(home)
  assert.deepEqual(names(grove), ['public:public'])
  assert.equal(grove.warnings.length, 1)
  assert.match(grove.warnings[0]!, /rooms\.json is damaged.*rooms\.json\.bad/)
  assert.equal(await readFile(`${file}.bad`, 'utf8'), '{"version": 1, "rooms": [{"kind": "named"')
  // Grove goes on remembering rooms in a fresh file.
  await grove.joinRoomAndRemember(namedRoom('physics'))
  await grove.close()

  // Too many rooms, a secret too short, a name of spaces: each not a file Grove wrote.
  const tooMany = Array.from({ length: MAX_REMEMBERED_ROOMS + 1 }, (_, i) => ({ kind: 'named', name: `room-${i}` }))
  const huge = JSON.stringify({ version: 1, rooms: [] }) + ' '.repeat(100_000)
  for (const rooms of [tooMany, [{ kind: 'private', secret: 'short', label: 'x' }], [{ kind: 'named', name: '   ' }]]) {
    await writeFile(file, JSON.stringify({ version: 1, rooms }))
    const again = await openGrove(home, { network: false })
    assert.equal(again.joinedRooms.list().length, 0)
    assert.equal(again.warnings.length, 1)
    await again.close()
  }
  // Larger than any list Grove writes: set aside unread.
  await writeFile(file, huge)
  const again = await openGrove(home, { network: false })
  assert.match(again.warnings[0] ?? '', /damaged/)
  await again.close()
  const asideFiles = (await readdir(home)).filter((name) => name.startsWith('rooms.json.bad'))
  assert.equal(asideFiles.length, 5, 'no file set aside is overwritten')
})

test('leaving forgets a remembered room; a room given for this run is left for this run only', async () => {
  const home = await h.tmpDir('grove-home-')
  const grove = await openGrove(home)
  const api = await apiOf(grove)
  const physics = await api.call('rooms.join', { name: 'physics' })
  const publicId = roomId(publicRoom())
  await api.call('rooms.leave', { id: physics.id })
  await api.call('rooms.leave', { id: publicId }) // joined by default, not remembered
  assert.deepEqual(names(grove), [])
  await assert.rejects(api.call('rooms.leave', { id: physics.id }), (err) => isGroveError(err) && err.code === 'NOT_FOUND')
  assert.deepEqual(JSON.parse(await readFile(join(home, 'rooms.json'), 'utf8')).rooms, [])
  await api.close()
  await grove.close()

  const again = await openGrove(home)
  assert.deepEqual(names(again), ['public:public'])
})

test('without the network a Grove still remembers and forgets rooms; flags and remembered rooms are joined once each', async () => {
  const home = await h.tmpDir('grove-home-')
  const offline = await openGrove(home, { network: false })
  const joined = await offline.joinRoomAndRemember(namedRoom('Physics'))
  await offline.joinRoomAndRemember(namedRoom('chemistry'))
  assert.deepEqual(offline.rooms, [])
  assert.deepEqual(await offline.leaveRoomAndForget(roomId(namedRoom('chemistry'))), { left: false, forgotten: true })
  assert.deepEqual(await offline.leaveRoomAndForget(roomId(namedRoom('biology'))), { left: false, forgotten: false })
  assert.equal(joined.name, 'Physics')
  await offline.close()

  // `--room physics` names the remembered room again (names are case-insensitive): joined once, no public room.
  const online = await openGrove(home, { rooms: [namedRoom('physics')] })
  assert.deepEqual(names(online), ['named:physics'])
  assert.deepEqual(online.joinedRooms.list().map((r) => r.name), ['Physics'])
})

test('grove rooms join / list / leave', async () => {
  const home = await h.tmpDir('grove-home-')
  const grove = (...args: string[]) => h.runGrove(['--home', home, ...args])

  const empty = await grove('--json', 'rooms')
  assert.equal(empty.code, 0, empty.stderr)
  assert.deepEqual(JSON.parse(empty.stdout), [])

  const join = await grove('rooms', 'join', 'foo')
  assert.equal(join.code, 0, join.stderr)
  assert.match(join.stdout, /Remembered foo \(named room/)
  const lab = await grove('--json', 'rooms', 'join', '--secret', SECRET, '--label', 'lab')
  assert.equal(lab.code, 0, lab.stderr)
  assert.doesNotMatch(lab.stdout, new RegExp(SECRET))

  const listed = await grove('rooms', '--json')
  assert.equal(listed.code, 0, listed.stderr)
  assert.doesNotMatch(listed.stdout, new RegExp(SECRET))
  const rows = JSON.parse(listed.stdout) as Array<Record<string, unknown>>
  assert.deepEqual(rows, [
    { id: roomId(namedRoom('foo')), kind: 'named', name: 'foo', peers: 0, remembered: true },
    { id: roomId(privateRoom(SECRET)), kind: 'private', name: 'lab', peers: 0, remembered: true }
  ])
  const human = await grove('rooms', 'list')
  assert.match(human.stdout, new RegExp(`foo\\s+named\\s+${roomId(namedRoom('foo')).slice(0, 16)}`))
  assert.match(human.stdout, /Not connected/)

  for (const bad of [['rooms', 'join', '--secret', 'short'], ['rooms', 'join'], ['rooms', 'join', 'x'.repeat(101)], ['rooms', 'join', 'foo', '--secret', SECRET]]) {
    const run = await grove(...bad)
    assert.equal(run.code, 2, `${bad.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, /^grove: /)
  }

  const byId = await grove('rooms', 'leave', roomId(privateRoom(SECRET)).slice(0, 16))
  assert.equal(byId.code, 0, byId.stderr)
  assert.match(byId.stdout, /Forgot lab/)
  const byName = await grove('--json', 'rooms', 'leave', 'FOO')
  assert.equal(byName.code, 0, byName.stderr)
  assert.deepEqual(JSON.parse(byName.stdout), { id: roomId(namedRoom('foo')), kind: 'named', name: 'foo', left: false, forgotten: true })
  const gone = await grove('rooms', 'leave', 'foo')
  assert.equal(gone.code, 1)
  assert.match(gone.stderr, /not in a room called foo/)
  assert.deepEqual(JSON.parse((await grove('--json', 'rooms')).stdout), [])
})
