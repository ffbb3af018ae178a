// The built renderer (renderer/dist) as static files: only regular files under the folder (no
// `..`, no symlink out, no dot-files, no FIFOs or devices), with their content types; a path with
// no extension is a client route and gets index.html. Without a build, a plain page says how to
// make one.
import { constants } from 'node:fs'
import { open, realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, posix, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** renderer/dist of this checkout (or of the packaged app). */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../renderer/dist', import.meta.url))

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm'
}

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream'
}

/** Maps a URL path to a file under `root`, or null when it would leave it (or names a dot-file). */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null
  const normal = posix.normalize(`/${decoded}`)
  if (normal.split('/').some((segment) => segment.startsWith('.'))) return null
  const base = resolve(root)
  const full = resolve(join(base, normal))
  if (full !== base && !full.startsWith(base + sep)) return null
  return full
}

/** Answers a GET or HEAD of `urlPath` (the request's path, still percent-encoded). */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, root: string, urlPath: string): Promise<void> {
  const base = await realpath(root).catch(() => null)
  const index = base ? join(base, 'index.html') : null
  if (!base || !index || !(await isFile(index))) return notBuilt(req, res)
  const target = resolveStaticPath(base, urlPath)
  if (target === null) return sendText(req, res, 404, 'Not found')
  const file = await containedFile(base, target)
  if (file) return sendFile(req, res, file, cacheControl(base, file))
  // A client-side route (no extension, or .html): the app's index page handles it.
  const ext = extname(urlPath)
  if (ext === '' || ext === '.html') return sendFile(req, res, index, 'no-cache')
  return sendText(req, res, 404, 'Not found')
}

/** The file itself (for `/`, the index), only when its real path is still under the root. */
async function containedFile(base: string, target: string): Promise<string | null> {
  let path = target
  const info = await stat(path).catch(() => null)
  if (info?.isDirectory()) path = join(path, 'index.html')
  const real = await realpath(path).catch(() => null)
  if (!real || !(real === base || real.startsWith(base + sep))) return null
  return (await isFile(real)) ? real : null
}

function cacheControl(base: string, file: string): string {
  // Vite puts content-hashed files under assets/: they never change.
  return file.startsWith(join(base, 'assets') + sep) ? 'public, max-age=31536000, immutable' : 'no-cache'
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false
}

/** Opening without blocking and checking the open file: a FIFO swapped in after the check cannot hang the request. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, cache: string): Promise<void> {
  const file = await open(path, OPEN_FLAGS).catch(() => null)
  const info = await file?.stat().catch(() => null)
  if (!file || !info?.isFile()) {
    await file?.close()
    return sendText(req, res, 404, 'Not found')
  }
  res.writeHead(200, { 'Content-Type': contentType(path), 'Content-Length': info.size, 'Cache-Control': cache })
  if (req.method === 'HEAD' || info.size === 0) {
    await file.close()
    res.end()
    return
  }
  await new Promise<void>((done) => {
    // No more than Content-Length said, should the file grow meanwhile.
    const stream = file.createReadStream({ end: info.size - 1 })
    stream.on('error', () => {
      res.destroy()
      done()
    })
    res.on('close', () => {
      stream.destroy()
      done()
    })
    stream.pipe(res)
  })
}

export function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : text)
}

export function sendHtml(req: IncomingMessage, res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}code{background:#eee;padding:0 .3em}</style>` +
    `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : html)
}

function notBuilt(req: IncomingMessage, res: ServerResponse): void {
  sendHtml(
    req,
    res,
    503,
    'Grove: the UI is not built',
    '<p>The API is running, but this checkout has no built UI (<code>renderer/dist</code>). Run <code>npm run build</code> and reload.</p>'
  )
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}
