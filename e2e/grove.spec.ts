// End to end: two Grove instances (`grove serve`) on a local DHT (`grove bootstrap`) inside the
// network namespace `npm test` runs in. A has shared a tiny model and a LoRA adapter of it; in
// B's UI, in Chromium, a person sees A among the peers, finds A's model in Discover, downloads
// it with a visible progress bar, opens its lineage and sees the base → adapter edge, and chats
// with it, watching tokens stream and the tokens/s. A screenshot of each view is saved to
// test-results/screenshots/<view>.png.
import { join } from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { snap } from './support/browser.js'
import { apiCall, fixtureModule, harnessModule, serve, type Harness, type Served } from './support/grove-procs.js'

const BASE_NAME = 'E2E Tiny Llama'
const ADAPTER_NAME = 'E2E Tiny Poetry LoRA'

let h: Harness
let a: Served
let b: Served
let baseLink: string
let adapterLink: string
let peerA: string

test.describe.configure({ mode: 'serial' })

test.beforeAll(async () => {
  test.setTimeout(150_000)
  const { Harness } = await harnessModule()
  const { writeLlamaModel, writeLoraAdapter } = await fixtureModule()
  h = new Harness()

  const boot = h.spawnGrove(['--json', 'bootstrap', '--host', '127.0.0.1', '--port', '0'])
  const listening = await boot.waitForJson((l) => l.event === 'listening', 20_000)
  const bootstrap = `127.0.0.1:${String(listening.port)}`

  const files = await h.tmpDir('grove-e2e-files-')
  const base = { seed: 11, name: BASE_NAME, license: 'apache-2.0', embeddingLength: 64, blockCount: 2 }
  await writeLlamaModel(join(files, 'base.gguf'), base)
  await writeLoraAdapter(join(files, 'adapter.gguf'), { base, seed: 12, name: ADAPTER_NAME, license: 'apache-2.0', rank: 4 })

  const homeA = await h.tmpDir('grove-e2e-a-')
  const homeB = await h.tmpDir('grove-e2e-b-')
  const shared = await h.runGrove(['--home', homeA, '--json', 'share', join(files, 'base.gguf')], { timeoutMs: 60_000 })
  expect(shared.code, shared.stderr).toBe(0)
  baseLink = String(shared.json.at(-1)!.link)
  const adapter = await h.runGrove(['--home', homeA, '--json', 'share', join(files, 'adapter.gguf'), '--parent', baseLink, '--relation', 'adapter'], { timeoutMs: 60_000 })
  expect(adapter.code, adapter.stderr).toBe(0)
  adapterLink = String(adapter.json.at(-1)!.link)

  ;[a, b] = await Promise.all([serve(h, homeA, bootstrap), serve(h, homeB, bootstrap)])
  peerA = (await apiCall<{ peerKey: string }>(a.url, 'app.info')).peerKey
})

test.afterAll(async () => {
  await h?.teardown()
})

async function open(page: Page, route: string): Promise<void> {
  await page.goto(new URL(route, b.url).toString())
}

test('in B, a person sees A among the peers', async ({ page }) => {
  await open(page, '#/peers')
  await expect(page.getByRole('heading', { level: 1, name: 'Peers' })).toBeVisible()
  await expect(page.locator(`[data-testid="peer"][data-key="${peerA}"]`)).toBeVisible({ timeout: 60_000 })
  await expect(page.getByTestId('peer').filter({ hasText: peerA })).toBeVisible()
  // Both run in one network namespace: A's address takes TCP, so the link is direct.
  await expect(page.locator(`[data-testid="peer"][data-key="${peerA}"] [data-testid="peer-transport"]`)).toHaveText('direct TCP', { timeout: 15_000 })
  await snap(page, 'peers')
})

