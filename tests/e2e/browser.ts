// Shared by the e2e tests: where Chromium and Electron are, and why a test must be skipped without them.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { cleanupAll, eventually, loopbackUrl, type TestNode } from '../helpers/test-node.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.SALITA_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** A phone as the phone page meets it: a 390x844 touch screen. */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** Generous limits for waits: a slow CI machine is fine, a broken feature still fails. */
export const WAIT = { timeout: 30_000 };

/** A message of the open conversation, sent ('out') or received ('in'), by its text. */
export const messageIn = (page: Page, dir: 'in' | 'out', text: string | RegExp): Locator =>
  page.locator(`[data-testid="message"][data-dir="${dir}"]`).filter({ hasText: text });

/**
 * Writes `text` in the open conversation and sends it; resolves once it is in the list. When the page refuses
 * it instead, fails with the page's reason (and `explain()`, e.g. what the page logged).
 */
export async function writeMessage(page: Page, text: string, explain: () => string = () => ''): Promise<void> {
  await page.getByTestId('message-text').fill(text);
  await page.getByTestId('message-send').click();
  const shown = messageIn(page, 'out', text);
  try {
    await shown.or(page.getByTestId('messages-error')).first().waitFor(WAIT);
  } catch (err) {
    assert.fail(`"${text}" neither shown nor refused: ${(err as Error).message}${explain()}`);
  }
  if (!(await shown.count())) assert.fail(`"${text}" was not sent: ${await page.getByTestId('messages-error').textContent()}`);
}

/** Undefined when the built renderer exists; else the message to fail with. */
export function missingBuild(): string | undefined {
  const dir = join(ROOT, 'out', 'renderer');
  if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'phone.html'))) return undefined;
  return `The UI is not built (${dir} has no index.html/phone.html). Run \`npm run build\` first (\`npm test\` does).`;
}

/**
 * Why the Chromium tests cannot run here, or undefined if they can. Without Chromium they skip on a developer
 * machine, but in CI (which installs it) a missing browser is a failure, not a skip.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `Chromium not found at ${CHROMIUM} (install it: apt-get install -y chromium, or set SALITA_CHROMIUM)`;
  if (process.env.CI) throw new Error(`${why}; CI must run the browser tests.`);
  return why;
}

// Finding the Electron binary is shared with `npm start`.
export { findElectron, hasDisplay } from '../../scripts/find-electron.mjs';

/** Debian's Chromium as every browser test uses it, after checking the UI is built (a missing build fails loudly). */
export async function launchChromium(): Promise<Browser> {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * One Chromium for the tests of the enclosing describe block: launched before them; closed after them, with
 * every node the tests started. Returns what the tests use of it (it exists only once `before` ran).
 */
export function useChromium(): Pick<Browser, 'newContext'> {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await cleanupAll();
  });
  return {
    newContext: (...args) => {
      if (!browser) throw new Error('useChromium(): the browser is not launched yet (call it from a test, not at load)');
      return browser.newContext(...args);
    },
  };
}

/**
 * Collects what went wrong in a page: uncaught errors always; with `console`, console errors other than failed
 * loads; with `http`, every response of 400 or more (a test that provokes failures on purpose leaves these off).
 */
export function collectPageErrors(page: Page, opts: { console?: boolean; http?: boolean } = {}): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (opts.console)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
  if (opts.http)
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${new URL(r.url()).pathname}`);
    });
  return errors;
}

export interface PhonePage {
  ctx: BrowserContext;
  page: Page;
  /** The phone's device id (its node_id). */
  id: string;
  /** Uncaught page errors, as collectPageErrors gathers them. */
  errors: string[];
}

/** A phone page paired with `node` the way a person does it (pairing link + PIN), in its own browser context. */
export async function pairedPhonePage(browser: Pick<Browser, 'newContext'>, node: TestNode, name: string): Promise<PhonePage> {
  const p = await node.startPairing();
  const ctx = await browser.newContext(PHONE);
  const page = await ctx.newPage();
  const errors = collectPageErrors(page);
  await page.goto(loopbackUrl(p.url, node));
  await page.getByTestId('phone-name').fill(name);
  await page.getByTestId('phone-pin').fill(p.pin);
  await page.getByTestId('phone-submit').click();
  await page.getByTestId('phone-status').filter({ hasText: 'Paired with' }).waitFor(WAIT);
  await page.getByTestId('message-form').waitFor(WAIT);
  const id = await page.evaluate(() => JSON.parse(localStorage.getItem('salita.phone.identity.v1') ?? '{}').node_id as string);
  assert.ok(id, 'the phone page has its device id');
  // The page publishes its prekeys right after pairing: until the node holds them, others cannot start a
  // session with it (a group cannot add it yet), so a test that goes on at once would race the page.
  await eventually(
    () => node.core.prekeys.status(id).signed_prekey_id !== null || undefined,
    `${name} published its prekeys`,
    WAIT.timeout,
  );
  return { ctx, page, id, errors };
}
