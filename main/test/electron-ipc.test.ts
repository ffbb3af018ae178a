// The Electron transport without Electron (its binary is not installed here): the IPC handlers
// with fake ipcMain/frames (a foreign sender or a bad argument is refused), the built preload
// run in a VM with a fake `electron` (it exposes only the contract), and the start-up checks.
// The real shell (main/electron/app.ts) is checked for its settings; the window's URL,
// navigation and permission policy is in electron-policy.test.ts.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, test } from 'node:test'
import vm from 'node:vm'
import { CALL_NAMES, EVENT_NAMES, type CallName, type CallOutcome } from '../../shared/api.js'
import { GroveApi } from '../api/api.js'
import type { ApiEndpoint, ApiEvent, ApiEventListener } from '../api/events.js'
import { CALL_CHANNEL_PREFIX, CALL_NAME_LIST, EVENT_CHANNEL, EVENT_NAME_LIST, callChannel } from '../electron/channels.js'
import { checkSodium } from '../electron/checks.js'
import { isAppPageUrl } from '../electron/policy.js'
import { forwardEvents, handleCall, registerIpc, senderRefusal, type FrameLike, type InvokeEventLike, type IpcMainLike, type TrustedSender } from '../electron/ipc.js'
import { InferenceService } from '../inference/service.js'
import { Harness, REPO_ROOT } from '../testing/harness.js'

const RENDERER_DIR = join(REPO_ROOT, 'renderer', 'dist')
const APP_URL = pathToFileURL(join(RENDERER_DIR, 'index.html')).href

class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>()
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void {
    assert.ok(!this.handlers.has(channel), `${channel} registered twice`)
    this.handlers.set(channel, listener)
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel)
  }
  invoke(channel: string, event: InvokeEventLike, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel)
    assert.ok(handler, `no handler for ${channel}`)
    return handler(event, ...args)
  }
}

function frame(url: string, parent: FrameLike | null = null): FrameLike {
  return { url, parent }
}

const h = new Harness()
let api: GroveApi
after(() => h.teardown())
before(async () => {
  const grove = await h.grove({ network: false })
  const inference = new InferenceService({ gpu: false })
  h.onTeardown(() => inference.close())
  api = await GroveApi.create({ grove, inference, transport: 'electron' })
  h.onTeardown(() => api.close())
})

