// How Grove's worker processes (inference, the GGUF probe) are started. Each service takes a
// spawner so each host picks its own: the CLI and the headless server fork a Node process
// (`forkSpawner`), the Electron app passes `utilityProcess.fork` through `utilityProcessSpawner`
// (typed structurally here, so main/ never imports electron outside the shell).
import { fork } from 'node:child_process'

export interface WorkerExit {
  code: number | null
  signal: string | null
}

/** A running worker, whatever started it; `Request` is what it is sent. */
export interface WorkerHandle<Request = unknown> {
  readonly pid: number | undefined
  send(message: Request): void
  onMessage(listener: (message: unknown) => void): void
  /** Once, after the process has gone and its stderr is drained. */
  onExit(listener: (exit: WorkerExit) => void): void
  /** The worker's stderr (llama.cpp prints its assertion failures there before it aborts). */
  onStderr(listener: (text: string) => void): void
  kill(signal?: NodeJS.Signals): void
}

export interface SpawnOptions {
  entry: string
  args: string[]
  env?: NodeJS.ProcessEnv
  /** V8 flags for the worker (e.g. a heap cap); none are inherited. */
  execArgv?: string[]
}

export type WorkerSpawner = <Request = unknown>(options: SpawnOptions) => WorkerHandle<Request>

/** `child_process.fork`, with no inherited execArgv (node-llama-cpp's self-test forks with them). */
export const forkSpawner: WorkerSpawner = <Request>({ entry, args, env, execArgv }: SpawnOptions): WorkerHandle<Request> => {
  const child = fork(entry, args, {
    execArgv: execArgv ?? [],
    env: env ?? process.env,
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  // The worker writes nothing useful to stdout; keep it out of ours (grove --json output).
  child.stdout?.on('data', (chunk: Buffer) => {
    if (process.env.GROVE_DEBUG) process.stderr.write(chunk)
  })
  child.on('error', () => {
    // a failed send or spawn; 'close' follows and reports the exit
  })
  return {
    get pid() {
      return child.pid
    },
    send(message: Request) {
      if (!child.connected) throw new Error('the worker process is not running')
      child.send(message as object)
    },
    onMessage(listener) {
      child.on('message', listener)
    },
    onExit(listener) {
      child.once('close', (code, signal) => listener({ code, signal }))
    },
    onStderr(listener) {
      child.stderr?.setEncoding('utf8').on('data', listener)
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
  }
}

/** The parts of Electron's UtilityProcess the service uses. */
export interface UtilityProcessLike {
  readonly pid?: number | undefined
  readonly stderr?: NodeJS.ReadableStream | null
  postMessage(message: unknown): void
  on(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'exit', listener: (code: number) => void): unknown
  kill(): boolean
}

export type UtilityForkLike = (
  modulePath: string,
  args?: string[],
  options?: { stdio?: 'pipe' | 'ignore' | 'inherit'; serviceName?: string; env?: NodeJS.ProcessEnv; execArgv?: string[] }
) => UtilityProcessLike

/** Adapts Electron's `utilityProcess.fork` for the service: `new InferenceService({ spawner: utilityProcessSpawner(utilityProcess.fork) })`. */
export function utilityProcessSpawner(forkUtility: UtilityForkLike, serviceName = 'Grove inference'): WorkerSpawner {
  return <Request>({ entry, args, env, execArgv }: SpawnOptions): WorkerHandle<Request> => {
    const child = forkUtility(entry, args, { stdio: 'pipe', serviceName, env, execArgv })
    let exited = false
    child.on('exit', () => {
      exited = true
    })
    return {
      get pid() {
        return child.pid
      },
      send(message: Request) {
        if (exited) throw new Error('the worker process is not running')
        child.postMessage(message)
      },
      onMessage(listener) {
        child.on('message', listener)
      },
      onExit(listener) {
        child.on('exit', (code) => listener({ code, signal: null }))
      },
      onStderr(listener) {
        child.stderr?.on('data', (chunk: Buffer | string) => listener(String(chunk)))
      },
      kill() {
        if (!exited) child.kill()
      }
    }
  }
}