test('finds A’s model in Discover and downloads it with a visible progress bar', async ({ page }) => {
  await open(page, '#/discover')
  await expect(page.getByRole('heading', { level: 1, name: 'Discover' })).toBeVisible()
  const item = page.locator(`[data-testid="catalog-item"][data-link="${baseLink}"]`)
  await expect(item).toBeVisible({ timeout: 60_000 })
  await page.getByTestId('catalog-search').fill('tiny llama')
  await expect(item).toBeVisible()
  await expect(item.getByTestId('seeders')).toContainText(/[1-9] seeder/)
  await snap(page, 'discover')

  await item.getByRole('link', { name: `Open ${BASE_NAME}` }).click()
  await expect(page.getByRole('heading', { level: 1, name: BASE_NAME })).toBeVisible()
  await expect(page.locator('.facts')).toContainText('llama')
  await snap(page, 'model')

  await page.getByTestId('download').click()
  const bar = page.getByRole('progressbar', { name: `Download of ${BASE_NAME}` })
  await expect(bar).toBeVisible()
  await expect(page.getByTestId('transfer')).toHaveAttribute('data-state', 'done', { timeout: 90_000 })
  await expect(bar).toHaveAttribute('aria-valuenow', '100')
  await expect(page.getByTestId('run')).toBeVisible()
  await snap(page, 'model-downloaded')

  await page.getByTestId('nav-transfers').click()
  const transfer = page.locator(`[data-testid="transfer"][data-link="${baseLink}"]`)
  await expect(transfer.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100')
  await snap(page, 'transfers')

  await page.getByTestId('nav-library').click()
  await expect(page.locator(`[data-testid="library-item"][data-link="${baseLink}"]`)).toContainText('Downloaded')
  await snap(page, 'library')
})

test('opens the lineage and sees the base → adapter edge', async ({ page }) => {
  await open(page, `#/lineage/${baseLink.replace('grove://', '')}`)
  const edge = page.locator(`[data-testid="lineage-edge"][data-parent="${baseLink}"][data-child="${adapterLink}"]`)
  await expect(edge).toBeVisible({ timeout: 30_000 })
  await expect(edge).toHaveText('adapter')
  await expect(edge).toHaveAttribute('data-verified', 'true')
  await expect(page.locator(`[data-testid="lineage-node"][data-link="${adapterLink}"]`)).toContainText(ADAPTER_NAME)
  await expect(page.getByTestId('lineage-panel')).toContainText(ADAPTER_NAME)
  await snap(page, 'lineage')
})

test('chats with the downloaded model: tokens stream, then tokens/s', async ({ page }) => {
  await open(page, `#/chat?model=${encodeURIComponent(baseLink)}`)
  await expect(page.getByTestId('fit-verdict')).toBeVisible({ timeout: 30_000 })
  await page.locator('details.more summary').click()
  await page.getByLabel('Max tokens').fill('48')

  // Record every text the streaming bubble shows, to see it grow token by token.
  await page.evaluate(() => {
    const seen: string[] = []
    ;(window as unknown as { __streamed: string[] }).__streamed = seen
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="msg-streaming"] .msg-text')
      const text = el?.textContent ?? ''
      if (text !== '' && seen.at(-1) !== text) seen.push(text)
    }).observe(document.body, { subtree: true, childList: true, characterData: true })
  })
  await page.getByTestId('chat-input').fill('Once upon a time')
  await page.getByTestId('chat-send').click()
  await expect(page.getByTestId('msg-user')).toContainText('Once upon a time')
  const stats = page.getByTestId('chat-stats')
  await expect(stats).toBeVisible({ timeout: 90_000 })
  await expect(stats).toContainText(/\d+(\.\d)? tok\/s/)
  const streamed = await page.evaluate(() => (window as unknown as { __streamed: string[] }).__streamed)
  expect(streamed.length, `the reply grew in steps: ${JSON.stringify(streamed.slice(0, 5))}`).toBeGreaterThan(1)
  for (let i = 1; i < streamed.length; i++) expect(streamed[i]!.startsWith(streamed[i - 1]!)).toBe(true)
  await snap(page, 'chat')
})
