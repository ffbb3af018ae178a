// Garbage-collector tuning for processes that move model blocks (the CLI and Electron's main).
import { setFlagsFromString } from 'node:v8'

/**
 * V8 sets the next old-generation limit from the live heap after each full collection. Grove's
 * live heap is small (~17 MB), while a transfer allocates an ArrayBuffer for every 512 KiB
 * block and network read; with the default growth (a limit about 2.4× the live heap) V8 started a full
 * mark-compact every ~90 ms of a transfer: 103 of them in a 1 GiB fetch, four helper threads
 * marking each time, which took about half of this 2-core machine from the seeder and downloader
 * (measured with `--trace-gc` and per-thread CPU). Letting the old generation grow to 3× its
 * live size before the next collection cut that to 28 and a 1 GiB 1→1 fetch from 9.3–11.1 s to
 * 7.3–8.5 s and the seeder's CPU by half. The price is more garbage between collections: the
 * 1→4 bench's peak RSS went from 241 to 273 MB (npm run bench:transfer; the target is 300 MB).
 *
 * Only while blocks move, though: the same factor let an idle lab seeder of 1000 models (a live
 * heap of ~50 MB) keep ~150 MB of heap, 314 MB of RSS where V8's own factor gives 238 MB. So the
 * flag is set when a block moves (noteBlocksMoving, from traffic.ts) and put back to V8's own
 * (0) once none has for IDLE_MS.
 *
 * The flag is read at every collection, so setting it while the process runs is enough; Node and
 * Electron both leave V8's flags unfrozen for `v8.setFlagsFromString`.
 */
const HEAP_GROWING_PERCENT = 200
const IDLE_MS = 10_000

let enabled = false
let tuned = false
let lastMovedAt = 0
let timer: NodeJS.Timeout | null = null

/** This process moves model blocks (the CLI, Electron's main): tune its heap while it does. */
export function tuneHeapForTransfers(): void {
  enabled = true
}

/** A block was sent or received. */
export function noteBlocksMoving(): void {
  if (!enabled) return
  lastMovedAt = Date.now()
  if (tuned) return
  tuned = true
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  timer ??= setInterval(untuneWhenIdle, IDLE_MS / 2)
  timer.unref()
}

/** Whether the transfer setting is on now (for tests). */
export function heapTunedForTransfers(): boolean {
  return tuned
}

function untuneWhenIdle(): void {
  if (Date.now() - lastMovedAt < IDLE_MS) return
  tuned = false
  setFlagsFromString('--heap-growing-percent=0')
  if (timer) clearInterval(timer)
  timer = null
}
