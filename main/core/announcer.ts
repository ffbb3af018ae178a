// Announcing the topics a seeder only serves (its drives' discovery keys) on the DHT, on our own
// schedule instead of Hyperswarm's.
//
// Hyperswarm gives every joined topic its own query at once and its own refresh timer (10 min +
// up to 2 min of jitter). For a lab seeding a thousand models that is a thousand DHT queries at
// start and, from then on, refreshes that arrive unevenly and pile up behind dht-rpc's congestion
// window (about 100 requests a second): the process held hundreds of queries and their replies,
// and kept the memory (447 MB peak, 259 steady, with N = 1000). Here a topic is announced
// `atOnce` at a time, and each is announced again `refreshMs` after its last announce, in the
// same queue, so the refreshes keep the even spread of the first announces.
//
// Topics someone looks up (a fetch) are not here: SwarmNetwork joins those with Hyperswarm,
// which also announces them if they are served. Incoming connections do not depend on either:
// Hyperswarm's server accepts every peer that found our key on any topic.
import { bytesToHex } from '../../shared/link.js'
import { within } from './abort.js'

/** The parts of HyperDHT (hyperdht/index.js) an announcement uses. */
export interface AnnounceDht {
  announce(target: Buffer, keyPair: KeyPair, relayAddresses: unknown[], opts: { clear?: boolean; closestNodes?: unknown[] | null }): DhtQuery
  unannounce(target: Buffer, keyPair: KeyPair, opts: { closestNodes: unknown[]; onlyClosestNodes: boolean; force: boolean }): Promise<void>
}

export interface DhtQuery {
  finished(): Promise<void>
  destroy(err?: Error): void
  /** The closest nodes the query found, which the next query of the same topic starts from. */
  closestNodes: unknown[]
}

export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export interface AnnouncerOptions {
  dht: AnnounceDht
  keyPair: KeyPair
  /** Hyperswarm's server must listen before its relay addresses mean anything. */
  listen: () => Promise<void>
  relayAddresses: () => unknown[]
  /** Announcements under way at once. */
  atOnce?: number
  /** An announcement not finished by then is given up (and retried after `retryMs`). */
  timeoutMs?: number
  refreshMs?: number
  retryMs?: number
  onError?: (message: string) => void
}

/**
 * HyperDHT nodes keep an announcement for 2/3 to 4/3 of 20 minutes (hyperdht's defaultMaxAge, in
 * record-cache's two generations), so at least 13.3 minutes. Announcing again after 10 leaves a
 * failed refresh three tries (one a minute) before a record can lapse. Hyperswarm refreshes after
 * 10–12 minutes and retries a failure only at its next refresh.
 */
export const ANNOUNCE_REFRESH_MS = 10 * 60_000
export const ANNOUNCE_RETRY_MS = 60_000
const ANNOUNCES_AT_ONCE = 16
const ANNOUNCE_TIMEOUT_MS = 60_000

interface Announced {
  topic: Buffer
  /** Where the last announcement went (null before the first): refreshed there, and withdrawn. */
  closestNodes: unknown[] | null
  /** When it is announced again (Infinity: while queued or under way). */
  dueAt: number
  /** The announcement under way, if any. */
  query: DhtQuery | null
}

export class Announcer {
  private readonly topics = new Map<string, Announced>()
  private readonly queue = new Set<string>()
  /** Announcements under way, including those waiting for the server to listen. */
  private readonly running = new Set<Announced>()
  private readonly settled: Array<() => void> = []
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private closed = false
  private readonly atOnce: number
  private readonly timeoutMs: number
  private readonly refreshMs: number
  private readonly retryMs: number

  constructor(private readonly options: AnnouncerOptions) {
    this.atOnce = options.atOnce ?? ANNOUNCES_AT_ONCE
    this.timeoutMs = options.timeoutMs ?? ANNOUNCE_TIMEOUT_MS
    this.refreshMs = options.refreshMs ?? ANNOUNCE_REFRESH_MS
    this.retryMs = options.retryMs ?? ANNOUNCE_RETRY_MS
  }

  get size(): number {
    return this.topics.size
  }

  has(topic: Uint8Array): boolean {
    return this.topics.has(bytesToHex(topic))
  }

  /** Announces `topic` (in its turn) and keeps it announced until `remove`. */
  add(topic: Uint8Array): void {
    const id = bytesToHex(topic)
    if (this.closed || this.topics.has(id)) return
    this.topics.set(id, { topic: Buffer.from(topic), closestNodes: null, dueAt: Infinity, query: null })
    this.queue.add(id)
    this.pump()
  }

