// A small group as people use it, in Chromium: three phone pages on one desktop. Ana makes a group "Middag" with
// Ben and Cai; each page lists it and shows who is in it; a message from Ana reaches both with her name on it,
// Ben's answer reaches Ana and Cai. Ana removes Cai: Cai's page no longer has the group, and what Ana writes
// next reaches Ben only. The pages' keys never leave them (Sender Keys over the pairwise sessions).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, messageIn, pairedPhonePage, useChromium, WAIT, writeMessage } from './browser.js';

const skip = chromiumSkipReason();

const groupEntry = (page: Page) => page.locator('[data-testid="conversation"][data-peer^="#group:"]');

/** What each page logged (warnings and errors): said when a step fails, so a failure explains itself. */
const logs = new WeakMap<Page, string[]>();
function keepLog(page: Page): void {
  const lines: string[] = [];
  logs.set(page, lines);
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') lines.push(`${m.type()}: ${m.text()}`);
  });
}

const write = (page: Page, text: string) => writeMessage(page, text, () => `; page log: ${JSON.stringify(logs.get(page) ?? [])}`);

describe('a small group of phones (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  test('make a group, write in it, remove a member who then reads nothing new', async () => {
    const node = await startTestNode();
    const ana = await pairedPhonePage(browser, node, 'Ana phone');
    const ben = await pairedPhonePage(browser, node, 'Ben phone');
    const cai = await pairedPhonePage(browser, node, 'Cai phone');
    for (const p of [ana, ben, cai]) keepLog(p.page);
    // Ana's page lists the others (each has published its prekeys: pairedPhonePage waits for that).
    for (const p of [ben, cai])
      await ana.page.locator(`[data-testid="message-to"] option[value="${p.id}"]`).waitFor({ state: 'attached', ...WAIT });

    await ana.page.getByTestId('group-new').click();
    await ana.page.getByTestId('group-name').fill('Middag');
    await ana.page.locator(`[data-testid="group-member"][value="${ben.id}"]`).check();
    await ana.page.locator(`[data-testid="group-member"][value="${cai.id}"]`).check();
    await ana.page.getByTestId('group-submit').click();
    // Either the group is made, or the page says why not (then the test says it too).
    await ana.page.getByTestId('group-panel').or(ana.page.getByTestId('messages-error')).first().waitFor(WAIT);
    if (!(await ana.page.getByTestId('group-panel').count()))
      assert.fail(`the group was not made: ${await ana.page.getByTestId('messages-error').textContent()}`);
    assert.match(
      (await ana.page.getByTestId('group-members').textContent()) ?? '',
      /In Middag: you, (Ben phone, Cai phone|Cai phone, Ben phone)\./,
    );

    // The others are told (on their sessions with Ana) and list it.
    for (const p of [ben, cai]) {
      await groupEntry(p.page).filter({ hasText: 'Middag' }).waitFor(WAIT);
      assert.match((await groupEntry(p.page).textContent()) ?? '', /3 devices/);
    }

    await write(ana.page, 'Middag kl. sju?');
    for (const p of [ben, cai]) {
      await groupEntry(p.page).click();
      const m = messageIn(p.page, 'in', 'Middag kl. sju?');
      await m.waitFor(WAIT);
      assert.equal(await m.locator('[data-role="who"]').textContent(), 'Ana phone', 'each message says who wrote it');
    }
    await write(ben.page, 'Ja, gjerne');
    await messageIn(ana.page, 'in', 'Ja, gjerne').waitFor(WAIT);
    await messageIn(cai.page, 'in', 'Ja, gjerne').waitFor(WAIT);

    // Ana removes Cai.
    await ana.page.getByTestId('group-edit').click();
    await ana.page.locator(`[data-testid="group-member"][value="${cai.id}"]`).uncheck();
    await ana.page.getByTestId('group-submit').click();
    await ana.page
      .getByTestId('group-members')
      .filter({ hasText: /In Middag: you, Ben phone\./ })
      .waitFor(WAIT);
    await cai.page.locator('[data-testid="group-panel"]').waitFor({ state: 'detached', ...WAIT });
    await ben.page
      .getByTestId('group-members')
      .filter({ hasText: /In Middag: you, Ana phone\./ })
      .waitFor(WAIT);

    await write(ana.page, 'Bare oss to nå');
    await messageIn(ben.page, 'in', 'Bare oss to nå').waitFor(WAIT);
    await write(ben.page, 'Greit');
    await messageIn(ana.page, 'in', 'Greit').waitFor(WAIT);
    assert.equal(await messageIn(cai.page, 'in', 'Bare oss to nå').count(), 0, 'the removed phone reads nothing new');
    assert.equal(await messageIn(cai.page, 'in', 'Greit').count(), 0);
    for (const p of [ana, ben, cai]) {
      // Changes and sender keys are in the node's outbox too, but never listed as messages.
      assert.equal(
        await p.page.locator('[data-testid="message-body"][data-unreadable="true"]').count(),
        0,
        'no group envelope shown as a message',
      );
      assert.deepEqual(p.errors, [], 'no errors in the phone pages');
    }
  });
});
