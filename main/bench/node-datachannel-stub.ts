// Stand-in for `node-datachannel` (WebRTC) in the webtorrent reference peers of the transfer
// benchmark. webtorrent imports it through webrtc-polyfill, but its native addon is not
// installed here, and the benchmark only uses TCP peers. webtorrent-hooks.ts resolves
// `node-datachannel` and `node-datachannel/*` to this module; anything that actually tries
// WebRTC fails loudly instead of silently.

function unavailable(what: string): Error {
  return new Error(`node-datachannel stub: ${what} is not available (the benchmark uses TCP peers only)`)
}

class Unavailable {
  constructor() {
    throw unavailable(new.target.name)
  }
}

export class PeerConnection extends Unavailable {}
export class DataChannel extends Unavailable {}
export class RtcpReceivingSession extends Unavailable {}
export class Track extends Unavailable {}
export class Video extends Unavailable {}
export class Audio extends Unavailable {}
export class WebSocket extends Unavailable {}
export class WebSocketServer extends Unavailable {}
export class IceUdpMuxListener extends Unavailable {}

export function cleanup(): void {
  // Nothing was created, so nothing to clean up.
}
export function initLogger(): void {}
export function preload(): void {}
export function setSctpSettings(): void {}
export function getLibraryVersion(): string {
  return 'stub'
}

// webrtc-polyfill imports named exports only; a default export keeps `import nd from` working.
export default {
  PeerConnection,
  DataChannel,
  RtcpReceivingSession,
  Track,
  Video,
  Audio,
  WebSocket,
  WebSocketServer,
  IceUdpMuxListener,
  cleanup,
  initLogger,
  preload,
  setSctpSettings,
  getLibraryVersion
}
