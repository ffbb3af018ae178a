// The security headers on every response of `grove serve` (and the CSP the Electron window
// gets): the page may load only its own scripts, styles, images and connections, post no form
// and may not be framed; responses are never content-sniffed and send no referrer.
import type { ServerResponse } from 'node:http'

/**
 * `connect-src 'self'` covers the page's own WebSocket (`/api/events`): CSP Level 3 matches ws:
 * and wss: of the page's host and port with 'self', and refuses every other socket.
 * renderer/index.html carries the same policy in a meta tag, less frame-ancestors (which a meta
 * CSP cannot set); a test keeps the two in step.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

/** The desktop window talks to main over IPC only: no network connections at all. */
export const ELECTRON_CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin'
}

/**
 * Puts the security headers, and `Cache-Control: no-store` (the UI's files set their own), on a
 * response before anything else is written. They go on the raw node:http response, not through
 * fastify's reply, so that every answer carries them: Grove's, fastify's own, a /v1 answer the
 * OpenAI handler writes itself, and a refused WebSocket upgrade.
 */
export function setResponseDefaults(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
  res.setHeader('Cache-Control', 'no-store')
}
