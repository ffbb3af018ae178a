// The client side of the service model: when a Grove already owns the home, a command is sent to
// it over the home's control channel and carried out there, its output streamed back unchanged,
// its exit status returned; Ctrl-C cancels that command only. With nothing running, the command
// runs in this process as before.
import { homeOwner, isAlive, type HomeLayout } from '../core/home.js'
import { sleep } from '../core/swarm.js'
import { ServiceConnection } from '../service/control-client.js'
import { inertLine } from './terminal-text.js'

/** How long a command waits for a Grove that holds the home but is still starting to answer. */
const STARTING_SERVICE_WAIT_MS = 20_000
/** How long `grove stop` waits for the service to finish stopping. */
const STOP_WAIT_MS = 30_000

/**
 * The service that owns `home`, or null when none does. A process that holds the home but does
 * not answer yet (starting up, or a short command in its own process) is waited for, a while.
 */
export async function findService(home: HomeLayout, waitMs = STARTING_SERVICE_WAIT_MS): Promise<ServiceConnection | null> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const connection = await ServiceConnection.connect(home)
    if (connection) return connection
    if ((await homeOwner(home)) === null || Date.now() > deadline) return null
    await sleep(250)
  }
}

/** Runs `args` (the command line after `grove`) in the service and gives its exit status. */
export async function forwardCommand(connection: ServiceConnection, args: string[], opts: { title: string; readsStdin: boolean; waitForStop: boolean }): Promise<number> {
  const stdin = opts.readsStdin ? await readStdin() : undefined
  const running = connection.runCommand(
    { argv: args, title: opts.title.slice(0, 300), cwd: process.cwd(), interactive: Boolean(process.stderr.isTTY), columns: process.stderr.columns, stdin },
    { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text) }
  )
  let signals = 0
  const onSignal = () => {
    if (++signals > 1) process.exit(130)
    running.cancel()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const code = await running.exit
    if (opts.waitForStop && code === 0) return await waitUntilStopped(connection)
    return code
  } catch (err) {
    process.stderr.write(`grove: ${inertLine((err as Error).message)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    connection.close()
  }
}

async function waitUntilStopped(connection: ServiceConnection): Promise<number> {
  const { pid } = connection.info
  const deadline = Date.now() + STOP_WAIT_MS
  await connection.closed(STOP_WAIT_MS)
  while (isAlive(pid) && Date.now() < deadline) await sleep(100)
  if (!isAlive(pid)) return 0
  process.stderr.write(`grove: Grove (pid ${pid}) is still stopping after ${STOP_WAIT_MS / 1000} s\n`)
  return 1
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

