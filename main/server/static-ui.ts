// The built renderer (renderer/dist), served by @fastify/static: regular files under the folder
// only (no `..` or other non-canonical path, no dot-files, no symlink out of it, no FIFOs or
// devices), with their content types; a path with no extension (or .html) that names no file is
// a client route and gets index.html. Vite's content-hashed files under assets/ are cached for
// good, everything else is revalidated. Only GET and HEAD; without a build, a plain page says
// how to make one. This plugin answers everything the API and /v1 routes do not.
import { realpath, stat } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GroveError } from '../../shared/errors.js'
import { pathOf, sendHtml, sendText } from './replies.js'

/** renderer/dist of this checkout (or of the packaged app). */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../renderer/dist', import.meta.url))

/** An encapsulated plugin: its not-found handler and hooks cover the UI's paths only. */
export async function staticUi(ui: FastifyInstance, opts: { root: string }): Promise<void> {
  const root = resolve(opts.root)

  ui.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(reply.header('Allow', 'GET, HEAD'), 405, 'Method not allowed')
    // Checked on every request: the build may appear (or go) while the server runs.
    if (!(await isFile(join(root, 'index.html')))) return notBuilt(reply)
    return undefined
  })

  await ui.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    // 'deny' (a 403, answered as a plain 404) rather than 'ignore', which would fall through to
    // the client-route fallback and answer /.secret with index.html.
    dotfiles: 'deny',
    serveDotFiles: false,
    redirect: false,
    list: false,
    // The same headers as ever: no validators or ranges, our own Cache-Control.
    etag: false,
    lastModified: false,
    acceptRanges: false,
    cacheControl: false,
    onFile: (path, info) => assertServable(root, path, info.isFile()),
    setHeaders: (reply, path) => {
      // Vite puts content-hashed files under assets/: they never change.
      reply.header('Cache-Control', path.startsWith(join(root, 'assets') + sep) ? 'public, max-age=31536000, immutable' : 'no-cache')
      // The mime table inside @fastify/send predates RFC 9239, which made text/javascript the type.
      if (/\.m?js$/i.test(path)) reply.header('Content-Type', 'text/javascript; charset=utf-8')
    }
  })

  ui.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    const ext = extname(pathOf(request.url))
    if (ext === '' || ext === '.html') return reply.sendFile('index.html')
    return sendText(reply, 404, 'Not found')
  })
}

/**
 * The file about to be sent is a regular file (not a FIFO, a device or a link to one) whose real
 * path is still under the root. Else a 404.
 */
async function assertServable(root: string, path: string, isRegularFile: boolean): Promise<void> {
  const [base, real] = await Promise.all([realpath(root).catch(() => null), realpath(path).catch(() => null)])
  if (!isRegularFile || !base || !real || !real.startsWith(base + sep)) throw new GroveError('NOT_FOUND', 'Not found')
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false
}

function notBuilt(reply: FastifyReply): FastifyReply {
  return sendHtml(
    reply,
    503,
    'Grove: the UI is not built',
    '<p>The API is running, but this checkout has no built UI (<code>renderer/dist</code>). Run <code>npm run build</code> and reload.</p>'
  )
}
