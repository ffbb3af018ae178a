// One Grove per home: while `grove seed` or `grove serve` owns a home, every other command on it
// is carried out by that process over the home's control socket — same output, same exit
// status — and the socket is the owner's alone. Killed clients, killed services and stale
// sockets end with clear errors, never a wedged home.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, stat } from 'node:fs/promises'
import net from 'node:net'
import { basename, join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { sha256File } from '../core/sha256.js'
import { resolveHome } from '../core/home.js'
import { ServiceConnection } from '../service/control-client.js'
import { controlEndpoint } from '../service/endpoint.js'
import { Harness, waitFor, withTimeout, type GroveProcess } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

/** A link to a drive nobody seeds: a fetch of it waits for peers until its --timeout. */
const NOBODY_SEEDS = 'grove://' + 'ab'.repeat(32)

async function startBootstrap(): Promise<string> {
  const proc = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  const line = await proc.waitForJson((l) => l.event === 'listening', 15_000)
  return `127.0.0.1:${String(line.port)}`
}

async function modelFile(name: string): Promise<string> {
  const path = join(await h.tmpDir('grove-service-models-'), `${name}.gguf`)
  await writeLlamaModel(path, { seed: name.length, name, license: 'mit', embeddingLength: 64, blockCount: 2 })
  return path
}

async function startSeeder(home: string, bootstrap: string): Promise<GroveProcess> {
  const seeder = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  await seeder.waitForJson((l) => l.event === 'seeding', 20_000)
  return seeder
}

async function status(home: string) {
  const run = await h.runGrove(['--home', home, '--json', 'status'], { timeoutMs: 30_000 })
  return { code: run.code, status: run.json.at(-1) ?? {}, stderr: run.stderr }
}

test('with grove seed running: share, ls and status run in it, a peer fetches the new model, and SIGTERM stops it with the library intact', async () => {
  const bootstrap = await startBootstrap()
  const homeA = await h.tmpDir()
  const homeB = await h.tmpDir()
  const first = await h.runGrove(['--home', homeA, '--json', 'share', await modelFile('first-model')])
  assert.equal(first.code, 0, first.stderr)
  const seeder = await startSeeder(homeA, bootstrap)

  // Relative paths are the client's: the service runs in another folder.
  const second = await modelFile('second-model')
  const started = Date.now()
  const shared = await h.runGrove(['--home', homeA, '--bootstrap', bootstrap, '--json', 'share', 'second-model.gguf'], { timeoutMs: 30_000, cwd: join(second, '..') })
  assert.equal(shared.code, 0, shared.stderr)
  assert.ok(Date.now() - started < 30_000)
  const link = String(shared.json.at(-1)!.link)
  assert.doesNotMatch(shared.stderr, /in use/)

  const listed = await h.runGrove(['--home', homeA, '--json', 'ls'])
  assert.equal(listed.code, 0, listed.stderr)
  const models = (listed.json.at(-1)!.models as Array<{ name: string; link: string; seeding: boolean }>)
  assert.deepEqual(models.map((m) => m.name).sort(), ['first-model', 'second-model'])
  assert.ok(models.every((m) => m.seeding), 'both are seeded by the running Grove')

  const running = await status(homeA)
  assert.equal(running.code, 0, running.stderr)
  assert.equal(running.status.running, true)
  assert.equal(running.status.pid, seeder.child.pid)
  assert.equal(running.status.owner, 'seed')
  assert.equal(running.status.seeding, 2)

  const fetched = await h.runGrove(['--home', homeB, '--bootstrap', bootstrap, '--json', 'fetch', link, '--timeout', '30'])
  assert.equal(fetched.code, 0, fetched.stderr)
  assert.equal(fetched.json.at(-1)!.sha256, await sha256File(second))

  const stopAt = Date.now()
  seeder.kill('SIGTERM')
  const ended = await seeder.finished(15_000)
  assert.ok(Date.now() - stopAt < 10_000, `stopped in ${Date.now() - stopAt} ms`)
  assert.equal(ended.code, 0, ended.stderr)

  // Nothing runs now: the same commands run in their own process, with the same output.
  const after = await h.runGrove(['--home', homeA, '--json', 'ls'])
  assert.equal(after.code, 0, after.stderr)
  // (The store's size on disk changes as it is closed and compacted.)
  assert.deepEqual(after.json.at(-1)!.models, listed.json.at(-1)!.models)
  const stopped = await status(homeA)
  assert.equal(stopped.code, 1)
  assert.equal(stopped.status.running, false)
})

test('two clients at once, a client killed mid-command and Ctrl-C in a client leave the service running', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const seeder = await startSeeder(home, bootstrap)

  const [a, b] = await Promise.all([
    h.runGrove(['--home', home, '--json', 'browse', '--wait', '2']),
    h.runGrove(['--home', home, '--json', 'status'])
  ])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)

  const killed = h.spawnGrove(['--home', home, '--json', 'fetch', NOBODY_SEEDS, '--timeout', '120'])
  await waitFor(async () => ((await status(home)).status.commands as string[] | undefined)?.includes(`fetch ${NOBODY_SEEDS}`) ?? false, 20_000, 'the fetch to run in the service')
  killed.kill('SIGKILL')
  await waitFor(async () => !((await status(home)).status.commands as string[]).includes(`fetch ${NOBODY_SEEDS}`), 10_000, 'the killed client’s fetch to be cancelled')

  const interrupted = h.spawnGrove(['--home', home, 'fetch', NOBODY_SEEDS, '--timeout', '120'])
  await waitFor(() => interrupted.stderr.includes('Looking for peers'), 20_000, 'the fetch to start')
  const sentAt = Date.now()
  interrupted.kill('SIGINT')
  const ended = await interrupted.finished(15_000)
  assert.notEqual(ended.code, 0)
  assert.ok(Date.now() - sentAt < 10_000)

  const still = await status(home)
  assert.equal(still.status.running, true)
  assert.equal(still.status.pid, seeder.child.pid)
  assert.deepEqual(still.status.commands, [])
})

