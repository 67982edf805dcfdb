// The Messages section as a person uses it, in Chromium: a phone writes two lines (Shift+Enter, then Enter
// sends) and the desktop UI shows them with the line break; while the desktop page is hidden the message
// raises a notification (sender's name, first line) and the conversation list shows its first line, when, and
// an unread badge, with the total in the heading and the window title; the badge goes once that conversation
// is opened with the page in front. Every message says its time in words, with the full time on hover.
// The Notification API and the page's visibility are stubbed in an init script: a headless page is always
// "visible" and has no notification permission to grant.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, pairedPhonePage, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

/**
 * Runs in the desktop page before its scripts: a recording Notification, and a visibility the test switches.
 * A string, not a function: the test's compiler would add helpers (for class fields) the page does not have.
 */
const STUB_ATTENTION = `
  window.__away = false;
  window.__notes = [];
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__away ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.__away });
  window.__blurred = false;
  Document.prototype.hasFocus = () => !window.__away && !window.__blurred;
  function RecordingNotification(title, opts) { window.__notes.push({ title, body: opts && opts.body }); }
  RecordingNotification.permission = 'granted';
  RecordingNotification.requestPermission = () => Promise.resolve('granted');
  Object.defineProperty(window, 'Notification', { configurable: true, writable: true, value: RecordingNotification });
`;

/** The text as laid out: a line break shows as "\n" only if the page renders it (white-space), unlike textContent. */
function shownText(l: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered line breaks are what is tested
  return l.innerText();
}

async function setAway(page: Page, away: boolean): Promise<void> {
  await page.evaluate((a) => {
    (window as unknown as { __away: boolean }).__away = a;
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event(a ? 'blur' : 'focus'));
  }, away);
}

