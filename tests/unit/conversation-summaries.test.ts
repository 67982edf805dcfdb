// The conversation list from the directory and the kept messages: one entry per device (listed or talked
// with), newest conversation first, the last message's first line, and unread counts that only incoming,
// unread messages make; opening a conversation (markRead) clears its count and no other.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ConversationMessage, Conversations, groupIdOf, groupPeer } from '../../src/renderer/src/common/conversation.js';
import { countUnread, summarize } from '../../src/renderer/src/common/messages/conversation-summaries.js';
import { fakeDirectory } from './fixtures/fake-directory.js';

const incoming = (id: string, peer: string, at: string, text: string | null, unread = true): ConversationMessage => ({
  dir: 'in',
  id,
  peer,
  sent_at: at,
  text,
  unread,
  ...(text === null ? { error: 'open_failed' } : {}),
});
const outgoing = (id: string, peer: string, at: string, text: string): ConversationMessage => ({
  dir: 'out',
  id,
  peer,
  sent_at: at,
  text,
  status: 'delivered',
});

describe('conversation summaries', () => {
  test('every directory device but me, those with messages first (newest first), then the rest by name', () => {
    const list = summarize(fakeDirectory(), [
      incoming('m1', 'phone-zed', '2026-12-01T10:00:00Z', 'old'),
      outgoing('m2', 'phone-study', '2026-12-01T11:00:00Z', 'newer'),
    ]);
    assert.deepEqual(
      list.map((e) => e.peer),
      // with messages, newest first; then by name: Ana phone, Attic phone, Grandma phone, Living room PC
      ['phone-study', 'phone-zed', 'phone-ana', 'phone-attic', 'phone-far', 'node-living.ui'],
    );
    assert.ok(!list.some((e) => e.peer === 'phone-me'), 'a device does not list itself');
    const study = list[0]!;
    assert.equal(study.where, 'Study PC', 'a device of another desktop says which');
    assert.equal(list.find((e) => e.peer === 'phone-far')?.where, 'another home');
    assert.equal(list.find((e) => e.peer === 'phone-ana')?.where, undefined, "this desktop's own devices need no place");
  });

  test('groups: listed with their size, a group message by its group; a group left keeps its messages under a plain name', () => {
    const list = summarize(
      fakeDirectory(),
      [
        {
          ...(incoming('g1', groupPeer('g-one'), '2026-12-01T12:00:00Z', 'hei alle') as ConversationMessage & { dir: 'in' }),
          author: 'phone-ana',
        },
        incoming('g2', groupPeer('g-left'), '2026-12-01T09:00:00Z', 'old group'),
      ],
      [{ peer: groupPeer('g-one'), name: 'Middag', members: 3 }],
    );
    const one = list.find((e) => e.peer === groupPeer('g-one'));
    assert.deepEqual([one?.name, one?.kind, one?.where, one?.preview, one?.gone], ['Middag', 'group', '3 devices', 'hei alle', false]);
    assert.equal(list[0]?.peer, groupPeer('g-one'), 'newest first, groups among devices');
    const left = list.find((e) => e.peer === groupPeer('g-left'));
    assert.deepEqual([left?.name, left?.kind, left?.gone], ['A group you are no longer in', 'group', true]);
  });

  test('a device cannot choose an id that puts its messages into a group conversation', () => {
    // 'group:g-one' is a valid device id; a device paired under it stays a device, its messages its own.
    const conv = new Conversations();
    conv.addReceived(
      { ok: true, seq: 1, id: 'x1', from_device: 'group:g-one', sent_at: '2026-12-01T12:00:00.000Z', text: 'I am the group' },
      true,
    );
    const [m] = conv.all();
    assert.equal(m?.peer, 'group:g-one');
    assert.equal(groupIdOf(m?.peer), undefined);
    const list = summarize(fakeDirectory(), conv.all(), [{ peer: groupPeer('g-one'), name: 'Middag', members: 3 }]);
    assert.equal(list.find((e) => e.peer === groupPeer('g-one'))?.last, undefined, "the group's conversation has none of it");
    assert.deepEqual(
      [list.find((e) => e.peer === 'group:g-one')?.kind, list.find((e) => e.peer === 'group:g-one')?.name],
      [undefined, 'group:g-one'],
    );
  });

  test('the last message in one line, its first line only', () => {
    const [e] = summarize(fakeDirectory(), [
      incoming('m1', 'phone-ana', '2026-12-01T10:00:00Z', 'first'),
      incoming('m2', 'phone-ana', '2026-12-01T10:05:00Z', '\n  Dinner at 8?  \nBring the salad\n'),
    ]);
    assert.equal(e?.peer, 'phone-ana');
    assert.equal(e?.last?.id, 'm2');
    assert.equal(e?.preview, 'Dinner at 8?');
  });

  test('unread counts only incoming unread messages of that conversation', () => {
    const msgs = [
      incoming('a1', 'phone-ana', '2026-12-01T10:00:00Z', 'one'),
      incoming('a2', 'phone-ana', '2026-12-01T10:01:00Z', null),
      incoming('a3', 'phone-ana', '2026-12-01T10:02:00Z', 'read already', false),
      outgoing('a4', 'phone-ana', '2026-12-01T10:03:00Z', 'mine'),
      incoming('z1', 'phone-zed', '2026-12-01T10:04:00Z', 'zed'),
    ];
    const list = summarize(fakeDirectory(), msgs);
    assert.equal(list.find((e) => e.peer === 'phone-ana')?.unread, 2, 'one that could not be opened is still new');
    assert.equal(list.find((e) => e.peer === 'phone-zed')?.unread, 1);
    assert.equal(list.find((e) => e.peer === 'phone-study')?.unread, 0);
    assert.equal(countUnread(msgs), 3);
  });

  test('someone no longer in the directory keeps an entry for their messages', () => {
    const list = summarize(fakeDirectory(), [incoming('g1', 'phone-gone', '2026-12-01T10:00:00Z', 'bye')]);
    const gone = list.find((e) => e.peer === 'phone-gone');
    assert.equal(gone?.gone, true);
    assert.equal(gone?.name, 'phone-gone');
    assert.equal(gone?.unread, 1);
  });

  test('before the directory loads, the kept conversations still list', () => {
    const list = summarize(undefined, [incoming('m1', 'phone-ana', '2026-12-01T10:00:00Z', 'hi')]);
    assert.deepEqual(
      list.map((e) => [e.peer, e.unread]),
      [['phone-ana', 1]],
    );
  });

  test('opening a conversation clears its unread count and no other', () => {
    const conv = new Conversations('', undefined);
    const open = (id: string, from: string) =>
      conv.addReceived({ ok: true, seq: 1, id, from_device: from, sent_at: '2026-12-01T10:00:00Z', text: 'x' }, true);
    open('1', 'phone-ana');
    open('2', 'phone-ana');
    open('3', 'phone-zed');
    assert.equal(countUnread(conv.all()), 3);
    assert.equal(conv.markRead('phone-ana'), true);
    assert.equal(conv.markRead('phone-ana'), false, 'nothing left to mark');
    assert.equal(countUnread(conv.all()), 1);
    assert.equal(summarize(fakeDirectory(), conv.all()).find((e) => e.peer === 'phone-zed')?.unread, 1);
  });
});