describe('IPC handlers', () => {
  const ourContents = { id: 1 }
  const mainFrame = frame(`${APP_URL}#/library`)
  const trusted: TrustedSender = { webContents: ourContents, mainFrame, appUrl: APP_URL }
  const ours: InvokeEventLike = { sender: ourContents, senderFrame: mainFrame }

  test('the channel table is exactly the contract', () => {
    assert.deepEqual([...CALL_NAME_LIST].sort(), [...CALL_NAMES].sort())
    assert.deepEqual([...EVENT_NAME_LIST].sort(), [...EVENT_NAMES].sort())
    assert.equal(callChannel('app.info'), 'grove:call:app.info')
    assert.equal(EVENT_CHANNEL, 'grove:event')
  })

  test('one handler per call; removing them removes all', () => {
    const ipc = new FakeIpcMain()
    const remove = registerIpc(ipc, api, () => trusted)
    assert.deepEqual([...ipc.handlers.keys()].sort(), CALL_NAMES.map((n) => CALL_CHANNEL_PREFIX + n).sort())
    remove()
    assert.equal(ipc.handlers.size, 0)
  })

  test('a foreign sender is refused before the API sees the call', async () => {
    let dispatched = 0
    const spy: ApiEndpoint = {
      dispatch: async (name, args) => {
        dispatched++
        return api.dispatch(name, args)
      },
      onEvent: (listener) => api.onEvent(listener)
    }
    const ipc = new FakeIpcMain()
    registerIpc(ipc, spy, () => trusted)
    const foreign: Array<[string, InvokeEventLike]> = [
      ['another webContents', { sender: { id: 2 }, senderFrame: frame(APP_URL) }],
      ['a subframe of our page', { sender: ourContents, senderFrame: frame(APP_URL, mainFrame) }],
      ['a remote page in our window', { sender: ourContents, senderFrame: frame('https://evil.example/') }],
      ['another local file', { sender: ourContents, senderFrame: frame(pathToFileURL('/tmp/evil.html').href) }],
      ['a frame that is gone', { sender: ourContents, senderFrame: null }],
      ['a stale main frame object', { sender: ourContents, senderFrame: frame(APP_URL) }]
    ]
    for (const [what, event] of foreign) {
      const outcome = (await ipc.invoke(callChannel('library.list'), event, {})) as CallOutcome<CallName>
      assert.equal(outcome.ok, false, what)
      if (!outcome.ok) assert.equal(outcome.error.code, 'FORBIDDEN', what)
    }
    const closed = await handleCall(spy, null, 'app.info', ours, [{}])
    assert.equal(closed.ok, false, 'no window, no calls')
    assert.equal(dispatched, 0)
    const allowed = (await ipc.invoke(callChannel('app.info'), ours, {})) as CallOutcome<'app.info'>
    assert.equal(allowed.ok, true)
    if (allowed.ok) assert.equal(allowed.result.transport, 'electron')
    assert.equal(dispatched, 1)
    assert.equal(senderRefusal(ours, trusted), null)
  })

  test('a bad argument is refused with BAD_INPUT', async () => {
    const ipc = new FakeIpcMain()
    registerIpc(ipc, api, () => trusted)
    const cases: Array<[CallName, unknown[]]> = [
      ['library.setSeeding', [{ link: 'https://example.com/model', seeding: true }]],
      ['library.setSeeding', [{ link: `grove://${'a'.repeat(64)}` }]],
      ['library.list', [{ unexpected: 1 }]],
      ['library.share', [{ path: '' }]],
      ['rooms.leave', [{ id: '../../etc' }]],
      ['chat.start', [{ link: `grove://${'a'.repeat(64)}`, messages: [] }]],
      ['catalog.search', [{ limit: 1e9 }]],
      ['app.info', ['not an object']],
      ['app.info', [{}, 'a second argument']]
    ]
    for (const [name, args] of cases) {
      const outcome = (await ipc.invoke(callChannel(name), ours, ...args)) as CallOutcome<CallName>
      assert.equal(outcome.ok, false, `${name} ${JSON.stringify(args)}`)
      if (!outcome.ok) assert.equal(outcome.error.code, 'BAD_INPUT', `${name} ${JSON.stringify(args)}: ${outcome.error.message}`)
    }
    const unknown = await api.dispatch('shell.openExternal', { url: 'https://example.com' })
    assert.deepEqual(unknown, { ok: false, error: { code: 'BAD_INPUT', message: 'Unknown call "shell.openExternal"' } })
  })

  test('events go to the window on one channel, and stop when unsubscribed', () => {
    const sent: Array<[string, ApiEvent]> = []
    let listener: ApiEventListener | null = null
    const source: ApiEndpoint = {
      dispatch: (name, args) => api.dispatch(name, args),
      onEvent: (l) => {
        listener = l
        return () => {
          listener = null
        }
      }
    }
    let destroyed = false
    const stop = forwardEvents(source, () => ({ isDestroyed: () => destroyed, send: (channel, message) => sent.push([channel, message]) }))
    const message: ApiEvent = { event: 'catalog', payload: { size: 3 } }
    listener!(message)
    destroyed = true
    listener!(message)
    assert.deepEqual(sent, [[EVENT_CHANNEL, message]])
    stop()
    assert.equal(listener, null)
  })

  test('the app page is our index.html on file:// with any route', () => {
    assert.ok(isAppPageUrl(`${APP_URL}#/models/x`, APP_URL))
    assert.ok(isAppPageUrl(`${APP_URL}?a=1`, APP_URL))
    assert.ok(!isAppPageUrl(pathToFileURL(join(RENDERER_DIR, 'other.html')).href, APP_URL))
    assert.ok(!isAppPageUrl(APP_URL.replace('file:', 'https:'), APP_URL))
    assert.ok(!isAppPageUrl('not a url', APP_URL))
    assert.ok(!isAppPageUrl(`${APP_URL.replace('index.html', '%E0%A4%A')}`, APP_URL), 'a malformed escape is refused, not thrown')
  })
})

