// Where Grove keeps its state (the "home"): `--home DIR`, else $GROVE_HOME, else the platform's
// per-user data folder. One process at a time owns a home; a second gets a clear IN_USE error.
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { homedir, platform } from 'node:os'
import { join, resolve } from 'node:path'
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
  lockFile: string
}

export function defaultHome(): string {
  const home = homedir()
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Grove')
    case 'win32':
      return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Grove')
    default:
      return join(process.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'grove')
  }
}

export function resolveHome(explicit?: string): HomeLayout {
  const root = resolve(explicit ?? process.env.GROVE_HOME ?? defaultHome())
  return {
    root,
    storeDir: join(root, 'store'),
    modelsDir: join(root, 'models'),
    tmpDir: join(root, 'tmp'),
    libraryFile: join(root, 'library.json'),
    lockFile: join(root, 'grove.lock')
  }
}

export async function ensureHomeDirs(home: HomeLayout): Promise<void> {
  for (const dir of [home.root, home.storeDir, home.modelsDir, home.tmpDir]) await mkdir(dir, { recursive: true })
}

export interface HomeLock {
  release(): Promise<void>
}

/**
 * Takes the home's lock file (holding our pid). A lock left by a process that no longer runs
 * (a crash, `kill -9`) is taken over; one held by a live process is an IN_USE error.
 */
export async function lockHome(home: HomeLayout): Promise<HomeLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(home.lockFile, 'wx')
      try {
        await handle.writeFile(String(process.pid))
      } catch (err) {
        // A full disk: leave no empty lock behind.
        await handle.close()
        await rm(home.lockFile, { force: true })
        throw err
      }
      await handle.close()
      return { release: () => rm(home.lockFile, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = Number((await readFile(home.lockFile, 'utf8').catch(() => '')).trim())
    if (holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new GroveError('IN_USE', `Grove home ${home.root} is in use by another Grove process (pid ${holder}); stop it or use another --home`)
    }
    await rm(home.lockFile, { force: true })
  }
  throw new GroveError('IN_USE', `Could not lock Grove home ${home.root}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
