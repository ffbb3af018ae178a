// Module resolution hooks for the webtorrent reference peers of the transfer benchmark: they
// resolve `node-datachannel` and `node-datachannel/*` to node-datachannel-stub.js, whose
// native WebRTC addon is not installed on these machines (webtorrent only needs it for WebRTC
// peers; the benchmark uses TCP peers).
//
// Install either with `node --import ./dist/main/bench/node-datachannel-hooks.js script.js`, or
// from code before webtorrent is imported: `register(hooksUrl)` from `node:module` (what
// webtorrent-peer.ts does). Loaded through --import, this module registers itself; loaded as
// the hooks module (in Node's loader thread) it only exports `resolve`.

import { register, type ResolveHook } from 'node:module'
import { isMainThread } from 'node:worker_threads'

const stubUrl = new URL('./node-datachannel-stub.js', import.meta.url).href

export function isNodeDatachannel(specifier: string): boolean {
  return specifier === 'node-datachannel' || specifier.startsWith('node-datachannel/')
}

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  if (isNodeDatachannel(specifier)) return { url: stubUrl, format: 'module', shortCircuit: true }
  return nextResolve(specifier, context)
}

/** Installs the hooks in this process (idempotent). Call before importing webtorrent. */
let installed = false
export function installNodeDatachannelStub(): void {
  if (installed) return
  installed = true
  register(import.meta.url)
}

// Through `--import` this module runs first on the main thread: install the hooks. In the
// loader thread (where Node evaluates it again as the hooks module) do nothing more.
if (isMainThread && process.execArgv.some((a) => a.includes('node-datachannel-hooks'))) {
  installNodeDatachannelStub()
}
