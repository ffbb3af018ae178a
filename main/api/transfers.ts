// Downloads as the UI sees them: `transfers.start` runs `grove.fetch` in the background,
// `pause` aborts it (the blocks already downloaded stay in the store), `resume` runs the same
// fetch again, which resumes where the blocks end. Speed comes from byte deltas over the last
// few seconds, the ETA from the speed, and a bounded speed history feeds a small plot.
//
// A model whose licence asks for acceptance is never downloaded before `license.accept`: the
// licence is checked when the call comes (from the library or the catalog, when they know it),
// again from the drive's own manifest before any weights are requested, and once more when the
// fetch reads the manifest.
import type { Transfer } from '../../shared/api.js'
import { GroveError, toClientError, type ErrorPayload } from '../../shared/errors.js'
import { MAX_LINK_SEEDERS, formatLink, parseLink } from '../../shared/link.js'
import { weightsFile } from '../../shared/manifest.js'
import { DEFAULT_FETCH_TIMEOUT_MS, type FetchEvent } from '../core/fetch.js'
import type { Grove } from '../core/grove.js'
import { throttle } from './events.js'

type TransferState = Transfer['state']

/** At most this many transfer events per second per transfer (state changes always go out). */
export const TRANSFER_EVENTS_PER_SECOND = 4
/** The speed is averaged over this window. */
const SPEED_WINDOW_MS = 3000
/** One speed-history sample per this interval, at most HISTORY_SAMPLES of them. */
const HISTORY_INTERVAL_MS = 1000
export const HISTORY_SAMPLES = 300
/** Finished transfers kept in the list; the oldest finished ones go first. */
const MAX_TRANSFERS = 500
const CLOSE_WAIT_MS = 10_000

export interface TransferManagerOptions {
  grove: Grove
  /** Throws LICENSE_NOT_ACCEPTED when this model's licence still needs accepting. */
  checkLicense(link: string, license: string | undefined): void
  /** A transfer changed (throttled to TRANSFER_EVENTS_PER_SECOND). */
  onTransfer(transfer: Transfer): void
  /** The library changed (a transfer recorded, finished or failed). */
  onLibrary(): void
  /** How long to wait for a peer (default: the fetch default, 60 s). */
  timeoutMs?: number
}

interface Job {
  link: string
  keyHex: string
  /** Seeders the links it was started with named (see shared/link.ts), dialled by every run. */
  seeders: string[]
  name: string | null
  state: TransferState
  bytes: number
  total: number | null
  peers: number
  error?: ErrorPayload
  speed: SpeedMeter
  /** The current run of the fetch (null when none runs). */
  run: Run | null
  /** The last run's promise (a resume waits for the previous run to wind down). */
  running: Promise<void>
  emit: ReturnType<typeof throttle>
  updatedAt: number
}

/** One run of the fetch: pausing aborts it. */
interface Run {
  controller: AbortController
  paused: boolean
}

const ACTIVE: ReadonlySet<TransferState> = new Set(['connecting', 'downloading', 'verifying'])

export class TransferManager {
  private readonly jobs = new Map<string, Job>()
  private closed = false

  constructor(private readonly options: TransferManagerOptions) {
    // Downloads left unfinished by an earlier run show as paused, ready to resume.
    for (const entry of options.grove.library.list()) {
      if (entry.complete || entry.origin !== 'fetched') continue
      const job = this.job(entry.link)
      job.state = 'paused'
      job.name = entry.manifest?.name ?? null
      job.total = entry.manifest ? weightsFile(entry.manifest).size : null
    }
  }

  list(): Transfer[] {
    return [...this.jobs.values()].map(snapshot)
  }

  get(link: string): Transfer | undefined {
    const job = this.jobs.get(canonical(link))
    return job ? snapshot(job) : undefined
  }

  /** Starts (or, when it is already running, returns) the download of a model. */
  start(linkText: string): Transfer {
    if (this.closed) throw new GroveError('CLOSED', 'Grove is shutting down')
    const link = canonical(linkText)
    const seeders = parseLink(linkText).seeders ?? []
    const existing = this.jobs.get(link)
    if (existing && ACTIVE.has(existing.state)) {
      addSeeders(existing, seeders) // for its next run
      return snapshot(existing)
    }
    const known = this.knownLicense(link)
    if (known.known) this.options.checkLicense(link, known.license)
    const job = existing ?? this.job(link)
    addSeeders(job, seeders)
    this.run(job)
    return snapshot(job)
  }

