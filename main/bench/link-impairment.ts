// Delay and loss on a bench host's upload, for kernels without `sch_netem` (this project's
// machines have only tbf, htb and pfifo: no netem, no tc actions, no netfilter). A small Python
// relay owns a TUN device in the host's namespace; the host's route to the lab subnet points into
// it, the relay holds each packet for the delay (dropping a share of them) and writes it back, and
// a policy rule forwards what comes out of the TUN onto the host's cable, where tbf still shapes
// it. Python because opening a TUN needs an ioctl that Node does not offer; the relay forwards
// about 40 MB/s on one core, above every shaped profile of the benches.
import type { ChildProcess } from 'node:child_process'
import { spawnSync } from 'node:child_process'
import { createInterface, type Interface } from 'node:readline'
import { ip, type LabHost } from './lab-hosts.js'

const RELAY = String.raw`
import collections, fcntl, os, random, select, struct, sys, time
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', sys.argv[1].encode(), IFF_TUN | IFF_NO_PI))
os.set_blocking(fd, False)
rng = random.Random(int(sys.argv[2]))
delay, loss, held, control = 0.0, 0.0, collections.deque(), b''
print('ready', flush=True)
while True:
    timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
    readable = select.select([fd, 0], [], [], timeout)[0]
    if 0 in readable:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        control += chunk
        while b'\n' in control:
            line, control = control.split(b'\n', 1)
            d, l = line.split()
            delay, loss = float(d) / 1000, float(l)
            print('set', flush=True)
    if fd in readable:
        for _ in range(512):
            try:
                packet = os.read(fd, 65536)
            except BlockingIOError:
                break
            if loss == 0 or rng.random() >= loss:
                held.append((time.monotonic() + delay, packet))
    now = time.monotonic()
    while held and held[0][0] <= now:
        try:
            os.write(fd, held.popleft()[1])
        except OSError:
            pass
`

const TUN = 'imp0'
/** The table that routes what leaves the relay onto the cable. */
const CABLE_TABLE = '100'

/** One host's impaired upload: `set()` changes delay and loss in place; `off` routes around the relay. */
export class LinkImpairment {
  private routed = false
  private readonly answers: Array<() => void> = []

  private constructor(private readonly host: LabHost, private readonly subnet: string, private readonly relay: ChildProcess, lines: Interface) {
    lines.on('line', (line) => {
      if (line === 'set') this.answers.shift()?.()
    })
  }

  /** Starts the relay in `host` (its cable is `lan0` on `<subnet>.0/24`); traffic bypasses it until `set()`. */
  static async start(host: LabHost, subnet: string, seed: number): Promise<LinkImpairment> {
    const relay = host.spawn('python3', ['-c', RELAY, TUN, String(seed)], { stdio: ['pipe', 'pipe', 'pipe'] })
    const lines = createInterface({ input: relay.stdout! })
    let stderr = ''
    relay.stderr!.setEncoding('utf8').on('data', (t: string) => { stderr = (stderr + t).slice(-2000) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`link relay in ${host.name} did not start within 10 s: ${stderr}`)), 10_000)
      relay.once('exit', (code) => { clearTimeout(timer); reject(new Error(`link relay in ${host.name} exited (${code}): ${stderr}`)) })
      lines.once('line', () => { clearTimeout(timer); resolve() })
    })
    relay.removeAllListeners('exit')
    const impairment = new LinkImpairment(host, subnet, relay, lines)
    const pid = host.pid
    ip(['link', 'set', TUN, 'up'], pid)
    sysctl(pid, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', `net.ipv4.conf.${TUN}.rp_filter=0`,
      // The relay writes back packets that carry the host's own source address.
      `net.ipv4.conf.${TUN}.accept_local=1`])
    ip(['route', 'add', `${subnet}.0/24`, 'dev', 'lan0', 'src', host.address, 'table', CABLE_TABLE], pid)
    ip(['rule', 'add', 'iif', TUN, 'lookup', CABLE_TABLE, 'pref', '100'], pid)
    return impairment
  }

  /** Holds every packet the host sends for `delayMs` and drops `loss` (0–1) of them; 0/0 bypasses the relay. */
  async set(delayMs: number, loss: number): Promise<void> {
    if (!(delayMs >= 0 && delayMs <= 1000) || !(loss >= 0 && loss < 1)) throw new Error(`delay ${delayMs} ms / loss ${loss}: out of range`)
    const answered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`link relay in ${this.host.name} did not take the new setting within 10 s`)), 10_000)
      this.answers.push(() => { clearTimeout(timer); resolve() })
    })
    this.relay.stdin!.write(`${delayMs} ${loss}\n`)
    await answered
    const through = delayMs > 0 || loss > 0
    if (through === this.routed) return
    const pid = this.host.pid
    const route = `${this.subnet}.0/24`
    // The connected route on the cable and the route into the relay swap places in the main table.
    if (through) {
      ip(['route', 'del', route, 'dev', 'lan0'], pid)
      ip(['route', 'add', route, 'dev', TUN, 'src', this.host.address], pid)
    } else {
      ip(['route', 'del', route, 'dev', TUN], pid)
      ip(['route', 'add', route, 'dev', 'lan0', 'src', this.host.address], pid)
    }
    this.routed = through
  }

  stop(): void {
    this.relay.stdin!.end()
    this.relay.kill('SIGKILL')
  }
}

function sysctl(pid: number, settings: string[]): void {
  const result = spawnSync('nsenter', ['-t', String(pid), '-n', '--', 'sysctl', '-qw', ...settings], { encoding: 'utf8', timeout: 10_000 })
  if (result.status !== 0) throw new Error(`sysctl ${settings.join(' ')}: ${result.stderr || result.error?.message}`)
}
