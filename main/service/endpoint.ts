// Where a home's control channel listens: `grove.sock` inside the home (a Unix socket, mode 0600,
// so only the home's owner can connect), or — where the home's path is too long for a socket
// address (about 104 bytes) — a socket named after the home in a private folder of the user's
// own (mode 0700) under the temp folder. On Windows, a named pipe named after the home.
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HomeLayout } from '../core/home.js'

/** sun_path holds 108 bytes on Linux and 104 on macOS, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 100

export interface ControlEndpoint {
  /** What net.listen and net.connect take. */
  path: string
  /** A folder of our own the socket lives in, created 0700 when it is not the home itself. */
  privateDir: string | null
  /** Named pipes are not files: no mode to set, nothing to clean up. */
  isPipe: boolean
}

export function controlEndpoint(home: HomeLayout, platform: NodeJS.Platform = process.platform): ControlEndpoint {
  const tag = createHash('sha256').update(home.root).digest('hex').slice(0, 24)
  if (platform === 'win32') return { path: `\\\\.\\pipe\\grove-${tag}`, privateDir: null, isPipe: true }
  const inHome = join(home.root, 'grove.sock')
  if (Buffer.byteLength(inHome) <= MAX_SOCKET_PATH_BYTES) return { path: inHome, privateDir: null, isPipe: false }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0
  const privateDir = join(tmpdir(), `grove-${uid}`)
  return { path: join(privateDir, `${tag}.sock`), privateDir, isPipe: false }
}
