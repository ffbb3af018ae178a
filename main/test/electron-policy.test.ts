// The Electron window's policy without Electron (its binary is not installed here): which
// requests load, which navigations proceed, which permissions are granted, the CSPs of the
// window and of `grove serve`'s page, and (read from the source, since the shell cannot run
// here) that main/electron/app.ts wires each of these into the session and every webContents.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, test } from 'node:test'
import {
  ELECTRON_CONTENT_SECURITY_POLICY,
  externalUrlAllowed,
  fileUrlInside,
  isAppPageUrl,
  navigationVerdict,
  permissionGranted,
  requestAllowed,
  withCsp
} from '../electron/policy.js'
import { CONTENT_SECURITY_POLICY } from '../server/headers.js'
import { REPO_ROOT } from '../testing/harness.js'

const RENDERER_DIR = join(REPO_ROOT, 'renderer', 'dist')
const ROOT = pathToFileURL(RENDERER_DIR).href
const ROOT_PATH = new URL(ROOT).pathname
const APP_URL = `${ROOT}/index.html`

describe('requests the window may make', () => {
  test('its own files, DevTools and inline data load', () => {
    const good = [
      APP_URL,
      `${APP_URL}#/library`,
      `${APP_URL}?a=1`,
      `${ROOT}/assets/index-abc.js`,
      `${ROOT}/assets/inter%20var.woff2`,
      `${ROOT}/assets/caf%C3%A9.svg`,
      `${ROOT}/./assets/x.js`,
      `${ROOT}/assets/../index.html`,
      `file://localhost${ROOT_PATH}/index.html`,
      'devtools://devtools/bundled/inspector.html',
      'data:image/png;base64,AAAA',
      'blob:file:///6d1e6c1e-0c3a-4b0e-9d55-7c1b7b0f3a10'
    ]
    for (const url of good) assert.equal(requestAllowed(url, RENDERER_DIR), true, url)
  })

  test('a hostile or foreign URL is refused, and none of them throws', () => {
    const hostile: Array<[string, string]> = [
      ['an encoded slash after ..', `${ROOT}/..%2f..%2f..%2fetc/passwd`],
      ['an upper-case encoded slash', `${ROOT}/assets/..%2F..%2Fsecret`],
      ['an encoded backslash after ..', `${ROOT}/..%5c..%5cetc%5cpasswd`],
      ['encoded dots', `${ROOT}/%2e%2e/%2e%2e/etc/passwd`],
      ['a mixed dot segment', `${ROOT}/.%2e/.%2e/etc/passwd`],
      ['double-encoded dots', `${ROOT}/%252e%252e/%252e%252e/etc/passwd`],
      ['a double-encoded slash', `${ROOT}/..%252f..%252fetc/passwd`],
      ['a lone %', `${ROOT}/%`],
      ['a % at the end', `${ROOT}/index.html%`],
      ['a malformed escape', `${ROOT}/%zz`],
      ['a truncated escape', `${ROOT}/%e0%a4%a`],
      ['an escape that is not UTF-8', `${ROOT}/%ff.js`],
      ['backslashes', `${ROOT}\\..\\..\\etc\\passwd`],
      ['an encoded NUL', `${ROOT}/index.html%00.png`],
      ['an encoded control character', `${ROOT}/index%0a.html`],
      ['a Windows stream name', `${ROOT}/index.html::$DATA`],
      ['an empty segment', `${ROOT}//index.html`],
      ['the folder itself', `${ROOT}/`],
      ['a sibling folder with the same prefix', `${ROOT}-evil/x.js`],
      ['a sibling folder glued to the name', `${ROOT}evil/x.js`],
      ['the parent folder', pathToFileURL(join(RENDERER_DIR, '..', 'index.html')).href],
      ['another local file', pathToFileURL('/etc/passwd').href],
      ['another file host with the same path', `file://remote-host${ROOT_PATH}/index.html`],
      ['a UNC path through an empty host', `file:////remote-host/share${ROOT_PATH}/index.html`],
      ['a Windows drive', 'file:///C:/Windows/win.ini'],
      ['a Windows drive written with |', 'file:///c|/Windows/win.ini'],
      ['https', 'https://example.com/'],
      ['http to the local server', 'http://127.0.0.1:7420/api/call/app.info'],
      ['a WebSocket to the local server', 'ws://127.0.0.1:7420/api/events'],
      ['a secure WebSocket', 'wss://example.com/socket'],
      ['javascript:', 'javascript:alert(1)'],
      ['view-source of our own page', `view-source:${APP_URL}`],
      ['a browser page', 'chrome://settings'],
      ['not a URL', 'nonsense'],
      ['nothing', '']
    ]
    for (const [what, url] of hostile) {
      let allowed: boolean | undefined
      assert.doesNotThrow(() => (allowed = requestAllowed(url, RENDERER_DIR)), what)
      assert.equal(allowed, false, `${what}: ${url}`)
    }
  })

  test('a renderer folder whose own name needs escapes still works, and still has a boundary', () => {
    const dir = '/tmp/My Apps/100%/renderer/dist'
    const root = pathToFileURL(dir).href
    assert.match(root, /My%20Apps\/100%25\//)
    assert.equal(requestAllowed(`${root}/index.html`, dir), true)
    assert.equal(requestAllowed(`${root}-evil/index.html`, dir), false)
    assert.equal(requestAllowed(`${root}/%25/index.html`, dir), false, 'a % below the root is a double escape')
  })

  test('Windows roots: the drive and the UNC host are part of the boundary', () => {
    const drive = 'file:///C:/Program%20Files/Grove/resources/app.asar/renderer/dist'
    assert.equal(fileUrlInside(`${drive}/index.html`, drive), true)
    assert.equal(fileUrlInside('file:///D:/Program%20Files/Grove/resources/app.asar/renderer/dist/index.html', drive), false)
    assert.equal(fileUrlInside(`${drive}/C:/Windows/win.ini`, drive), false)
    assert.equal(fileUrlInside(`${drive}/..%5c..%5cwin.ini`, drive), false)
    const unc = 'file://server/share/Grove/renderer/dist'
    assert.equal(fileUrlInside(`${unc}/index.html`, unc), true)
    assert.equal(fileUrlInside('file://other/share/Grove/renderer/dist/index.html', unc), false)
    assert.equal(fileUrlInside('file:///share/Grove/renderer/dist/index.html', unc), false)
  })
})

describe('navigation', () => {
  test('the app page is the same file on file://, whatever its route; a malformed URL is not', () => {
    assert.equal(isAppPageUrl(`${APP_URL}#/models/x`, APP_URL), true)
    assert.equal(isAppPageUrl(`${APP_URL}?a=1`, APP_URL), true)
    assert.equal(isAppPageUrl(`${ROOT}/assets/../index.html`, APP_URL), true)
    for (const url of [`${ROOT}/other.html`, APP_URL.replace('file:', 'https:'), `${ROOT}/index.html%`, `${ROOT}/index.html%00`, `file://remote-host${ROOT_PATH}/index.html`, 'not a url']) {
      let same: boolean | undefined
      assert.doesNotThrow(() => (same = isAppPageUrl(url, APP_URL)), url)
      assert.equal(same, false, url)
    }
  })

  test('the top frame may reload its own page; an https link goes to the browser; everything else stays put', () => {
    const cases: Array<[string, boolean, ReturnType<typeof navigationVerdict>]> = [
      [`${APP_URL}#/library`, true, 'proceed'],
      [`${APP_URL}?a=1`, true, 'proceed'],
      ['https://huggingface.co/meta-llama', true, 'open-in-browser'],
      ['https://user:pw@example.com/', true, 'block'],
      ['http://example.com/', true, 'block'],
      ['javascript:alert(1)', true, 'block'],
      [pathToFileURL('/etc/passwd').href, true, 'block'],
      [`${ROOT}/other.html`, true, 'block'],
      [`${ROOT}/..%2f..%2fetc/passwd`, true, 'block'],
      ['grove://abc', true, 'block'],
      ['%', true, 'block'],
      // A subframe (the page has none) never navigates, not even to our page, and opens nothing.
      [APP_URL, false, 'block'],
      ['https://huggingface.co/meta-llama', false, 'block']
    ]
    for (const [url, isMainFrame, verdict] of cases) {
      assert.equal(navigationVerdict({ url, isMainFrame }, APP_URL), verdict, `${url} (${isMainFrame ? 'top frame' : 'subframe'})`)
    }
  })

  test('only https links (without credentials) open in the browser', () => {
    assert.ok(externalUrlAllowed('https://huggingface.co/meta-llama'))
    for (const url of ['http://example.com', 'file:///etc/passwd', 'javascript:alert(1)', 'https://user:pw@example.com/', 'smb://host/share', 'grove://abc', '']) {
      assert.ok(!externalUrlAllowed(url), url)
    }
  })
})

describe('permissions', () => {
  test('only the Copy buttons may write the clipboard, from the app page itself', () => {
    assert.equal(permissionGranted({ permission: 'clipboard-sanitized-write', requestingUrl: `${APP_URL}#/library`, isMainFrame: true }, APP_URL), true)
    const refused: Array<[string, Parameters<typeof permissionGranted>[0]]> = [
      ['from a subframe', { permission: 'clipboard-sanitized-write', requestingUrl: APP_URL, isMainFrame: false }],
      ['from another page', { permission: 'clipboard-sanitized-write', requestingUrl: 'https://evil.example/', isMainFrame: true }],
      ['from another local file', { permission: 'clipboard-sanitized-write', requestingUrl: `${ROOT}/other.html`, isMainFrame: true }],
      ['with no URL', { permission: 'clipboard-sanitized-write', requestingUrl: undefined, isMainFrame: true }],
      ['with a malformed URL', { permission: 'clipboard-sanitized-write', requestingUrl: `${ROOT}/%`, isMainFrame: true }]
    ]
    for (const permission of ['clipboard-read', 'media', 'geolocation', 'notifications', 'openExternal', 'hid', 'serial', 'usb', 'fileSystem', 'display-capture', 'midiSysex', 'pointerLock', 'fullscreen', 'unknown']) {
      refused.push([permission, { permission, requestingUrl: APP_URL, isMainFrame: true }])
    }
    for (const [what, ask] of refused) assert.equal(permissionGranted(ask, APP_URL), false, what)
  })
})

/** A CSP as directive → sources. */
function parseCsp(policy: string): Map<string, string> {
  const directives = new Map<string, string>()
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/)
    if (name) directives.set(name.toLowerCase(), sources.join(' '))
  }
  return directives
}

