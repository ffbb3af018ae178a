// The preload of the Grove window (sandboxed, contextIsolation on). It exposes exactly the API
// contract as `window.grove` and nothing else of Electron:
//   grove.call(name, args) → Promise<CallOutcome>   only names in the contract; one IPC channel each
//   grove.on(event, listener) → unsubscribe          only event names in the contract; payload only
//   grove.pathForFile(file) → string                 the path of a File the person picked or dropped
//   grove.transport === 'electron'
// ipcRenderer itself never reaches the page. Built as one CommonJS file (dist/main/electron/
// preload.cjs, `npm run build:preload`): a sandboxed preload cannot import ES modules.
import { contextBridge, ipcRenderer, webUtils } from 'electron'
import { CALL_CHANNEL_PREFIX, CALL_NAME_LIST, EVENT_CHANNEL, EVENT_NAME_LIST } from './channels.js'

type Listener = (payload: unknown) => void

const calls: ReadonlySet<string> = new Set(CALL_NAME_LIST)
const events: ReadonlySet<string> = new Set(EVENT_NAME_LIST)
const listeners = new Map<string, Set<Listener>>()

ipcRenderer.on(EVENT_CHANNEL, (_event, message: unknown) => {
  if (typeof message !== 'object' || message === null) return
  const { event, payload } = message as { event?: unknown; payload?: unknown }
  if (typeof event !== 'string' || !events.has(event)) return
  for (const listener of [...(listeners.get(event) ?? [])]) {
    try {
      listener(payload)
    } catch (err) {
      console.error(`grove: a ${event} listener failed`, err)
    }
  }
})

const bridge = {
  transport: 'electron' as const,

  call(name: unknown, args?: unknown): Promise<unknown> {
    if (typeof name !== 'string' || !calls.has(name)) {
      return Promise.resolve({ ok: false, error: { code: 'BAD_INPUT', message: `Unknown call "${String(name).slice(0, 100)}"` } })
    }
    return ipcRenderer.invoke(CALL_CHANNEL_PREFIX + name, args)
  },

  on(event: unknown, listener: unknown): () => void {
    if (typeof event !== 'string' || !events.has(event)) throw new TypeError(`Unknown event "${String(event).slice(0, 100)}"`)
    if (typeof listener !== 'function') throw new TypeError('The listener must be a function')
    const fn = listener as Listener
    let set = listeners.get(event)
    if (!set) listeners.set(event, (set = new Set()))
    set.add(fn)
    return () => {
      set.delete(fn)
    }
  },

  pathForFile(file: Parameters<typeof webUtils.getPathForFile>[0]): string {
    return webUtils.getPathForFile(file)
  }
}

contextBridge.exposeInMainWorld('grove', bridge)
