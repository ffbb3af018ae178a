// Start-up checks for the desktop app, without importing electron. sodium-native's secure
// memory (`sodium_malloc`) broke inside Electron ≥ 21, whose V8 memory cage refuses external
// buffers it does not own (holepunchto/sodium-native#185); the swarm's crypto needs it. The app
// runs this before opening the swarm and explains the failure instead of crashing later.
import { createRequire } from 'node:module'

interface SodiumLike {
  sodium_malloc(size: number): Buffer
  randombytes_buf(buffer: Buffer): void
  crypto_generichash(out: Buffer, input: Buffer): void
  crypto_sign_keypair(publicKey: Buffer, secretKey: Buffer): void
}

export type CheckResult = { ok: true } | { ok: false; reason: string }

export function checkSodium(): CheckResult {
  try {
    const require = createRequire(import.meta.url)
    const sodium = require('sodium-native') as SodiumLike
    const secret = sodium.sodium_malloc(32)
    sodium.randombytes_buf(secret)
    const hash = Buffer.alloc(32)
    sodium.crypto_generichash(hash, secret)
    sodium.crypto_sign_keypair(Buffer.alloc(32), sodium.sodium_malloc(64))
    if (hash.equals(Buffer.alloc(32))) return { ok: false, reason: 'sodium-native returned an all-zero hash' }
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `sodium-native does not work in this runtime (${err instanceof Error ? err.message : String(err)})` }
  }
}
