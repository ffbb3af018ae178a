// The API's pushed events (shared/api.ts `Events`), typed end to end. Every payload is parsed
// with its contract schema before it leaves, so a transport never carries a field the contract
// does not name; a listener that throws does not stop the others.
import { Events, type CallName, type CallOutcome, type EventName, type EventPayload } from '../../shared/api.js'

/** One event as every transport carries it: `{ event, payload }`. */
export type ApiEvent = { [E in EventName]: { event: E; payload: EventPayload<E> } }[EventName]

export type ApiEventListener = (message: ApiEvent) => void

/** What a transport needs of the API (GroveApi, or a fake in tests): calls in, events out. */
export interface ApiEndpoint {
  dispatch(name: string, args: unknown): Promise<CallOutcome<CallName>>
  onEvent(listener: ApiEventListener): () => void
}

export class ApiEvents {
  private readonly listeners = new Set<ApiEventListener>()

  /** Subscribes to every event; returns the unsubscribe function. */
  on(listener: ApiEventListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    if (this.listeners.size === 0) return
    const parsed = Events[event].safeParse(payload)
    if (!parsed.success) {
      if (process.env.GROVE_DEBUG) process.stderr.write(`grove api: dropped a malformed ${event} event: ${parsed.error.message}\n`)
      return
    }
    const message = { event, payload: parsed.data } as ApiEvent
    for (const listener of [...this.listeners]) {
      try {
        listener(message)
      } catch (err) {
        if (process.env.GROVE_DEBUG) process.stderr.write(`grove api: an event listener failed: ${String(err)}\n`)
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}

/**
 * Calls `fn` at most once per `intervalMs`, always ending with the latest call (a trailing
 * call is scheduled, never dropped). `cancel` forgets a pending call.
 */
export function throttle(fn: () => void, intervalMs: number): { (): void; cancel(): void; flush(): void } {
  let last = 0
  let timer: NodeJS.Timeout | null = null
  const run = () => {
    timer = null
    last = Date.now()
    fn()
  }
  const call = () => {
    if (timer) return
    const wait = last + intervalMs - Date.now()
    if (wait <= 0) run()
    else timer = setTimeout(run, wait).unref()
  }
  call.cancel = () => {
    if (timer) clearTimeout(timer)
    timer = null
  }
  call.flush = () => {
    if (timer) {
      clearTimeout(timer)
      run()
    }
  }
  return call
}
