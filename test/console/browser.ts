/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the console's
 * end-to-end tests: one browser per test file (the machine has few cores), a new context (own
 * cookies, storage and cache) per test. Skipped, with the install command, where Chromium is
 * missing (test/helpers/tools.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { needs } from '../helpers/tools.ts';
import type { TestApp } from '../http/helpers.ts';
import LAUNCH from './chromium.json' with { type: 'json' };

/**
 * Debian's Chromium and the flags of every launch (no sandbox, for containers; nothing fetched
 * in the background), shared with scripts/console-screenshots.js.
 */
export const CHROMIUM = LAUNCH.executablePath;

export const skipWithoutChromium = needs(
  'admin console in Chromium',
  existsSync(CHROMIUM) ? [] : ['chromium'],
);

/** One browser for the test file: launched before its first test, closed after its last. */
export function useBrowser(): { get(): Browser } {
  let browser: Browser | undefined;
  before(async () => {
    if (skipWithoutChromium) return;
    // playwright launches with a new temporary profile (user-data dir) each time.
    browser = await chromium.launch({ ...LAUNCH, headless: true });
  });
  after(async () => {
    await browser?.close();
  });
  return {
    get() {
      if (!browser) throw new Error('the browser is not running');
      return browser;
    },
  };
}

/** A new context and page on the console of `a`, closed when the test ends. */
export async function openConsole(
  t: { after(fn: () => Promise<void>): void },
  browser: Browser,
  a: TestApp,
  path = '/console',
): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({
    baseURL: a.url,
    viewport: { width: 1280, height: 900 },
  });
  t.after(() => context.close());
  const page = await context.newPage();
  // Every CSP violation and uncaught error of the page, so a test can assert there were none.
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text()))
      errors.push(msg.text());
  });
  await page.goto(path);
  return { page, context, errors };
}

/** Signs in through the form, as a person would, and waits for the navigation to appear. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** axe-core's source, injected into a page by evaluation (the page's CSP allows no inline script). */
export const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** The serious and critical violations axe-core finds on the page as it is now. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is a global the evaluation above defined
    const axe = (globalThis as any).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations as AxeViolation[];
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
