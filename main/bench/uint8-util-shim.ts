// uint8-util as webtorrent 2.8.5 expects it, for the transfer benchmark's webtorrent peers.
// webtorrent calls `arr2hex(parsedTorrent.infoHash)` with a hex string; uint8-util 2.3.x's
// arr2hex only takes byte arrays and throws on every `client.add()` (upstream:
// webtorrent/webtorrent-cli#365). webtorrent-hooks.ts points webtorrent's own imports of
// uint8-util here; this module re-exports the real one with an arr2hex that passes hex strings
// through unchanged.

import { arr2hex as realArr2hex } from 'uint8-util'

export * from 'uint8-util'

export function arr2hex(data: string | Parameters<typeof realArr2hex>[0]): string {
  return typeof data === 'string' ? data : realArr2hex(data)
}
