// GroveApi: the one implementation of the API contract (shared/api.ts) over a Grove and the
// inference service, for every transport (Electron IPC, `grove serve`'s HTTP/WebSocket, tests).
//
// `dispatch(name, args)` is the boundary: it refuses an unknown call or arguments that fail the
// call's schema (BAD_INPUT), runs the call, parses the result with the call's result schema (so
// no field outside the contract leaves), and turns any thrown error into `{ code, message }`.
// Events are pushed through `onEvent`: peers (connects, disconnects, rooms, traffic), transfer
// progress (≤4/s per transfer), library and catalog changes, and chat tokens.
import { readFileSync } from 'node:fs'
import { realpath, stat, statfs } from 'node:fs/promises'
import { availableParallelism, freemem, totalmem } from 'node:os'
import { resolve as resolvePath, sep } from 'node:path'
import type { z } from 'zod'
import {
  CALL_NAMES,
  Calls,
  licenseNeedsAcceptance,
  type CallArgs,
  type CallName,
  type CallOutcome,
  type CallResult,
  type EventName,
  type EventPayload,
  type GroveClient
} from '../../shared/api.js'
import { GroveError, INTERNAL_ERROR_MESSAGE, toClientError } from '../../shared/errors.js'
import { lineageOf } from '../../shared/lineage/graph.js'
import { formatLink, isLink, parseLink } from '../../shared/link.js'
import { describeSchemaIssues, weightsFile, type Manifest } from '../../shared/manifest.js'
import { describeRemote } from '../core/fetch.js'
import { readDriveCard } from '../core/remote-drive.js'
import type { Grove } from '../core/grove.js'
import { LicenseStore } from '../core/licenses.js'
import { roomAskedFor } from '../core/rooms.js'
import type { InferenceService } from '../inference/service.js'
import { resolveLoadSpec } from '../inference/resolve.js'
import { GenerationScheduler } from '../inference/scheduler.js'
import { ChatManager } from './chat.js'
import { ApiEvents, throttle, type ApiEvent, type ApiEventListener } from './events.js'
import { TransferManager } from './transfers.js'
import { catalogItem, estimateFit, fitsThisMachine, libraryItem, libraryItems, memoryNow, peerInfos, roomInfo } from './views.js'

export interface GroveApiOptions {
  /** An open Grove (with the network, for everything but the library calls). */
  grove: Grove
  inference: InferenceService
  transport: 'electron' | 'http'
  /** The app's version (default: package.json's). */
  version?: string
  /** How long `model.get` and `license.accept` wait for a peer to read a model's manifest (default 20 s). */
  remoteTimeoutMs?: number
  /** How long a download waits for a peer (default: the fetch default). */
  fetchTimeoutMs?: number
  /**
   * Who runs when on `inference`: pass the one every other client of it uses (`grove serve`'s
   * /v1). Default: one of its own, closed with the API.
   */
  scheduler?: GenerationScheduler
  /** Where the detail of unexpected errors goes (default: stderr); clients get a generic message. */
  log?: (line: string) => void
}

type Args<N extends CallName> = z.output<(typeof Calls)[N]['args']>
type Handlers = { [N in CallName]: (args: Args<N>) => Promise<CallResult<N>> }
type AnyOutcome = CallOutcome<CallName>

const CALL_SET: ReadonlySet<string> = new Set(CALL_NAMES)
const PEERS_TICK_MS = 1000
const DEFAULT_REMOTE_TIMEOUT_MS = 20_000

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && CALL_SET.has(name)
}

export class GroveApi implements GroveClient {
  readonly grove: Grove
  readonly inference: InferenceService
  readonly transfers: TransferManager
  /** The generation scheduler the chats run under. */
  readonly generations: GenerationScheduler
  private readonly ownsGenerations: boolean
  private readonly log: (line: string) => void
  private readonly events = new ApiEvents()
  private readonly chats: ChatManager
  private readonly licenses: LicenseStore
  private readonly handlers: Handlers
  private readonly version: string
  private readonly cleanups: Array<() => void> = []
  private gpu: string | false | undefined
  private lastPeers = '[]'
  private closing: Promise<void> | null = null

