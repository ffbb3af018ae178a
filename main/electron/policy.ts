// What the Electron window may load and open, without importing electron (app.ts wires these
// into the session and webContents; the tests call them directly). The app shows only its own
// files: every request outside renderer/dist (http, https, ws, other files) is cancelled, the
// window never navigates, and no window opens. A link the person clicks to an https page opens
// in their browser, nothing else does.
import { pathToFileURL } from 'node:url'
import { ELECTRON_CONTENT_SECURITY_POLICY } from '../server/headers.js'

export { ELECTRON_CONTENT_SECURITY_POLICY }

/** A request the app's own session may make: files under the renderer folder, DevTools, inline data. */
export function requestAllowed(url: string, rendererDir: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.protocol === 'devtools:' || parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true
  if (parsed.protocol !== 'file:') return false
  const root = pathToFileURL(rendererDir.endsWith('/') ? rendererDir : `${rendererDir}/`)
  return parsed.host === root.host && decodeURIComponent(parsed.pathname).startsWith(decodeURIComponent(root.pathname))
}

/** A link worth handing to the person's browser: https, no credentials in it. */
export function externalUrlAllowed(url: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  return parsed.protocol === 'https:' && parsed.username === '' && parsed.password === '' && parsed.hostname.length > 0
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