async function metaCsp(): Promise<string> {
  const html = await readFile(join(REPO_ROOT, 'renderer', 'index.html'), 'utf8')
  const tag = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html)
  assert.ok(tag, 'renderer/index.html has a meta CSP')
  return tag[1]!
}

// A browser ignores these in a <meta> CSP; the header alone can carry them.
const HEADER_ONLY_DIRECTIVES = new Set(['frame-ancestors', 'report-uri', 'sandbox'])

describe('content security policies', () => {
  test("the page connects only to its own origin: 'self', no blanket ws: or wss:", () => {
    // Chromium matches ws:/wss: on the page's own host and port with 'self' (CSP Level 3),
    // checked in Debian's Chromium 156: same origin opens, another port or host is refused.
    assert.equal(parseCsp(CONTENT_SECURITY_POLICY).get('connect-src'), "'self'")
    assert.equal(parseCsp(ELECTRON_CONTENT_SECURITY_POLICY).get('connect-src'), "'none'")
  })

  test('the header CSP of `grove serve` refuses plugins, <base>, form posts and framing', () => {
    const header = parseCsp(CONTENT_SECURITY_POLICY)
    for (const [name, sources] of [['object-src', "'none'"], ['base-uri', "'none'"], ['form-action', "'none'"], ['frame-ancestors', "'none'"], ['script-src', "'self'"]]) {
      assert.equal(header.get(name!), sources, name)
    }
  })

  test('the meta CSP in renderer/index.html says everything the header says (but frame-ancestors, which a meta cannot)', async () => {
    // A page with both policies must satisfy both, so the meta may not be looser than the header;
    // it is the same policy, less what a <meta> cannot carry.
    const meta = parseCsp(await metaCsp())
    const header = parseCsp(CONTENT_SECURITY_POLICY)
    for (const name of HEADER_ONLY_DIRECTIVES) assert.equal(meta.has(name), false, `${name} is ignored in a meta CSP`)
    const expected = new Map([...header].filter(([name]) => !HEADER_ONLY_DIRECTIVES.has(name)))
    assert.deepEqual(meta, expected)
  })

  test('responses in the window get our CSP in place of theirs', () => {
    const headers = withCsp({ 'content-security-policy': ['default-src *'], 'Content-Type': ['text/html'] })
    assert.deepEqual(headers['Content-Security-Policy'], [ELECTRON_CONTENT_SECURITY_POLICY])
    assert.equal(headers['content-security-policy'], undefined)
    assert.deepEqual(headers['Content-Type'], ['text/html'])
    assert.match(ELECTRON_CONTENT_SECURITY_POLICY, /script-src 'self';.*connect-src 'none'/)
  })
})