test('a service killed mid-command: the client gets a clear error within seconds, and the stale socket is cleaned up', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const seeder = await startSeeder(home, bootstrap)
  const client = h.spawnGrove(['--home', home, 'fetch', NOBODY_SEEDS, '--timeout', '120'])
  await waitFor(() => client.stderr.includes('Looking for peers'), 20_000, 'the fetch to start')
  seeder.kill('SIGKILL')
  const killedAt = Date.now()
  const ended = await client.finished(15_000)
  assert.ok(Date.now() - killedAt < 5000, `the client noticed in ${Date.now() - killedAt} ms`)
  assert.equal(ended.code, 1)
  assert.match(ended.stderr, /^grove: The Grove service \(pid \d+\) stopped before it answered$/m)

  const socket = controlEndpoint(resolveHome(home)).path
  assert.ok((await stat(socket)).isSocket(), 'kill -9 left its socket behind')
  const alone = await h.runGrove(['--home', home, '--json', 'ls'], { timeoutMs: 30_000 })
  assert.equal(alone.code, 0, alone.stderr)
  const again = await startSeeder(home, bootstrap)
  const running = await status(home)
  assert.equal(running.status.pid, again.child.pid)
})

test('the control socket is mode 0600: another user cannot connect, and a second seed attaches instead of failing', async (t) => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const seeder = await startSeeder(home, bootstrap)
  const path = controlEndpoint(resolveHome(home)).path
  assert.equal((await stat(path)).mode & 0o777, 0o600)

  if (process.getuid?.() === 0) {
    // Let another user reach the folder, so that only the socket's own mode stands in the way.
    await chmod(home, 0o755)
    const other = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] })
    let said = ''
    other.stdout.on('data', (d: Buffer) => (said += d.toString()))
    await withTimeout(new Promise((resolve) => other.once('exit', resolve)), 10_000, () => 'the other user’s process did not finish')
    assert.equal(said.trim(), 'EACCES')
  } else {
    t.diagnostic('not root: the other-user check needs a second uid, only the mode was checked')
  }

  const attached = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  const line = await attached.waitForJson((l) => l.event === 'attached', 20_000)
  assert.equal(line.pid, seeder.child.pid)
  attached.kill('SIGINT')
  assert.equal((await attached.finished(15_000)).code, 0)
  assert.equal((await status(home)).status.pid, seeder.child.pid)
})

