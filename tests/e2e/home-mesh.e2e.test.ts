// The home mesh in real browsers, with no cloud process at all: (a) two phones paired with one desktop write
// to each other; the To list groups them under the desktop's name, each message says it went "on this
// desktop" and turns "Seen" once the other phone has it; this desktop going away is a banner, not an error.
// (b) desktops A and B paired with each other, a phone on each: A's phone lists B's phone under B's (current)
// name, writes to it "over your network", sees "Seen"; while B is down the banner says the message waits, and
// it goes when B is back; B unpairing A shows on A's desktop UI in words, with a Remove that clears the row.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { uiDeviceId } from '../../src/shared/wire/relay.js';
import { loopbackUrl, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, messageIn, pairedPhonePage, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
/** A desktop coming back, the peer link reconnecting, a phone page's socket backing off: generous. */
const LONG = { timeout: 90_000 };

describe('home mesh in the browser, no cloud (Chromium)', { skip, timeout: 600_000 }, () => {
  const browser = useChromium();

  /** Uncaught page errors only: a stopped desktop makes the page's requests fail on purpose. */
  const collectErrors = (page: Page) => collectPageErrors(page);

  async function rename(node: TestNode, name: string): Promise<void> {
    const r = await node.admin('/api/node/identity', { method: 'PATCH', body: { name } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }

  const phoneOn = (node: TestNode, name: string) => pairedPhonePage(browser, node, name);

  /** The option for `deviceId` inside the To list's group of `group` (a data-group or a node id). */
  const optionIn = (page: Page, groupSelector: string, deviceId: string): Locator =>
    page.locator(`[data-testid="message-to"] optgroup${groupSelector} option[value="${deviceId}"]`);

  async function write(from: Page, to: string, text: string): Promise<Locator> {
    await from.getByTestId('message-to').selectOption(to);
    await from.getByTestId('message-text').fill(text);
    await from.getByTestId('message-send').click();
    const out = messageIn(from, 'out', text);
    await out.waitFor(WAIT);
    return out;
  }

  test('(a) two phones on one desktop, no cloud: both ways "on this desktop", then "Seen"', async () => {
    const node = await startTestNode();
    await rename(node, 'Living room PC');
    const one = await phoneOn(node, 'Phone One');
    const two = await phoneOn(node, 'Phone Two');

    // Phone One lists Phone Two under the desktop's name; it never lists itself.
    const inGroup = optionIn(one.page, '[data-group="local"]', two.id);
    await inGroup.waitFor({ state: 'attached', ...LONG });
    assert.equal(await one.page.locator('[data-testid="message-to"] optgroup[data-group="local"]').getAttribute('label'), 'Living room PC');
    assert.equal(await one.page.locator(`[data-testid="message-to"] option[value="${one.id}"]`).count(), 0, 'a phone does not list itself');
    assert.match((await inGroup.textContent()) ?? '', /^Phone Two \(phone\)/);
    // No cloud anywhere, and nothing says that is a problem for a device of this home.
    const panel = (await one.page.getByTestId('messages-panel').textContent()) ?? '';
    assert.doesNotMatch(panel, /not connected to a cloud|not logged in to a cloud/i);
    assert.equal(await one.page.getByTestId('message-send').isDisabled(), false);
    assert.equal(await one.page.getByTestId('messages-banner').count(), 0, 'no banner: everyone is here');

    const hello = await write(one.page, two.id, 'Hello Phone Two, from Phone One');
    await messageIn(two.page, 'in', 'Hello Phone Two, from Phone One').waitFor(LONG);
    await hello.getByTestId('message-route').filter({ hasText: 'on this desktop' }).waitFor(LONG);
    await hello
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(LONG);

    // Phone Two opened the conversation with its writer; it answers.
    assert.equal(await two.page.getByTestId('message-to').inputValue(), one.id);
    const back = await write(two.page, one.id, 'Hello Phone One, Phone Two here');
    await messageIn(one.page, 'in', 'Hello Phone One, Phone Two here').waitFor(LONG);
    await back.getByTestId('message-route').filter({ hasText: 'on this desktop' }).waitFor(LONG);
    await back
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(LONG);
    await one.page.screenshot({ path: '/tmp/ui-home-mesh-a-phone-one.png', fullPage: true });

    // The desktop goes away: Phone One says so, and a message written now waits on the phone.
    await node.stop();
    await one.page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Living room PC is offline: your messages wait on this phone' })
      .waitFor(LONG);
    await one.page.screenshot({ path: '/tmp/ui-home-mesh-a-desktop-offline.png', fullPage: true });

    assert.deepEqual(one.errors, [], 'no uncaught errors on Phone One');
    assert.deepEqual(two.errors, [], 'no uncaught errors on Phone Two');
    await one.ctx.close();
    await two.ctx.close();
  });

  test('(b) a phone on A writes to a phone on B "over your network"; B away and back; B unpairs A', async () => {
    const a = await startTestNode();
    let b = await startTestNode();
    await rename(a, 'Living room PC');
    await rename(b, 'Study PC');
    const p = await b.startPairing();
    const paired = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } });
    assert.equal(paired.status, 200, JSON.stringify(paired.body));
    const bId = b.identity.node_id;

    const onA = await phoneOn(a, 'Ana phone');
    const onB = await phoneOn(b, 'Ben phone');

    // A's phone lists B's phone under B's name (learned over the peer link, not from a cloud).
    const benOnA = optionIn(onA.page, `[data-node-id="${bId}"]`, onB.id);
    await benOnA.waitFor({ state: 'attached', ...LONG });
    assert.equal(await onA.page.locator(`[data-testid="message-to"] optgroup[data-node-id="${bId}"]`).getAttribute('label'), 'Study PC');
    assert.match((await benOnA.textContent()) ?? '', /^Ben phone \(phone\)/);

    const hello = await write(onA.page, onB.id, 'Hello Ben, from the living room');
    await messageIn(onB.page, 'in', 'Hello Ben, from the living room').waitFor(LONG);
    await hello.getByTestId('message-route').filter({ hasText: 'over your network' }).waitFor(LONG);
    await hello
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(LONG);

    // And back, from B's phone, which lists A's phone under A's name.
    await optionIn(onB.page, `[data-node-id="${a.identity.node_id}"]`, onA.id).waitFor({ state: 'attached', ...LONG });
    const back = await write(onB.page, onA.id, 'Hello Ana, from the study');
    await messageIn(onA.page, 'in', 'Hello Ana, from the study').waitFor(LONG);
    await back.getByTestId('message-route').filter({ hasText: 'over your network' }).waitFor(LONG);
    await back
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(LONG);

    // A rename on B reaches A's phone live: the group takes B's new name.
    await rename(b, 'Office PC');
    await onA.page
      .locator(`[data-testid="message-to"] optgroup[data-node-id="${bId}"][label="Office PC"]`)
      .waitFor({ state: 'attached', ...LONG });
    await onA.page.screenshot({ path: '/tmp/ui-home-mesh-b-phone-on-a.png', fullPage: true });

    // B goes away: A's phone says B's desktop is offline and the message will wait; it goes when B is back.
    const bDir = b.dataDir;
    const bPort = b.port;
    await b.stop();
    await onA.page.getByTestId('message-to').selectOption(onB.id);
    await onA.page
      .getByTestId('messages-banner')
      .filter({ hasText: 'Office PC is offline: your message will wait and go when it is back' })
      .waitFor(LONG);
    await onA.page.screenshot({ path: '/tmp/ui-home-mesh-b-recipient-offline.png', fullPage: true });
    const waiting = await write(onA.page, onB.id, 'Written while the study was away');
    await waiting
      .getByTestId('message-status')
      .filter({ hasText: /^Queued$/ })
      .waitFor(WAIT);
    b = await startTestNode({ dataDir: bDir, port: bPort });
    await messageIn(onB.page, 'in', 'Written while the study was away').waitFor(LONG);
    await waiting
      .getByTestId('message-status')
      .filter({ hasText: /^(Delivered|Seen)$/ })
      .waitFor(LONG);
    await waiting.getByTestId('message-route').filter({ hasText: 'over your network' }).waitFor(LONG);
    await onA.page
      .getByTestId('messages-banner')
      .filter({ hasText: 'is offline' })
      .waitFor({ state: 'detached', ...LONG });

    // B unpairs A: A's desktop UI says so in words, and Remove clears the row.
    const desktopA = await (await browser.newContext({ viewport: { width: 900, height: 1200 } })).newPage();
    const desktopErrors = collectErrors(desktopA);
    await desktopA.goto(a.adminUrl);
    await desktopA.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    const rowB = desktopA.locator(`[data-testid="device-row"][data-node-id="${bId}"]`);
    await rowB.waitFor(WAIT);
    // The desktop UI's own To list has B's phone under B's name too, and A's phone under "This desktop".
    await desktopA
      .locator(`[data-testid="message-to"] optgroup[data-node-id="${bId}"] option[value="${onB.id}"]`)
      .waitFor({ state: 'attached', ...LONG });
    await desktopA
      .locator(`[data-testid="message-to"] optgroup[data-group="local"][label="This desktop"] option[value="${onA.id}"]`)
      .waitFor({ state: 'attached', ...LONG });
    assert.equal(
      await desktopA.locator(`[data-testid="message-to"] option[value="${uiDeviceId(a.identity.node_id)}"]`).count(),
      0,
      'the desktop UI does not list itself',
    );
    const unpaired = await b.admin(`/api/mesh/nodes/${encodeURIComponent(a.identity.node_id)}`, { method: 'DELETE' });
    assert.equal(unpaired.status, 200, JSON.stringify(unpaired.body));
    await rowB.getByTestId('ended-by-peer').filter({ hasText: 'Office PC unpaired this desktop' }).waitFor(LONG);
    assert.equal(await rowB.getByTestId('unpair-button').isVisible(), false, 'nothing left to unpair');
    await desktopA.screenshot({ path: '/tmp/ui-home-mesh-b-unpaired-by-peer.png', fullPage: true });
    await rowB.getByRole('button', { name: 'Remove Office PC from this list' }).click();
    await rowB.waitFor({ state: 'detached', ...WAIT });
    // Its devices leave A's To lists with it.
    await optionIn(onA.page, `[data-node-id="${bId}"]`, onB.id).waitFor({ state: 'detached', ...LONG });

    assert.deepEqual(onA.errors, [], 'no uncaught errors on the phone on A');
    assert.deepEqual(onB.errors, [], 'no uncaught errors on the phone on B');
    assert.deepEqual(desktopErrors, [], "no uncaught errors on A's desktop UI");
    await onA.ctx.close();
    await onB.ctx.close();
    await desktopA.context().close();
  });
});
