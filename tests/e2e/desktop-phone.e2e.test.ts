// The whole pairing journey in real browsers: the desktop UI (admin page) shows a QR + PIN; a phone (a
// separate browser context) opens the pairing link, fails once with a wrong PIN, pairs with the right one;
// the desktop's device list shows the phone live (no reload); unpairing from the UI removes it.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Page, WebSocketRoute } from 'playwright-core';
import { eventually, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

describe('desktop UI + phone pairing page (Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    node = await startTestNode();
  });

  const collectErrors = (page: Page) => collectPageErrors(page, { console: true, http: true });

  test('pair a phone by QR link + PIN, see it live, unpair it', async () => {
    const desktopCtx = await browser.newContext({ viewport: { width: 420, height: 900 } });
    const desktop = await desktopCtx.newPage();
    const desktopErrors = await collectErrors(desktop);
    await desktop.goto(node.adminUrl);

    // Identity, and the admin token is taken out of the visible URL.
    await desktop.getByTestId('node-name').filter({ hasText: node.identity.name }).waitFor(WAIT);
    await desktop.getByTestId('node-fingerprint').filter({ hasText: node.identity.fingerprint }).waitFor(WAIT);
    assert.ok(!desktop.url().includes(node.adminToken), `the admin token must leave the address bar: ${desktop.url()}`);
    await desktop.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    // A marker that only survives if the page is never reloaded.
    await desktop.evaluate(() => {
      (window as unknown as { __noReload: number }).__noReload = 1;
    });

    await desktop.getByTestId('connect-device').click();
    await desktop
      .getByTestId('pair-pin')
      .filter({ hasText: /\d{3} ?\d{3}/ })
      .waitFor(WAIT);
    const pin = (await desktop.getByTestId('pair-pin').textContent())!.replace(/\D/g, '');
    assert.match(pin, /^\d{6}$/);
    const qrSrc = await desktop.getByTestId('pair-qr').getAttribute('src');
    assert.ok(qrSrc?.startsWith('data:image/svg+xml'), 'QR image present');
    assert.ok(
      await desktop.getByTestId('pair-qr').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
      'QR image renders',
    );
    assert.match((await desktop.getByTestId('pair-countdown').textContent()) ?? '', /^\d+:\d\d$/);
    assert.ok(
      await desktop.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
      'no sideways scrolling at a narrow width',
    );
    const shown = new URL((await desktop.getByTestId('pair-url').textContent())!);
    assert.equal(shown.pathname, '/pair');
    // The QR carries a LAN address; the test node listens on loopback only, so the "phone" uses 127.0.0.1.
    const phoneUrl = new URL(shown.pathname + shown.search + shown.hash, node.base).toString();

    const phoneCtx = await browser.newContext(PHONE);
    const phone = await phoneCtx.newPage();
    const phoneErrors = await collectErrors(phone);
    await phone.goto(phoneUrl);
    await phone.getByTestId('phone-name').fill('E2E Phone');

    const wrong = String((Number(pin) + 1) % 1_000_000).padStart(6, '0');
    await phone.getByTestId('phone-pin').fill(wrong);
    await phone.getByTestId('phone-submit').click();
    await phone
      .getByTestId('phone-error')
      .filter({ hasText: /Wrong PIN.*4 attempts left/ })
      .waitFor(WAIT);

    await phone.getByTestId('phone-pin').fill(pin);
    await phone.getByTestId('phone-submit').click();
    await phone
      .getByTestId('phone-status')
      .filter({ hasText: `Paired with ${node.identity.name}` })
      .waitFor(WAIT);
    assert.equal(await phone.getByTestId('phone-desktop-fingerprint').textContent(), node.identity.fingerprint);
    const stored = await phone.evaluate(() => JSON.parse(localStorage.getItem('salita.phone.sessions.v1') ?? '{}'));
    assert.ok(stored[node.identity.node_id]?.session_id, 'the phone keeps its session');

    // The desktop shows the phone without a reload (pushed over the admin WebSocket).
    const row = desktop.getByTestId('device-row').filter({ hasText: 'E2E Phone' });
    await row.waitFor(WAIT);
    await row.filter({ hasText: 'Online' }).waitFor(WAIT);
    const phoneId = await row.getAttribute('data-node-id');
    assert.match(phoneId ?? '', /^phone-[0-9a-f-]{36}$/);
    assert.equal(
      await desktop.evaluate(() => (window as unknown as { __noReload?: number }).__noReload),
      1,
      'the desktop page was not reloaded',
    );
    // The spent code is no longer shown.
    await desktop.getByTestId('pair-pin').waitFor({ state: 'hidden', ...WAIT });

    // The page has published its prekeys (a request of its own that an unpair in the middle would refuse).
    await eventually(() => node.core.prekeys.status(phoneId!).signed_prekey_id !== null, 'the phone published its prekeys');
    // Unpair, with the confirm step.
    await row.getByTestId('unpair-button').click();
    await row.getByTestId('unpair-confirm').click();
    await desktop.locator(`[data-testid="device-row"][data-node-id="${phoneId}"]`).waitFor({ state: 'detached', ...WAIT });
    const state = await node.admin('/api/admin/state');
    assert.equal(
      state.body.devices.some((d: { node_id: string }) => d.node_id === phoneId),
      false,
    );
    // And it stays gone after the next state push (rename triggers one).
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Renamed Desk' } });
    await desktop.getByTestId('node-name').filter({ hasText: 'Renamed Desk' }).waitFor(WAIT);
    assert.equal(await desktop.getByTestId('device-row').count(), 0);
    await desktop.getByTestId('error-banner').waitFor({ state: 'hidden', ...WAIT });

    assert.deepEqual(desktopErrors, [], 'no errors in the desktop page');
    // The wrong PIN is the one refused request; nothing else may go wrong.
    assert.deepEqual(phoneErrors, ['HTTP 401 /auth/pair/verify'], 'no other errors in the phone page');
    await phoneCtx.close();
    await desktopCtx.close();
  });

  test('the desktop UI renames the node inline and shows API errors readably', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await page.getByRole('button', { name: 'Rename this node' }).click();
    await page.getByLabel('Node name').fill('Study PC');
    await page.getByLabel('Node name').press('Enter');
    await page.getByTestId('node-name').filter({ hasText: 'Study PC' }).waitFor(WAIT);
    assert.equal((await node.admin('/api/node/identity')).body.name, 'Study PC');

    // A name the node refuses (too long; the input's own limit is lifted to get it through): its message is shown.
    await page.getByRole('button', { name: 'Rename this node' }).click();
    await page.evaluate(() => {
      (document.getElementById('rename-input') as HTMLInputElement).maxLength = 200;
    });
    await page.getByLabel('Node name').fill('x'.repeat(80));
    await page.getByLabel('Node name').press('Enter');
    await page.getByTestId('error-banner').waitFor({ state: 'visible', ...WAIT });
    assert.match((await page.getByTestId('error-banner').textContent()) ?? '', /name/i);
    await ctx.close();
  });

  test('the phone page explains a used code and a fingerprint that does not match', async () => {
    const start = await node.startPairing();
    const u = new URL(start.url);
    const link = (fp: string) => `${node.base}/pair?code=${encodeURIComponent(u.searchParams.get('code')!)}&fp=${fp}`;
    const ctx = await browser.newContext();
    const page = await ctx.newPage();

    // Someone else's node at this address: a fingerprint that is not this node's is refused before any PIN.
    await page.goto(link('AAAAAAAAAAAAAAAA'));
    await page
      .getByTestId('phone-error')
      .filter({ hasText: /NOT the desktop/ })
      .waitFor(WAIT);
    await page.getByTestId('phone-submit').waitFor({ state: 'hidden', ...WAIT });

    await page.goto(link(u.searchParams.get('fp')!));
    await page.getByTestId('phone-pin').fill(start.pin);
    await page.getByTestId('phone-submit').click();
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with' }).waitFor(WAIT);

    const other = await browser.newContext();
    const late = await other.newPage();
    await late.goto(link(u.searchParams.get('fp')!));
    // Told on load, before any PIN.
    await late
      .getByTestId('phone-error')
      .filter({ hasText: /already used/ })
      .waitFor(WAIT);
    assert.equal(await late.getByTestId('phone-pin').isVisible(), false);
    await other.close();
    await ctx.close();
  });

  test('an expired code is replaced on the desktop by itself, and the phone is told the old one expired', async () => {
    const quick = await startTestNode({ timings: { pairingTtlMs: 2_000 } });
    const ctx = await browser.newContext();
    const desktop = await ctx.newPage();
    await desktop.goto(quick.adminUrl);
    await desktop.getByTestId('connect-device').click();
    await desktop.getByTestId('pair-pin').filter({ hasText: /\d/ }).waitFor(WAIT);
    const firstUrl = (await desktop.getByTestId('pair-url').textContent())!;
    // No click: the page fetches a fresh code when the old one runs out.
    await desktop.getByTestId('pair-url').filter({ hasNotText: firstUrl }).waitFor(WAIT);

    const phoneCtx = await browser.newContext();
    const phone = await phoneCtx.newPage();
    const u = new URL(firstUrl);
    await phone.goto(new URL(u.pathname + u.search, quick.base).toString());
    // Told on load, before any PIN.
    await phone
      .getByTestId('phone-error')
      .filter({ hasText: /expired/ })
      .waitFor(WAIT);
    assert.equal(await phone.getByTestId('phone-pin').isVisible(), false);
    await phoneCtx.close();
    await ctx.close();
  });

  test('the desktop UI reconnects when its event socket drops, and stays live', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const sockets: WebSocketRoute[] = [];
    // Pass-through proxy for the admin socket, so the test can cut it like a network drop would.
    await page.routeWebSocket(/\/api\/admin\/events$/, (ws) => {
      sockets.push(ws);
      ws.connectToServer();
    });
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await sockets[0]!.close({ code: 1011, reason: 'test: drop' });
    await eventually(() => sockets.length >= 2, 'the UI opens a new socket', WAIT.timeout);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);

    const { phone } = await pairPhone(node);
    await page.locator(`[data-testid="device-row"][data-node-id="${phone.identity.node_id}"]`).waitFor(WAIT);
    await ctx.close();
  });

  test('a page without the admin token explains how to open the UI', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${node.base}/`);
    await page.getByTestId('admin-locked').filter({ hasText: '#admin=' }).waitFor(WAIT);
    await ctx.close();
  });
});