  /** Builds the API over an open Grove (reads the licence record from its home). */
  static async create(options: GroveApiOptions): Promise<GroveApi> {
    const licenses = LicenseStore.inHome(options.grove.home.root)
    await licenses.load()
    return new GroveApi(options, licenses)
  }

  private constructor(
    private readonly options: GroveApiOptions,
    licenses: LicenseStore
  ) {
    this.grove = options.grove
    this.inference = options.inference
    this.licenses = licenses
    this.version = options.version ?? packageVersion()
    this.log = options.log ?? ((line) => process.stderr.write(`grove: ${line}\n`))
    this.ownsGenerations = options.scheduler === undefined
    this.generations = options.scheduler ?? new GenerationScheduler()
    this.transfers = new TransferManager({
      grove: this.grove,
      timeoutMs: options.fetchTimeoutMs,
      checkLicense: (link, license) => this.checkLicense(link, license),
      onTransfer: (transfer) => this.emit('transfer', transfer),
      // A transfer that records or finishes a model changes the library and what we seed.
      onLibrary: () => {
        this.libraryChanged()
        this.catalogChanged()
      }
    })
    this.chats = new ChatManager({
      inference: this.inference,
      scheduler: this.generations,
      home: this.grove.home.root,
      checkLicense: (link) => this.checkLicense(link, this.grove.library.get(parseLink(link).keyHex)?.manifest?.license),
      emit: (event, payload) => this.emit(event, payload),
      log: this.log,
      onFinished: () => this.learnGpu()
    })
    this.handlers = this.createHandlers()
    this.watchGrove()
  }

  // --- the boundary ------------------------------------------------------------------------------

  /** Runs one call from outside: validates the name and arguments, runs it, checks the result. */
  async dispatch(name: string, rawArgs: unknown): Promise<AnyOutcome> {
    if (!isCallName(name)) return badInput(`Unknown call "${String(name).slice(0, 100)}"`)
    if (this.closing) return { ok: false, error: { code: 'CLOSED', message: 'Grove is shutting down' } }
    const spec = Calls[name]
    const args = spec.args.safeParse(rawArgs === undefined || rawArgs === null ? {} : rawArgs)
    if (!args.success) return badInput(`Invalid arguments for ${name}: ${describeSchemaIssues(args.error)}`)
    let value: unknown
    try {
      const handler = this.handlers[name] as unknown as (args: unknown) => Promise<unknown>
      value = await handler(args.data)
    } catch (err) {
      return { ok: false, error: toClientError(err, (detail) => this.log(`${name} failed: ${detail}`)) }
    }
    const result = spec.result.safeParse(value)
    if (!result.success) {
      this.log(`${name} produced a result outside the contract: ${describeSchemaIssues(result.error)}`)
      return { ok: false, error: { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE } }
    }
    return { ok: true, result: result.data } as AnyOutcome
  }

