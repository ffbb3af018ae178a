// shared/link.ts imports z32 (no bundled types); the renderer's program sees it through shared/.
declare module 'z32' {
  export function encode(bytes: Uint8Array): string
  export function decode(text: string): Uint8Array
}
