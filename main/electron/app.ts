// The Electron main process: one Grove window over the same core as `grove serve`. Kept thin:
// the transport logic is in ipc.ts, the URL policy in policy.ts, the API in main/api.
//
// - One instance per user (a second launch focuses the first window).
// - The window is sandboxed with contextIsolation, no nodeIntegration, webSecurity; its preload
//   exposes only the API contract; every IPC call is checked for its sender frame and arguments.
// - It shows only renderer/dist over file://: other requests (WebSockets too) are cancelled,
//   navigation of any frame, redirects and new windows are refused (an https link opens in the
//   person's browser), permissions (but writing the clipboard from our page), devices and screen
//   capture are denied, every response gets a strict CSP. The decisions are in policy.ts.
// - Inference runs in a utility process; quitting waits for the API, then Grove (swarm, drives,
//   store), then the model process to close, in that order, before the app exits.
//
// - One Grove per home: when `grove seed` or `grove serve` already runs on the home, the window
//   talks to it over the home's control socket (main/service) instead of opening the home; else
//   the app is that home's service, and `grove` commands in a terminal are carried out by it.
//
// Environment: GROVE_HOME (the Grove home, as for the CLI), GROVE_BOOTSTRAP (host:port,... DHT
// bootstrap nodes, for offline networks and tests).
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BrowserWindow, app, dialog, ipcMain, session, shell, utilityProcess, type WebContents } from 'electron'
import { toErrorPayload } from '../../shared/errors.js'
import { GroveApi } from '../api/api.js'
import type { ApiEndpoint } from '../api/events.js'
import { runForwarded } from '../cli/main.js'
import { GroveService } from '../cli/service-host.js'
import { Grove } from '../core/grove.js'
import { resolveHome } from '../core/home.js'
import { ServiceConnection } from '../service/control-client.js'
import { tuneHeapForTransfers } from '../core/heap-tuning.js'
import { parseBootstrapList } from '../core/swarm.js'
import { InferenceService } from '../inference/service.js'
import { utilityProcessSpawner } from '../process/spawn.js'
import { checkSodium } from './checks.js'
import { forwardEvents, registerIpc } from './ipc.js'
import { externalUrlAllowed, navigationVerdict, permissionGranted, requestAllowed, withCsp } from './policy.js'

const RENDERER_DIR = join(app.getAppPath(), 'renderer', 'dist')
const RENDERER_INDEX = join(RENDERER_DIR, 'index.html')
const APP_URL = pathToFileURL(RENDERER_INDEX).href
const PRELOAD = fileURLToPath(new URL('./preload.cjs', import.meta.url))
/** Quitting gives up waiting for the resource stack after this long. */
const SHUTDOWN_LIMIT_MS = 20_000

let window: BrowserWindow | null = null
let api: GroveApi | null = null
let grove: Grove | null = null
let service: GroveService | null = null
/** The Grove already running on the home, when this window uses it instead of its own. */
let runningElsewhere: ServiceConnection | null = null
let inference: InferenceService | null = null
const cleanups: Array<() => void> = []
let quitState: 'running' | 'closing' | 'closed' = 'running'

app.enableSandbox()

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    if (!window) return
    if (window.isMinimized()) window.restore()
    window.focus()
  })
  app.on('web-contents-created', (_event, contents) => harden(contents))
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('activate', () => {
    if (!window && (api || runningElsewhere)) window = createWindow()
  })
  // `will-quit` does not wait for promises: hold the quit, close everything in order, then exit.
  app.on('before-quit', (event) => {
    if (quitState === 'closed') return
    event.preventDefault()
    if (quitState === 'closing') return
    quitState = 'closing'
    void shutdown().finally(() => {
      quitState = 'closed'
      app.exit(0)
    })
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit())
  app.whenReady().then(start, (err: unknown) => fail('Grove could not start', err))
}

