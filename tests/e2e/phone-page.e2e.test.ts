// The phone page in Chromium at a phone's size: it names the desktop before asking for the PIN, takes the PIN
// as the desktop shows it, lands on its paired home after a reload, and tells a dead link before any PIN.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { eventually, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

/** The QR's link, pointed at the test node (it listens on loopback only). */
function linkOf(node: TestNode, url: string): string {
  const u = new URL(url);
  return new URL(u.pathname + u.search, node.base).toString();
}

/** Every request the page makes to pair/verify: one would spend an attempt on the code. */
function verifyRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/auth/pair/verify') seen.push(r.url());
  });
  return seen;
}

async function codeState(node: TestNode, code: string): Promise<string> {
  const res = await fetch(`${node.base}/auth/pair/codes/${encodeURIComponent(code)}`);
  return ((await res.json()) as { state: string }).state;
}

describe('the phone page (Chromium)', { skip }, () => {
  const browser = useChromium();
  const phoneContext = () => browser.newContext(PHONE);

  test('names the desktop before the PIN, pairs with "123 456", and a reload lands on the paired home', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const ctx = await phoneContext();
    const page = await ctx.newPage();
    const errors = collectPageErrors(page, { console: true, http: true });
    await page.goto(linkOf(node, start.url));

    const pairingWith = page.getByTestId('phone-pairing-with');
    await pairingWith.filter({ hasText: node.identity.name }).waitFor(WAIT);
    assert.equal(await page.getByTestId('phone-pairing-fingerprint').textContent(), node.identity.fingerprint);
    assert.equal(await page.getByTestId('phone-pin').getAttribute('inputmode'), 'numeric');
    assert.equal(await page.getByTestId('phone-pin').getAttribute('autocomplete'), 'one-time-code');

    // Typed key by key, as a person copies it off the desktop's screen (with its space).
    await page.getByTestId('phone-pin').pressSequentially(`${start.pin.slice(0, 3)} ${start.pin.slice(3)}`);
    assert.equal(await page.getByTestId('phone-pin').inputValue(), `${start.pin.slice(0, 3)} ${start.pin.slice(3)}`);
    await page.getByTestId('phone-submit').click();
    await page
      .getByTestId('phone-status')
      .filter({ hasText: `Paired with ${node.identity.name}` })
      .waitFor(WAIT);

    const home = new URL(page.url());
    assert.equal(home.pathname, '/pair');
    assert.equal(home.searchParams.get('code'), null, `the spent code leaves the address: ${page.url()}`);
    assert.equal(await page.title(), `Salita: ${node.identity.name}`);

    await page.reload();
    await page
      .getByTestId('phone-status')
      .filter({ hasText: `Paired with ${node.identity.name}` })
      .waitFor(WAIT);
    assert.equal(await page.getByTestId('phone-pin').isVisible(), false, 'no PIN form after a reload');
    assert.equal(await page.title(), `Salita: ${node.identity.name}`);

    // Renamed on the desktop: the open page learns the new name from its next heartbeat (sent at once when the
    // page becomes visible again), and a later load says it too.
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Kitchen PC' } });
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with Kitchen PC' }).waitFor(WAIT);
    assert.equal(await page.title(), 'Salita: Kitchen PC');
    await page.reload();
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with Kitchen PC' }).waitFor(WAIT);
    assert.equal(await page.title(), 'Salita: Kitchen PC');

    // The old link with its used code (an old bookmark) also opens the home, not a refusal.
    await page.goto(linkOf(node, start.url));
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with Kitchen PC' }).waitFor(WAIT);
    assert.equal(new URL(page.url()).searchParams.get('code'), null);

    assert.deepEqual(errors, [], 'no errors in the phone page');
    await ctx.close();
  });

  test('a PIN typed with a dash pairs', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const ctx = await phoneContext();
    const page = await ctx.newPage();
    await page.goto(linkOf(node, start.url));
    await page.getByTestId('phone-pin').pressSequentially(`${start.pin.slice(0, 3)}-${start.pin.slice(3)}`);
    await page.getByTestId('phone-submit').click();
    await page
      .getByTestId('phone-status')
      .filter({ hasText: `Paired with ${node.identity.name}` })
      .waitFor(WAIT);
    await ctx.close();
  });

  test('an expired link is told before any PIN, and no attempt is spent', async () => {
    const node = await startTestNode({ timings: { pairingTtlMs: 1_000 } });
    const start = await node.startPairing();
    await eventually(async () => (await codeState(node, start.code)) === 'expired', 'the code expires');
    const ctx = await phoneContext();
    const page = await ctx.newPage();
    const verifies = verifyRequests(page);
    await page.goto(linkOf(node, start.url));
    await page
      .getByTestId('phone-error')
      .filter({ hasText: /This code expired.*ask the desktop for a new one/ })
      .waitFor(WAIT);
    assert.equal(await page.getByTestId('phone-pin').isVisible(), false, 'no PIN is asked for');
    assert.equal(await page.getByTestId('phone-pairing-with').isVisible(), false, 'no "Pairing with" for a dead code');
    assert.deepEqual(verifies, []);
    await ctx.close();
  });

  test('a garbled link is told before any PIN, and the real code stays usable with all its attempts', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const u = new URL(linkOf(node, start.url));
    u.searchParams.set('code', start.code.slice(0, 20));
    const ctx = await phoneContext();
    const page = await ctx.newPage();
    const verifies = verifyRequests(page);
    /** The link is told garbled on load: no PIN is asked for and nothing is verified. */
    const refusedBeforePin = async (link: string): Promise<void> => {
      await page.goto(link);
      await page
        .getByTestId('phone-error')
        .filter({ hasText: /garbled/ })
        .waitFor(WAIT);
      assert.equal(await page.getByTestId('phone-pin').isVisible(), false, 'no PIN is asked for');
      assert.deepEqual(verifies, []);
    };
    await refusedBeforePin(u.toString());

    // A fingerprint cut short in an otherwise good link: also told before any PIN.
    const cutFp = new URL(linkOf(node, start.url));
    cutFp.searchParams.set('fp', cutFp.searchParams.get('fp')!.slice(0, 10));
    await refusedBeforePin(cutFp.toString());

    // The real link still pairs, and its first wrong PIN still leaves four attempts.
    await page.goto(linkOf(node, start.url));
    const wrong = String((Number(start.pin) + 1) % 1_000_000).padStart(6, '0');
    await page.getByTestId('phone-pin').fill(wrong);
    await page.getByTestId('phone-submit').click();
    await page
      .getByTestId('phone-error')
      .filter({ hasText: /4 attempts left/ })
      .waitFor(WAIT);
    await page.getByTestId('phone-pin').fill(start.pin);
    await page.getByTestId('phone-submit').click();
    await page.getByTestId('phone-status').filter({ hasText: 'Paired with' }).waitFor(WAIT);
    await ctx.close();
  });
});
