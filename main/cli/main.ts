// The `grove` command line (DESIGN.md, "The command line"): one commander program, a module
// per group of commands. Errors end as one line on stderr and a non-zero exit status.
import { Command, CommanderError } from 'commander'
import { GroveError, toErrorPayload } from '../../shared/errors.js'
import { CommandContext, type GlobalOptions } from './context.js'
import { tuneHeapForTransfers } from '../core/heap-tuning.js'
import { registerBootstrap } from './commands/bootstrap.js'
import { registerFetch } from './commands/fetch.js'
import { registerLibrary } from './commands/library.js'
import { registerSeed } from './commands/seed.js'
import { registerShare } from './commands/share.js'
import { registerCatalog } from './commands/catalog.js'
import { registerRun } from './commands/run.js'
import { registerRooms } from './commands/rooms.js'
import { registerServe } from './commands/serve.js'
import { inertLine } from './terminal-text.js'

export function buildProgram(): Command {
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
  let context: CommandContext | undefined
  const getContext = () => (context ??= new CommandContext(program.opts<GlobalOptions>()))
  registerShare(program, getContext)
  registerFetch(program, getContext)
  registerSeed(program, getContext)
  registerLibrary(program, getContext)
  registerCatalog(program, getContext)
  registerRooms(program, getContext)
  registerRun(program, getContext)
  registerServe(program, getContext)
  registerBootstrap(program, getContext)
  return program
}

export async function main(argv: string[]): Promise<number> {
  tuneHeapForTransfers()
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const { code, message } = toErrorPayload(err)
    // Messages carry names, paths and links from peers and files.
    process.stderr.write(`grove: ${inertLine(oneLine(message))}\n`)
    if (!(err instanceof GroveError) && process.env.GROVE_DEBUG) console.error(err)
    return code === 'BAD_INPUT' || code === 'BAD_LINK' ? 2 : 1
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
