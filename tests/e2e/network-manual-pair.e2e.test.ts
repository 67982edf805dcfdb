// "Pair with a desktop by its link or address" in the desktop UI: the fallback when mDNS cannot see the other
// desktop. A pasted pairing link + PIN pairs at once; an address (host:port, IPv6 in brackets) + linking code +
// PIN shows the 6-digit code on both screens and pairs once both people confirm it. Typing mistakes are
// explained next to the form without asking the node.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { loopbackUrl, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

describe('desktop UI: pairing by link or address (Chromium)', { skip }, () => {
  const browser = useChromium();

  async function openUi(url: string): Promise<Page> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(url);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    return page;
  }

  async function openManualForm(page: Page): Promise<void> {
    await page.locator('#manual-pair-details > summary').click();
    await page.getByTestId('manual-pair').waitFor({ state: 'visible', ...WAIT });
  }

  /** Shows a pairing code on this desktop's screen and reads what the person would read off it. */
  async function showCode(page: Page): Promise<{ linking: string; pin: string; url: string }> {
    await page.getByTestId('connect-device').click();
    await page.getByTestId('pair-linking-code').filter({ hasText: /-/ }).waitFor(WAIT);
    return {
      linking: (await page.getByTestId('pair-linking-code').textContent())!,
      pin: (await page.getByTestId('pair-pin').textContent())!.replace(/\D/g, ''),
      url: (await page.getByTestId('pair-url').textContent())!,
    };
  }

  /** Both screens show the same code; the person confirms on both; each desktop lists the other. */
  async function confirmOnBoth(
    pageA: Page,
    a: { name: string; node_id: string },
    pageB: Page,
    b: { name: string; node_id: string },
  ): Promise<void> {
    const onA = pageA.getByTestId('pending-pairing').filter({ hasText: b.name });
    const onB = pageB.getByTestId('pending-pairing').filter({ hasText: a.name });
    await onA.waitFor(WAIT);
    await onB.waitFor(WAIT);
    const sasA = (await onA.locator('.sas').textContent())!.replace(/\D/g, '');
    const sasB = (await onB.locator('.sas').textContent())!.replace(/\D/g, '');
    assert.match(sasA, /^\d{6}$/);
    assert.equal(sasA, sasB, 'both screens show the same code');
    await pageA
      .getByTestId('pair-done')
      .filter({ hasText: /Almost done.*confirm on both/ })
      .waitFor(WAIT);

    await onB.getByRole('button', { name: 'Confirm' }).click();
    await onB.waitFor({ state: 'detached', ...WAIT });
    await onA.getByRole('button', { name: 'Confirm' }).click();
    await onA.waitFor({ state: 'detached', ...WAIT });
    await pageA.locator(`[data-testid="device-row"][data-node-id="${b.node_id}"]`).waitFor(WAIT);
    await pageB.locator(`[data-testid="device-row"][data-node-id="${a.node_id}"]`).waitFor(WAIT);
    await pageA.getByTestId('error-banner').waitFor({ state: 'hidden', ...WAIT });
    await pageB.getByTestId('error-banner').waitFor({ state: 'hidden', ...WAIT });
  }

  test('a pasted pairing link + PIN pairs at once (no linking code asked for)', async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    const p = await b.startPairing();
    const page = await openUi(a.adminUrl);
    await openManualForm(page);
    const bodies: unknown[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/pair-remote') bodies.push(r.postDataJSON());
    });

    await page.getByTestId('manual-pair-target').fill(`  ${loopbackUrl(p.url, b)} `);
    assert.equal(await page.getByTestId('manual-pair-code').isVisible(), false, 'a link carries its code');
    await page.getByTestId('manual-pair-pin').fill(p.pin);
    await page.getByTestId('manual-pair-submit').click();
    await page.locator(`[data-testid="device-row"][data-node-id="${b.identity.node_id}"]`).waitFor(WAIT);
    await page
      .getByTestId('pair-done')
      .filter({ hasText: `Paired with ${b.identity.name}` })
      .waitFor(WAIT);
    assert.deepEqual(bodies, [{ url: loopbackUrl(p.url, b), pin: p.pin }]);
    assert.equal(await page.getByTestId('manual-pair-target').inputValue(), '', 'the form is cleared for the next one');
    await page.context().close();
  });

  test('host:port + linking code + PIN: both UIs show the same code, and confirming on both pairs', async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    const pageA = await openUi(a.adminUrl);
    const pageB = await openUi(b.adminUrl);
    const shown = await showCode(pageB);

    await openManualForm(pageA);
    const bodies: unknown[] = [];
    pageA.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/pair-remote') bodies.push(r.postDataJSON());
    });
    await pageA.getByTestId('manual-pair-target').fill(`127.0.0.1:${b.port}`);
    await pageA.getByTestId('manual-pair-code').waitFor({ state: 'visible', ...WAIT });
    // Typed the way people type it: lower case, a space instead of the dash.
    await pageA.getByTestId('manual-pair-code').fill(shown.linking.toLowerCase().replace('-', ' '));
    await pageA.getByTestId('manual-pair-pin').fill(shown.pin);
    await pageA.getByTestId('manual-pair-submit').click();

    await confirmOnBoth(pageA, a.identity, pageB, b.identity);
    assert.deepEqual(bodies, [{ host: '127.0.0.1', port: b.port, linking_code: shown.linking, pin: shown.pin }]);
    await pageA.context().close();
    await pageB.context().close();
  });

  test('an IPv6 address in brackets ([::1]:port) works the same way', async (t) => {
    const a = await startTestNode();
    let b: TestNode;
    try {
      b = await startTestNode({ host: '::1' });
    } catch (err) {
      t.skip(`this machine cannot listen on ::1 (${(err as Error).message})`);
      return;
    }
    const pageA = await openUi(a.adminUrl);
    const pageB = await openUi(`http://[::1]:${b.port}/#admin=${b.adminToken}`);
    const shown = await showCode(pageB);

    await openManualForm(pageA);
    const bodies: unknown[] = [];
    pageA.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/pair-remote') bodies.push(r.postDataJSON());
    });
    await pageA.getByTestId('manual-pair-target').fill(`[::1]:${b.port}`);
    await pageA.getByTestId('manual-pair-code').fill(shown.linking);
    await pageA.getByTestId('manual-pair-pin').fill(shown.pin);
    await pageA.getByTestId('manual-pair-submit').click();

    await confirmOnBoth(pageA, a.identity, pageB, b.identity);
    assert.deepEqual(bodies, [{ host: '::1', port: b.port, linking_code: shown.linking, pin: shown.pin }]);
    await pageA.context().close();
    await pageB.context().close();
  });

  test("typing mistakes are explained next to the form; the node's refusals show its message", async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    const page = await openUi(a.adminUrl);
    await openManualForm(page);
    let requests = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/pair-remote') requests++;
    });
    const error = page.getByTestId('manual-pair-error');
    const submit = page.getByTestId('manual-pair-submit');
    const target = page.getByTestId('manual-pair-target');

    await target.fill('my desk please');
    await page.getByTestId('manual-pair-pin').fill('123456');
    await submit.click();
    await error.filter({ hasText: /not an address/ }).waitFor(WAIT);

    await target.fill('[::1]:99999');
    await submit.click();
    await error.filter({ hasText: /not a port/ }).waitFor(WAIT);

    await target.fill(`127.0.0.1:${b.port}`);
    await submit.click();
    await error.filter({ hasText: /linking code/ }).waitFor(WAIT);

    await page.getByTestId('manual-pair-code').fill('ABCD-EFG0');
    await submit.click();
    await error.filter({ hasText: /8 letters and digits/ }).waitFor(WAIT);

    await page.getByTestId('manual-pair-code').fill('ABCD-EFGH');
    await page.getByTestId('manual-pair-pin').fill('12');
    await submit.click();
    await error.filter({ hasText: /6 digits/ }).waitFor(WAIT);
    assert.equal(requests, 0, 'nothing was sent while the form was incomplete');

    // Complete but unknown to the other node: its JSON message is shown as is.
    await page.getByTestId('manual-pair-pin').fill('123456');
    await submit.click();
    await error.waitFor({ state: 'hidden', ...WAIT });
    const banner = page.getByTestId('error-banner');
    await banner.waitFor({ state: 'visible', ...WAIT });
    assert.equal(requests, 1);
    const text = (await banner.locator('#error-text').textContent()) ?? '';
    assert.ok(text.length > 10 && !/HTTP \d{3}/.test(text), `a readable message from the node: ${text}`);

    // Nobody listening at that address.
    await target.fill('127.0.0.1:1');
    await submit.click();
    await banner.locator('#error-text').filter({ hasNotText: text }).waitFor(WAIT);
    await page.context().close();
  });
});
