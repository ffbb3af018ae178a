// Text from peers and files reaches the terminal inert (DESIGN.md, "Untrusted input": "Print
// it inert"): the real `grove` binary on a model whose GGUF name, licence and card carry escape
// sequences, C1 controls, bidi overrides and a fake second line. Human output shows them as
// visible escapes; --json parses back to the original strings. The P2P test runs inside a
// network namespace, with `grove bootstrap` as the DHT.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { Harness, type GroveProcess, type GroveRun } from '../testing/harness.js'
import { writeLlamaModel } from '../testing/gguf-fixture.js'

/** A window title, a screen clear, an 8-bit CSI, a right-to-left override and a forged line. */
const EVIL_NAME = 'evil\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eexe.gguf\nFetched and verified: /etc/passwd'
const EVIL_NAME_SHOWN = 'evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eexe.gguf\\nFetched and verified: /etc/passwd'
/** An OSC 8 hyperlink around the licence name. */
const EVIL_LICENSE = '\x1b]8;;https://evil.example/\x1b\\mit\x1b]8;;\x1b\\'
const EVIL_LICENSE_SHOWN = '\\x1b]8;;https://evil.example/\\x1b\\mit\\x1b]8;;\\x1b\\'
/** A card whose body writes the clipboard (OSC 52), overwrites a line with CR and hides text in bidi isolates. */
const EVIL_CARD_BODY = '# The card\n\nSafe to run.\x1b]52;c;cm0gLXJmIH4=\x07\rDanger \u2066hidden\u2069\n'
const EVIL_CARD_BODY_SHOWN = '# The card\n\nSafe to run.\\x1b]52;c;cm0gLXJmIH4=\\x07\\rDanger \\u2066hidden\\u2069\n'