  /** The typed client (for tests and in-process callers): throws a GroveError on failure. */
  async call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    const outcome = await this.dispatch(name, args)
    if (!outcome.ok) throw new GroveError(outcome.error.code, outcome.error.message)
    return outcome.result as CallResult<N>
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.events.on((message) => {
      if (message.event === event) listener(message.payload as EventPayload<E>)
    })
  }

  /** Every event, as `{ event, payload }` (what the transports forward). */
  onEvent(listener: ApiEventListener): () => void {
    return this.events.on(listener)
  }

  /** Stops transfers and generations and event sources; the Grove and inference stay open (their owner closes them). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const cleanup of this.cleanups.splice(0)) cleanup()
      await this.transfers.close()
      if (this.ownsGenerations) this.generations.close()
      await this.chats.close()
      this.events.clear()
    })()
    return this.closing
  }

  // --- the calls ---------------------------------------------------------------------------------

  private createHandlers(): Handlers {
    const grove = this.grove
    return {
      'app.info': async () => ({
        version: this.version,
        peerKey: grove.hasNetwork ? grove.swarm.publicKey : '',
        home: grove.home.root,
        transport: this.options.transport,
        hardware: { cpuCores: availableParallelism(), ramTotal: totalmem(), ramFree: freemem(), gpu: this.gpu ?? false }
      }),
      'library.list': async () => libraryItems(grove),
      'library.share': async (args) => {
        await assertShareableFile(args.path)
        const result = await grove.share(args.path, {
          name: args.name,
          license: args.license,
          description: args.description,
          parents: args.parents,
          relation: args.relation
        })
        this.libraryChanged()
        this.catalogChanged()
        return { link: result.link, sha256: result.sha256, kind: result.kind, name: result.name, size: result.size }
      },
      'library.setSeeding': async (args) => this.setSeeding(args.link, args.seeding),
      'library.reclaim': async (args) => {
        const { keyHex } = parseLink(args.link)
        const result = await grove.reclaimSeedingCopy(keyHex)
        this.libraryChanged()
        this.catalogChanged()
        return result
      },
      'catalog.search': async (query) => {
        const filter = { text: query.text, architecture: query.architecture, kind: query.kind, license: query.license, relation: query.relation }
        const limit = query.limit ?? 50
        const offset = query.offset ?? 0
        if (!query.fitsThisMachine) {
          const found = grove.catalog.search({ ...filter, limit, offset })
          return { total: found.total, items: found.items.map(catalogItem) }
        }
        const memory = memoryNow()
        const fitting = grove.catalog.list(filter).filter((item) => fitsThisMachine(item.size, memory))
        return { total: fitting.length, items: fitting.slice(offset, offset + limit).map(catalogItem) }
      },
      'model.get': async (args) => this.modelDetail(args.link),
      'lineage.get': async (args) => lineageOf(grove.catalog, args.link, { maxDepth: args.maxDepth, requireChildFromDrive: true }),
      'rooms.list': async () => grove.rooms.map((room) => roomInfo(room, grove)),
      // Joined and left through the API, rooms are remembered in the home across restarts.
      'rooms.join': async (args) => {
        const joined = await grove.joinRoomAndRemember(roomAskedFor(args))
        this.peersChanged()
        return roomInfo(joined, grove)
      },
      'rooms.leave': async (args) => {
        const { left, forgotten } = await grove.leaveRoomAndForget(args.id)
        if (!left && !forgotten) throw new GroveError('NOT_FOUND', 'This peer is not in that room')
        this.peersChanged()
        return {}
      },
      'peers.list': async () => peerInfos(grove),
      'transfers.list': async () => this.transfers.list(),
      'transfers.start': async (args) => this.transfers.start(args.link),
      'transfers.pause': async (args) => this.transfers.pause(args.link),
      'transfers.resume': async (args) => this.transfers.resume(args.link),
      'license.accept': async (args) => {
        const license = await this.licenseOf(args.link)
        if (license) await this.licenses.accept(args.link, license)
        return { accepted: true as const }
      },
      'chat.fit': async (args) => this.fit(args.link, args.contextSize),
      'chat.start': async (args) => this.chats.start(args),
      'chat.stop': async (args) => {
        this.chats.stop(args.id)
        return {}
      }
    }
  }

  private async setSeeding(link: string, seeding: boolean): Promise<CallResult<'library.setSeeding'>> {
    const grove = this.grove
    const { keyHex } = parseLink(link)
    const entry = grove.library.get(keyHex)
    if (!entry) throw new GroveError('NOT_FOUND', `${link} is not in the library`)
    if (seeding && !entry.blocksStored) throw new GroveError('BAD_INPUT', "This model's seeding copy was reclaimed; download it again to seed it")
    const updated = await grove.library.update(keyHex, { seeding })
    const transfer = this.transfers.get(link)
    const downloading = transfer !== undefined && ['connecting', 'downloading', 'verifying'].includes(transfer.state)
    // A running download keeps its swarm topic; it stops announcing when it finishes.
    if (grove.hasNetwork && !downloading) {
      if (seeding) await grove.seedDrive(keyHex, { lookup: !entry.complete })
      else await grove.stopSeeding(keyHex)
      await grove.refreshLocalCatalog()
    }
    this.libraryChanged()
    this.catalogChanged()
    return libraryItem(updated, grove.home)
  }

  private async modelDetail(linkText: string): Promise<CallResult<'model.get'>> {
    const grove = this.grove
    const { keyHex } = parseLink(linkText)
    const link = formatLink(keyHex)
    const entry = grove.library.get(keyHex)
    let manifest: Manifest
    let card: string | null
    let peers = 0
    if (entry?.manifest) {
      manifest = entry.manifest
      const drive = await grove.openDrive(keyHex)
      // What the store holds (the fetch read and checked it); a peer is not asked again.
      card = await readDriveCard(drive, link, Date.now() + 2000, { local: true }).catch(() => null)
    } else {
      this.requireNetwork()
      const remote = await describeRemote(grove, link, this.options.remoteTimeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS)
      manifest = remote.manifest
      card = remote.card
      peers = remote.peers
      // Only a look at it: stop looking the drive up unless something else uses it.
      if (!grove.seededKeys.includes(keyHex) && !this.transfers.get(link)) {
        const drive = await grove.openDrive(keyHex)
        await grove.swarm.leave(drive.discoveryKey)
      }
    }
    const needs = licenseNeedsAcceptance(manifest.license)
    return {
      link,
      manifest,
      card,
      seeders: grove.catalog.get(link)?.seeders ?? peers,
      inLibrary: entry !== undefined,
      complete: entry?.complete ?? false,
      licenseNeedsAcceptance: needs,
      licenseAccepted: !needs || this.licenseSettled(link, manifest.license)
    }
  }

  private async fit(link: string, contextSize: number | undefined): Promise<CallResult<'chat.fit'>> {
    const { keyHex } = parseLink(link)
    const entry = this.grove.library.get(keyHex)
    if (entry?.complete && entry.path && entry.manifest?.kind !== 'adapter') {
      const spec = await resolveLoadSpec({ model: link, home: this.grove.home.root, libraryOnly: true }, { contextSize })
      const report = await this.inference.fit(spec)
      this.learnGpu()
      return {
        verdict: report.verdict,
        needRam: report.need.ram,
        needVram: report.need.vram,
        freeRam: report.available.ramFree,
        freeVram: report.available.vramFree,
        summary: report.summary
      }
    }
    const size = entry?.manifest ? weightsFile(entry.manifest).size : this.grove.catalog.get(link)?.size
    if (size === undefined) throw new GroveError('NOT_FOUND', `Nothing is known about ${link}: find it in the catalog or open its page first`)
    return estimateFit(size)
  }

  // --- licences ------------------------------------------------------------------------------------

  /**
   * Throws LICENSE_NOT_ACCEPTED when the library model named by `target` (a link or a library
   * name) needs its licence accepted first; unknown targets pass (the caller reports NOT_FOUND).
   * For other ways of running models, such as the OpenAI-compatible endpoint.
   */
  assertLicensed(target: string): void {
    const text = target.trim()
    const entries = this.grove.library.list()
    let entry = undefined as (typeof entries)[number] | undefined
    if (isLink(text)) {
      const keyHex = safeKeyHex(text)
      entry = entries.find((e) => e.keyHex === keyHex)
    } else {
      const named = entries.filter((e) => e.manifest?.name.toLowerCase() === text.toLowerCase())
      if (named.length === 1) entry = named[0]
    }
    if (entry) this.checkLicense(entry.link, entry.manifest?.license)
  }

  /** Throws LICENSE_NOT_ACCEPTED when this model's licence asks for acceptance and has none yet. */
  private checkLicense(link: string, license: string | undefined): void {
    if (!licenseNeedsAcceptance(license) || this.licenseSettled(link, license)) return
    throw new GroveError('LICENSE_NOT_ACCEPTED', `${link} is under the licence "${license}", which asks for acceptance: read it on the model's page and accept it first`)
  }

  /** Accepted, or the model is one this user shared (their own licence). */
  private licenseSettled(link: string, license: string | undefined): boolean {
    if (!license) return true
    const entry = this.grove.library.get(parseLink(link).keyHex)
    return entry?.origin === 'shared' || this.licenses.isAccepted(link, license)
  }

  /** The licence from the most trustworthy source at hand: the library, a drive-read catalog entry, the drive itself. */
  private async licenseOf(link: string): Promise<string | undefined> {
    const manifest = this.grove.library.get(parseLink(link).keyHex)?.manifest
    if (manifest) return manifest.license
    const item = this.grove.catalog.get(link)
    if (item?.source === 'drive') return item.license
    this.requireNetwork()
    const remote = await describeRemote(this.grove, link, this.options.remoteTimeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS)
    return remote.manifest.license
  }

  // --- events --------------------------------------------------------------------------------------

  private emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    this.events.emit(event, payload)
  }

  private readonly libraryChanged = throttle(() => this.emit('library', libraryItems(this.grove)), 250)
  private readonly catalogChanged = throttle(() => this.emit('catalog', { size: this.grove.catalog.size }), 500)
  private readonly peersChanged = throttle(() => {
    const peers = peerInfos(this.grove)
    this.lastPeers = JSON.stringify(peers)
    this.emit('peers', peers)
  }, 250)

  private watchGrove(): void {
    const grove = this.grove
    const onCatalog = () => this.catalogChanged()
    // The library changes under the API too: commands the service runs for the command line share and fetch.
    const onLibrary = () => this.libraryChanged()
    grove.events.on('catalog', onCatalog)
    grove.events.on('library', onLibrary)
    this.cleanups.push(() => grove.events.off('catalog', onCatalog), () => grove.events.off('library', onLibrary), () => this.catalogChanged.cancel(), () => this.libraryChanged.cancel())
    if (!grove.hasNetwork) return
    const onPeers = () => this.peersChanged()
    grove.swarm.events.on('peers', onPeers)
    // Rooms open and traffic flows between connects: push the list when it changed.
    const tick = setInterval(() => {
      if (JSON.stringify(peerInfos(grove)) !== this.lastPeers) this.peersChanged()
    }, PEERS_TICK_MS)
    tick.unref()
    this.cleanups.push(() => grove.swarm.events.off('peers', onPeers), () => clearInterval(tick), () => this.peersChanged.cancel())
  }

  /** Learns the GPU for `app.info` once the inference worker runs anyway. */
  private learnGpu(): void {
    if (this.gpu !== undefined || this.inference.pid === undefined) return
    this.inference.hardware().then(
      (hw) => {
        this.gpu = hw.gpu
      },
      () => {}
    )
  }

  private requireNetwork(): void {
    if (!this.grove.hasNetwork) throw new GroveError('INTERNAL', 'This Grove runs without the network')
  }
}

