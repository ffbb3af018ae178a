// Simulated LANs for the offline-LAN tests: Linux bridges (the switches) and hosts, each host a
// network namespace of its own (held open by an `unshare -n sleep` process, so nothing is named
// globally and everything vanishes with its processes) joined to a bridge by a veth pair. A host
// has one address on its bridge's private /24, a multicast route (for mDNS) and NO default
// route, so it can reach its own LAN and nothing else. Must run inside the test's own network
// namespace (main/testing/in-netns.ts): the bridges are created there.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { GROVE_BIN, GroveProcess, type GroveRun, type Harness } from './harness.js'

export interface Bridge {
  name: string
  /** The /24 prefix, e.g. '10.213.0'. */
  subnet: string
}

/** Whether this process runs in a network namespace made for tests (and may add bridges). */
export function inTestNetns(): boolean {
  return process.env.GROVE_IN_NETNS === '1' && process.getuid?.() === 0
}

function ip(args: string[], pid?: number): string {
  const [cmd, argv] = pid === undefined ? ['ip', args] : ['nsenter', ['-t', String(pid), '-n', '--', 'ip', ...args]]
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10_000 })
  if (result.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${result.stderr || result.error?.message}`)
  return result.stdout
}

export class LanLab {
  private readonly tag = randomBytes(2).toString('hex')
  private readonly bridges: Bridge[] = []
  private readonly hosts: LanHost[] = []
  private count = 0

  constructor(private readonly h: Harness) {
    if (!inTestNetns()) throw new Error('LanLab runs only as root inside the test network namespace (node dist/main/testing/in-netns.js ...)')
    h.onTeardown(() => this.teardown())
  }

  bridge(subnet: string): Bridge {
    const bridge = { name: `gbr${this.tag}${this.bridges.length}`, subnet }
    ip(['link', 'add', bridge.name, 'type', 'bridge'])
    this.bridges.push(bridge)
    ip(['link', 'set', bridge.name, 'up'])
    return bridge
  }

  /** A host on `bridge` at `<subnet>.<octet>`, its interface up and configured. */
  async host(name: string, bridge: Bridge, octet: number): Promise<LanHost> {
    const holder = spawn('unshare', ['-n', 'sleep', '900'], { stdio: 'ignore' })
    const pid = holder.pid
    if (pid === undefined) throw new Error('could not start a network namespace holder')
    const host = new LanHost(this.h, name, holder, pid, `gv${this.tag}${this.count++}`)
    this.hosts.push(host)
    // Wait until `unshare` has made the namespace (the holder's netns differs from ours).
    const deadline = Date.now() + 5000
    while (spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).stdout === spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout) {
      if (Date.now() > deadline) throw new Error('namespace holder did not start')
      await new Promise((r) => setTimeout(r, 20))
    }
    ip(['link', 'add', host.outerLink, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', String(pid)])
    ip(['link', 'set', 'lo', 'up'], pid)
    ip(['link', 'set', 'lan0', 'up'], pid)
    host.attach(bridge, octet)
    ip(['link', 'set', host.outerLink, 'up'])
    return host
  }

  private teardown(): void {
    for (const host of this.hosts.splice(0)) host.destroy()
    for (const bridge of this.bridges.splice(0)) {
      try {
        ip(['link', 'del', bridge.name])
      } catch {
        // already gone
      }
    }
  }
}

export class LanHost {
  address = ''
  bridge: Bridge | null = null

  constructor(
    private readonly h: Harness,
    readonly name: string,
    private readonly holder: ChildProcess,
    readonly pid: number,
    /** The veth end on the bridge (the host's "cable"). */
    readonly outerLink: string
  ) {}

  /** Plugs the host into `bridge` with the address `<subnet>.<octet>/24` (replacing the old one). */
  attach(bridge: Bridge, octet: number): void {
    ip(['link', 'set', this.outerLink, 'master', bridge.name])
    ip(['addr', 'flush', 'dev', 'lan0'], this.pid)
    this.address = `${bridge.subnet}.${octet}`
    this.bridge = bridge
    ip(['addr', 'add', `${this.address}/24`, 'dev', 'lan0'], this.pid)
    ip(['route', 'replace', '224.0.0.0/4', 'dev', 'lan0'], this.pid)
  }

  /** Pulls the cable (the bridge side goes down: the host sees no carrier) or plugs it back. */
  link(up: boolean): void {
    ip(['link', 'set', this.outerLink, up ? 'up' : 'down'])
  }

  /** Sends everything not on the LAN to `gateway` (a router with no uplink: see `ipStats`). */
  defaultRoute(gateway: LanHost): void {
    ip(['route', 'replace', 'default', 'via', gateway.address, 'dev', 'lan0'], this.pid)
  }

  /**
   * The host's IPv4 counters (/proc/net/snmp "Ip:"). On a gateway that does not forward,
   * `InAddrErrors` counts the packets other hosts sent it for addresses beyond the LAN.
   */
  ipStats(): Record<string, number> {
    const result = spawnSync('nsenter', ['-t', String(this.pid), '-n', '--', 'cat', '/proc/net/snmp'], { encoding: 'utf8', timeout: 10_000 })
    const [names, values] = result.stdout.split('\n').filter((l) => l.startsWith('Ip:'))
    const keys = names?.split(/\s+/).slice(1) ?? []
    const numbers = values?.split(/\s+/).slice(1).map(Number) ?? []
    return Object.fromEntries(keys.map((k, i) => [k, numbers[i] ?? NaN]))
  }

  /** `ip ...` inside the host. */
  ip(args: string[]): string {
    return ip(args, this.pid)
  }

  /** Starts `grove <args>` inside this host; killed at teardown if still running. */
  spawnGrove(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): GroveProcess {
    const child = spawn('nsenter', ['-t', String(this.pid), '-n', '--', process.execPath, GROVE_BIN, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const proc = new GroveProcess(child)
    this.h.onTeardown(() => proc.kill('SIGKILL'))
    return proc
  }

  runGrove(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<GroveRun> {
    return this.spawnGrove(args, opts).finished(opts.timeoutMs ?? 60_000)
  }

  destroy(): void {
    if (this.holder.exitCode === null && this.holder.signalCode === null) this.holder.kill('SIGKILL')
  }
}
