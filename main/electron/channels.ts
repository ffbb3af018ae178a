// The IPC channel table, shared by the preload and the main process. Plain data with no imports
// at run time (the sandboxed preload bundles it; zod stays out of the renderer), checked against
// the contract's names at compile time here and at run time by the tests.
//
// One `ipcMain.handle` channel per call: `grove:call:<call name>`, invoked with one argument
// (the call's arguments) and answering a CallOutcome. Events come on one channel,
// `grove:event`, as `{ event, payload }`.
import type { CallName, EventName } from '../../shared/api.js'

export const CALL_CHANNEL_PREFIX = 'grove:call:'
export const EVENT_CHANNEL = 'grove:event'

export const CALL_NAME_LIST = [
  'app.info',
  'library.list',
  'library.share',
  'library.setSeeding',
  'library.reclaim',
  'catalog.search',
  'model.get',
  'lineage.get',
  'rooms.list',
  'rooms.join',
  'rooms.leave',
  'peers.list',
  'transfers.list',
  'transfers.start',
  'transfers.pause',
  'transfers.resume',
  'license.accept',
  'chat.fit',
  'chat.start',
  'chat.stop'
] as const satisfies readonly CallName[]

export const EVENT_NAME_LIST = ['peers', 'transfer', 'library', 'catalog', 'chat.token', 'chat.done', 'chat.error'] as const satisfies readonly EventName[]

// A call or event added to the contract but not here fails the build.
type MissingCalls = Exclude<CallName, (typeof CALL_NAME_LIST)[number]>
type MissingEvents = Exclude<EventName, (typeof EVENT_NAME_LIST)[number]>
export const CHANNELS_COMPLETE: [MissingCalls, MissingEvents] extends [never, never] ? true : never = true

export function callChannel(name: CallName): string {
  return CALL_CHANNEL_PREFIX + name
}