async function start(): Promise<void> {
  secureSession()
  const sodium = checkSodium()
  if (!sodium.ok) return fail('Grove cannot run in this Electron build', new Error(sodium.reason))
  tuneHeapForTransfers()
  let endpoint: ApiEndpoint
  try {
    const home = resolveHome(process.env.GROVE_HOME || undefined)
    runningElsewhere = await ServiceConnection.connect(home)
    if (runningElsewhere) {
      endpoint = runningElsewhere
      const { pid } = runningElsewhere.info
      void runningElsewhere.closed(2 ** 31 - 1).then((closed) => {
        if (closed && quitState === 'running') fail('Grove stopped', new Error(`The Grove this window used (pid ${pid}) has stopped.`))
      })
    } else {
      grove = new Grove({
        home: home.root,
        network: true,
        bootstrap: process.env.GROVE_BOOTSTRAP ? parseBootstrapList(process.env.GROVE_BOOTSTRAP) : undefined,
        // GGUF files from others are opened by llama.cpp in a utility process of their own.
        spawner: utilityProcessSpawner(utilityProcess.fork, 'Grove GGUF probe')
      })
      await grove.ready()
      await grove.seedLibrary()
      inference = new InferenceService({ spawner: utilityProcessSpawner(utilityProcess.fork) })
      api = await GroveApi.create({ grove, inference, transport: 'electron', version: app.getVersion() })
      endpoint = api
      service = await GroveService.start({ grove, owner: 'app', options: {}, parts: { api, inference, generations: api.generations }, run: runForwarded, requestStop: () => app.quit() })
    }
  } catch (err) {
    return fail('Grove could not start', err)
  }
  const current = endpoint
  cleanups.push(
    registerIpc(ipcMain, current, () =>
      window && !window.isDestroyed() ? { webContents: window.webContents, mainFrame: window.webContents.mainFrame, appUrl: APP_URL } : null
    ),
    forwardEvents(current, () => (window && !window.isDestroyed() ? window.webContents : null))
  )
  window = createWindow()
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Grove',
    webPreferences: {
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      safeDialogs: true,
      preload: PRELOAD
    }
  })
  win.once('ready-to-show', () => win.show())
  win.on('closed', () => {
    if (window === win) window = null
  })
  win.loadFile(RENDERER_INDEX).catch((err: unknown) => {
    dialog.showErrorBox('Grove: the UI is not built', `Could not load ${RENDERER_INDEX}: ${toErrorPayload(err).message}\nRun \`npm run build\` first.`)
    app.quit()
  })
  return win
}

/** The default session: only our own files load, every response gets our CSP, (almost) nothing is granted. */
function secureSession(): void {
  const ses = session.defaultSession
  ses.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(permissionGranted({ permission, requestingUrl: details.requestingUrl, isMainFrame: details.isMainFrame }, APP_URL))
  )
  ses.setPermissionCheckHandler((_contents, permission, _origin, details) =>
    permissionGranted({ permission, requestingUrl: details.requestingUrl, isMainFrame: details.isMainFrame }, APP_URL)
  )
  ses.setDevicePermissionHandler(() => false)
  // null is Electron's refusal: an object without the video that was asked for throws in main.
  ses.setDisplayMediaRequestHandler((_request, callback) => (callback as unknown as (streams: null) => void)(null))
  // Grove uses no hardware: every device picker is cancelled (a missing or empty id cancels).
  ses.on('select-hid-device', (event, _details, callback) => {
    event.preventDefault()
    callback()
  })
  ses.on('select-serial-port', (event, _ports, _contents, callback) => {
    event.preventDefault()
    callback('')
  })
  ses.on('select-usb-device', (event, _details, callback) => {
    event.preventDefault()
    callback()
  })
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !requestAllowed(details.url, RENDERER_DIR) }))
  ses.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withCsp(details.responseHeaders) }))
}

/** Every webContents (the window, and anything that might appear): it stays on its page, opens no windows, no webviews, no devices. */
function harden(contents: WebContents): void {
  // Emitted for every frame, the top one included, before will-navigate.
  contents.on('will-frame-navigate', (event) => {
    const verdict = navigationVerdict(event, APP_URL)
    if (verdict === 'proceed') return
    event.preventDefault()
    if (verdict === 'open-in-browser') openInBrowser(event.url)
  })
  // Only fires if will-frame-navigate let the navigation through; it refuses, and never opens a
  // link itself, so one click cannot open it twice.
  contents.on('will-navigate', (event) => {
    if (navigationVerdict(event, APP_URL) !== 'proceed') event.preventDefault()
  })
  // Our file:// page never redirects; a redirect is something else's navigation.
  contents.on('will-redirect', (event) => event.preventDefault())
  contents.on('will-attach-webview', (event) => event.preventDefault())
  // Unless prevented, Electron picks the first Bluetooth device it finds.
  contents.on('select-bluetooth-device', (event, _devices, callback) => {
    event.preventDefault()
    callback('')
  })
  contents.setWindowOpenHandler(({ url }) => {
    if (externalUrlAllowed(url)) openInBrowser(url)
    return { action: 'deny' }
  })
}

function openInBrowser(url: string): void {
  void shell.openExternal(url).catch(() => {})
}

/** Closes the resource stack in order: the control socket's clients, API (transfers, generations), Grove (swarm, drives, store), the model process. */
async function shutdown(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) cleanup()
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_LIMIT_MS)))
  const ordered = (async () => {
    runningElsewhere?.close()
    await service?.close().catch(() => {})
    await api?.close().catch(() => {})
    await grove?.close().catch(() => {})
    await inference?.close().catch(() => {})
  })()
  await Promise.race([ordered, limit])
  clearTimeout(timer)
}

function fail(title: string, err: unknown): void {
  dialog.showErrorBox(title, toErrorPayload(err).message)
  quitState = 'closing'
  void shutdown().finally(() => {
    quitState = 'closed'
    app.exit(1)
  })
}
