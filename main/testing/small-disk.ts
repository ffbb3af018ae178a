// A small filesystem for the disk-full tests: a tmpfs of a given size, mounted in a mount
// namespace of its own (held open by an `unshare -m sleep` process), so nothing is mounted on the
// machine and the filesystem vanishes with the holder, even if the test dies. `grove` runs inside
// that namespace (`nsenter -m`) and sees the filesystem at `path`; this process reaches the same
// folder through /proc/<holder>/root (`outside`). Needs root.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GROVE_BIN, GroveProcess, type GroveRun, type Harness } from './harness.js'

/** Whether small disks can be made here (root, with `unshare` and `nsenter`). */
export function canMountSmallDisks(): boolean {
  return process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0
}

export class SmallDisk {
  private fillers = 0

  private constructor(
    private readonly h: Harness,
    private readonly holder: ChildProcess,
    private readonly pid: number,
    /** The mount point, as `grove` sees it. */
    readonly path: string
  ) {}

  /** A tmpfs of `bytes` (rounded up to whole pages by the kernel). */
  static async mount(h: Harness, bytes: number): Promise<SmallDisk> {
    const path = await h.tmpDir('grove-small-disk-')
    const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' })
    const pid = holder.pid
    if (pid === undefined) throw new Error('could not start a mount namespace holder')
    h.onTeardown(() => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL')
    })
    const ours = namespaceOf('self')
    const deadline = Date.now() + 5000
    while (namespaceOf(String(pid)) === ours) {
      if (Date.now() > deadline) throw new Error('the mount namespace holder did not start')
      await new Promise((r) => setTimeout(r, 20))
    }
    const mount = spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'mount', '-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path], { encoding: 'utf8', timeout: 10_000 })
    if (mount.status !== 0) throw new Error(`mount tmpfs: ${mount.stderr || mount.error?.message}`)
    return new SmallDisk(h, holder, pid, path)
  }

  /** Where this process reaches a path inside the small disk's namespace. */
  outside(path: string): string {
    return join(`/proc/${this.pid}/root`, path)
  }

  freeBytes(): number {
    const info = statfsSync(this.outside(this.path))
    return info.bavail * info.bsize
  }

  /** Takes all the free space but `leaveBytes` (a new filler file each time). */
  fill(leaveBytes: number): void {
    const take = this.freeBytes() - leaveBytes
    if (take > 0) writeFileSync(this.outside(join(this.path, `filler-${++this.fillers}`)), Buffer.alloc(take))
  }

  /** Frees what `fill` took. */
  unfill(): void {
    for (const name of readdirSync(this.outside(this.path))) if (name.startsWith('filler-')) rmSync(this.outside(join(this.path, name)))
  }

  /** Starts `grove <args>` inside the disk's mount namespace; killed at teardown if still running. */
  spawnGrove(args: string[]): GroveProcess {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) throw new Error('the small disk is gone')
    const child = spawn('nsenter', ['-t', String(this.pid), '-m', '--', process.execPath, GROVE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const proc = new GroveProcess(child)
    this.h.onTeardown(() => proc.kill('SIGKILL'))
    return proc
  }

  runGrove(args: string[], timeoutMs = 60_000): Promise<GroveRun> {
    return this.spawnGrove(args).finished(timeoutMs)
  }
}

function namespaceOf(pid: string): string {
  return spawnSync('readlink', [`/proc/${pid}/ns/mnt`], { encoding: 'utf8', timeout: 5000 }).stdout
}
