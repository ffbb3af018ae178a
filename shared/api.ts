// The one API contract between the UI and Grove's core (DESIGN.md, "One API contract, three
// transports"): every call's name, argument schema and result schema, and every pushed
// event's payload schema. Electron IPC, the headless server's HTTP/WebSocket and the tests
// all carry exactly this; every argument is validated at the boundary with these schemas.
import { z } from 'zod'
import { ErrorCodes } from './errors.js'
import { KINDS, RELATIONS, Manifest } from './manifest.js'

const Link = z.string().min(8).max(200).regex(/^grove:\/\//, 'must be a grove:// link')
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/)
const Empty = z.object({}).strict()

// --- Shared shapes ---------------------------------------------------------------------------

export const LibraryItem = z.object({
  link: z.string(),
  name: z.string(),
  kind: z.enum(KINDS).or(z.literal('unknown')),
  sha256: Sha256.nullable(),
  size: z.number().nullable(),
  origin: z.enum(['shared', 'fetched']),
  complete: z.boolean(),
  seeding: z.boolean(),
  path: z.string().nullable(),
  license: z.string().nullable(),
  /**
   * Bytes on disk: a separate seeding copy in the store (none when the model seeds in place from
   * its file) and the loadable file Grove wrote.
   */
  disk: z.object({ blockBytes: z.number(), fileBytes: z.number(), inPlace: z.boolean() }),
  /** Set aside because its drive lies about its data: why (no longer seeded or offered). */
  quarantined: z.string().nullable().optional()
})
export type LibraryItem = z.infer<typeof LibraryItem>

export const CatalogItem = z.object({
  link: z.string(),
  name: z.string(),
  kind: z.enum(KINDS),
  sha256: Sha256,
  size: z.number(),
  architecture: z.string().optional(),
  license: z.string().optional(),
  quantization: z.string().optional(),
  parameterCount: z.number().optional(),
  parents: z.array(z.object({ link: z.string().optional(), sha256: z.string().optional(), relation: z.enum(RELATIONS), name: z.string().optional() })),
  seeders: z.number(),
  local: z.boolean(),
  /** `drive`: read from the drive's own signed manifest; `peer`: relayed by a neighbour. */
  source: z.enum(['drive', 'peer'])
})
export type CatalogItem = z.infer<typeof CatalogItem>

export const CatalogQuery = z.object({
  text: z.string().max(200).optional(),
  architecture: z.string().max(100).optional(),
  kind: z.enum(KINDS).optional(),
  license: z.string().max(100).optional(),
  relation: z.enum(RELATIONS).optional(),
  /** Only models whose estimated memory fits this machine. */
  fitsThisMachine: z.boolean().optional(),
  limit: z.number().int().min(1).max(1000).optional(),
  offset: z.number().int().min(0).max(1_000_000).optional()
})
export type CatalogQuery = z.infer<typeof CatalogQuery>

export const LineageGraph = z.object({
  root: z.string(),
  nodes: z.array(
    z.object({
      link: z.string(),
      name: z.string(),
      kind: z.enum(KINDS).nullable(),
      sha256: z.string().nullable(),
      seeders: z.number(),
      local: z.boolean(),
      missing: z.literal(true).optional(),
      role: z.enum(['root', 'ancestor', 'descendant', 'both'])
    })
  ),
  edges: z.array(
    z.object({
      parent: z.string(),
      child: z.string(),
      relation: z.enum(RELATIONS),
      verified: z.boolean(),
      reason: z.string().optional(),
      detail: z.string().optional()
    })
  ),
  problems: z.array(z.object({ kind: z.string(), nodes: z.array(z.string()), detail: z.string() })),
  truncated: z.boolean()
})
export type LineageGraph = z.infer<typeof LineageGraph>

export const FitVerdict = z.object({
  verdict: z.enum(['fits', 'tight', 'wontFit']),
  /** Bytes of RAM (and VRAM) the model plus its context needs, and what is free. */
  needRam: z.number(),
  needVram: z.number(),
  freeRam: z.number(),
  freeVram: z.number(),
  summary: z.string()
})
export type FitVerdict = z.infer<typeof FitVerdict>