  /**
   * Stops announcing `topic`; withdraws what was announced unless `withdraw` is false (Hyperswarm
   * takes the topic over and replaces our record itself). Resolves when withdrawn or after `graceMs`.
   */
  async remove(topic: Uint8Array, { withdraw = true, graceMs = 3000 } = {}): Promise<void> {
    const id = bytesToHex(topic)
    const entry = this.topics.get(id)
    if (!entry) return
    this.topics.delete(id)
    this.queue.delete(id)
    entry.query?.destroy()
    if (withdraw && entry.closestNodes) await this.withdraw(entry, graceMs)
  }

  /** Announces every topic again, in turn (new DHT nodes were found). */
  refreshAll(): void {
    for (const [id, entry] of this.topics) {
      if (this.running.has(entry)) continue
      entry.dueAt = Infinity
      this.queue.add(id)
    }
    this.pump()
  }

  /** Resolves once nothing is queued or under way (each topic announced, or given up, once). */
  async flushed(): Promise<void> {
    while (!this.closed && (this.queue.size > 0 || this.running.size > 0)) {
      await new Promise<void>((resolve) => this.settled.push(resolve))
    }
  }

  /** Stops announcing; withdraws what was announced, for up to `graceMs` in all. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.queue.clear()
    for (const entry of this.running) entry.query?.destroy()
    this.wake()
    const entries = [...this.topics.values()].filter((entry) => entry.closestNodes)
    this.topics.clear()
    await within(Promise.allSettled(entries.map((entry) => this.withdraw(entry, graceMs))), graceMs)
  }

  private async withdraw(entry: Announced, graceMs: number): Promise<void> {
    const closestNodes = entry.closestNodes ?? []
    const done = this.options.dht.unannounce(entry.topic, this.options.keyPair, { closestNodes, onlyClosestNodes: true, force: true })
    // What is not withdrawn in time lapses on the DHT nodes by itself.
    await within(done.catch(() => {}), graceMs)
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.atOnce && this.queue.size > 0) {
      const id = this.queue.values().next().value as string
      this.queue.delete(id)
      const entry = this.topics.get(id)
      if (entry && !this.running.has(entry)) void this.announce(id, entry)
    }
  }

  private async announce(id: string, entry: Announced): Promise<void> {
    let ok = false
    const first = entry.closestNodes === null
    // Taken before the server starts listening, so that `atOnce` holds meanwhile.
    this.running.add(entry)
    try {
      await this.options.listen()
      if (this.closed || this.topics.get(id) !== entry) return
      // The first announcement replaces what an earlier process with our key left on the nodes.
      const query = this.options.dht.announce(entry.topic, this.options.keyPair, this.options.relayAddresses(), { clear: first, closestNodes: entry.closestNodes })
      entry.query = query
      const outcome = query.finished().then(() => true, () => false)
      // close() and remove() destroy the query, which settles `outcome` at once.
      ok = (await within(outcome, this.timeoutMs)) && (await outcome)
      if (!ok) query.destroy()
      else if (query.closestNodes.length > 0) entry.closestNodes = query.closestNodes
    } catch (err) {
      if (!this.closed) this.options.onError?.(`announce: ${(err as Error).message}`)
    } finally {
      entry.query = null
      this.running.delete(entry)
      if (!this.closed && this.topics.get(id) === entry) this.schedule(entry, Date.now() + (ok ? this.nextRefreshIn(first) : this.retryMs))
      this.wake()
      this.pump()
    }
  }

  /**
   * A start-up announces a thousand topics within a minute or two; refreshed a fixed time later,
   * they would all come again in one burst (10 % of a core for 30 s, and the memory of the queries
   * kept). So the first refresh comes at a random point of the second half of the period, and the
   * refreshes stay spread from then on.
   */
  private nextRefreshIn(first: boolean): number {
    return first ? Math.round(this.refreshMs * (0.5 + 0.5 * Math.random())) : this.refreshMs
  }

  private wake(): void {
    for (const resolve of this.settled.splice(0)) resolve()
  }

  private schedule(entry: Announced, at: number): void {
    entry.dueAt = at
    if (at < this.timerAt) this.arm(at)
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.due(), Math.max(0, at - Date.now()))
    this.timer.unref()
  }

  /** Queues the topics whose time has come, in the order they fell due, and waits for the next. */
  private due(): void {
    this.timer = null
    this.timerAt = Infinity
    if (this.closed) return
    const now = Date.now()
    const due = [...this.topics].filter(([, entry]) => entry.dueAt <= now).sort(([, a], [, b]) => a.dueAt - b.dueAt)
    for (const [id, entry] of due) {
      entry.dueAt = Infinity
      this.queue.add(id)
    }
    let next = Infinity
    for (const entry of this.topics.values()) next = Math.min(next, entry.dueAt)
    if (next < Infinity) this.arm(next)
    this.pump()
  }
}
