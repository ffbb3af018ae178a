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
 * The flag is read at every collection, so setting it once the process runs is enough; Node and
 * Electron both leave V8's flags unfrozen for `v8.setFlagsFromString`.
 */
const HEAP_GROWING_PERCENT = 200

export function tuneHeapForTransfers(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
