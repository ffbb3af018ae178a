// The desktop packaging configuration (electron-builder.yml), checked without building: it is
// valid for electron-builder's own schema, names the targets, app id, icons and entitlements the
// issue asks for, keeps native code out of the asar, and every file it refers to exists.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { REPO_ROOT } from '../testing/harness.js'

interface TargetEntry {
  target: string
  arch?: string[]
}

interface BuilderConfig {
  appId?: string
  productName?: string
  directories?: { output?: string; buildResources?: string }
  files?: string[]
  asar?: boolean
  asarUnpack?: string[]
  win?: { target?: Array<string | TargetEntry>; icon?: string }
  mac?: { target?: Array<string | TargetEntry>; icon?: string; hardenedRuntime?: boolean; entitlements?: string; entitlementsInherit?: string; category?: string }
  linux?: { target?: Array<string | TargetEntry>; icon?: string; category?: string; maintainer?: string }
}

async function config(): Promise<BuilderConfig> {
  return parse(await readFile(join(REPO_ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig
}

function targets(list: Array<string | TargetEntry> | undefined): string[] {
  return (list ?? []).map((t) => (typeof t === 'string' ? t : t.target))
}

test("electron-builder.yml is valid for electron-builder's own schema", async () => {
  const require = createRequire(import.meta.url)
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    validateConfiguration(config: unknown, debugLogger: { isEnabled: boolean; add(key: string, value: unknown): void }): Promise<void>
  }
  const logger = { isEnabled: false, add() {} }
  await validateConfiguration(await config(), logger)
  // The check is real: a misplaced option fails it.
  const broken = { ...(await config()), mac: { ...(await config()).mac, title: 'not a mac option' } }
  await assert.rejects(validateConfiguration(broken, logger), /configuration\.mac/)
})

test('app id, product name, and the Windows, macOS and Linux targets', async () => {
  const c = await config()
  assert.equal(c.appId, 'org.grove.app')
  assert.equal(c.productName, 'Grove')
  assert.deepEqual(targets(c.win?.target), ['nsis'])
  assert.deepEqual(targets(c.mac?.target), ['dmg'])
  assert.deepEqual(targets(c.linux?.target).sort(), ['AppImage', 'deb'])
  assert.ok(c.linux?.maintainer, 'deb needs a maintainer')
  assert.equal(c.directories?.buildResources, 'build')
})

test('macOS: hardened runtime with the entitlements node-llama-cpp and the native addons need', async () => {
  const c = await config()
  assert.equal(c.mac?.hardenedRuntime, true)
  assert.equal(c.mac?.entitlements, 'build/entitlements.mac.plist')
  assert.equal(c.mac?.entitlementsInherit, 'build/entitlements.mac.plist')
  const plist = await readFile(join(REPO_ROOT, 'build', 'entitlements.mac.plist'), 'utf8')
  assert.match(plist, /^<\?xml version="1\.0" encoding="UTF-8"\?>/)
  assert.match(plist, /<plist version="1\.0">\s*<dict>[\s\S]*<\/dict>\s*<\/plist>\s*$/)
  const granted = [...plist.matchAll(/<key>([^<]+)<\/key>\s*<true\/>/g)].map((m) => m[1])
  for (const key of [
    'com.apple.security.cs.allow-jit',
    'com.apple.security.cs.allow-unsigned-executable-memory',
    'com.apple.security.cs.disable-library-validation',
    'com.apple.security.network.client',
    'com.apple.security.network.server'
  ]) {
    assert.ok(granted.includes(key), key)
  }
  // Every key has a value: an unbalanced plist is rejected by codesign.
  assert.equal((plist.match(/<key>/g) ?? []).length, (plist.match(/<true\/>|<false\/>/g) ?? []).length)
})

test("native code stays out of the asar: node-llama-cpp's binaries and every .node / prebuilds", async () => {
  const c = await config()
  assert.equal(c.asar, true)
  for (const pattern of ['node_modules/node-llama-cpp/bins/**', 'node_modules/@node-llama-cpp/**', '**/*.node', '**/prebuilds/**']) {
    assert.ok(c.asarUnpack?.includes(pattern), pattern)
  }
})

test('the app files: compiled main, preload and worker, the built renderer, package.json, dependencies', async () => {
  const c = await config()
  for (const pattern of ['package.json', 'dist/**/*', 'renderer/dist/**/*', 'node_modules/**/*']) assert.ok(c.files?.includes(pattern), pattern)
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string; scripts: Record<string, string>; devDependencies: Record<string, string> }
  assert.equal(pkg.main, 'dist/main/electron/app.js')
  assert.ok(pkg.main.startsWith('dist/'), 'the entry is inside the packaged files')
  assert.ok(existsSync(join(REPO_ROOT, pkg.main)), `${pkg.main} is built`)
  assert.ok(existsSync(join(REPO_ROOT, 'dist', 'main', 'electron', 'preload.cjs')), 'the sandboxed preload is built')
  assert.ok(existsSync(join(REPO_ROOT, 'dist', 'main', 'inference', 'worker.js')), 'the inference worker is built')
  assert.match(pkg.scripts.build ?? '', /build:preload/, '`npm run build` builds the preload')
  assert.ok(pkg.devDependencies.electron, 'electron is a devDependency (electron-builder requires it there)')
})

test('the icon is a 512×512 PNG and every referenced file exists', async () => {
  const c = await config()
  for (const path of [c.win?.icon, c.mac?.icon, c.linux?.icon, c.mac?.entitlements, c.mac?.entitlementsInherit]) {
    assert.ok(path, 'set')
    assert.ok(existsSync(join(REPO_ROOT, path)), `${path} exists`)
  }
  const png = await readFile(join(REPO_ROOT, 'build', 'icon.png'))
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature')
  assert.equal(png.subarray(12, 16).toString('ascii'), 'IHDR')
  assert.equal(png.readUInt32BE(16), 512)
  assert.equal(png.readUInt32BE(20), 512)
})