  /** Stops a download; what it fetched stays, and `resume` goes on from there. */
  pause(linkText: string): Transfer {
    const job = this.require(linkText)
    if (!ACTIVE.has(job.state)) return snapshot(job)
    if (job.run) {
      job.run.paused = true
      job.run.controller.abort()
    }
    this.setState(job, 'paused')
    return snapshot(job)
  }

  /** Goes on with a paused (or failed) download. */
  resume(linkText: string): Transfer {
    const link = canonical(linkText)
    if (!this.jobs.has(link) && !this.options.grove.library.get(parseLink(link).keyHex)) {
      throw new GroveError('NOT_FOUND', `There is no download of ${link} to resume; start one`)
    }
    return this.start(link)
  }

  /** Aborts every running download and waits (bounded) for them to stop. */
  async close(): Promise<void> {
    this.closed = true
    const running: Promise<void>[] = []
    for (const job of this.jobs.values()) {
      job.emit.cancel()
      if (!job.run) continue
      job.run.paused = true
      job.run.controller.abort()
      running.push(job.running)
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled(running), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))])
    clearTimeout(timer)
  }

  private job(link: string): Job {
    let job = this.jobs.get(link)
    if (job) return job
    const { keyHex } = parseLink(link)
    const created: Job = {
      link,
      keyHex,
      seeders: [],
      name: null,
      state: 'connecting',
      bytes: 0,
      total: null,
      peers: 0,
      speed: new SpeedMeter(),
      run: null,
      running: Promise.resolve(),
      emit: throttle(() => this.options.onTransfer(snapshot(created)), 1000 / TRANSFER_EVENTS_PER_SECOND),
      updatedAt: Date.now()
    }
    job = created
    this.jobs.set(link, job)
    this.evictFinished()
    return job
  }

  private require(linkText: string): Job {
    const job = this.jobs.get(canonical(linkText))
    if (!job) throw new GroveError('NOT_FOUND', `There is no download of ${canonical(linkText)}`)
    return job
  }

  private run(job: Job): void {
    const run: Run = { controller: new AbortController(), paused: false }
    job.run = run
    job.error = undefined
    job.speed.restart()
    this.setState(job, 'connecting')
    const previous = job.running
    job.running = previous.then(() => this.work(job, run))
  }

  private async work(job: Job, run: Run): Promise<void> {
    const { grove } = this.options
    const signal = run.controller.signal
    const current = () => job.run === run
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
    try {
      if (signal.aborted) throw new GroveError('BAD_INPUT', 'Download paused')
      const result = await grove.fetch(formatLink(job.keyHex, undefined, job.seeders), {
        signal,
        timeoutMs,
        onEvent: (event) => this.onFetchEvent(job, run, event),
        // The drive's own manifest names the licence: checked before any weights are asked for.
        beforeWeights: (manifest) => this.options.checkLicense(job.link, manifest.license)
      })
      if (!current()) return
      job.name = result.manifest.name
      job.total = result.size
      job.bytes = result.size
      this.setState(job, 'done')
      // Seeding was turned off while it downloaded: stop announcing it now that it is done.
      if (grove.library.get(job.keyHex)?.seeding === false) {
        await grove.stopSeeding(job.keyHex)
        if (grove.hasNetwork) await grove.refreshLocalCatalog()
      }
    } catch (err) {
      if (!current()) return
      if (run.paused) {
        this.setState(job, 'paused')
      } else {
        job.error = toClientError(err, logDetail)
        this.setState(job, 'error')
      }
    } finally {
      if (current()) job.run = null
      this.options.onLibrary()
    }
  }

  private onFetchEvent(job: Job, run: Run, event: FetchEvent): void {
    const controller = run.controller
    if (controller.signal.aborted || job.run !== run) return
    const now = Date.now()
    if (event.event === 'manifest') {
      job.name = event.name
      job.total = event.size
      this.setState(job, 'downloading')
      this.options.onLibrary()
      return
    }
    if (event.event === 'verifying') {
      job.bytes = event.total
      job.total = event.total
      job.speed.restart()
      if (job.state !== 'verifying') this.setState(job, 'verifying')
      return
    }
    job.bytes = event.bytes
    job.total = event.total
    job.peers = event.peers
    job.speed.sample(now, job.bytes)
    if (job.state !== 'downloading') this.setState(job, 'downloading')
    else job.emit()
  }

  private setState(job: Job, state: TransferState): void {
    job.state = state
    job.updatedAt = Date.now()
    if (!ACTIVE.has(state)) job.speed.restart()
    // State changes go out at once; progress in between is throttled.
    job.emit.cancel()
    this.options.onTransfer(snapshot(job))
  }

  /** The licence the library or the catalog already knows for a link. */
  private knownLicense(link: string): { known: true; license: string | undefined } | { known: false } {
    const { grove } = this.options
    const manifest = grove.library.get(parseLink(link).keyHex)?.manifest
    if (manifest) return { known: true, license: manifest.license }
    const item = grove.catalog.get(link)
    if (item?.license !== undefined) return { known: true, license: item.license }
    return { known: false }
  }

  private evictFinished(): void {
    if (this.jobs.size <= MAX_TRANSFERS) return
    const finished = [...this.jobs.values()].filter((j) => j.state === 'done' || j.state === 'error').sort((a, b) => a.updatedAt - b.updatedAt)
    for (const job of finished) {
      if (this.jobs.size <= MAX_TRANSFERS) break
      job.emit.cancel()
      this.jobs.delete(job.link)
    }
  }
}

