// Making text from peers and files inert for a terminal: hostile strings come out as visible
// escapes, ordinary Unicode as it is, and JSON still parses back to the original.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inertJson, inertLine, inertText } from '../cli/terminal-text.js'

/** What a terminal may act on or that disguises text, listed here independently of the module's own pattern. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const DANGEROUS = /[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\u{e0000}-\u{e007f}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u

/** The flag of Scotland and its kin are a black flag followed by tag letters: emoji, not hidden text. */
const FLAG_TAG_SEQUENCE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu

const HOSTILE: Array<[what: string, raw: string, shown: string]> = [
  ['clear screen (ESC [2J)', 'a\x1b[2Jb', 'a\\x1b[2Jb'],
  ['window title (OSC 0 … BEL)', '\x1b]0;pwned\x07name', '\\x1b]0;pwned\\x07name'],
  ['OSC 8 hyperlink', '\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\', '\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\'],
  ['OSC 52 clipboard write', '\x1b]52;c;cm0gLXJmIH4=\x07', '\\x1b]52;c;cm0gLXJmIH4=\\x07'],
  ['8-bit CSI (C1 U+009B)', '\u009b31mred', '\\x9b31mred'],
  ['8-bit OSC and ST (C1)', '\u009d0;t\u009c', '\\x9d0;t\\x9c'],
  ['BEL', 'ding\x07', 'ding\\x07'],
  ['backspace overwrite', 'rm -rf /\b\b\b\b\b\b\b\bls      ', 'rm -rf /\\x08\\x08\\x08\\x08\\x08\\x08\\x08\\x08ls      '],
  ['carriage-return overwrite', 'malware\rsafe-model', 'malware\\rsafe-model'],
  ['bidi override (RLO)', 'model\u202Efmg.exe', 'model\\u202efmg.exe'],
  ['bidi isolates', '\u2066a\u2067b\u2068c\u2069', '\\u2066a\\u2067b\\u2068c\\u2069'],
  ['bidi marks', '\u200eL\u200fR\u061cA', '\\u200eL\\u200fR\\u061cA'],
  ['bidi embeddings and pop', '\u202aa\u202bb\u202c', '\\u202aa\\u202bb\\u202c'],
  ['NUL', 'a\0b', 'a\\x00b'],
  ['DEL', 'a\x7fb', 'a\\x7fb'],
  ['lone high surrogate', 'a\ud800b', 'a\\ud800b'],
  ['lone low surrogate', 'a\udc00', 'a\\udc00'],
  ['zero-width space', 'lla\u200bma', 'lla\\u200bma'],
  ['byte order mark', '\ufeffname', '\\ufeffname'],
  ['invisible tag characters', 'ok\u{E0041}\u{E0042}', 'ok\\u{e0041}\\u{e0042}'],
  ['text hidden in tags after a black flag', '\u{1F3F4}\u{E0072}\u{E006D}\u{E0020}\u{E0072}\u{E0066}\u{E007F}', '\u{1F3F4}\\u{e0072}\\u{e006d}\\u{e0020}\\u{e0072}\\u{e0066}\\u{e007f}'],
  ['line separator', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
  ['newline (a fake second line)', 'name\nFetched and verified: /etc/passwd', 'name\\nFetched and verified: /etc/passwd'],
  ['tab', 'a\tb', 'a\\tb'],
  ['vertical tab and form feed', 'a\vb\fc', 'a\\x0bb\\x0cc']
]

const BENIGN = [
  'Llama 3.1 8B Instruct (Q4_K_M)',
  'Café crème — naïve façade',
  '日本語のモデル 中文模型 한국어',
  'نموذج عربي', // right-to-left letters are fine; only the invisible controls are not
  'مدل‌ها', // ZWNJ, which Persian needs
  '🦙 llama 🚀',
  '👩‍💻 coder', // a ZWJ emoji sequence
  '🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scots', // the flag of Scotland: a black flag and tag letters
  'e\u0301 combining accent',
  'C:\\Users\\me\\models\\a.gguf',
  'apache-2.0',
  ''
]

test('inertLine shows every hostile control as a visible escape', () => {
  for (const [what, raw, shown] of HOSTILE) {
    const out = inertLine(raw)
    assert.equal(out, shown, what)
    assert.doesNotMatch(out, DANGEROUS, what)
  }
})

test('inertLine keeps ordinary Unicode as it is', () => {
  for (const text of BENIGN) assert.equal(inertLine(text), text)
})

test('no C0, DEL or C1 control survives inertLine, and escaping twice changes nothing', () => {
  for (let code = 0; code < 0xa0; code++) {
    if (code >= 0x20 && code < 0x7f) continue
    const out = inertLine(`x${String.fromCharCode(code)}y`)
    assert.match(out, /^x\\[a-z0-9]+y$/, `U+${code.toString(16)} → ${JSON.stringify(out)}`)
    assert.equal(inertLine(out), out)
  }
  for (const [, raw] of HOSTILE) assert.equal(inertLine(inertLine(raw)), inertLine(raw))
})

test('inertText keeps the layout of multi-line text (newlines, tabs, CRLF) and escapes the rest', () => {
  const card = '---\r\nlicense: mit\r\n---\n# Evil\x1b[2J card\n\tindented\rover\u202eturned\n'
  assert.equal(inertText(card), '---\nlicense: mit\n---\n# Evil\\x1b[2J card\n\tindented\\rover\\u202eturned\n')
  for (const [what, raw] of HOSTILE) assert.doesNotMatch(inertText(raw).replace(/[\n\t]/g, ''), DANGEROUS, what)
  for (const text of BENIGN) assert.equal(inertText(text), text)
})

test('inertJson is JSON that parses back to the original strings, with nothing raw a terminal acts on', () => {
  const value = { names: HOSTILE.map(([, raw]) => raw), benign: BENIGN, nested: { licence: '\u009b2J\u202e', n: 1, ok: true, none: null } }
  const json = inertJson(value)
  assert.deepEqual(JSON.parse(json), value)
  assert.doesNotMatch(json.replace(FLAG_TAG_SEQUENCE, ''), DANGEROUS)
  // The benign text stays readable in the JSON, not \u-escaped.
  for (const text of BENIGN) assert.ok(json.includes(JSON.stringify(text)), text)
  // JSON.stringify alone lets these through raw.
  for (const raw of ['\u009b', '\u202e', '\u2028', '\u2029', '\x7f', '\u{E0041}']) {
    assert.match(JSON.stringify(raw), DANGEROUS)
    assert.equal(JSON.parse(inertJson(raw)), raw)
    assert.doesNotMatch(inertJson(raw), DANGEROUS)
  }
})
