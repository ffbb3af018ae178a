// Real Grove processes for the end-to-end spec: the compiled harness (dist/, built by
// `npm run build` before Playwright runs) spawns `grove` children and tears them down; the
// GGUF fixture writes a tiny model and LoRA adapter. Types come from the TypeScript sources.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export const ROOT = process.cwd()

async function fromDist<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(ROOT, 'dist', path)).href)) as T
}

export type HarnessModule = typeof import('../../main/testing/harness.js')
export type FixtureModule = typeof import('../../main/testing/gguf-fixture.js')
export type Harness = InstanceType<HarnessModule['Harness']>
export type GroveProcess = ReturnType<Harness['spawnGrove']>

export const harnessModule = () => fromDist<HarnessModule>('main/testing/harness.js')
export const fixtureModule = () => fromDist<FixtureModule>('main/testing/gguf-fixture.js')

export interface Served {
  url: string
  peer: string
  proc: GroveProcess
}

/** POSTs one API call to a `grove serve` (loopback: no token). */
export async function apiCall<T>(base: string, name: string, args: unknown = {}): Promise<T> {
  const response = await fetch(new URL(`api/call/${name}`, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) })
  const body = (await response.json()) as { ok: boolean; result?: T; error?: { code: string; message: string } }
  if (!body.ok) throw new Error(`${name}: ${body.error?.code} ${body.error?.message}`)
  return body.result as T
}

/** Starts `grove --home H --bootstrap B --json serve --port 0` and waits for its `listening` line. */
export async function serve(h: Harness, home: string, bootstrap: string): Promise<Served> {
  const proc = h.spawnGrove(['--home', home, '--bootstrap', bootstrap, '--json', 'serve', '--host', '127.0.0.1', '--port', '0'])
  // A graceful stop first (the harness kills whatever is left with SIGKILL afterwards).
  h.onTeardown(async () => {
    proc.kill('SIGTERM')
    await proc.finished(15_000).catch(() => {})
  })
  const line = await proc.waitForJson((l) => l.event === 'listening', 60_000)
  return { url: String(line.url), peer: String(line.peer ?? ''), proc }
}
