// The renderer on its own, against a scripted API (support/mock-grove.ts): safe model cards, the
// licence gate, a lineage graph of hundreds of nodes, live transfers and chat, errors and empty
// states, keyboard navigation. The end-to-end run against real Grove processes is grove.spec.ts.
import { expect, test } from '@playwright/test'
import { ADAPTER, BASE, BIG_ROOT, GATED, HOSTILE, MOCK_ORIGIN, PEER_KEYS, installMockGrove } from './support/mock-grove.js'
import { snap } from './support/browser.js'

const key = (link: string) => link.replace('grove://', '')

test.describe('renderer against a scripted API', () => {
  test('library, discover, peers: live lists and keyboard navigation', async ({ page }) => {
    const mock = await installMockGrove(page)
    await page.goto(`${MOCK_ORIGIN}/#/library`)
    await expect(page.getByRole('heading', { level: 1, name: 'Library' })).toBeVisible()
    await expect(page.getByTestId('library-item')).toHaveCount(2)
    await expect(page.getByText('Connected', { exact: true })).toBeVisible()
    await snap(page, 'mock/library')

    // Seeding off through the switch; the pushed `library` event updates the row.
    const seedSwitch = page.getByRole('switch', { name: `Seed ${ADAPTER.name}` })
    await seedSwitch.click()
    await expect(seedSwitch).not.toBeChecked()
    expect(mock.calls.some((c) => c.name === 'library.setSeeding')).toBe(true)

    // The share form explains what a browser can do, and shows Grove's error with a next step.
    await page.getByRole('button', { name: 'Share a model' }).click()
    await page.getByLabel('Path of the GGUF file on the machine running Grove').fill('/tmp/notes.txt')
    await page.getByRole('button', { name: 'Share', exact: true }).click()
    await expect(page.getByTestId('error')).toContainText('Not a GGUF file')
    await expect(page.getByTestId('error')).toContainText('Pick a .gguf file')
    await snap(page, 'mock/library-share')

    // Keyboard: Alt+2 goes to Discover, and the sidebar links are reachable with Tab.
    await page.keyboard.press('Alt+2')
    await expect(page.getByRole('heading', { level: 1, name: 'Discover' })).toBeVisible()
    await expect(page.getByTestId('catalog-item')).toHaveCount(5)
    await page.getByTestId('catalog-search').fill('gated')
    await expect(page.getByTestId('catalog-item')).toHaveCount(1)
    await page.getByTestId('catalog-search').fill('')
    await expect(page.getByTestId('catalog-item')).toHaveCount(5)
    await snap(page, 'mock/discover')

    await page.getByTestId('nav-peers').focus()
    await page.keyboard.press('Enter')
    await expect(page.getByRole('heading', { level: 1, name: 'Peers' })).toBeVisible()
    for (const k of PEER_KEYS) await expect(page.getByTestId('peer').filter({ hasText: k })).toBeVisible()
    await snap(page, 'mock/peers')
  })

  test('a model card is rendered without scripts, raw HTML or remote content', async ({ page }) => {
    await installMockGrove(page)
    const outside: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(MOCK_ORIGIN) && !r.url().startsWith('data:')) outside.push(r.url())
    })
    const dialogs: string[] = []
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    await page.goto(`${MOCK_ORIGIN}/#/model/${key(HOSTILE.link)}`)
    const card = page.getByTestId('model-card')
    await expect(card).toContainText('Hostile card')
    await expect(card.locator('script, img, iframe')).toHaveCount(0)
    await expect(card).toContainText('[image: tracking pixel — http://evil.test/track.png]')
    await expect(card).toContainText('(https://example.org/page)')
    await card.getByText('click me').click()
    await page.waitForTimeout(300)
    expect(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned)).toBeUndefined()
    expect(outside).toEqual([])
    expect(dialogs).toEqual([])

    await page.goto(`${MOCK_ORIGIN}/#/model/${key(BASE.link)}`)
    await expect(page.getByTestId('model-card').locator('table')).toBeVisible()
    await expect(page.locator('.facts')).toContainText('tinystories')
    await expect(page.getByTestId('lineage-edge').filter({ hasText: 'adapter' })).toBeVisible()
    await snap(page, 'mock/model')
  })

  test('a licence that asks for acceptance is accepted once before download', async ({ page }) => {
    const mock = await installMockGrove(page)
    await page.goto(`${MOCK_ORIGIN}/#/model/${key(GATED.link)}`)
    await expect(page.getByText('Licence needs acceptance')).toBeVisible()
    await page.getByTestId('download').click()
    const dialog = page.getByTestId('license-dialog')
    await expect(dialog).toBeVisible()
    await expect(dialog).toContainText('llama3.1')
    await snap(page, 'mock/license')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    expect(mock.calls.filter((c) => c.name === 'transfers.start')).toHaveLength(0)

    await page.getByTestId('download').click()
    await dialog.getByRole('button', { name: 'Accept and download' }).click()
    await expect(page.getByRole('progressbar')).toBeVisible()
    expect(mock.accepted.has(GATED.link)).toBe(true)
    await expect(page.getByText('Licence accepted')).toBeVisible()
    await expect.poll(async () => Number(await page.getByRole('progressbar').getAttribute('aria-valuenow'))).toBeGreaterThan(20)

    await page.getByTestId('nav-transfers').click()
    const transfer = page.getByTestId('transfer').filter({ hasText: GATED.name })
    await expect(transfer.locator('svg.sparkline polyline')).toBeVisible()
    await snap(page, 'mock/transfers')
    await transfer.getByRole('button', { name: `Pause ${GATED.name}` }).click()
    await expect(transfer).toHaveAttribute('data-state', 'paused')
    await transfer.getByRole('button', { name: `Resume ${GATED.name}` }).click()
    await expect(transfer).toHaveAttribute('data-state', 'downloading')
  })

  test('a lineage graph of 300 nodes lays out, pans, zooms and selects', async ({ page }) => {
    await installMockGrove(page)
    await page.goto(`${MOCK_ORIGIN}/#/library`)
    await expect(page.getByTestId('library-item')).toHaveCount(2)
    const started = Date.now()
    await page.goto(`${MOCK_ORIGIN}/#/lineage/${key(BIG_ROOT.link)}`)
    await expect(page.getByText('300 models · 299 links')).toBeVisible()
    await expect(page.getByTestId('lineage-node').first()).toBeVisible()
    const renderMs = Date.now() - started
    console.log(`lineage: 300 nodes laid out and drawn in ${renderMs} ms`)
    expect(renderMs).toBeLessThan(8000)
    // A big tree opens on its root at a readable zoom.
    await expect(page.locator(`[data-testid="lineage-node"][data-link="${BIG_ROOT.link}"]`)).toBeInViewport()
    await snap(page, 'mock/lineage-300')

    const pane = page.locator('.react-flow__pane')
    const viewport = page.locator('.react-flow__viewport')
    const before = await viewport.getAttribute('style')
    await pane.hover()
    const zoomStarted = Date.now()
    for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -200)
    await expect.poll(() => viewport.getAttribute('style')).not.toBe(before)
    const box = (await pane.boundingBox())!
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width / 2 + 150, box.y + box.height / 2 + 80, { steps: 8 })
    await page.mouse.up()
    const panZoomMs = Date.now() - zoomStarted
    console.log(`lineage: 5 zoom steps and a pan in ${panZoomMs} ms`)
    expect(panZoomMs).toBeLessThan(5000)

    // The panel starts on the root; choosing a child there selects it and brings it into view.
    await expect(page.getByTestId('lineage-panel')).toContainText(BIG_ROOT.name)
    await expect(page.getByTestId('lineage-panel')).toContainText('Children (80)')
    await page.getByTestId('lineage-panel').getByRole('button', { name: 'finetune #4', exact: true }).click()
    await expect(page.getByTestId('lineage-panel')).toContainText('Parents (1)')
    const picked = page.locator('[data-testid="lineage-node"]', { hasText: /^finetune #4model/ })
    await expect(picked).toBeInViewport()
    await expect(picked).toHaveClass(/selected/)

    // Keyboard: graph nodes take focus, Enter selects the focused one.
    const first = page.locator('.react-flow__node').first()
    const firstLink = await first.getByTestId('lineage-node').getAttribute('data-link')
    await first.focus()
    await page.keyboard.press('Enter')
    await expect(page.getByTestId('lineage-panel')).toContainText(firstLink!)
    await page.getByRole('button', { name: 'Fit View' }).click()
    await snap(page, 'mock/lineage-300-fit')

    await page.goto(`${MOCK_ORIGIN}/#/lineage/${key(BASE.link)}`)
    const edge = page.locator(`[data-testid="lineage-edge"][data-parent="${BASE.link}"][data-child="${ADAPTER.link}"]`)
    await expect(edge).toHaveText('adapter')
    await expect(edge).toHaveAttribute('data-verified', 'true')
    const claimed = page.locator('[data-testid="lineage-edge"][data-verified="false"]')
    await expect(claimed).toHaveAttribute('title', /claimed, not verified: the card names/)
    await snap(page, 'mock/lineage')
  })

  test('chat streams tokens, shows the fit verdict and tokens/s', async ({ page }) => {
    await installMockGrove(page)
    await page.goto(`${MOCK_ORIGIN}/#/chat?model=${encodeURIComponent(BASE.link)}`)
    await expect(page.getByTestId('fit-verdict')).toContainText('Fits in memory')
    await page.getByLabel(ADAPTER.name).check()
    await expect(page.getByRole('slider', { name: `Scale of ${ADAPTER.name}` })).toBeVisible()
    await page.getByTestId('chat-input').fill('Tell me a story')
    await page.getByTestId('chat-input').press('Enter')
    const streaming = page.getByTestId('msg-streaming')
    await expect(streaming).toContainText('upon')
    await expect(page.getByTestId('chat-stop')).toBeVisible()
    await snap(page, 'mock/chat-streaming')
    await expect(page.getByTestId('chat-stats')).toContainText('41.7 tok/s')
    await expect(page.getByTestId('msg-assistant')).toContainText('tiny llama shared its weights')
    await snap(page, 'mock/chat')
  })

  test('errors say what to do next; empty states point somewhere', async ({ page }) => {
    await installMockGrove(page, { failAll: { code: 'NO_PEERS', message: 'No peer serves this model (waited 30 s)' } })
    await page.goto(`${MOCK_ORIGIN}/#/discover`)
    await expect(page.getByTestId('error').first()).toContainText('No peer serves this model')
    await expect(page.getByTestId('error').first()).toContainText('join the room')
    await snap(page, 'mock/error')

    const empty = await page.context().newPage()
    await installMockGrove(empty, { emptyLibrary: true, noPeers: true })
    await empty.goto(`${MOCK_ORIGIN}/#/library`)
    await expect(empty.getByText('Your library is empty')).toBeVisible()
    await snap(empty, 'mock/library-empty')
    await empty.goto(`${MOCK_ORIGIN}/#/peers`)
    await expect(empty.getByTestId('peers-empty')).toContainText('--bootstrap')
    await empty.goto(`${MOCK_ORIGIN}/#/chat`)
    await expect(empty.getByTestId('chat-empty')).toBeVisible()
    await empty.goto(`${MOCK_ORIGIN}/#/transfers`)
    await expect(empty.getByTestId('transfers-empty')).toBeVisible()
    await snap(empty, 'mock/transfers-empty')
  })
})