/** Characters a terminal acts on, or that disguise text; newline and tab are allowed here, where whole outputs are checked. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/

function assertInert(text: string, what: string): void {
  const found = RAW.exec(text)
  assert.equal(found, null, `${what} prints U+${found?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} raw: ${JSON.stringify(text)}`)
}

function assertRunInert(run: GroveRun, what: string): void {
  assertInert(run.stdout, `${what} (stdout)`)
  assertInert(run.stderr, `${what} (stderr)`)
}

let h: Harness
beforeEach(() => { h = new Harness() })
afterEach(() => h.teardown())

async function evilModel(): Promise<string> {
  const dir = await h.tmpDir('grove-evil-')
  const path = join(dir, 'evil.gguf')
  await writeLlamaModel(path, { seed: 23, name: EVIL_NAME, license: EVIL_LICENSE })
  return path
}

async function evilCard(): Promise<string> {
  const path = join(await h.tmpDir('grove-evil-card-'), 'README.md')
  await writeFile(path, `---\ntags: [test]\n---\n${EVIL_CARD_BODY}`)
  return path
}

test('share, ls and info print a GGUF\'s hostile name and licence inert; --json keeps the original strings', async () => {
  const home = await h.tmpDir()
  const file = await evilModel()

  const share = await h.runGrove(['--home', home, 'share', file, '--card', await evilCard()])
  assert.equal(share.code, 0, share.stderr)
  assertRunInert(share, 'share')
  const shareLines = share.stdout.trimEnd().split('\n')
  assert.equal(shareLines.length, 3, `the name stays on its line: ${share.stdout}`)
  assert.ok(shareLines[0]!.startsWith(`Shared model "${EVIL_NAME_SHOWN}" (`), shareLines[0])
  // The link to give others names this home as a seeder; the library lists the model's own link.
  const [link = '', seeder] = shareLines[1]!.split('?')
  assert.match(link, /^grove:\/\/\S+$/)
  assert.match(seeder ?? '', /^seeder=\S+$/)

  const lsJson = await h.runGrove(['--home', home, '--json', 'ls'])
  assert.equal(lsJson.code, 0, lsJson.stderr)
  assertRunInert(lsJson, 'ls --json')
  const listed = (lsJson.json[0] as { models: Array<Record<string, unknown>> }).models
  assert.deepEqual(listed.map((m) => [m.name, m.license]), [[EVIL_NAME, EVIL_LICENSE]])

  const ls = await h.runGrove(['--home', home, 'ls'])
  assert.equal(ls.code, 0, ls.stderr)
  assertRunInert(ls, 'ls')
  const lsLines = ls.stdout.trimEnd().split('\n')
  assert.equal(lsLines.length, 4, `header, one row, a blank line and the disk line: ${ls.stdout}`)
  assert.ok(lsLines[1]!.startsWith(EVIL_NAME_SHOWN) && lsLines[1]!.endsWith(link), lsLines[1])
  // The columns are measured on what is printed: LINK starts at the same place in both lines.
  assert.equal(lsLines[0]!.indexOf('LINK'), lsLines[1]!.indexOf('grove://'))

  const info = await h.runGrove(['--home', home, 'info', link])
  assert.equal(info.code, 0, info.stderr)
  assertRunInert(info, 'info <link>')
  assert.match(info.stdout, new RegExp(`^name +${escapeRegExp(EVIL_NAME_SHOWN)}$`, 'm'))
  assert.match(info.stdout, new RegExp(`^license +${escapeRegExp(EVIL_LICENSE_SHOWN)}$`, 'm'))

  const infoJson = await h.runGrove(['--home', home, '--json', 'info', link])
  assert.equal(infoJson.code, 0, infoJson.stderr)
  assertRunInert(infoJson, 'info --json <link>')
  assert.equal(infoJson.json[0]!.name, EVIL_NAME)
  assert.equal(infoJson.json[0]!.license, EVIL_LICENSE)

  const infoFile = await h.runGrove(['info', file])
  assert.equal(infoFile.code, 0, infoFile.stderr)
  assertRunInert(infoFile, 'info <file>')
  assert.match(infoFile.stdout, new RegExp(`^name +${escapeRegExp(EVIL_NAME_SHOWN)}$`, 'm'))
})

test('the one-line error on stderr shows hostile paths and links inert', async () => {
  const home = await h.tmpDir()
  const dir = await h.tmpDir()
  const notModel = join(dir, 'model\x1b[2J\u202eexe.gguf')
  await writeFile(notModel, 'hello')

  const notGguf = await h.runGrove(['--home', home, 'share', notModel])
  assert.notEqual(notGguf.code, 0)
  assertInert(notGguf.stderr, 'the error line')
  assert.match(notGguf.stderr, /^grove: [^\n]*model\\x1b\[2J\\u202eexe\.gguf[^\n]*\n$/)

  const badLink = await h.runGrove(['--home', home, 'info', 'grove://\x1b]0;pwned\x07\u009b2J'])
  assert.notEqual(badLink.code, 0)
  assertInert(badLink.stderr, 'the error line')
  assert.match(badLink.stderr, /^grove: [^\n]*\\x1b\]0;pwned\\x07\\x9b2J[^\n]*\n$/)
})

test('a peer\'s hostile model is printed inert by fetch, info (with its card), browse and lineage', async () => {
  const bootstrap = await startBootstrap()
  const homeA = await h.tmpDir()
  const homeB = await h.tmpDir()
  const homeC = await h.tmpDir()
  const share = await h.runGrove(['--home', homeA, '--json', 'share', await evilModel(), '--card', await evilCard()])
  assert.equal(share.code, 0, share.stderr)
  const link = String(share.json.at(-1)!.link)
  await startSeeder(homeA, bootstrap)

  const fetch = await h.runGrove(['--home', homeB, '--bootstrap', bootstrap, 'fetch', link, '--timeout', '30', '--no-seed'])
  assert.equal(fetch.code, 0, fetch.stderr)
  assertRunInert(fetch, 'fetch')
  assert.match(fetch.stderr, new RegExp(`^model "${escapeRegExp(EVIL_NAME_SHOWN)}", .*, licence ${escapeRegExp(EVIL_LICENSE_SHOWN)}$`, 'm'))

  const info = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, 'info', link, '--timeout', '30'])
  assert.equal(info.code, 0, info.stderr)
  assertRunInert(info, 'info <link> from a peer')
  assert.match(info.stdout, new RegExp(`^name +${escapeRegExp(EVIL_NAME_SHOWN)}$`, 'm'))
  assert.ok(info.stdout.includes(`\n${EVIL_CARD_BODY_SHOWN}`), `the card keeps its lines, with the rest escaped: ${info.stdout}`)

  const browse = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, 'browse', '--wait', '10'])
  assert.equal(browse.code, 0, browse.stderr)
  assertRunInert(browse, 'browse')
  const rows = browse.stdout.trimEnd().split('\n')
  assert.equal(rows.length, 2, `a header and one row: ${browse.stdout}`)
  assert.ok(rows[1]!.startsWith(EVIL_NAME_SHOWN) && rows[1]!.includes(EVIL_LICENSE_SHOWN), rows[1])

  const lineage = await h.runGrove(['--home', homeC, '--bootstrap', bootstrap, 'lineage', link, '--wait', '10'])
  assert.equal(lineage.code, 0, lineage.stderr)
  assertRunInert(lineage, 'lineage')
  assert.equal(lineage.stdout.split('\n')[0], `* ${EVIL_NAME_SHOWN} (model, 1 seeder) ${link}`)
})

test('grove run prints a library model\'s hostile name inert while it loads the model', async () => {
  const home = await h.tmpDir()
  const share = await h.runGrove(['--home', home, '--json', 'share', await evilModel()])
  assert.equal(share.code, 0, share.stderr)
  const run = await h.runGrove(['--home', home, 'run', String(share.json.at(-1)!.link), '--prompt', 'hi', '--max-tokens', '4', '--temperature', '0', '--context', '128'], { timeoutMs: 120_000 })
  assert.equal(run.code, 0, run.stderr)
  assertRunInert(run, 'run')
  assert.match(run.stderr, new RegExp(`^Loading ${escapeRegExp(EVIL_NAME_SHOWN)}…$`, 'm'))
  assert.match(run.stderr, new RegExp(`^Loaded ${escapeRegExp(EVIL_NAME_SHOWN)} \\(llama, `, 'm'))
})

/** Starts `grove bootstrap` on a free loopback port and returns its --bootstrap argument. */
async function startBootstrap(): Promise<string> {
  const proc = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  const line = await proc.waitForJson((l) => l.event === 'listening', 15_000)
  return `127.0.0.1:${String(line.port)}`
}

async function startSeeder(home: string, bootstrap: string): Promise<GroveProcess> {
  const seeder = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'seed'])
  await seeder.waitForJson((l) => l.event === 'seeding', 15_000)
  return seeder
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
