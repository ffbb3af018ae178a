// The `grove` command line (DESIGN.md, "The command line"): one commander program, a module
// per group of commands. Errors end as one line on stderr and a non-zero exit status. When a
// Grove service already owns the home, the parsed command is carried out by it (./forward.ts);
// the service runs the very same program for it (runForwarded), so output and exit status match.
import { Command, CommanderError } from 'commander'
import { GroveError, toErrorPayload } from '../../shared/errors.js'
import { resolveHome } from '../core/home.js'
import { processIO, type CommandIO } from './command-io.js'
import { CommandContext, type GlobalOptions, type ServiceCommand } from './context.js'
import { tuneHeapForTransfers } from '../core/heap-tuning.js'
import { registerBootstrap } from './commands/bootstrap.js'
import { registerFetch } from './commands/fetch.js'
import { registerLibrary } from './commands/library.js'
import { registerSeed } from './commands/seed.js'
import { registerService } from './commands/service.js'
import { registerShare } from './commands/share.js'
import { registerCatalog } from './commands/catalog.js'
import { registerRun } from './commands/run.js'
import { registerRooms } from './commands/rooms.js'
import { registerServe } from './commands/serve.js'
import { findService, forwardCommand } from './forward.js'
import type { ForwardedRunner } from './service-host.js'
import { inertLine } from './terminal-text.js'

/** Commands that never need the home, so never go to a service. */
const LOCAL_ONLY = new Set(['bootstrap'])

interface ProgramSetting {
  io: CommandIO
  /** Set when the service runs the program for a client. */
  inService?: ServiceCommand
  /** The command line as given (after `grove`), to forward. */
  args?: string[]
}

/** Thrown by the forwarding hook: the command ran in the service and ended with this status. */
class Forwarded extends Error {
  constructor(readonly exitCode: number) {
    super('forwarded')
  }
}

const contexts = new WeakMap<Command, () => CommandContext | undefined>()

export function buildProgram(setting: ProgramSetting = { io: processIO() }): Command {
  const program = new Command('grove')
    .description('Share, fetch, fork and run open models (GGUF) and LoRA adapters peer to peer')
    .option('--home <dir>', 'Grove home (default: $GROVE_HOME or the per-user data folder)')
    .option('--bootstrap <list>', 'DHT bootstrap nodes host:port,... (replaces the public ones)')
    .option('--room <name>', 'join this named room instead of the public one (repeatable; "public" for the public room)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--room-secret <secret>', 'join the private room this secret names (share the secret only with invited peers)')
    .option('--lan', 'LAN mode: find peers on this network by mDNS; no internet needed or used')
    .option('--tcp-port <port>', 'TCP port for direct links to peers that can reach this one (default: any free port)')
    .option('--no-tcp', 'never open direct TCP links: exchange data over the holepunched UDP connection only')
    .option('--json', 'machine-readable JSON on stdout')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (text) => setting.io.stdout(text), writeErr: (text) => setting.io.stderr(text) })
  let context: CommandContext | undefined
  const getContext = () => (context ??= new CommandContext(program.opts<GlobalOptions>(), setting.io, setting.inService, runForwarded))
  contexts.set(program, () => context)
  registerShare(program, getContext)
  registerFetch(program, getContext)
  registerSeed(program, getContext)
  registerLibrary(program, getContext)
  registerCatalog(program, getContext)
  registerRooms(program, getContext)
  registerRun(program, getContext)
  registerServe(program, getContext)
  registerService(program, getContext)
  registerBootstrap(program, getContext)
  const args = setting.args
  if (!setting.inService && args) {
    program.hook('preAction', async (_program, action) => {
      const words = commandWords(action)
      if (LOCAL_ONLY.has(words[0] ?? '')) return
      const connection = await findService(resolveHome(program.opts<GlobalOptions>().home))
      if (!connection) return
      const readsStdin = words[0] === 'run' && action.opts<{ prompt?: string }>().prompt === '-'
      const title = [...words, ...action.args.slice(0, 1)].join(' ')
      throw new Forwarded(await forwardCommand(connection, args, { title, readsStdin, waitForStop: words[0] === 'stop' }))
    })
  }
  return program
}

/** Runs the command line `args` (what follows `grove`) and gives the exit status. */
export async function runProgram(args: string[], setting: Omit<ProgramSetting, 'args'>): Promise<number> {
  const program = buildProgram({ ...setting, args })
  try {
    await program.parseAsync(args, { from: 'user' })
    return contexts.get(program)?.()?.exitCode ?? 0
  } catch (err) {
    if (err instanceof Forwarded) return err.exitCode
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const { code, message } = toErrorPayload(err)
    // Messages carry names, paths and links from peers and files.
    setting.io.stderr(`grove: ${inertLine(oneLine(message))}\n`)
    if (!(err instanceof GroveError) && process.env.GROVE_DEBUG) console.error(err)
    return code === 'BAD_INPUT' || code === 'BAD_LINK' ? 2 : 1
  }
}

export async function main(argv: string[]): Promise<number> {
  tuneHeapForTransfers()
  return runProgram(argv.slice(2), { io: processIO() })
}

/** The service runs a client's command with the client's streams, folder and terminal (the CLI's own service, and the desktop app's). */
export const runForwarded: ForwardedRunner = (command, streams, signal, host) =>
  runProgram(command.argv, {
    io: { ...streams, interactive: command.interactive, columns: command.columns, cwd: command.cwd, stdin: command.stdin },
    inService: { host, signal }
  })

function commandWords(command: Command): string[] {
  const words: string[] = []
  for (let c: Command | null = command; c?.parent; c = c.parent) words.unshift(c.name())
  return words
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
