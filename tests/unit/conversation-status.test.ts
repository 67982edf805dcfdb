// A sent message's status and route only move forward (queued < sent < delivered < seen; local < lan < cloud):
// a late outbox answer or a reordered push must not turn "Seen" back into "Delivered", nor undo a fallback to
// the cloud; pushes that beat the send's own answer are kept and applied.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Conversations, MAX_HIDDEN, type SentMessage } from '../../src/renderer/src/common/conversation.js';
import { routeText, statusText } from '../../src/renderer/src/common/message-words.js';

const sent = (c: Conversations, id = 'm1') => c.with('peer').find((m) => m.id === id) as SentMessage;

describe('sent message status and route', () => {
  test('forward only: seen stays seen after a late delivered; route kept from the first answer that has one', () => {
    const c = new Conversations();
    c.addSent('m1', 'peer', 'hi', '2026-01-01T00:00:00.000Z', 'queued');
    assert.equal(c.applyStatus('m1', 'delivered', undefined, 'local'), true);
    assert.equal(sent(c).route, 'local');
    assert.equal(c.applyStatus('m1', 'seen'), true);
    assert.equal(c.applyStatus('m1', 'delivered', undefined, 'local'), false, 'a late delivered is ignored');
    assert.equal(sent(c).status, 'seen');
    assert.equal(sent(c).route, 'local', 'a status without a route keeps the route');
  });

  test('the route moves forward only (a fallback to the cloud is not undone by a late "lan")', () => {
    const c = new Conversations();
    c.addSent('m1', 'peer', 'hi', '2026-01-01T00:00:00.000Z', 'queued');
    c.applyStatus('m1', 'queued', undefined, 'lan');
    assert.equal(c.applyStatus('m1', 'sent', undefined, 'cloud'), true);
    assert.equal(c.applyStatus('m1', 'sent', undefined, 'lan'), false);
    assert.equal(sent(c).route, 'cloud');
  });

  test("pushes before the send's answer: the most advanced one is kept and applied", () => {
    const c = new Conversations();
    c.applyStatus('m1', 'delivered', undefined, 'lan');
    c.applyStatus('m1', 'seen');
    c.applyStatus('m1', 'delivered', undefined, 'lan'); // reordered
    c.addSent('m1', 'peer', 'hi', '2026-01-01T00:00:00.000Z', 'queued');
    assert.equal(sent(c).status, 'seen');
    assert.equal(sent(c).route, 'lan');
  });

  test('the outbox brings the route too', () => {
    const c = new Conversations();
    c.mergeOutbox([{ id: 'm2', to: ['peer'], status: 'delivered', route: 'lan', created_at: '2026-01-01T00:00:00.000Z' }]);
    assert.equal(sent(c, 'm2').route, 'lan');
    c.mergeOutbox([{ id: 'm2', to: ['peer'], status: 'seen', route: 'lan', created_at: '2026-01-01T00:00:00.000Z' }]);
    assert.equal(sent(c, 'm2').status, 'seen');
  });

  test("a group's or a link's own envelopes in the outbox are never listed; kept across reloads, bounded", () => {
    const storage = new Map<string, string>();
    const local = {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
    } as unknown as Storage;
    const view = (id: string) => ({ id, to: ['peer'], status: 'sent' as const, created_at: '2026-01-01T00:00:00.000Z' });
    const c = new Conversations('conv', local);
    c.hide(['ctl-1']);
    assert.equal(c.mergeOutbox([view('ctl-1'), view('other')]), true);
    assert.deepEqual(
      c.all().map((m) => m.id),
      ['other'],
      'an unknown outbox entry is listed (text not kept), a hidden one is not',
    );
    assert.equal(c.applyStatus('ctl-1', 'delivered'), false);
    assert.equal(c.known('ctl-1'), true);
    assert.equal(c.has('ctl-1'), false, 'not a message');
    const again = new Conversations('conv', local);
    again.mergeOutbox([view('ctl-1')]);
    assert.equal(
      again.all().some((m) => m.id === 'ctl-1'),
      false,
      'still hidden after a reload',
    );
    again.hide(Array.from({ length: MAX_HIDDEN + 5 }, (_, i) => `many-${i}`));
    assert.equal((JSON.parse(storage.get('conv.hidden')!) as string[]).length, MAX_HIDDEN);
  });

  test('in words: status, and the route only once the message has one', () => {
    assert.equal(statusText('seen'), 'Seen');
    assert.equal(statusText('failed', 'recipient_backlog_full'), 'Not delivered: the recipient has too many unread messages');
    assert.equal(routeText('delivered', 'local'), 'on this desktop');
    assert.equal(routeText('seen', 'lan'), 'over your network');
    assert.equal(routeText('sent', 'cloud'), 'through the cloud');
    assert.equal(routeText('queued', 'lan'), '', 'queued: not gone anywhere yet');
    assert.equal(routeText('failed', 'cloud'), '');
    assert.equal(routeText('delivered', undefined), '');
  });
});
