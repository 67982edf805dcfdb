// The trust book (src/renderer/src/common/trust/trust-book.ts): trust on first use, a changed key noticed and
// kept until accepted, sending blocked only after a verified key changed, a verified mark only for the current
// key, a device paired again under a new id recognised through `replaces`, and what survives a reload.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { homeTrustId, trustBlocks, trustBlocksConversation } from '../../src/renderer/src/common/trust/directory-identities.js';
import { sendingBlocked, TrustBook } from '../../src/renderer/src/common/trust/trust-book.js';
import type { MessagingDirectory } from '../../src/shared/wire/relay.js';

class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const AT = new Date('2026-12-04T12:00:00Z');

test('first use is trusted; a new key is a change, kept (not replaced) until accepted; back to the old key clears it', () => {
  const book = new TrustBook();
  assert.equal(book.observe([['ben', 'K1']], AT), true);
  assert.deepEqual(book.of('ben'), { key: 'K1', verified: false });
  assert.equal(book.observe([['ben', 'K1']], AT), false, 'nothing new');

  assert.equal(book.observe([['ben', 'K2']], AT), true);
  assert.deepEqual(book.of('ben'), { key: 'K1', verified: false, changed: { to: 'K2', wasVerified: false, at: AT.toISOString() } });
  assert.equal(sendingBlocked(book.of('ben')), false, 'an unverified key that changed warns, but does not block');
  assert.equal(book.observe([['ben', 'K2']], AT), false, 'the same change again is not news');

  assert.equal(book.observe([['ben', 'K1']], AT), true);
  assert.deepEqual(book.of('ben'), { key: 'K1', verified: false });

  book.observe([['ben', 'K3']], AT);
  book.accept('ben');
  assert.deepEqual(book.of('ben'), { key: 'K3', verified: false });
});

test('verified, then changed: sending is blocked until accepted; the mark is only for the current key', () => {
  const book = new TrustBook();
  book.observe([['ben', 'K1']], AT);
  assert.equal(book.setVerified('ben', 'K0', true), false, 'not the key trusted now');
  assert.equal(book.setVerified('nobody', 'K1', true), false);
  assert.equal(book.setVerified('ben', 'K1', true), true);
  assert.equal(book.of('ben')?.verified, true);

  book.observe([['ben', 'K2']], AT);
  assert.equal(sendingBlocked(book.of('ben')), true);
  // A second change before accepting keeps "was verified": it cannot be laundered by changing twice.
  book.observe([['ben', 'K3']], AT);
  assert.deepEqual(book.of('ben')?.changed, { to: 'K3', wasVerified: true, at: AT.toISOString() });
  assert.equal(book.setVerified('ben', 'K1', true), false, 'the old key cannot be marked any more');
  book.accept('ben');
  assert.deepEqual(book.of('ben'), { key: 'K3', verified: false });
  assert.equal(sendingBlocked(book.of('ben')), false);
  // Comparing the numbers again for the new key also ends a change: the new key is then the verified one.
  book.setVerified('ben', 'K3', true);
  book.observe([['ben', 'K4']], AT);
  assert.equal(sendingBlocked(book.of('ben')), true);
  assert.equal(book.setVerified('ben', 'K4', true), true);
  assert.deepEqual(book.of('ben'), { key: 'K4', verified: true });
  assert.equal(sendingBlocked(book.of('ben')), false);
});

test('a device paired again under a new id (replaces the old one): not a stranger, a change of the verified key', () => {
  const book = new TrustBook();
  book.observe([['ben-1', 'K1']], AT);
  book.setVerified('ben-1', 'K1', true);
  assert.equal(book.observe([['ben-2', 'K2', ['ben-1']]], AT), true);
  assert.deepEqual(book.of('ben-2'), { key: 'K1', verified: true, changed: { to: 'K2', wasVerified: true, at: AT.toISOString() } });
  assert.equal(sendingBlocked(book.of('ben-2')), true);
  // Once known, its own history wins over what it replaced.
  book.accept('ben-2');
  assert.equal(book.observe([['ben-2', 'K2', ['ben-1']]], AT), false);
  // Replacing ids this book never saw: first use, as any new device.
  book.observe([['cai-2', 'C2', ['cai-1']]], AT);
  assert.deepEqual(book.of('cai-2'), { key: 'C2', verified: false });
  // The same key under a new id (only the id changed): the trust carries over as it was.
  book.observe([['dee-1', 'D1']], AT);
  book.setVerified('dee-1', 'D1', true);
  book.observe([['dee-2', 'D1', ['dee-1']]], AT);
  assert.deepEqual(book.of('dee-2'), { key: 'D1', verified: true });
});

test('kept in storage across reloads; unreadable storage starts over instead of failing', () => {
  const storage = new MemoryStorage();
  const a = new TrustBook('trust', storage);
  a.observe([['ben', 'K1']], AT);
  a.setVerified('ben', 'K1', true);
  a.observe([['ben', 'K2']], AT);
  const b = new TrustBook('trust', storage);
  assert.deepEqual(b.all(), a.all());
  assert.equal(sendingBlocked(b.of('ben')), true, 'a reload does not lift the block');

  storage.setItem('trust', '{not json');
  assert.deepEqual(new TrustBook('trust', storage).all(), {});
  storage.setItem('trust', JSON.stringify({ ben: { key: 7 }, cai: { key: 'C', verified: false } }));
  assert.deepEqual(new TrustBook('trust', storage).all(), { cai: { key: 'C', verified: false } }, 'malformed entries are dropped');
});

test("trustBlocks: a device's own block, or its home's verified set that changed", () => {
  const dir = {
    me: 'me',
    devices: [
      { device_id: 'me', public_key: 'M', name: 'Me', kind: 'phone', home: 'local', node_id: 'n-self' },
      { device_id: 'far', public_key: 'F', name: 'Far', kind: 'phone', home: 'home', node_id: 'n-other' },
    ],
    nodes: [{ node_id: 'n-self', name: 'Self', self: true, online: true }],
  } as unknown as MessagingDirectory;
  const book = new TrustBook();
  book.observe([
    ['far', 'F'],
    [homeTrustId('n-other'), 'F'],
  ]);
  assert.equal(trustBlocks(book, dir, 'far'), false);
  book.setVerified(homeTrustId('n-other'), 'F', true);
  book.observe([[homeTrustId('n-other'), 'F,G']]);
  assert.equal(trustBlocks(book, dir, 'far'), true, "the home's verified set changed");
  book.accept(homeTrustId('n-other'));
  assert.equal(trustBlocks(book, dir, 'far'), false);

  // A group waits while any of its other members is blocked: the message would reach that device too.
  book.observe([['ben', 'B1']]);
  book.setVerified('ben', 'B1', true);
  assert.equal(trustBlocksConversation(book, dir, 'group:g1', ['far', 'ben']), false);
  book.observe([['ben', 'B2']]);
  assert.equal(trustBlocksConversation(book, dir, 'group:g1', ['far', 'ben']), true);
  assert.equal(trustBlocksConversation(book, dir, 'group:g2', ['far']), false);
  assert.equal(trustBlocksConversation(book, dir, 'ben'), true);
});
