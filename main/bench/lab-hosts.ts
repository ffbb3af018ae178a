// Hosts for `npm run bench:lab`: each a network namespace of its own, held open by an
// `unshare -n sleep infinity` process (the bench runs longer than lan-hosts.ts's 15-minute
// holders), joined by a veth pair to one bridge in the bench's namespace. The bench reads a
// host's packet counters on the bridge side of its veth, so nothing runs inside the host for it.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'

export function ip(args: string[], pid?: number): string {
  const [cmd, argv] = pid === undefined ? ['ip', args] : ['nsenter', ['-t', String(pid), '-n', '--', 'ip', ...args]]
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10_000 })
  if (result.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${result.stderr || result.error?.message}`)
  return result.stdout
}

export class LabNet {
  private readonly tag = randomBytes(2).toString('hex')
  readonly bridge = `glb${this.tag}`
  private readonly hosts: LabHost[] = []

  /** A bridge on `<subnet>.0/24`; this namespace gets `<subnet>.1` on it (the DHT testnet binds there). */
  constructor(readonly subnet: string) {
    ip(['link', 'add', this.bridge, 'type', 'bridge'])
    ip(['addr', 'add', `${subnet}.1/24`, 'dev', this.bridge])
    ip(['link', 'set', this.bridge, 'up'])
  }

  get gateway(): string {
    return `${this.subnet}.1`
  }

  async host(name: string, octet: number): Promise<LabHost> {
    const holder = spawn('unshare', ['-n', 'sleep', 'infinity'], { stdio: 'ignore' })
    const pid = holder.pid
    if (pid === undefined) throw new Error('could not start a network namespace holder')
    const host = new LabHost(name, holder, pid, `glv${this.tag}${this.hosts.length}`, `${this.subnet}.${octet}`)
    this.hosts.push(host)
    const self = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout
    const deadline = Date.now() + 5000
    while (spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).stdout === self) {
      if (Date.now() > deadline) throw new Error('namespace holder did not start')
      await new Promise((r) => setTimeout(r, 20))
    }
    ip(['link', 'add', host.outerLink, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', String(pid)])
    ip(['link', 'set', 'lo', 'up'], pid)
    ip(['addr', 'add', `${host.address}/24`, 'dev', 'lan0'], pid)
    ip(['link', 'set', 'lan0', 'up'], pid)
    ip(['link', 'set', host.outerLink, 'master', this.bridge])
    ip(['link', 'set', host.outerLink, 'up'])
    return host
  }

  destroy(): void {
    for (const host of this.hosts.splice(0)) host.destroy()
    try {
      ip(['link', 'del', this.bridge])
    } catch {
      // already gone
    }
  }
}

export class LabHost {
  private readonly children = new Set<ChildProcess>()

  constructor(
    readonly name: string,
    private readonly holder: ChildProcess,
    readonly pid: number,
    /** The veth end on the bridge: its rx counts what the host sent, its tx what it received. */
    readonly outerLink: string,
    readonly address: string
  ) {}

  /** Runs `command args` in this host (nsenter execs it: the child's pid is the command's). */
  spawn(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('nsenter', ['-t', String(this.pid), '-n', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Packets through the host's cable, both ways (from the bridge side's counters). */
  packets(): { sent: number; received: number } {
    // /proc/net/dev is this namespace's (sysfs shows the namespace that mounted it).
    const row = readFileSync('/proc/net/dev', 'utf8').split('\n').find((l) => l.trim().startsWith(`${this.outerLink}:`))
    if (!row) throw new Error(`no counters for ${this.outerLink}`)
    const f = row.split(':')[1]!.trim().split(/\s+/).map(Number)
    // receive: bytes packets …(8 columns); transmit: bytes packets …
    return { sent: f[1]!, received: f[9]! }
  }

  destroy(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    if (this.holder.exitCode === null && this.holder.signalCode === null) this.holder.kill('SIGKILL')
  }
}
