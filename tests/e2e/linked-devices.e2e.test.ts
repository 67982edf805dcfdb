// Linked devices as people use them, in Chromium: Ana has a phone and a tablet on one desktop, Ben a phone.
// Ana links the tablet from her phone ("This is my device too"), the tablet accepts. What Ana writes to Ben
// from her phone shows on her tablet as sent by her; Ben sees Ana as one conversation and his answer reaches
// both of her devices. The tablet unlinks the phone: nothing more is copied to it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, messageIn, pairedPhonePage, useChromium, WAIT, writeMessage } from './browser.js';

const skip = chromiumSkipReason();

const personEntry = (page: Page) => page.locator('[data-testid="conversation"][data-peer^="#person:"]');
const open = (page: Page, peer: string) => page.locator(`[data-testid="conversation"][data-peer="${peer}"]`).click();

describe('linked devices (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  test('link a tablet to a phone; copies, one conversation for the contact, unlink', async () => {
    const node = await startTestNode();
    const phone = await pairedPhonePage(browser, node, 'Ana phone');
    const tablet = await pairedPhonePage(browser, node, 'Ana tablet');
    const ben = await pairedPhonePage(browser, node, 'Ben phone');

    // From the phone: the conversation with the tablet, "This is my device too", a name, the offer.
    await open(phone.page, tablet.id);
    await phone.page.getByTestId('link-device').click();
    await phone.page.getByTestId('link-name').fill('Ana');
    await phone.page.getByTestId('link-submit').click();
    await phone.page.locator('[data-testid="link-status"][data-linked="waiting"]').waitFor(WAIT);

    // The tablet is asked, and says yes.
    const offer = tablet.page.getByTestId('link-offer');
    await offer.waitFor(WAIT);
    assert.match((await offer.textContent()) ?? '', /Ana phone asks to link this device with it, as one person: Ana/);
    await tablet.page.getByTestId('link-accept').click();
    await offer.waitFor({ state: 'detached', ...WAIT });
    await phone.page.locator('[data-testid="link-status"][data-linked="true"]').waitFor(WAIT);
    await open(tablet.page, phone.id);
    await tablet.page.locator('[data-testid="link-status"][data-linked="true"]').waitFor(WAIT);

    // Ana writes to Ben from the phone: Ben has Ana as one person; the tablet shows it as Ana's own.
    await open(phone.page, ben.id);
    await writeMessage(phone.page, 'Hei Ben, det er Ana');
    await personEntry(ben.page).filter({ hasText: 'Ana' }).waitFor(WAIT);
    assert.match((await personEntry(ben.page).textContent()) ?? '', /2 devices/);
    await personEntry(ben.page).click();
    const got = messageIn(ben.page, 'in', 'Hei Ben, det er Ana');
    await got.waitFor(WAIT);
    assert.equal(await got.locator('[data-role="who"]').textContent(), 'Ana phone');
    await open(tablet.page, ben.id);
    const copy = messageIn(tablet.page, 'out', 'Hei Ben, det er Ana');
    await copy.waitFor(WAIT);
    assert.equal(await copy.locator('[data-role="who"]').textContent(), 'You, on Ana phone');

    // Ben answers Ana (the person): both of her devices get it, in their conversation with Ben.
    assert.match(
      (await ben.page.getByTestId('person-devices').textContent()) ?? '',
      /Ana on 2 devices: (Ana phone, Ana tablet|Ana tablet, Ana phone)/,
    );
    await writeMessage(ben.page, 'Hei Ana!');
    await messageIn(phone.page, 'in', 'Hei Ana!').waitFor(WAIT);
    await messageIn(tablet.page, 'in', 'Hei Ana!').waitFor(WAIT);

    // The tablet unlinks the phone: both say so, and what the phone writes next is not copied.
    await open(tablet.page, phone.id);
    await tablet.page.getByTestId('link-unlink').click();
    await tablet.page.getByTestId('link-device').waitFor(WAIT);
    await open(phone.page, tablet.id);
    await phone.page.getByTestId('link-device').waitFor(WAIT);
    await open(phone.page, ben.id);
    await writeMessage(phone.page, 'Nå bare fra telefonen');
    await messageIn(ben.page, 'in', 'Nå bare fra telefonen').waitFor(WAIT);
    // A message the phone sends the tablet after it: once the tablet shows that, it has read all before it.
    await open(phone.page, tablet.id);
    await writeMessage(phone.page, 'Til nettbrettet');
    await open(tablet.page, phone.id);
    await messageIn(tablet.page, 'in', 'Til nettbrettet').waitFor(WAIT);
    await open(tablet.page, ben.id);
    assert.equal(await messageIn(tablet.page, 'out', 'Nå bare fra telefonen').count(), 0, 'no copy after unlinking');
    // Offers, answers and keys are in the node's outbox too, but never listed as messages: not even after a
    // reload, once the page has read the outbox afresh.
    for (const [p, other] of [
      [phone, tablet],
      [tablet, phone],
    ] as const) {
      const outboxRead = p.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/messages/outbox');
      await p.page.reload();
      await outboxRead;
      await open(p.page, other.id);
      await messageIn(p.page, p === phone ? 'out' : 'in', 'Til nettbrettet').waitFor(WAIT);
      await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(
        await p.page.locator('[data-testid="message-body"][data-unreadable="true"]').count(),
        0,
        'no linking envelope shown as a message',
      );
    }
    for (const p of [phone, tablet, ben]) {
      assert.deepEqual(p.errors, [], 'no errors in the phone pages');
    }
  });
});
