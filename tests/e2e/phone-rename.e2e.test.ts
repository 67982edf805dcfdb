// The phone page follows a rename of its desktop without a reload: while it is open (the node's `node` frame on
// the device socket), while its socket was down (the `hello` of the next socket), and while it was closed (the
// session answer of the next load). Heading, page title and what the page stored all say the new name.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { eventually, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

/** Pairs a phone page with `node` the way a person does (QR link, PIN); returns the paired home. */
async function pairedPage(ctx: BrowserContext, node: TestNode, setup?: (page: Page) => Promise<void>): Promise<Page> {
  const start = await node.startPairing();
  const page = await ctx.newPage();
  await setup?.(page);
  const link = new URL(start.url);
  await page.goto(new URL(link.pathname + link.search, node.base).toString());
  await page.getByTestId('phone-pin').fill(start.pin);
  await page.getByTestId('phone-submit').click();
  await headingSays(page, node.identity.name);
  return page;
}

/** Waits (no sleeping) until the heading and the page title both name the desktop `name`. */
async function headingSays(page: Page, name: string): Promise<void> {
  await page
    .getByTestId('phone-paired-with')
    .filter({ hasText: `Paired with ${name}` })
    .waitFor(WAIT);
  await page.waitForFunction((t) => document.title === t, `Salita: ${name}`, WAIT);
}

/** The desktop's name in what the page stored (localStorage), for the one paired desktop. */
function storedName(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Object.values(
      JSON.parse(localStorage.getItem('salita.phone.sessions.v1') ?? '{}') as Record<string, { desktop: { name: string } }>,
    ).map((s) => s.desktop.name),
  );
}

async function rename(node: TestNode, name: string): Promise<void> {
  const r = await node.admin('/api/node/identity', { method: 'PATCH', body: { name } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

describe('the phone page follows a desktop rename (Chromium)', { skip }, () => {
  const browser = useChromium();

  test('renamed while the page is open: heading, title and storage follow without a reload', async () => {
    const node = await startTestNode();
    const ctx = await browser.newContext(PHONE);
    const page = await pairedPage(ctx, node);
    const errors = collectPageErrors(page, { console: true, http: true });
    await eventually(() => node.core.deviceSockets.count() === 1, 'the page holds its event socket');
    const loads: string[] = [];
    page.on('framenavigated', (f) => loads.push(f.url()));

    await rename(node, 'Attic PC');
    await headingSays(page, 'Attic PC');
    assert.deepEqual(await storedName(page), ['Attic PC']);
    assert.deepEqual(loads, [], 'no reload');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('renamed while its socket was down: the page catches up when the socket is back', async () => {
    const node = await startTestNode();
    const ctx = await browser.newContext(PHONE);
    // A cuttable line between the page and the node's event socket: `down` refuses new sockets.
    let down = false;
    const open = new Set<{ page: WebSocketRoute; node: WebSocketRoute }>();
    const page = await pairedPage(ctx, node, (p) =>
      p.routeWebSocket(
        (url) => url.pathname === '/api/device/events',
        (ws) => {
          if (down) return void ws.close({ code: 4000, reason: 'line down' });
          open.add({ page: ws, node: ws.connectToServer() });
        },
      ),
    );
    await eventually(() => node.core.deviceSockets.count() === 1, 'the page holds its event socket');
    down = true;
    for (const line of [...open]) {
      open.delete(line);
      await line.node.close();
      await line.page.close({ code: 4000, reason: 'line down' });
    }
    await eventually(() => node.core.deviceSockets.count() === 0, 'the socket is gone on the node');

    const before = node.identity.name;
    await rename(node, 'Cellar PC');
    assert.equal(await page.getByTestId('phone-paired-with').textContent(), `Paired with ${before}`, 'nothing told it yet');
    down = false;
    await headingSays(page, 'Cellar PC');
    assert.deepEqual(await storedName(page), ['Cellar PC']);
    await ctx.close();
  });

  test('renamed while the page was closed: the next load says the new name', async () => {
    const node = await startTestNode();
    const ctx = await browser.newContext(PHONE);
    const page = await pairedPage(ctx, node);
    const home = page.url();
    await page.close();
    await eventually(() => node.core.deviceSockets.count() === 0, 'the closed page left no socket');

    await rename(node, 'Porch PC');
    const again = await ctx.newPage();
    await again.goto(home);
    await headingSays(again, 'Porch PC');
    assert.deepEqual(await storedName(again), ['Porch PC']);
    await ctx.close();
  });
});
