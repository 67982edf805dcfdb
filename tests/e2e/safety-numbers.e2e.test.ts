// Safety numbers as two people use them, in Chromium: two phone pages on one desktop message each other (on
// forward-secret sessions, kept in each page's IndexedDB), open the safety number, see the same 60 digits, check
// the other's by typing it, and mark it verified. Then one phone is re-paired (a fresh page: new id, new key);
// the other sees "safety number changed" loudly on the new device, cannot send until it accepts, and the
// conversation goes on with the re-paired phone after it does.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, messageIn, pairedPhonePage, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

async function writeTo(page: Page, to: string, text: string): Promise<void> {
  await page.locator(`[data-testid="message-to"] option[value="${to}"]`).waitFor({ state: 'attached', ...WAIT });
  await page.getByTestId('message-to').selectOption(to);
  await page.getByTestId('message-text').fill(text);
  await page.getByTestId('message-send').click();
  await messageIn(page, 'out', text).waitFor(WAIT);
}

/** Opens the safety number of the open conversation and returns its digits (as shown: groups of five). */
async function digitsOf(page: Page): Promise<string> {
  await page.getByTestId('safety-open').click();
  const digits = page.getByTestId('safety-device-digits');
  await digits.waitFor(WAIT);
  return ((await digits.textContent()) ?? '').trim();
}

describe('safety numbers between two phones (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  test('same digits on both sides, verified, then the re-paired phone shows "safety number changed" and blocks sending', async () => {
    const node = await startTestNode();
    const ana = await pairedPhonePage(browser, node, 'Ana phone');
    const ben = await pairedPhonePage(browser, node, 'Ben phone');

    await writeTo(ana.page, ben.id, 'Hei Ben');
    await messageIn(ben.page, 'in', 'Hei Ben').waitFor(WAIT);
    await writeTo(ben.page, ana.id, 'Hei Ana');
    await messageIn(ana.page, 'in', 'Hei Ana').waitFor(WAIT);
    // The pages sealed on sessions: each has them in its own IndexedDB.
    const sessionsWith = (page: Page, me: string) =>
      page.evaluate(
        (name) =>
          new Promise<string[]>((resolve, reject) => {
            const open = indexedDB.open(name);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const keys = open.result.transaction('sessions').objectStore('sessions').getAllKeys();
              keys.onsuccess = () => resolve(keys.result.map(String));
            };
          }),
        `salita-device-${me}`,
      );
    assert.deepEqual(await sessionsWith(ana.page, ana.id), [ben.id]);
    assert.deepEqual(await sessionsWith(ben.page, ben.id), [ana.id]);

    const anaDigits = await digitsOf(ana.page);
    const benDigits = await digitsOf(ben.page);
    assert.match(anaDigits, /^(\d{5} ){11}\d{5}$/, 'twelve groups of five digits');
    assert.equal(anaDigits, benDigits, 'both sides show the same safety number');
    assert.equal(await ana.page.getByTestId('safety-qr').count(), 1, 'with a QR code to scan');

    // Ana types Ben's number (as read out to her): it matches; one wrong digit does not.
    const compare = ana.page.getByTestId('safety-device-compare');
    const wrong = benDigits.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    await compare.fill(wrong);
    await ana.page.locator('[data-testid="safety-device-match"][data-match="no"]').waitFor(WAIT);
    await compare.fill(benDigits);
    await ana.page.locator('[data-testid="safety-device-match"][data-match="yes"]').waitFor(WAIT);
    await ana.page.getByTestId('safety-device-verify').click();
    await ana.page.locator('[data-testid="safety-mark"][data-verified="true"]').waitFor(WAIT);

    // Ben's phone is re-paired: a fresh page (its storage gone), the same name: a new id and key that replaces the old.
    await ben.ctx.close();
    const ben2 = await pairedPhonePage(browser, node, 'Ben phone');
    assert.notEqual(ben2.id, ben.id);

    // Ana's page hears of the change; the new Ben is not a stranger: the safety number changed, and she had verified it.
    await ana.page.locator(`[data-testid="message-to"] option[value="${ben2.id}"]`).waitFor({ state: 'attached', ...WAIT });
    await ana.page.getByTestId('message-to').selectOption(ben2.id);
    const banner = ana.page.locator(`[data-testid="safety-changed"][data-id="${ben2.id}"]`);
    await banner.waitFor(WAIT);
    assert.equal(await banner.getAttribute('data-blocking'), 'true');
    assert.equal(await banner.getAttribute('role'), 'alert', 'said loudly');
    assert.equal(await ana.page.getByTestId('message-send').isDisabled(), true, 'nothing can be sent before accepting');
    assert.equal(await ana.page.locator('[data-testid="safety-mark"][data-verified="true"]').count(), 0);

    // The new number differs from the verified one; Ana accepts it and writes again.
    assert.notEqual(await digitsOf(ana.page), anaDigits);
    await banner.getByTestId('safety-accept').click();
    await banner.waitFor({ state: 'detached', ...WAIT });
    await writeTo(ana.page, ben2.id, 'Velkommen tilbake');
    await messageIn(ben2.page, 'in', 'Velkommen tilbake').waitFor(WAIT);
    // The re-paired phone sees Ana as she was: no change on its side (it is new, it trusts her on first use).
    await ben2.page.getByTestId('message-to').selectOption(ana.id);
    assert.equal(await ben2.page.getByTestId('safety-changed').count(), 0);
    for (const p of [ana, ben2]) assert.deepEqual(p.errors, [], 'no errors in the phone pages');
  });
});
