// Module resolution hooks for the webtorrent reference peers of the transfer benchmark:
//   - `node-datachannel` and `node-datachannel/*` resolve to node-datachannel-stub.js: its native
//     WebRTC addon is not installed on these machines, and the benchmark uses TCP peers only;
//   - webtorrent's own imports of `uint8-util` resolve to uint8-util-shim.js (webtorrent 2.8.5
//     crashes on every add() with uint8-util 2.3.x; see that file).
//
// Install either with `node --import ./dist/main/bench/webtorrent-hooks.js script.js`, or from
// code before webtorrent is imported: installWebTorrentHooks() (what webtorrent-peer.ts does).
// Through --import this module registers itself; evaluated again as the hooks module (in
// Node's loader thread) it only provides `resolve`.

import { register, type ResolveHook } from 'node:module'
import { isMainThread } from 'node:worker_threads'

const stubUrl = new URL('./node-datachannel-stub.js', import.meta.url).href
const uint8ShimUrl = new URL('./uint8-util-shim.js', import.meta.url).href

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  if (specifier === 'node-datachannel' || specifier.startsWith('node-datachannel/')) {
    return { url: stubUrl, format: 'module', shortCircuit: true }
  }
  if (specifier === 'uint8-util' && context.parentURL?.includes('/node_modules/webtorrent/') === true) {
    return { url: uint8ShimUrl, format: 'module', shortCircuit: true }
  }
  return nextResolve(specifier, context)
}

let installed = false

/** Installs the hooks in this process (idempotent). Call before importing webtorrent. */
export function installWebTorrentHooks(): void {
  if (installed) return
  installed = true
  register(import.meta.url)
}

if (isMainThread && process.execArgv.some((a) => a.includes('webtorrent-hooks'))) {
  installWebTorrentHooks()
}
