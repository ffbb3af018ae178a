// Text from peers and files, made inert for a terminal (DESIGN.md, "Untrusted input": "Print it
// inert"). A model name, licence, card or error message may carry escape sequences (clear the
// screen, set the title, OSC 8 links, OSC 52 clipboard writes), C1 controls (U+009B is CSI on
// its own), carriage returns and backspaces that overwrite what was printed, or bidi and
// invisible format characters that make one text look like another.
//
// Everything dangerous is shown as a visible escape (`\x1b`, `\u202e`, `\u{e0041}`), never
// dropped, so a person sees that something was there. Ordinary Unicode (accents, CJK, emoji,
// including ZWJ sequences and flag tag sequences) stays as it is. Backslashes are not escaped:
// the result is for reading, not for decoding back (that is what --json is for), and paths on
// Windows stay readable.
//
// Written here rather than taken from npm: strip-ansi and node:util's stripVTControlCharacters
// drop sequences instead of showing them and miss C1, bidi and format characters; jsesc escapes
// all non-ASCII text (or, with `minimal`, lets ESC through).

/**
 * What is escaped: controls (C0, DEL, C1: \p{Cc}), format characters (bidi embeddings,
 * overrides, isolates and marks, zero-width spaces, word joiners, BOM, soft hyphen, tags:
 * \p{Cf}), the Unicode line and paragraph separators, and lone surrogates. `\r\n` and emoji
 * subdivision flags (🏴, an ISO 3166-2 code in tag characters, a cancel tag: the flag of
 * Scotland is 🏴 g b s c t) come first so that they are matched whole; any other tag
 * character is hidden text and escaped.
 */
const UNSAFE = /\r\n|\u{1F3F4}[\u{E0061}-\u{E007A}]{2}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,3}\u{E007F}|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu

/** Format characters that scripts and emoji need: ZWNJ (Persian, Indic) and ZWJ (👩‍💻). */
const JOINERS = new Set(['\u200c', '\u200d'])

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** One line of terminal output (a name, a licence, a table cell, an error): every control is escaped, newlines and tabs too. */
export function inertLine(text: string): string {
  return text.replace(UNSAFE, (match) => (isHarmless(match) ? match : visibleEscape(match)))
}

/** Text printed as several lines on purpose (a model card, generated text): keeps newlines (`\r\n` becomes `\n`) and tabs, escapes the rest. */
export function inertText(text: string): string {
  return text.replace(UNSAFE, (match) => {
    if (match === '\r\n') return '\n'
    if (match === '\n' || match === '\t' || isHarmless(match)) return match
    return visibleEscape(match)
  })
}

/**
 * JSON.stringify, with every character that `inertLine` escapes written as a JSON `\uXXXX`
 * escape. JSON.stringify already escapes C0 controls and lone surrogates but leaves DEL, C1,
 * bidi and U+2028/U+2029 raw; escaped, the output is still JSON that parses back to the same
 * strings, and `grove --json` on a terminal cannot drive it either.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (match) => (isHarmless(match) ? match : jsonEscape(match)))
}

function isHarmless(match: string): boolean {
  return JOINERS.has(match) || match.startsWith('\u{1F3F4}')
}

function visibleEscape(text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0)!
    out += NAMED[char] ?? (code < 0x100 ? `\\x${hex(code, 2)}` : code < 0x10000 ? `\\u${hex(code, 4)}` : `\\u{${code.toString(16)}}`)
  }
  return out
}

/** `\uXXXX` for each UTF-16 unit: JSON has no astral escape, so U+E0041 becomes a surrogate pair. */
function jsonEscape(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) out += `\\u${hex(text.charCodeAt(i), 4)}`
  return out
}

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0')
}
