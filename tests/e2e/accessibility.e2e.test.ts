// Accessibility, checked by machine: axe-core runs inside Chromium over each screen of the desktop UI (at
// 1280x800) and of the phone page (at a 390x844 phone viewport), and no violation of "serious" or "critical"
// impact is allowed (contrast, names of controls, labels, landmarks, ARIA use). axe is evaluated through the
// DevTools protocol, so the pages' strict CSP stays as shipped. Each screen is also saved to docs/screenshots/
// (linked from the README), so the pictures there are the UI as the tests last saw it.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { loopbackUrl, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, PHONE, ROOT, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = join(ROOT, 'docs', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** The serious and critical violations axe finds on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

async function check(page: Page, screen: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${screen}.png`), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], `${screen}: serious accessibility violations`);
}

describe('accessibility of every screen (axe-core in Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    node = await startTestNode();
  });

  test('desktop UI at 1280x800: the main screen and the pairing panel', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await ctx.newPage();
    const errors = collectPageErrors(page, { console: true });
    await page.goto(node.adminUrl);
    await page.getByTestId('node-name').filter({ hasText: node.identity.name }).waitFor(WAIT);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await check(page, 'desktop-main');
    await page.getByTestId('connect-device').click();
    await page
      .getByTestId('pair-pin')
      .filter({ hasText: /\d{3} ?\d{3}/ })
      .waitFor(WAIT);
    await check(page, 'desktop-pairing');
    // The Network panel, open and loaded (no screenshot of it: its facts are this machine's).
    await page.getByTestId('open-network').click();
    await page.getByTestId('network-port').filter({ hasText: /\d/ }).waitFor(WAIT);
    assert.deepEqual(await seriousViolations(page), [], 'the Network panel: serious accessibility violations');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('phone page at 390x844: the pairing form', async () => {
    const start = await node.startPairing();
    const ctx = await browser.newContext(PHONE);
    const page = await ctx.newPage();
    const errors = collectPageErrors(page, { console: true });
    await page.goto(loopbackUrl(start.url, node));
    await page.getByTestId('phone-pin').waitFor(WAIT);
    await check(page, 'phone-pairing');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('the check bites: a control without a name is a serious violation', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await ctx.newPage();
    await page.setContent('<main><h1>t</h1><button></button><img src="data:,"></main>');
    const found = await seriousViolations(page);
    assert.ok(
      found.some((v) => v.includes('button-name')),
      found.join('\n'),
    );
    await ctx.close();
  });
});
