// Garbage-collector tuning for processes that move model blocks (the CLI and Electron's main).
import { setFlagsFromString } from 'node:v8'

/**
 * V8 sets the next old-generation limit from the live heap after each full collection. Grove's
 * live heap is small (~17 MB), while every 512 KiB block in flight is an ArrayBuffer that
 * outlives a scavenge or two, so with the default growth (about 2.4× here) V8 started a full
 * mark-compact every ~90 ms of a transfer: 103 of them in a 1 GiB fetch, four helper threads
 * marking each time, which took about half of this 2-core machine from the seeder and downloader
 * (measured with `--trace-gc` and per-thread CPU). Letting the old generation grow to 3× its
 * live size before the next collection cut that to 28 and a 1 GiB 1→1 fetch from 9.3–11.1 s to
 * 7.3–8.5 s, the seeder's CPU by half, with peak RSS unchanged (npm run bench:transfer).
 *
 * The flag is read at every collection, so setting it once the process runs is enough; Node and
 * Electron both leave V8's flags unfrozen for `v8.setFlagsFromString`.
 */
export const HEAP_GROWING_PERCENT = 200

export function tuneHeapForTransfers(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