describe('Messages section: conversation list, multiline, notifications (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();

  const phoneOn = (node: TestNode, name: string) => pairedPhonePage(browser, node, name);

  test('a two-line message arrives with its line break, notifies while hidden, is unread until opened', async () => {
    const node = await startTestNode();
    const r = await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Study PC' } });
    assert.equal(r.status, 200);

    const desktopCtx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    await desktopCtx.addInitScript({ content: STUB_ATTENTION });
    const desktop = await desktopCtx.newPage();
    const desktopErrors = collectPageErrors(desktop, { console: true });
    await desktop.goto(node.adminUrl);
    await desktop.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    const uiDevice = await desktop.locator('[data-testid="messages-panel"][data-device-id]').getAttribute('data-device-id', WAIT);
    assert.ok(uiDevice);
    // Permission is already granted here: nothing to ask.
    assert.equal(await desktop.getByTestId('messages-notify').count(), 0);

    const ana = await phoneOn(node, 'Ana phone');
    const ben = await phoneOn(node, 'Ben phone');
    const entry = (peer: string) => desktop.locator(`[data-testid="conversation"][data-peer="${peer}"]`);

    // The desktop lists both phones (no messages yet), with a phone icon; it opens Ben's conversation.
    await entry(ana.id).waitFor(WAIT);
    await entry(ben.id).waitFor(WAIT);
    assert.equal(await entry(ana.id).locator('.device-icon').getAttribute('data-shape'), 'phone');
    assert.match((await entry(ana.id).getByTestId('conversation-preview').textContent()) ?? '', /No messages yet/);
    await entry(ben.id).click();
    await entry(ben.id).and(desktop.locator('[aria-current="true"]')).waitFor(WAIT);

    // Ana's phone writes two lines: Shift+Enter is a new line, Enter sends.
    await ana.page.locator(`[data-testid="message-to"] option[value="${uiDevice}"]`).waitFor({ state: 'attached', ...WAIT });
    await ana.page.getByTestId('message-to').selectOption(uiDevice!);
    const box = ana.page.getByTestId('message-text');
    await box.click();
    await box.pressSequentially('Dinner at 8?');
    await box.press('Shift+Enter');
    await box.pressSequentially('Bring the salad');
    assert.equal(await box.inputValue(), 'Dinner at 8?\nBring the salad', 'Shift+Enter made a new line, sent nothing');
    await box.press('Enter');
    const sent = ana.page.locator('[data-testid="message"][data-dir="out"]').filter({ hasText: 'Bring the salad' });
    await sent.waitFor(WAIT);
    // The box empties once the message is in the list (the same moment, give or take a render).
    await ana.page.waitForFunction(
      () => (document.querySelector('[data-testid="message-text"]') as HTMLTextAreaElement | null)?.value === '',
      undefined,
      WAIT,
    );
    assert.equal(await shownText(sent.getByTestId('message-body')), 'Dinner at 8?\nBring the salad', 'the sender sees the break too');
    const sentTime = sent.getByTestId('message-time');
    assert.equal(await sentTime.textContent(), 'just now');
    assert.ok(((await sentTime.getAttribute('title')) ?? '').length > 0, 'the full time on hover');

    // The first one has reached the desktop while it is in front (unread: another conversation is open); only
    // then does the page go to the background, and the next message arrives there.
    await entry(ana.id).getByTestId('conversation-unread').and(desktop.locator('[data-count="1"]')).waitFor(WAIT);
    await setAway(desktop, true);
    await ana.page.getByTestId('message-text').fill('See you\nsoon');
    await ana.page.getByTestId('message-send').click();
    await ana.page.locator('[data-testid="message"][data-dir="out"]').filter({ hasText: 'See you' }).waitFor(WAIT);

    const badge = entry(ana.id).getByTestId('conversation-unread');
    await badge.and(desktop.locator('[data-count="2"]')).waitFor(WAIT);
    assert.equal(await entry(ana.id).getByTestId('conversation-preview').textContent(), 'See you', 'the last message, first line only');
    assert.equal(await entry(ana.id).getByTestId('conversation-time').textContent(), 'just now');
    await desktop.locator('[data-testid="messages-unread-total"][data-count="2"]').waitFor(WAIT);
    await desktop.waitForFunction(() => document.title.startsWith('(2) Salita: Study PC'), undefined, WAIT);
    assert.equal(await entry(ben.id).getByTestId('conversation-unread').count(), 0);

    // A notification for the one that came while the page was away (the first came with the page in front,
    // another conversation open: unread, but no notification), with the sender's name and the first line.
    await desktop.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length >= 1, undefined, WAIT);
    const notes = await desktop.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes);
    assert.deepEqual(notes, [{ title: 'Ana phone', body: 'See you' }]);

    // Back in front, Ben's conversation is open: Ana's stay unread until hers is opened.
    await setAway(desktop, false);
    assert.equal(await badge.getAttribute('data-count'), '2');
    await entry(ana.id).click();
    await badge.waitFor({ state: 'detached', ...WAIT });
    await desktop.getByTestId('messages-unread-total').waitFor({ state: 'detached', ...WAIT });
    await desktop.waitForFunction(() => document.title === 'Salita: Study PC', undefined, WAIT);
    assert.equal(await desktop.getByTestId('message-to').inputValue(), ana.id, 'the To list follows the opened conversation');

    // The conversation shows both lines of each message, each with its time in words.
    const got = desktop.locator('[data-testid="message"][data-dir="in"]');
    assert.equal(await got.count(), 2);
    assert.equal(await shownText(got.first().getByTestId('message-body')), 'Dinner at 8?\nBring the salad');
    assert.equal(await shownText(got.nth(1).getByTestId('message-body')), 'See you\nsoon');
    assert.equal(await got.first().getByTestId('message-time').textContent(), 'just now');
    assert.match((await got.first().getByTestId('message-time').getAttribute('title')) ?? '', /\d/);

    // Nothing new while the page is in front: no notification.
    await ana.page.getByTestId('message-text').fill('One more');
    await ana.page.getByTestId('message-send').click();
    await desktop.locator('[data-testid="message"][data-dir="in"]').filter({ hasText: 'One more' }).waitFor(WAIT);
    assert.equal(await desktop.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes.length), 1);
    assert.equal(await badge.count(), 0, 'read at once: its conversation is open and the page in front');

    // Visible but another window has the focus: still worth a notification.
    await desktop.evaluate(() => {
      (window as unknown as { __blurred: boolean }).__blurred = true;
      window.dispatchEvent(new Event('blur'));
    });
    await ana.page.getByTestId('message-text').fill('Behind another window');
    await ana.page.getByTestId('message-send').click();
    await desktop.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length >= 2, undefined, WAIT);
    assert.deepEqual(await desktop.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes.at(-1)), {
      title: 'Ana phone',
      body: 'Behind another window',
    });

    assert.deepEqual([...desktopErrors, ...ana.errors, ...ben.errors], []);
    await Promise.all([desktopCtx.close(), ana.ctx.close(), ben.ctx.close()]);
  });
});
