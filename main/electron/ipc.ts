// The main-process side of the Electron transport, without importing electron (app.ts passes
// in `ipcMain` and the window; the tests pass fakes). Every call is checked before it reaches
// the API: the sender must be our window's top frame showing our own file:// page; then the
// API's dispatch validates the arguments against the contract. Refusals travel as CallOutcome
// errors (`{ ok: false, error: { code, message } }`), like every other failure.
import type { CallName, CallOutcome } from '../../shared/api.js'
import type { ApiEndpoint, ApiEvent } from '../api/events.js'
import { CALL_NAME_LIST, EVENT_CHANNEL, callChannel } from './channels.js'
import { isAppPageUrl } from './policy.js'

/** The parts of Electron's WebFrameMain the check reads. */
export interface FrameLike {
  readonly url: string
  readonly parent: FrameLike | null
}

/** The parts of Electron's IpcMainInvokeEvent the check reads. */
export interface InvokeEventLike {
  readonly sender: unknown
  readonly senderFrame: FrameLike | null
}

/** The parts of Electron's ipcMain used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void
  removeHandler(channel: string): void
}

/** Who may call: our window's webContents, its current main frame, and the page it must show. */
export interface TrustedSender {
  webContents: unknown
  mainFrame: FrameLike | null
  /** The app page's file:// URL (renderer/dist/index.html). */
  appUrl: string
}

/** Why a sender is refused, or null when it is our window's own top frame on our page. */
export function senderRefusal(event: InvokeEventLike, trusted: TrustedSender | null): string | null {
  if (!trusted) return 'the window is gone'
  if (event.sender !== trusted.webContents) return 'not the Grove window'
  const frame = event.senderFrame
  if (!frame) return 'the sending frame is gone'
  if (frame.parent !== null) return 'not the top frame'
  if (trusted.mainFrame !== null && frame !== trusted.mainFrame) return 'not the main frame'
  if (!isAppPageUrl(frame.url, trusted.appUrl)) return 'not the Grove page'
  return null
}

/** Registers one handler per call; returns the function that removes them again. */
export function registerIpc(ipcMain: IpcMainLike, api: ApiEndpoint, trusted: () => TrustedSender | null): () => void {
  for (const name of CALL_NAME_LIST) {
    ipcMain.handle(callChannel(name), (event, ...args) => handleCall(api, trusted(), name, event, args))
  }
  return () => {
    for (const name of CALL_NAME_LIST) ipcMain.removeHandler(callChannel(name))
  }
}

export async function handleCall(api: ApiEndpoint, trusted: TrustedSender | null, name: CallName, event: InvokeEventLike, args: unknown[]): Promise<CallOutcome<CallName>> {
  const refusal = senderRefusal(event, trusted)
  if (refusal) return { ok: false, error: { code: 'FORBIDDEN', message: `Refused ${name}: ${refusal}` } }
  if (args.length > 1) return { ok: false, error: { code: 'BAD_INPUT', message: `${name} takes one argument (an object)` } }
  return api.dispatch(name, args[0])
}

/** The part of Electron's WebContents events are sent through. */
export interface EventTarget {
  isDestroyed(): boolean
  send(channel: string, message: ApiEvent): void
}

/** Pushes every API event to the window; returns the unsubscribe function. */
export function forwardEvents(api: ApiEndpoint, target: () => EventTarget | null): () => void {
  return api.onEvent((message) => {
    const contents = target()
    if (contents && !contents.isDestroyed()) contents.send(EVENT_CHANNEL, message)
  })
}