test('grove serve on a running home serves from that Grove; grove stop stops it gracefully', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const seeder = await startSeeder(home, bootstrap)
  const serve = h.spawnGrove(['--home', home, '--json', 'serve', '--port', '0'])
  const listening = await serve.waitForJson((l) => l.event === 'listening', 30_000)
  const info = await fetch(`${String(listening.url)}api/call/app.info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  const body = (await info.json()) as { ok: boolean; result: { home: string; peerKey: string } }
  assert.equal(body.ok, true)
  assert.equal(body.result.home, resolveHome(home).root)
  assert.equal(body.result.peerKey, listening.peer)
  serve.kill('SIGINT')
  assert.equal((await serve.finished(15_000)).code, 0)
  assert.equal((await status(home)).status.running, true)

  const stop = await h.runGrove(['--home', home, '--json', 'stop'], { timeoutMs: 40_000 })
  assert.equal(stop.code, 0, stop.stderr)
  assert.equal(stop.json.at(-1)!.pid, seeder.child.pid)
  const ended = await seeder.finished(5000)
  assert.equal(ended.code, 0)
  const none = await h.runGrove(['--home', home, 'stop'])
  assert.equal(none.code, 0)
  assert.match(none.stdout, /No Grove is running/)
})

test('the control channel carries the API contract: calls checked on both ends, events pushed, bad messages refused', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  await startSeeder(home, bootstrap)
  const connection = await ServiceConnection.connect(resolveHome(home))
  assert.ok(connection, 'the running seeder answers')
  h.onTeardown(() => connection.close())
  assert.deepEqual(await connection.call('library.list', {}), [])
  const bad = await connection.dispatch('library.setSeeding', { link: 'nope' })
  assert.equal(bad.ok, false)
  assert.equal(!bad.ok && bad.error.code, 'BAD_INPUT')
  const unknown = await connection.dispatch('library.drop', {})
  assert.equal(!unknown.ok && unknown.error.code, 'BAD_INPUT')

  const libraryEvent = new Promise<unknown>((resolve) => connection.onEvent((e) => e.event === 'library' && resolve(e.payload)))
  const shared = await h.runGrove(['--home', home, '--json', 'share', await modelFile('api-model')])
  assert.equal(shared.code, 0, shared.stderr)
  const items = (await withTimeout(libraryEvent, 10_000, () => 'no library event')) as Array<{ name: string }>
  assert.deepEqual(items.map((i) => i.name), ['api-model'])

  // Garbage and an oversized line: refused (the second closes that connection), the service goes on.
  const raw = net.connect(controlEndpoint(resolveHome(home)).path)
  let answer = ''
  raw.on('error', () => {})
  raw.on('data', (d: Buffer) => (answer += d.toString()))
  raw.write('this is not json\n{"t":"call","id":"x"}\n')
  await waitFor(() => answer.split('\n').filter((l) => l.includes('"refused"')).length >= 2, 5000, 'two refusals')
  raw.write('x'.repeat(17 * 1024 * 1024))
  await withTimeout(new Promise((resolve) => raw.once('close', resolve)), 10_000, () => 'the oversized line did not close the connection')
  assert.equal((await connection.call('library.list', {})).length, 1)
})

test('grove run while seeding runs in the service, with the prompt from stdin', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const shared = await h.runGrove(['--home', home, '--json', 'share', await modelFile('run-model')])
  assert.equal(shared.code, 0, shared.stderr)
  await startSeeder(home, bootstrap)
  const args = ['--home', home, '--json', 'run', 'run-model', '--prompt', '-', '--temperature', '0', '--max-tokens', '4', '--context', '64']
  const inService = await h.runGrove(args, { stdin: 'Once upon a time', timeoutMs: 120_000 })
  assert.equal(inService.code, 0, inService.stderr)
  const result = inService.json.at(-1) as { tokens: number[]; stopReason: string }
  assert.ok(result.tokens.length >= 1 && result.tokens.length <= 4)
  assert.equal(inService.json.length, 1, 'one JSON object, as when run alone')
  const bad = await h.runGrove(['--home', home, 'run', 'no-such-model', '--prompt', 'x'])
  assert.equal(bad.code, 1, bad.stderr)
  assert.match(bad.stderr, /^grove: No file, grove:\/\/ link or library model named "no-such-model"$/m)
})

test('rooms joined in a running Grove are joined again after it restarts', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  const seeder = await startSeeder(home, bootstrap)
  const joined = await h.runGrove(['--home', home, '--json', 'rooms', 'join', 'lab-room'])
  assert.equal(joined.code, 0, joined.stderr)
  const secret = await h.runGrove(['--home', home, '--json', 'rooms', 'join', '--secret', 'a-long-room-secret', '--label', 'team'])
  assert.equal(secret.code, 0, secret.stderr)
  const names = async () => ((await status(home)).status.rooms as Array<{ name: string }>).map((r) => r.name).sort()
  assert.deepEqual(await names(), ['lab-room', 'public', 'team'])
  seeder.kill('SIGTERM')
  await seeder.finished(15_000)
  await startSeeder(home, bootstrap)
  assert.deepEqual(await names(), ['lab-room', 'public', 'team'])
  const listed = await h.runGrove(['--home', home, '--json', 'rooms'])
  assert.doesNotMatch(listed.stdout, /a-long-room-secret/)
})

test('a home whose path is too long for a socket address gets its socket in a private folder; Windows gets a named pipe', () => {
  const short = controlEndpoint(resolveHome('/tmp/h'), 'linux')
  assert.deepEqual(short, { path: '/tmp/h/grove.sock', privateDir: null, isPipe: false })
  const long = controlEndpoint(resolveHome('/tmp/' + 'x'.repeat(120)), 'linux')
  assert.ok(long.privateDir && long.path.startsWith(long.privateDir + '/'))
  assert.ok(Buffer.byteLength(long.path) < 100)
  assert.notEqual(controlEndpoint(resolveHome('/tmp/' + 'y'.repeat(120)), 'linux').path, long.path, 'one socket per home')
  assert.match(controlEndpoint(resolveHome('/tmp/h'), 'win32').path, /^\\\\\.\\pipe\\grove-[0-9a-f]{24}$/)
})

test('a relative --home given to a running Grove means the same home', async () => {
  const bootstrap = await startBootstrap()
  const home = await h.tmpDir()
  await startSeeder(home, bootstrap)
  const listed = await h.runGrove(['--home', basename(home), '--json', 'ls'], { cwd: join(home, '..') })
  assert.equal(listed.code, 0, listed.stderr)
  assert.equal(listed.json.at(-1)!.home, resolveHome(home).root)
})

test('a Grove on a home with a long path is reached through its socket in the private folder', async () => {
  const bootstrap = await startBootstrap()
  const home = join(await h.tmpDir(), 'a-home-with-a-long-name-'.repeat(5))
  const seeder = await startSeeder(home, bootstrap)
  const endpoint = controlEndpoint(resolveHome(home))
  assert.ok(endpoint.privateDir)
  assert.equal((await stat(endpoint.privateDir)).mode & 0o777, 0o700)
  assert.equal((await stat(endpoint.path)).mode & 0o777, 0o600)
  assert.equal((await status(home)).status.pid, seeder.child.pid)
})
