// The control channel's wire format: JSON, one message per line, over a Unix socket (a named pipe
// on Windows) that only the home's owner can open. It carries the API contract of shared/api.ts
// (calls and pushed events, checked against the same schemas on both ends) and the command line
// (a `grove` command run by the service, its output streamed back). Every message is checked
// here before anything acts on it: the peer is the same user, but a buggy or old client must get
// a clear error, not a crashed service.
import { z } from 'zod'
import { ErrorCodes } from '../../shared/errors.js'

export const CONTROL_PROTOCOL_VERSION = 1
/** A line longer than this is refused (the largest result, a full catalog page, is far smaller). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024
/** Per connection: calls and commands in flight at once. */
export const MAX_IN_FLIGHT = 32
/** Connections open at once (every `grove` command in a terminal is one while it runs). */
export const MAX_CONNECTIONS = 64
/** argv of a forwarded command: count and length of each argument. */
const Argv = z.array(z.string().max(64 * 1024)).max(256)
const Id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const ErrorBody = z.object({ code: z.enum(ErrorCodes), message: z.string().max(64 * 1024) })

export const ClientMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('call'), id: Id, name: z.string().max(100), args: z.unknown() }),
  z.object({ t: z.literal('subscribe') }),
  z.object({
    t: z.literal('command'),
    id: Id,
    argv: Argv,
    /** What to call it in `grove status`: its command words and first argument. */
    title: z.string().max(300),
    /** The client's working folder: relative paths on its command line are relative to it. */
    cwd: z.string().min(1).max(4096),
    /** Whether the client's stderr is a terminal (progress bars) and how wide. */
    interactive: z.boolean(),
    columns: z.number().int().min(1).max(10_000).optional(),
    /** What the client read from its stdin for the command (`grove run --prompt -`). */
    stdin: z.string().max(8 * 1024 * 1024).optional()
  }),
  /** Ctrl-C in the client: cancel that one command. */
  z.object({ t: z.literal('cancel'), id: Id })
])
export type ClientMessage = z.infer<typeof ClientMessage>

export const ServiceInfo = z.object({
  protocol: z.number().int(),
  version: z.string().max(100),
  pid: z.number().int(),
  home: z.string().max(4096),
  startedAt: z.number(),
  /** What owns the home: `grove seed`, `grove serve`, the desktop app. */
  owner: z.enum(['seed', 'serve', 'app'])
})
export type ServiceInfo = z.infer<typeof ServiceInfo>

export const ServiceMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), info: ServiceInfo }),
  /** A call's outcome: `ok` with its result, or a coded error. */
  z.object({ t: z.literal('result'), id: Id, ok: z.boolean(), result: z.unknown().optional(), error: ErrorBody.optional() }),
  z.object({ t: z.literal('event'), event: z.string().max(100), payload: z.unknown() }),
  z.object({ t: z.literal('out'), id: Id, stream: z.enum(['stdout', 'stderr']), data: z.string().max(MAX_LINE_BYTES) }),
  z.object({ t: z.literal('exit'), id: Id, code: z.number().int().min(0).max(255) }),
  /** A message the service could not take (malformed, unknown, too many at once). */
  z.object({ t: z.literal('refused'), id: Id.optional(), error: ErrorBody })
])
export type ServiceMessage = z.infer<typeof ServiceMessage>

export function encode(message: ClientMessage | ServiceMessage): string {
  return JSON.stringify(message) + '\n'
}
