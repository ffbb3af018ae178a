// What the Electron window may load, navigate to and be granted, without importing electron
// (app.ts wires these into the session and webContents; the tests call them directly). The app
// shows only its own files: every request outside renderer/dist (http, https, ws, wss, other
// files) is cancelled, the window never leaves its page, no window opens, and no permission or
// device is granted but one: the page itself may write the clipboard (its Copy buttons). A link
// the person clicks to an https page opens in their browser, nothing else does.
import { pathToFileURL } from 'node:url'
import { ELECTRON_CONTENT_SECURITY_POLICY } from '../server/headers.js'

export { ELECTRON_CONTENT_SECURITY_POLICY }

/** Schemes that load nothing from outside the page: DevTools, inline data, the page's own blobs. */
const INLINE_SCHEMES = new Set(['devtools:', 'data:', 'blob:'])

/** A request the app's own session may make: files under the renderer folder, DevTools, inline data. */
export function requestAllowed(url: string, rendererDir: string): boolean {
  const parsed = parseUrl(url)
  if (!parsed) return false
  if (INLINE_SCHEMES.has(parsed.protocol)) return true
  return parsed.protocol === 'file:' && fileUrlInside(parsed, pathToFileURL(rendererDir).href)
}

/**
 * Whether a file: URL names a file below the folder `rootUrl` names (a file: URL too). Compared
 * segment by segment after decoding, so the boundary is a separator (`/dist-evil/` is not in
 * `/dist/`) and the host is part of it (a UNC server, `file://host/`). A path written in a way no
 * file of ours needs is refused rather than interpreted: a malformed escape, an escaped `/`, `\`
 * or control character, a dot or empty segment, and, below the root, a `%` left after decoding
 * (a double escape) or a `:` (a Windows drive or stream name).
 */
export function fileUrlInside(url: string | URL, rootUrl: string): boolean {
  const file = typeof url === 'string' ? parseUrl(url) : url
  const root = parseUrl(rootUrl)
  if (!file || !root || file.protocol !== 'file:' || root.protocol !== 'file:' || file.host !== root.host) return false
  const rootSegments = pathSegments(root.pathname.replace(/\/$/, ''))
  const segments = pathSegments(file.pathname)
  if (!rootSegments || !segments || segments.length <= rootSegments.length) return false
  if (rootSegments.some((segment, i) => segments[i] !== segment)) return false
  return segments.slice(rootSegments.length).every((segment) => !/[%:]/.test(segment))
}

/** The same file as the app page (any #route or ?query), on file:// only. Never throws. */
export function isAppPageUrl(url: string, appUrl: string): boolean {
  const page = parseUrl(url)
  const app = parseUrl(appUrl)
  if (!page || !app || page.protocol !== 'file:' || app.protocol !== 'file:' || page.host !== app.host) return false
  const pageSegments = pathSegments(page.pathname)
  const appSegments = pathSegments(app.pathname)
  return pageSegments !== null && appSegments !== null && pageSegments.join('/') === appSegments.join('/')
}

/** A document navigation a frame is about to make (Electron's will-frame-navigate / will-navigate details). */
export interface NavigationAttempt {
  readonly url: string
  readonly isMainFrame: boolean
}

/** proceed: let it load; block: stay on the page; open-in-browser: stay, and hand the link to the person's browser. */
export type NavigationVerdict = 'proceed' | 'block' | 'open-in-browser'

/**
 * The window stays on its page: only the top frame may load the app page again (a reload, a
 * query); an https link it follows opens in the browser instead. A subframe (the page has none)
 * may do neither. In-page navigations (a #route) are not asked about: Electron does not emit
 * will-navigate or will-frame-navigate for them.
 */
export function navigationVerdict(attempt: NavigationAttempt, appUrl: string): NavigationVerdict {
  if (!attempt.isMainFrame) return 'block'
  if (isAppPageUrl(attempt.url, appUrl)) return 'proceed'
  return externalUrlAllowed(attempt.url) ? 'open-in-browser' : 'block'
}

/** A permission check or request (Electron's permission handlers' arguments). */
export interface PermissionAsk {
  readonly permission: string
  readonly requestingUrl: string | undefined
  readonly isMainFrame: boolean
}

/**
 * Writing the clipboard from the app page's top frame is the one permission granted: the Copy
 * buttons use `navigator.clipboard.writeText` (Chromium sanitizes what is written, and only
 * allows it during a user gesture), and a window.prompt fallback does not exist in Electron.
 * Everything else (camera, microphone, notifications, devices, reading the clipboard...) is refused.
 */
export function permissionGranted(ask: PermissionAsk, appUrl: string): boolean {
  return ask.permission === 'clipboard-sanitized-write' && ask.isMainFrame && ask.requestingUrl !== undefined && isAppPageUrl(ask.requestingUrl, appUrl)
}

/** A link worth handing to the person's browser: https, no credentials in it. */
export function externalUrlAllowed(url: string): boolean {
  const parsed = parseUrl(url)
  return parsed !== null && parsed.protocol === 'https:' && parsed.username === '' && parsed.password === '' && parsed.hostname.length > 0
}

/** Response headers with our CSP set (replacing any the response had). */
export function withCsp(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== 'content-security-policy') out[name] = value
  }
  out['Content-Security-Policy'] = [ELECTRON_CONTENT_SECURITY_POLICY]
  out['X-Content-Type-Options'] = ['nosniff']
  return out
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url)
  } catch {
    return null
  }
}

/**
 * The decoded segments of a URL path ("/a/b%20c" → ["a", "b c"]), or null when one is written in
 * a way we refuse. The URL parser has already resolved `.`, `..` and their `%2e` spellings and
 * turned `\` into `/`; what is left to catch is what only decoding reveals.
 */
function pathSegments(pathname: string): string[] | null {
  const segments: string[] = []
  for (const raw of pathname.split('/').slice(1)) {
    const segment = decodeSegment(raw)
    if (segment === null) return null
    segments.push(segment)
  }
  return segments
}

function decodeSegment(raw: string): string | null {
  if (/%(?![0-9a-f]{2})/i.test(raw)) return null
  let segment: string
  try {
    segment = decodeURIComponent(raw)
  } catch {
    return null // escapes that are not UTF-8
  }
  if (segment === '' || segment === '.' || segment === '..') return null
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[/\\\u0000-\u001f\u007f]/.test(segment)) return null
  return segment
}
