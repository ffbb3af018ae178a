// The shape of a request, checked before anything acts on it (`grove serve` answers 400 to each):
// - the target must be a plain path (origin-form: it starts with "/", printable ASCII only);
//   "http://host/..." and "*" are for proxies, and a raw space, tab or non-ASCII byte has no
//   place in a URL a browser sends (browsers drop tabs, which would turn "/\t/x" into "//x");
// - the path's percent-encoding must decode ("%ZZ" would throw inside a handler);
// - headers that must come once come once: Node keeps the first Host or Authorization and drops
//   the rest, so a proxy in front could have checked another one than Grove acts on.
// Also where the token redirect gets its Location: always a path on this server.
import type { IncomingMessage } from 'node:http'

export interface RequestTarget {
  /** The path as sent, still percent-encoded (routes match on it), e.g. "/api/call/app.info". */
  path: string
  query: URLSearchParams
}

const SINGLE_HEADERS = ['host', 'authorization', 'origin'] as const

export const MALFORMED_TARGET_MESSAGE = 'Malformed request path: it must be a plain path with valid percent-encoding'

/** The path and query of a request target, or null when it is malformed. */
export function parseRequestTarget(url: string | undefined): RequestTarget | null {
  const target = url ?? '/'
  if (!target.startsWith('/') || !/^[\x21-\x7e]*$/.test(target)) return null
  const q = target.indexOf('?')
  const path = q < 0 ? target : target.slice(0, q)
  try {
    decodeURIComponent(path)
  } catch {
    return null
  }
  return { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) }
}

/** The first header of those that must be single that the request repeats, if any. */
export function repeatedHeader(req: IncomingMessage): string | undefined {
  return SINGLE_HEADERS.find((name) => (req.headersDistinct[name]?.length ?? 0) > 1)
}

/**
 * `path` as a path on this server, for a Location header: empty and "." segments dropped and
 * ".." resolved, with "\" read as "/" as browsers do, so the result never starts with "//" or
 * "/\" (which a browser reads as another host). Percent-encoded bytes stay encoded.
 */
export function sameOriginPath(path: string): string {
  const segments: string[] = []
  for (const segment of path.split(/[/\\]/)) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  const trailingSlash = segments.length > 0 && /[/\\]$/.test(path)
  return `/${segments.join('/')}${trailingSlash ? '/' : ''}`
}
