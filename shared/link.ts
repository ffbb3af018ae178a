// `grove://<key>[/v<version>]` links. The key is the model drive's 32-byte public key, written
// in z-base-32 as Holepunch's own tools do (52 characters); 64 hex characters are accepted too.
import * as z32 from 'z32'
import { GroveError } from './errors.js'

export const LINK_SCHEME = 'grove://'

export interface ParsedLink {
  /** 64 lowercase hex characters. */
  keyHex: string
  /** The drive version the link pins, if any. */
  version?: number
}

const HEX_KEY = /^[0-9a-f]{64}$/i
const Z32_KEY = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/

export function parseLink(input: string): ParsedLink {
  const text = input.trim()
  if (!text.startsWith(LINK_SCHEME)) {
    throw new GroveError('BAD_LINK', `Not a Grove link: "${clip(text)}" (expected grove://<key>)`)
  }
  const rest = text.slice(LINK_SCHEME.length).replace(/\/+$/, '')
  const [keyPart = '', versionPart, ...extra] = rest.split('/')
  if (extra.length > 0) throw new GroveError('BAD_LINK', `Malformed Grove link: "${clip(text)}"`)
  const keyHex = decodeKey(keyPart)
  if (!keyHex) throw new GroveError('BAD_LINK', `Malformed Grove link key: "${clip(keyPart)}" (expected 52 z-base-32 or 64 hex characters)`)
  if (versionPart === undefined) return { keyHex }
  const match = /^v?(\d{1,15})$/.exec(versionPart)
  if (!match?.[1]) throw new GroveError('BAD_LINK', `Malformed Grove link version: "${clip(versionPart)}"`)
  return { keyHex, version: Number(match[1]) }
}

export function formatLink(keyHex: string, version?: number): string {
  const key = hexToBytes(keyHex)
  const base = LINK_SCHEME + z32.encode(key)
  return version === undefined ? base : `${base}/v${version}`
}

export function isLink(input: string): boolean {
  return input.trim().startsWith(LINK_SCHEME)
}

function decodeKey(text: string): string | null {
  if (HEX_KEY.test(text)) return text.toLowerCase()
  if (!Z32_KEY.test(text)) return null
  try {
    const bytes = z32.decode(text)
    return bytes.length === 32 ? bytesToHex(bytes) : null
  } catch {
    return null
  }
}

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function bytesToHex(bytes: Uint8Array): string {
  // Joined, not `+=`: concatenation keeps a rope of 2-character pieces alive for as long as the
  // string lives (a seeder of 1000 models held 165,000 of them, 7 MB, in its map keys).
  const parts = new Array<string>(bytes.length)
  for (let i = 0; i < bytes.length; i++) parts[i] = HEX_BYTES[bytes[i]!]!
  return parts.join('')
}

export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) throw new GroveError('BAD_INPUT', 'Not a hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function clip(text: string): string {
  return text.length > 80 ? text.slice(0, 77) + '...' : text
}
