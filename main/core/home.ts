// Where Grove keeps its state (the "home"): `--home DIR`, else $GROVE_HOME, else the platform's
// per-user data folder. One process at a time owns a home; a second gets a clear IN_USE error.
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import envPaths from 'env-paths'
import lockfile from 'proper-lockfile'
import { GroveError } from '../../shared/errors.js'

export interface HomeLayout {
  root: string
  /** Corestore (all drive blocks). */
  storeDir: string
  /** Loadable .gguf files fetched from the swarm. */
  modelsDir: string
  /** Scratch space for partial exports; same filesystem as modelsDir so renames are atomic. */
  tmpDir: string
  libraryFile: string
  /** The rooms joined in this home, joined again at every start (holds private rooms' secrets: mode 0600). */
  roomsFile: string
  /** The lock (a folder proper-lockfile keeps fresh while its owner runs). */
  lockFile: string
  /** The owner's pid, beside the lock: to name it, and to know at once when it is gone. */
  pidFile: string
}

/** The platform's per-user data folder (env-paths): `$XDG_DATA_HOME/grove`, `~/Library/Application Support/grove`, `%LOCALAPPDATA%\\grove\\Data`. */
export function defaultHome(): string {
  return envPaths('grove', { suffix: '' }).data
}

export function resolveHome(explicit?: string): HomeLayout {
  const root = resolve(explicit ?? process.env.GROVE_HOME ?? defaultHome())
  return {
    root,
    storeDir: join(root, 'store'),
    modelsDir: join(root, 'models'),
    tmpDir: join(root, 'tmp'),
    libraryFile: join(root, 'library.json'),
    roomsFile: join(root, 'rooms.json'),
    lockFile: join(root, 'grove.lock'),
    pidFile: join(root, 'grove.pid')
  }
}

export async function ensureHomeDirs(home: HomeLayout): Promise<void> {
  for (const dir of [home.root, home.storeDir, home.modelsDir, home.tmpDir]) await mkdir(dir, { recursive: true })
}

export interface HomeLock {
  release(): Promise<void>
}

/**
 * The lock's freshness: its owner touches it every second; another process may take a lock not
 * touched for 10 s (its owner hung or died), or — when the pid it names no longer runs (a crash,
 * `kill -9`) — after 3 s.
 */
const LOCK = { update: 1000, stale: 10_000, staleWhenOwnerGone: 3000 }

/**
 * Takes the home's lock (proper-lockfile) and records our pid beside it. A lock held by a live
 * process is an IN_USE error naming its pid; one left by a process that no longer runs is taken
 * over within seconds.
 */
export async function lockHome(home: HomeLayout): Promise<HomeLock> {
  await removeOldLockFile(home)
  const options = { lockfilePath: home.lockFile, realpath: false, update: LOCK.update, onCompromised: () => {} }
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(home.root, { ...options, stale: LOCK.stale })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err
    const owner = Number((await readFile(home.pidFile, 'utf8').catch(() => '')).trim())
    if (!(owner > 0) || isAlive(owner)) {
      throw new GroveError('IN_USE', `Grove home ${home.root} is in use by another Grove process${owner > 0 ? ` (pid ${owner})` : ''}; stop it or use another --home`)
    }
    // Its owner is gone: the lock goes stale once it has not been touched for a few seconds.
    release = await lockfile
      .lock(home.root, { ...options, stale: LOCK.staleWhenOwnerGone, retries: { retries: 8, factor: 1, minTimeout: 500, maxTimeout: 500 } })
      .catch((again: unknown) => {
        if ((again as NodeJS.ErrnoException).code === 'ELOCKED') throw new GroveError('IN_USE', `Could not lock Grove home ${home.root}; try again in a few seconds`)
        throw again
      })
  }
  try {
    await writeFile(home.pidFile, String(process.pid))
  } catch (err) {
    // A full disk: leave no lock behind.
    await release().catch(() => {})
    throw err
  }
  return {
    async release() {
      await rm(home.pidFile, { force: true })
      await release().catch(() => {})
    }
  }
}

/** Grove 0.1 locked a home with a file holding its pid; one left by a process that is gone is removed. */
async function removeOldLockFile(home: HomeLayout): Promise<void> {
  const info = await stat(home.lockFile).catch(() => null)
  if (!info?.isFile()) return
  const owner = Number((await readFile(home.lockFile, 'utf8').catch(() => '')).trim())
  if (owner > 0 && isAlive(owner)) throw new GroveError('IN_USE', `Grove home ${home.root} is in use by another Grove process (pid ${owner}); stop it or use another --home`)
  await rm(home.lockFile, { force: true })
}

/** The pid of the live process that holds this home, or null when none does. */
export async function homeOwner(home: HomeLayout): Promise<number | null> {
  const owner = Number((await readFile(home.pidFile, 'utf8').catch(() => '')).trim())
  return owner > 0 && isAlive(owner) ? owner : null
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