export type { ApiEvent, ApiEventListener }

function badInput(message: string): AnyOutcome {
  return { ok: false, error: { code: 'BAD_INPUT', message } }
}

/** Kernel pseudo-file systems (statfs f_type): their "files" are views of the system, not data. */
const PSEUDO_FILE_SYSTEMS = new Set([0x9fa0 /* proc */, 0x62656572 /* sysfs */, 0x64626720 /* debugfs */, 0x73636673 /* securityfs */])
const SYSTEM_TREES = ['/proc', '/sys', '/dev']

/**
 * Refuses, before anything opens it, a path that is not a regular file (a FIFO would block the
 * reader, a device such as /dev/zero never ends) or that lives in the kernel's trees
 * (/proc/self/mem looks like an empty regular file). Only stat and realpath: nothing is read.
 */
async function assertShareableFile(path: string): Promise<void> {
  const shown = path.slice(0, 300)
  let real: string
  try {
    real = await realpath(resolvePath(path))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new GroveError('NOT_FOUND', `No file at ${shown}`)
    throw new GroveError('BAD_INPUT', `Cannot open ${shown} (${code ?? 'unreadable'})`)
  }
  if (SYSTEM_TREES.some((tree) => real === tree || real.startsWith(tree + sep))) {
    throw new GroveError('BAD_INPUT', `${shown} is a system file (under ${real.split(sep).slice(0, 2).join(sep)}), not a model file`)
  }
  const info = await stat(real)
  if (!info.isFile()) throw new GroveError('BAD_INPUT', `${shown} is ${info.isDirectory() ? 'a folder' : 'not a regular file (a device, FIFO or socket)'}: share a .gguf file`)
  if (process.platform === 'linux') {
    const fs = await statfs(real).catch(() => null)
    if (fs && PSEUDO_FILE_SYSTEMS.has(fs.type)) throw new GroveError('BAD_INPUT', `${shown} is a system file, not a model file`)
  }
}

function safeKeyHex(link: string): string | undefined {
  try {
    return parseLink(link).keyHex
  } catch {
    return undefined
  }
}

let cachedVersion: string | undefined
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    cachedVersion = '0.0.0'
  }
  return cachedVersion
}
