// The child side of a worker process (spawn.ts starts them): its channel to the parent, whether
// it was started with `child_process.fork` (the CLI, `grove serve`) or Electron's
// `utilityProcess.fork` (the desktop app).

export interface ParentPort<Message> {
  send(message: Message): void
  onMessage(listener: (message: unknown) => void): void
}

/** Electron's `process.parentPort` in a utility process (typed here: main/ must not need electron). */
interface ElectronParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}

/** The channel to the parent; a process started any other way says so and exits. */
export function parentPort<Message>(who: string): ParentPort<Message> {
  const electron = (process as NodeJS.Process & { parentPort?: ElectronParentPort }).parentPort
  if (electron) {
    return { send: (m) => electron.postMessage(m), onMessage: (l) => electron.on('message', (e) => l(e.data)) }
  }
  if (process.send) {
    return {
      send: (m) => {
        if (process.connected) process.send?.(m)
      },
      onMessage: (l) => process.on('message', l)
    }
  }
  process.stderr.write(`${who}: start me with child_process.fork or utilityProcess.fork\n`)
  process.exit(2)
}