export const ModelDetail = z.object({
  link: z.string(),
  manifest: Manifest,
  /** The model card (Markdown with front matter): untrusted, render without scripts or remote content. */
  card: z.string().nullable(),
  seeders: z.number(),
  inLibrary: z.boolean(),
  complete: z.boolean(),
  /** The licence is one that asks for acceptance (not an open one such as MIT or Apache-2.0). */
  licenseNeedsAcceptance: z.boolean(),
  licenseAccepted: z.boolean()
})
export type ModelDetail = z.infer<typeof ModelDetail>

export const RoomInfo = z.object({
  id: z.string(),
  kind: z.enum(['public', 'named', 'private']),
  name: z.string(),
  peers: z.number()
})
export type RoomInfo = z.infer<typeof RoomInfo>

export const PeerInfo = z.object({
  publicKey: z.string(),
  host: z.string().optional(),
  port: z.number().optional(),
  /** What carries the data: a direct TCP link, the holepunched UDP connection, or null (deciding). */
  transport: z.enum(['tcp', 'udx']).nullable().optional(),
  connectedAt: z.number(),
  rooms: z.array(z.string()),
  uploadedBytes: z.number(),
  downloadedBytes: z.number()
})
export type PeerInfo = z.infer<typeof PeerInfo>

export const TransferState = z.enum(['connecting', 'downloading', 'verifying', 'paused', 'done', 'error'])
export const Transfer = z.object({
  link: z.string(),
  name: z.string().nullable(),
  state: TransferState,
  bytes: z.number(),
  total: z.number().nullable(),
  peers: z.number(),
  bytesPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
  error: z.object({ code: z.enum(ErrorCodes), message: z.string() }).optional(),
  /** Recent speed samples for a small plot: [unix ms, bytes per second]. */
  speedHistory: z.array(z.tuple([z.number(), z.number()])).max(600)
})
export type Transfer = z.infer<typeof Transfer>

export const AppInfo = z.object({
  version: z.string(),
  peerKey: z.string(),
  home: z.string(),
  transport: z.enum(['electron', 'http']),
  hardware: z.object({ cpuCores: z.number(), ramTotal: z.number(), ramFree: z.number(), gpu: z.union([z.string(), z.literal(false)]) })
})
export type AppInfo = z.infer<typeof AppInfo>

const ChatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(200_000) })
export const ChatRequest = z.object({
  link: Link,
  adapters: z.array(z.object({ link: Link, scale: z.number().min(0).max(4) })).max(8).default([]),
  messages: z.array(ChatMessage).min(1).max(500),
  maxTokens: z.number().int().min(1).max(32_768).optional(),
  temperature: z.number().min(0).max(5).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  contextSize: z.number().int().min(16).max(1_048_576).optional(),
  /** Apply adapters whose recorded base hash differs (never overrides the shape check). */
  ignoreBaseHash: z.boolean().optional()
})
export type ChatRequest = z.input<typeof ChatRequest>

// --- Calls -----------------------------------------------------------------------------------

function call<A extends z.ZodType, R extends z.ZodType>(args: A, result: R) {
  return { args, result }
}

