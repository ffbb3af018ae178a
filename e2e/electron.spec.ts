// The real desktop app through Playwright's Electron driver. It runs wherever the Electron
// binary is installed; where it is not (ELECTRON_SKIP_BINARY_DOWNLOAD), it reports itself as
// skipped, by name.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { _electron as electron, expect, test } from '@playwright/test'
import { snap } from './support/browser.js'

function electronBinary(): string | null {
  try {
    // The `electron` package exports the binary's path, and throws when it was never downloaded.
    const path = createRequire(import.meta.url)('electron') as unknown
    return typeof path === 'string' && existsSync(path) ? path : null
  } catch {
    return null
  }
}

const binary = electronBinary()

test('the desktop app opens its window on the library, with the typed bridge and a strict CSP', async () => {
  test.skip(binary === null, 'Electron binary not installed (ELECTRON_SKIP_BINARY_DOWNLOAD): the real-app spec needs it')
  const dir = await mkdtemp(join(tmpdir(), 'grove-electron-'))
  const app = await electron.launch({
    executablePath: binary!,
    args: ['.', `--user-data-dir=${join(dir, 'user-data')}`, '--no-sandbox', '--disable-gpu'],
    env: { ...process.env, GROVE_HOME: join(dir, 'home') } as Record<string, string>,
    timeout: 60_000
  })
  try {
    const window = await app.firstWindow()
    await expect(window.getByRole('heading', { level: 1, name: 'Library' })).toBeVisible({ timeout: 60_000 })
    expect(await window.evaluate(() => typeof (window as unknown as { grove?: { call?: unknown } }).grove?.call)).toBe('function')
    expect(await window.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined')
    await expect(window.getByText('Your library is empty')).toBeVisible()
    await window.getByTestId('nav-peers').click()
    await expect(window.getByRole('heading', { level: 1, name: 'Peers' })).toBeVisible()
    await snap(window, 'electron-peers')
  } finally {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
})