describe('the preload (dist/main/electron/preload.cjs)', () => {
  interface Bridge {
    transport: string
    call(name: unknown, args?: unknown): Promise<unknown>
    on(event: unknown, listener: unknown): () => void
    pathForFile(file: unknown): string
  }
  let exposed: Record<string, unknown> = {}
  const invoked: Array<[string, unknown]> = []
  let deliver: ((event: unknown, message: unknown) => void) | null = null

  before(async () => {
    const code = await readFile(join(REPO_ROOT, 'dist', 'main', 'electron', 'preload.cjs'), 'utf8')
    const required: string[] = []
    const electron = {
      contextBridge: {
        exposeInMainWorld: (key: string, value: unknown) => {
          exposed[key] = value
        }
      },
      ipcRenderer: {
        invoke: async (channel: string, args: unknown) => {
          invoked.push([channel, args])
          return { ok: true, result: 'fake' }
        },
        on: (channel: string, listener: (event: unknown, message: unknown) => void) => {
          assert.equal(channel, EVENT_CHANNEL)
          deliver = listener
        }
      },
      webUtils: { getPathForFile: (file: unknown) => `/picked/${String((file as { name: string }).name)}` }
    }
    const sandboxRequire = (id: string) => {
      required.push(id)
      if (id !== 'electron') throw new Error(`a sandboxed preload cannot require ${id}`)
      return electron
    }
    exposed = {}
    vm.runInNewContext(code, { require: sandboxRequire, module: { exports: {} }, exports: {}, console, Promise, Set, Map, TypeError, String })
    assert.deepEqual(required, ['electron'], 'the bundle needs nothing but electron')
  })

  test('exposes only window.grove with call, on, pathForFile and the transport name', () => {
    assert.deepEqual(Object.keys(exposed), ['grove'])
    const bridge = exposed.grove as Bridge
    assert.deepEqual(Object.keys(bridge).sort(), ['call', 'on', 'pathForFile', 'transport'])
    assert.equal(bridge.transport, 'electron')
    assert.ok(!JSON.stringify(Object.keys(bridge)).includes('ipcRenderer'))
  })

  test('call forwards contract names on their own channel and refuses any other name', async () => {
    const bridge = exposed.grove as Bridge
    assert.deepEqual(await bridge.call('app.info', {}), { ok: true, result: 'fake' })
    assert.deepEqual(invoked.at(-1), ['grove:call:app.info', {}])
    const before = invoked.length
    for (const name of ['shell.openExternal', '__proto__', 'app.info/../x', 42, undefined]) {
      const outcome = (await bridge.call(name, {})) as { ok: boolean; error: { code: string } }
      assert.equal(outcome.ok, false)
      assert.equal(outcome.error.code, 'BAD_INPUT')
    }
    assert.equal(invoked.length, before, 'nothing unknown reached IPC')
  })

  test('on accepts only contract events and hands listeners the payload alone', () => {
    const bridge = exposed.grove as Bridge
    assert.throws(() => bridge.on('ipc-message', () => {}), TypeError)
    assert.throws(() => bridge.on('peers', 'not a function'), TypeError)
    const got: unknown[] = []
    const off = bridge.on('catalog', (payload: unknown) => got.push(payload))
    deliver!({ sender: 'the IpcRendererEvent must not leak' }, { event: 'catalog', payload: { size: 2 } })
    deliver!({}, { event: 'not-an-event', payload: 1 })
    deliver!({}, 'garbage')
    off()
    deliver!({}, { event: 'catalog', payload: { size: 3 } })
    assert.deepEqual(got, [{ size: 2 }])
    assert.equal(bridge.pathForFile({ name: 'model.gguf' }), '/picked/model.gguf')
  })
})

describe('the shell', () => {
  test("sodium-native's secure memory works here (the app checks the same at start)", () => {
    assert.deepEqual(checkSodium(), { ok: true })
  })

  test('the shell keeps its security settings', async () => {
    const app = await readFile(join(REPO_ROOT, 'main', 'electron', 'app.ts'), 'utf8')
    for (const setting of ['sandbox: true', 'contextIsolation: true', 'nodeIntegration: false', 'webSecurity: true', 'webviewTag: false']) {
      assert.ok(app.includes(setting), setting)
    }
    for (const guard of ['requestSingleInstanceLock()', 'enableSandbox()', "'will-navigate'", 'setWindowOpenHandler', "'will-attach-webview'", 'setPermissionRequestHandler', 'onBeforeRequest', 'onHeadersReceived', 'event.preventDefault()', 'app.exit(']) {
      assert.ok(app.includes(guard), guard)
    }
    assert.ok(!/nodeIntegration:\s*true|webSecurity:\s*false|contextIsolation:\s*false|sandbox:\s*false/.test(app))
    const preload = await readFile(join(REPO_ROOT, 'main', 'electron', 'preload.ts'), 'utf8')
    assert.ok(!/exposeInMainWorld\([^)]*ipcRenderer/.test(preload), 'ipcRenderer is never exposed')
  })
})
