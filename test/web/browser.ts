/**
 * A real browser for the page's tests: Debian's chromium driven by playwright-core (the
 * registries ship no browser build). Tests skip, saying why, only where chromium is absent;
 * `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { type Browser, type Page, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export const chromiumMissing: string | null = existsSync(CHROMIUM)
  ? null
  : `chromium not found at ${CHROMIUM}: the browser tests of the web page are SKIPPED. ` +
    'Install it (Debian: apt-get install chromium; .ci/run does) or set CHROMIUM_PATH.';

if (chromiumMissing !== null) process.stderr.write(`${chromiumMissing}\n`);

export function launchChromium(): Promise<Browser> {
  // We run as root in CI: chromium's sandbox needs an unprivileged user.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
}

export interface WatchedPage {
  page: Page;
  /** Every alert/confirm/prompt the page tried to open (dismissed at once). */
  dialogs: string[];
  /** Uncaught page errors and console errors. */
  errors: string[];
}

export async function openPage(
  browser: Browser,
  viewport = { width: 1400, height: 800 },
): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(10_000);
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()} ${response.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return { page, dialogs, errors };
}

/** The text of one cell of a symbol's row (column class `c-NAME`). */
export function cell(page: Page, symbol: string, column: string) {
  return page.locator(`#desk-rows tr[data-symbol="${symbol}"] td.c-${column}`);
}
