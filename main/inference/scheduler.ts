// Admission to the inference worker for the generations clients ask for: the UI's chats
// (`chat.start`) and the OpenAI-compatible /v1 share one GenerationScheduler, so no client can
// pile up work without bound or crowd the others out.
//
// A few generations run at once; the next ones wait in one first-come-first-served queue of
// bounded length; beyond that a request is refused at once with BUSY (HTTP 429 with
// Retry-After). A place is taken synchronously in `admit` (no await between the check and the
// count, so two requests at once cannot both take the last place), a waiter that gives up (its
// signal aborts: a client hung up, a chat was stopped) leaves the queue at once, and one that
// waits longer than `maxWaitMs` gets BUSY instead of waiting on.
import { GroveError } from '../../shared/errors.js'

/**
 * The worker runs one generation at a time (the engine serialises them), so admitting more
 * would only move the queue into the worker, where a wait cannot be bounded and a request
 * that was given up on may still load its model. One keeps the queue here.
 */
export const DEFAULT_MAX_RUNNING = 1
/** A chat turn takes seconds to minutes: 16 waiting is already minutes of work. */
export const DEFAULT_MAX_QUEUED = 16
export const DEFAULT_MAX_WAIT_MS = 120_000
/** The estimate of one generation's length until one has been seen. */
const FIRST_ESTIMATE_MS = 10_000
/** OpenAI's clients honour a Retry-After of up to 60 s (a longer one falls back to their own backoff). */
const MAX_RETRY_AFTER_S = 60

export interface GenerationSchedulerOptions {
  /** Generations admitted to the worker at once (default 1). */
  maxRunning?: number
  /** Generations waiting for their turn (default 16). */
  maxQueued?: number
  /** How long one may wait for its turn before it gets BUSY (default 120 s). */
  maxWaitMs?: number
}

/** BUSY, with how long the client should wait before it tries again. */
export class BusyError extends GroveError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number
  ) {
    super('BUSY', message)
  }
}

/** One generation's place: waiting in the queue, then running. */
export interface Admission {
  /**
   * Resolves when the generation may start. Rejects with BusyError when it waited too long,
   * CLOSED when the scheduler closed, or the signal's reason when the caller gave up.
   */
  readonly turn: Promise<void>
  /** Gives the place back, queued or running (idempotent). */
  release(): void
}

interface Waiter {
  start(): void
  fail(err: unknown): void
}

export class GenerationScheduler {
  readonly maxRunning: number
  readonly maxQueued: number
  readonly maxWaitMs: number
  private runningCount = 0
  private readonly queue: Waiter[] = []
  private closed = false
  private estimateMs = FIRST_ESTIMATE_MS

  constructor(options: GenerationSchedulerOptions = {}) {
    this.maxRunning = positiveInteger(options.maxRunning ?? DEFAULT_MAX_RUNNING, 'maxRunning')
    this.maxQueued = Math.max(0, Math.floor(options.maxQueued ?? DEFAULT_MAX_QUEUED))
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
  }

  get running(): number {
    return this.runningCount
  }

  get queued(): number {
    return this.queue.length
  }

  /** Seconds until a place is likely to free up: about one generation's length. */
  retryAfterSeconds(): number {
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(this.estimateMs / 1000)))
  }

  /**
   * Takes a place for one generation, or throws BusyError when the queue is full (CLOSED when
   * closed). Synchronous on purpose: the check and the count happen together.
   */
  admit(signal?: AbortSignal): Admission {
    if (this.closed) throw new GroveError('CLOSED', 'Grove is shutting down')
    signal?.throwIfAborted()
    if (this.runningCount < this.maxRunning && this.queue.length === 0) {
      this.runningCount++
      return this.runningAdmission()
    }
    if (this.queue.length >= this.maxQueued) throw this.busy(`Grove is busy: ${this.describeLoad()}; try again in about ${this.retryAfterSeconds()} s`)
    return this.queuedAdmission(signal)
  }

  /** Refuses new generations and fails the waiting ones with CLOSED; running ones end with their callers. */
  close(): void {
    this.closed = true
    for (const waiter of this.queue.splice(0)) waiter.fail(new GroveError('CLOSED', 'Grove is shutting down'))
  }

  private runningAdmission(): Admission {
    const startedAt = performance.now()
    let released = false
    return {
      turn: Promise.resolve(),
      release: () => {
        if (released) return
        released = true
        this.finished(performance.now() - startedAt)
      }
    }
  }

  private queuedAdmission(signal: AbortSignal | undefined): Admission {
    let state: 'queued' | 'running' | 'done' = 'queued'
    let startedAt = 0
    let resolveTurn: () => void = () => {}
    let rejectTurn: (err: unknown) => void = () => {}
    const turn = new Promise<void>((resolve, reject) => {
      resolveTurn = resolve
      rejectTurn = reject
    })
    // Nobody may await the turn yet (a chat still resolves its model): not an unhandled rejection.
    turn.catch(() => {})
    const stopWaiting = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const leave = (err: unknown) => {
      if (state !== 'queued') return
      state = 'done'
      const index = this.queue.indexOf(waiter)
      if (index >= 0) this.queue.splice(index, 1)
      stopWaiting()
      rejectTurn(err)
    }
    const onAbort = () => leave(signal?.reason)
    const waiter: Waiter = {
      start: () => {
        state = 'running'
        startedAt = performance.now()
        stopWaiting()
        resolveTurn()
      },
      fail: leave
    }
    this.queue.push(waiter)
    const timer = setTimeout(() => leave(this.busy(`Grove is busy: waited ${Math.round(this.maxWaitMs / 1000)} s for a turn (${this.describeLoad()}); try again later`)), this.maxWaitMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    return {
      turn,
      release: () => {
        if (state === 'queued') leave(new GroveError('CLOSED', 'The generation was withdrawn'))
        else if (state === 'running') {
          state = 'done'
          this.finished(performance.now() - startedAt)
        }
      }
    }
  }

  /** A running generation ended: learn its length and hand its place to the next in line. */
  private finished(elapsedMs: number): void {
    this.runningCount--
    this.estimateMs = 0.7 * this.estimateMs + 0.3 * elapsedMs
    while (this.runningCount < this.maxRunning && this.queue.length > 0) {
      this.runningCount++
      this.queue.shift()!.start()
    }
  }

  private busy(message: string): BusyError {
    return new BusyError(message, this.retryAfterSeconds())
  }

  private describeLoad(): string {
    return `${this.runningCount} generation${this.runningCount === 1 ? '' : 's'} running, ${this.queue.length} waiting`
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number ≥ 1`)
  return value
}
