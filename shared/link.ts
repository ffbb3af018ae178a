// `grove://<key>[/v<version>][?seeder=<key>...]` links. The key is the model drive's 32-byte
// public key, written in z-base-32 as Holepunch's own tools do (52 characters); 64 hex characters
// are accepted too. A `seeder` names a peer (its swarm key) that serves the model, as a magnet
// link's `x.pe`: a fetch dials it besides looking the model up on the DHT, so a lab that does not
// announce each of its thousand models is still found (see seeding.ts). A seeder is only a hint;
// the link's identity is the drive key, and everything Grove stores uses the link without them.
import * as z32 from 'z32'
import { GroveError } from './errors.js'

export const LINK_SCHEME = 'grove://'
/** Seeders one link may name. */
export const MAX_LINK_SEEDERS = 4

export interface ParsedLink {
  /** 64 lowercase hex characters. */
  keyHex: string
  /** The drive version the link pins, if any. */
  version?: number
  /** Swarm keys (64 lowercase hex) of peers the link says serve the model; absent if none. */
  seeders?: string[]
}

const HEX_KEY = /^[0-9a-f]{64}$/i
const Z32_KEY = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/

export function parseLink(input: string): ParsedLink {
  const text = input.trim()
  if (!text.startsWith(LINK_SCHEME)) {
    throw new GroveError('BAD_LINK', `Not a Grove link: "${clip(text)}" (expected grove://<key>)`)
  }
  if (text.length > 1000) throw new GroveError('BAD_LINK', `Malformed Grove link: "${clip(text)}" (${text.length} characters)`)
  const [path = '', query, ...moreQueries] = text.slice(LINK_SCHEME.length).split('?')
  if (moreQueries.length > 0) throw new GroveError('BAD_LINK', `Malformed Grove link: "${clip(text)}"`)
  const rest = path.replace(/\/+$/, '')
  const [keyPart = '', versionPart, ...extra] = rest.split('/')
  if (extra.length > 0) throw new GroveError('BAD_LINK', `Malformed Grove link: "${clip(text)}"`)
  const keyHex = decodeKey(keyPart)
  if (!keyHex) throw new GroveError('BAD_LINK', `Malformed Grove link key: "${clip(keyPart)}" (expected 52 z-base-32 or 64 hex characters)`)
  const parsed: ParsedLink = { keyHex }
  if (versionPart !== undefined) {
    const match = /^v?(\d{1,15})$/.exec(versionPart)
    if (!match?.[1]) throw new GroveError('BAD_LINK', `Malformed Grove link version: "${clip(versionPart)}"`)
    parsed.version = Number(match[1])
  }
  if (query !== undefined) parsed.seeders = parseSeeders(query, text)
  return parsed
}

function parseSeeders(query: string, text: string): string[] {
  const seeders: string[] = []
  for (const param of query.split('&')) {
    const [name, value = '', ...extra] = param.split('=')
    if (name !== 'seeder' || extra.length > 0) throw new GroveError('BAD_LINK', `Unknown part of a Grove link: "${clip(param)}" (a link may name seeders: ?seeder=<key>)`)
    const seeder = decodeKey(value)
    if (!seeder) throw new GroveError('BAD_LINK', `Malformed seeder key in a Grove link: "${clip(value)}" (expected 52 z-base-32 or 64 hex characters)`)
    if (!seeders.includes(seeder)) seeders.push(seeder)
  }
  if (seeders.length > MAX_LINK_SEEDERS) throw new GroveError('BAD_LINK', `A Grove link may name at most ${MAX_LINK_SEEDERS} seeders: "${clip(text)}"`)
  return seeders
}

export function formatLink(keyHex: string, version?: number, seeders: readonly string[] = []): string {
  const key = hexToBytes(keyHex)
  const base = LINK_SCHEME + z32.encode(key)
  const link = version === undefined ? base : `${base}/v${version}`
  const hints = seeders.slice(0, MAX_LINK_SEEDERS).map((seeder) => `seeder=${z32.encode(hexToBytes(seeder))}`)
  return hints.length === 0 ? link : `${link}?${hints.join('&')}`
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
