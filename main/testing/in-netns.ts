// Runs a command inside a fresh network namespace that has only loopback up. P2P tests and
// benchmarks run there: on these machines a DHT holepunch outside a namespace tries the host's
// external address and stalls, and in a namespace nothing can leave the machine.
//   node dist/main/testing/in-netns.js <command> [args...]
import { spawnSync } from 'node:child_process'

const command = process.argv.slice(2)
if (command.length === 0) {
  process.stderr.write('usage: in-netns <command> [args...]\n')
  process.exit(2)
}

if (process.env.GROVE_IN_NETNS === '1') {
  process.exit(run(command[0]!, command.slice(1)))
}

const script = 'ip link set lo up && exec "$@"'
const env = { ...process.env, GROVE_IN_NETNS: '1' }
// As root a plain network namespace; otherwise one inside a user namespace, where allowed.
for (const flags of [['-n'], ['-r', '-n']]) {
  const probe = spawnSync('unshare', [...flags, 'true'], { stdio: 'ignore' })
  if (probe.status !== 0) continue
  process.exit(run('unshare', [...flags, '--', 'sh', '-c', script, 'in-netns', ...command], env))
}
process.stderr.write('in-netns: cannot create a network namespace (needs root or unprivileged user namespaces, and `unshare` and `ip` from util-linux/iproute2)\n')
process.exit(1)

function run(cmd: string, args: string[], runEnv: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(cmd, args, { stdio: 'inherit', env: runEnv })
  if (result.error) throw result.error
  return result.status ?? (result.signal ? 1 : 0)
}