export const Calls = {
  'app.info': call(Empty, AppInfo),
  'library.list': call(Empty, z.array(LibraryItem)),
  /** Share a file already on this machine (Electron's file picker or drop gives its path). */
  'library.share': call(
    z.object({
      path: z.string().min(1).max(4096),
      name: z.string().max(200).optional(),
      license: z.string().max(100).optional(),
      description: z.string().max(5000).optional(),
      parents: z.array(z.string().max(200)).max(32).optional(),
      relation: z.enum(RELATIONS).optional()
    }),
    z.object({ link: z.string(), sha256: Sha256, kind: z.enum(KINDS), name: z.string(), size: z.number() })
  ),
  'library.setSeeding': call(z.object({ link: Link, seeding: z.boolean() }), LibraryItem),
  'library.reclaim': call(z.object({ link: Link }), z.object({ freedBytes: z.number() })),
  'catalog.search': call(CatalogQuery, z.object({ total: z.number(), items: z.array(CatalogItem) })),
  'model.get': call(z.object({ link: Link }), ModelDetail),
  'lineage.get': call(z.object({ link: z.string().max(200), maxDepth: z.number().int().min(0).max(64).optional() }), LineageGraph),
  'rooms.list': call(Empty, z.array(RoomInfo)),
  'rooms.join': call(
    z.union([z.object({ name: z.string().min(1).max(100) }).strict(), z.object({ secret: z.string().min(8).max(200), label: z.string().max(100).optional() }).strict()]),
    RoomInfo
  ),
  'rooms.leave': call(z.object({ id: z.string().regex(/^[0-9a-f]{64}$/) }), Empty),
  'peers.list': call(Empty, z.array(PeerInfo)),
  'transfers.list': call(Empty, z.array(Transfer)),
  'transfers.start': call(z.object({ link: Link }), Transfer),
  'transfers.pause': call(z.object({ link: Link }), Transfer),
  'transfers.resume': call(z.object({ link: Link }), Transfer),
  'license.accept': call(z.object({ link: Link }), z.object({ accepted: z.literal(true) })),
  'chat.fit': call(z.object({ link: Link, contextSize: z.number().int().min(16).max(1_048_576).optional() }), FitVerdict),
  /** Starts a generation; tokens arrive as `chat.token` events, then `chat.done` or `chat.error`. */
  'chat.start': call(ChatRequest, z.object({ id: z.string() })),
  'chat.stop': call(z.object({ id: z.string().max(100) }), Empty)
} as const

export type CallName = keyof typeof Calls
export type CallArgs<N extends CallName> = z.input<(typeof Calls)[N]['args']>
export type CallResult<N extends CallName> = z.output<(typeof Calls)[N]['result']>
export const CALL_NAMES = Object.keys(Calls) as CallName[]

// --- Events (pushed, never polled) ----------------------------------------------------------

export const Events = {
  peers: z.array(PeerInfo),
  transfer: Transfer,
  library: z.array(LibraryItem),
  catalog: z.object({ size: z.number() }),
  'chat.token': z.object({ id: z.string(), text: z.string(), tokens: z.array(z.number()) }),
  'chat.done': z.object({
    id: z.string(),
    text: z.string(),
    stopReason: z.enum(['eos', 'maxTokens', 'stop', 'cancelled']),
    timings: z.object({ loadMs: z.number(), firstTokenMs: z.number(), tokensPerSecond: z.number() })
  }),
  'chat.error': z.object({ id: z.string(), code: z.enum(ErrorCodes), message: z.string() })
} as const

export type EventName = keyof typeof Events
export type EventPayload<N extends EventName> = z.output<(typeof Events)[N]>
export const EVENT_NAMES = Object.keys(Events) as EventName[]

/** What every transport returns: a result, or a coded error. */
export type CallOutcome<N extends CallName> = { ok: true; result: CallResult<N> } | { ok: false; error: { code: (typeof ErrorCodes)[number]; message: string } }

/** The typed client the renderer uses, whatever carries it. */
export interface GroveClient {
  call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>>
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void
}

/** Open licences need no acceptance; anything else is shown and accepted once. */
export const OPEN_LICENSES = new Set([
  'mit', 'apache-2.0', 'bsd-2-clause', 'bsd-3-clause', 'isc', 'cc0-1.0', 'cc-by-4.0', 'cc-by-sa-4.0', 'mpl-2.0', 'unlicense', 'gpl-3.0', 'lgpl-3.0', 'agpl-3.0'
])
export function licenseNeedsAcceptance(license: string | undefined | null): boolean {
  return license !== undefined && license !== null && license !== '' && !OPEN_LICENSES.has(license.toLowerCase())
}

// --- The HTTP/WebSocket transport of `grove serve` -------------------------------------------
// POST `${API_CALL_PATH}<call name>` with the JSON arguments as body → 200 `{ ok: true, result }`,
// or 4xx/5xx `{ ok: false, error: { code, message } }`. Events: a WebSocket at API_EVENTS_PATH
// receives `{ event, payload }` JSON messages. Off loopback every request carries
// `Authorization: Bearer <token>` (the WebSocket: `?token=`), the token `grove serve` printed.
export const API_CALL_PATH = '/api/call/'
export const API_EVENTS_PATH = '/api/events'
export const EventMessage = z.object({ event: z.enum(Object.keys(Events) as [EventName, ...EventName[]]), payload: z.unknown() })
export type EventMessage = z.infer<typeof EventMessage>