function snapshot(job: Job): Transfer {
  const active = ACTIVE.has(job.state)
  const speed = active ? job.speed.bytesPerSecond : 0
  const remaining = job.total !== null ? Math.max(0, job.total - job.bytes) : null
  return {
    link: job.link,
    name: job.name,
    state: job.state,
    bytes: job.bytes,
    total: job.total,
    peers: active ? job.peers : 0,
    bytesPerSecond: Math.round(speed),
    etaSeconds: job.state === 'done' ? 0 : remaining !== null && speed > 0 ? Math.ceil(remaining / speed) : null,
    error: job.error,
    speedHistory: job.speed.history()
  }
}

/**
 * Download speed from byte counts: the average over the last `windowMs`, and one history point
 * per `intervalMs`, keeping the last `maxPoints` (for the transfers view's plot).
 */
export class SpeedMeter {
  private samples: Array<[number, number]> = []
  private points: Array<[number, number]> = []
  bytesPerSecond = 0

  constructor(
    private readonly windowMs = SPEED_WINDOW_MS,
    private readonly intervalMs = HISTORY_INTERVAL_MS,
    private readonly maxPoints = HISTORY_SAMPLES
  ) {}

  /** Records the byte count at `now` (ms). The first sample of a run is only the baseline. */
  sample(now: number, bytes: number): void {
    this.samples.push([now, bytes])
    while (this.samples.length > 2 && now - this.samples[0]![0] > this.windowMs) this.samples.shift()
    const [t0, b0] = this.samples[0]!
    const elapsed = (now - t0) / 1000
    if (elapsed >= 0.5) this.bytesPerSecond = Math.max(0, (bytes - b0) / elapsed)
    const last = this.points.at(-1)
    if (!last || now - last[0] >= this.intervalMs) {
      this.points.push([now, Math.round(this.bytesPerSecond)])
      if (this.points.length > this.maxPoints) this.points.splice(0, this.points.length - this.maxPoints)
    }
  }

  /** A new run (resume, verify, stop): the speed starts again from zero; the history stays. */
  restart(): void {
    this.samples = []
    this.bytesPerSecond = 0
  }

  history(): Array<[number, number]> {
    return this.points.map(([t, v]) => [t, v] as [number, number])
  }
}

function addSeeders(job: Job, seeders: readonly string[]): void {
  for (const seeder of seeders) if (!job.seeders.includes(seeder) && job.seeders.length < MAX_LINK_SEEDERS) job.seeders.push(seeder)
}

function canonical(link: string): string {
  return formatLink(parseLink(link).keyHex)
}

/** An unexpected failure's detail: the transfer shows a generic error, the log the reason. */
function logDetail(detail: string): void {
  process.stderr.write(`grove: transfer failed: ${detail}\n`)
}
