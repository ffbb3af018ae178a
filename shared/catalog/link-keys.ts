// The drive key a grove:// link names, and the canonical link of a drive key. shared/link.ts
// does the same through z32 and byte arrays; this converts directly between z-base-32 and hex,
// several times faster, because catalogs handle hundreds of thousands of links. The tests check
// both agree.
import { LINK_SCHEME, formatLink, parseLink } from '../link.js'

const Z32_ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'
const HEX_DIGITS = '0123456789abcdef'
const Z32_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < Z32_ALPHABET.length; i++) Z32_VALUES[Z32_ALPHABET.charCodeAt(i)] = i
const LINK_PATTERN = /^grove:\/\/([ybndrfg8ejkmcpqxot1uwisza345h769]{52}|[0-9a-fA-F]{64})(?:\/v?\d{1,15})?\/*$/

const HEX_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < 16; i++) {
  HEX_VALUES[HEX_DIGITS.charCodeAt(i)] = i
  HEX_VALUES[HEX_DIGITS.toUpperCase().charCodeAt(i)] = i
}

const HEX_CODES = Array.from(HEX_DIGITS, (c) => c.charCodeAt(0))
const hexScratch = new Array<number>(64).fill(48)

/** 52 z-base-32 characters from `start` → 64 hex digits; undefined on a non-z32 character. */
function z32KeyToHex(text: string, start: number): string | undefined {
  let n = 0
  let acc = 0
  let bits = 0
  for (let i = start; i < start + 52; i++) {
    const v = Z32_VALUES[text.charCodeAt(i)] ?? -1
    if (v < 0) return undefined
    acc = ((acc << 5) | v) & 0x1ff
    bits += 5
    while (bits >= 4 && n < 64) {
      bits -= 4
      hexScratch[n++] = HEX_CODES[(acc >> bits) & 15] ?? 48
    }
  }
  return String.fromCharCode(...hexScratch)
}

function hexKeyToZ32(hex: string): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (let i = 0; i < hex.length; i++) {
    acc = ((acc << 4) | (HEX_VALUES[hex.charCodeAt(i)] ?? 0)) & 0x1ff
    bits += 4
    while (bits >= 5) {
      bits -= 5
      out += Z32_ALPHABET.charAt((acc >> bits) & 31)
    }
  }
  if (bits > 0) out += Z32_ALPHABET.charAt((acc << (5 - bits)) & 31)
  return out
}

/** The drive key (64 lowercase hex) a link names; throws BAD_LINK for a malformed link. */
export function linkKey(link: string): string {
  // The canonical form, `grove://` + 52 z-base-32 characters, is by far the most common.
  if (link.length === LINK_SCHEME.length + 52 && link.startsWith(LINK_SCHEME)) {
    const hex = z32KeyToHex(link, LINK_SCHEME.length)
    if (hex !== undefined) return hex
  }
  const key = LINK_PATTERN.exec(link)?.[1]
  if (key === undefined) return parseLink(link).keyHex // unusual forms (whitespace) or the BAD_LINK error
  return key.length === 64 ? key.toLowerCase() : (z32KeyToHex(key, 0) ?? parseLink(link).keyHex)
}

/** `grove://<z-base-32 key>` for a 64-hex drive key (what formatLink makes). */
export function keyLink(key: string): string {
  return /^[0-9a-f]{64}$/.test(key) ? LINK_SCHEME + hexKeyToZ32(key) : formatLink(key)
}

/** `grove://<z-base-32 key>`, version dropped. */
export function canonicalLink(link: string): string {
  return keyLink(linkKey(link))
}