describe('the shell wires the policy (main/electron/app.ts, read as text)', () => {
  let source = ''
  const app = async (): Promise<string> => (source ||= await readFile(join(REPO_ROOT, 'main', 'electron', 'app.ts'), 'utf8'))

  test('every kind of navigation, new windows and webviews go through the policy', async () => {
    const text = await app()
    for (const guard of ["'will-navigate'", "'will-frame-navigate'", "'will-redirect'", "'will-attach-webview'", 'setWindowOpenHandler', 'navigationVerdict(', "action: 'deny'"]) {
      assert.ok(text.includes(guard), guard)
    }
    assert.ok(!/action:\s*'allow'/.test(text), 'no window is ever allowed to open')
  })

  test('permissions, device access and screen capture are refused in the session', async () => {
    const text = await app()
    for (const guard of ['setPermissionRequestHandler', 'setPermissionCheckHandler', 'permissionGranted(', 'setDevicePermissionHandler(() => false)', 'setDisplayMediaRequestHandler']) {
      assert.ok(text.includes(guard), guard)
    }
  })

  test('every device picker is cancelled, not left to pick a default', async () => {
    // Bluetooth picks the first device unless the event is prevented; the others take a
    // missing or empty id as "cancel".
    const text = await app()
    for (const picker of ['select-hid-device', 'select-serial-port', 'select-usb-device', 'select-bluetooth-device']) {
      const handler = new RegExp(`'${picker}',\\s*\\(event[^)]*\\)\\s*=>\\s*\\{\\s*event\\.preventDefault\\(\\)\\s*callback\\((''|)\\)\\s*\\}`)
      assert.match(text, handler, picker)
    }
  })

  test('every request (WebSockets included) passes requestAllowed, and every response gets the CSP', async () => {
    const text = await app()
    assert.match(text, /onBeforeRequest\(\(details, callback\) => callback\(\{ cancel: !requestAllowed\(details\.url, RENDERER_DIR\) \}\)\)/)
    assert.ok(text.includes('onHeadersReceived'), 'onHeadersReceived')
  })
})
