// Shared Playwright bits: where screenshots go, and helpers the specs use.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from '@playwright/test'

export const SCREENSHOT_DIR = join(process.cwd(), 'test-results', 'screenshots')

/** Saves a full-window screenshot of the current view as test-results/screenshots/<name>.png. */
export async function snap(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOT_DIR, `${name}.png`)
  mkdirSync(join(path, '..'), { recursive: true })
  // Let transitions settle (progress bars, fitView) so the picture is what a person sees.
  await page.waitForTimeout(300)
  await page.screenshot({ path })
  return path
}
