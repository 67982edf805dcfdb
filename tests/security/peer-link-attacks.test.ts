// Attacks on the peer link, from a paired desktop that misbehaves (the test holds a real pairing with the node
// and speaks the link by hand) and from strangers on the LAN. Each test names the check it attacks.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { FRAGMENT_MORE, PEER_CLOSE, PEER_LINK_WINDOW } from '../../src/shared/wire/peer-link.js';
import { device, envelope, FAST_PEER_LINK, FakeRouterPort, fakeDesktop, rawPeer, within } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

async function target() {
  const router = new FakeRouterPort();
  router.devices = [device('node-own-phone')];
  const node = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: router });
  return { node, router };
}

describe('peer link attacks', () => {
  test("an envelope whose from_device is not one of the peer's devices is refused and never stored", async () => {
    const { node, router } = await target();
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello([device('fake-phone-1')]);
    await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf('fake-phone-1') === me.nodeId, 'our phone is known');
    peer.send({ type: 'envelope', seq: 1, envelope: envelope('someone-elses-phone', ['node-own-phone']) });
    const closed = await within(peer.closed, 'the link closes');
    assert.equal(closed.code, PEER_CLOSE.refused);
    assert.equal(router.stored.length, 0, 'never reached storeFromPeer');
    assert.ok(peer.frames.some((f) => f.type === 'error' && f.error === 'sender_not_peer_device'));
  });

  test('a replayed transport message closes the link; nothing is stored twice', async () => {
    const { node, router } = await target();
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello([device('fake-phone-2')]);
    await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf('fake-phone-2'), 'directory');
    peer.send({ type: 'envelope', seq: 1, envelope: envelope('fake-phone-2', ['node-own-phone']) });
    await eventually(() => peer.frames.some((f) => f.type === 'ack' && f.seq === 1), 'acked once');
    peer.sendRaw(peer.sent[peer.sent.length - 1]!);
    const closed = await within(peer.closed, 'the link closes');
    assert.equal(closed.code, PEER_CLOSE.protocol);
    assert.equal(router.stored.length, 1, 'stored once');
  });

  test('a reordered (skipped) transport message closes the link', async () => {
    const { node, router } = await target();
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello([device('fake-phone-3')]);
    const skipped = peer.cipher!.seal({ type: 'envelope', seq: 1, envelope: envelope('fake-phone-3', ['node-own-phone']) });
    const next = peer.cipher!.seal({ type: 'envelope', seq: 2, envelope: envelope('fake-phone-3', ['node-own-phone']) });
    void skipped;
    for (const m of next) peer.sendRaw(m);
    assert.equal((await within(peer.closed, 'the link closes')).code, PEER_CLOSE.protocol);
    assert.equal(router.stored.length, 0);
  });

  test('a wrong psk, a wrong static key or an unknown session: no link', async () => {
    const { node } = await target();
    const me = await fakeDesktop(node);
    const wrongPsk = await rawPeer(node, me, { serverHmacKey: randomBytes(32) });
    assert.equal((await within(wrongPsk.closed, 'the link closes')).code, PEER_CLOSE.protocol, 'wrong psk: handshake fails');
    assert.equal(wrongPsk.cipher, undefined);
    const wrongKey = await rawPeer(node, me, { privateKey: x25519.utils.randomSecretKey() });
    assert.equal(
      (await within(wrongKey.closed, 'the link closes')).code,
      PEER_CLOSE.protocol,
      'a key other than the pinned one: handshake fails',
    );
    assert.equal(wrongKey.cipher, undefined);
    const unknown = await rawPeer(node, me, { sessionId: 'AAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal((await within(unknown.closed, 'the link closes')).code, -401, 'unknown session: 401 before any upgrade');
    assert.equal(node.core.peerLinks!.isUp(me.nodeId), false);
    // The stranger's failures did not end the real pairing: it still links.
    const good = await rawPeer(node, me);
    await good.hello();
    await eventually(() => node.core.peerLinks!.isUp(me.nodeId), 'the real pairing still works');
  });

  test('a message over the WebSocket limit, or a frame over the frame limit, closes the link', async () => {
    const { node } = await target();
    const me = await fakeDesktop(node);
    const big = await rawPeer(node, me);
    await big.hello();
    big.sendRaw(new Uint8Array(70_000));
    assert.equal((await within(big.closed, 'the link closes')).code, 1009, 'ws maxPayload');

    const frag = await rawPeer(node, me);
    await frag.hello();
    // Endless "more follows" fragments: the receiver stops at MAX_PEER_FRAME_BYTES instead of buffering forever.
    const chunk = new Uint8Array(60_000);
    chunk[0] = FRAGMENT_MORE;
    const send = (frag.cipher as any).send;
    let code: number | undefined;
    void frag.closed.then((c) => {
      code = c.code;
    });
    for (let i = 0; i < 40 && code === undefined; i++) {
      frag.sendRaw(send.encryptWithAd(new Uint8Array(0), chunk));
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await within(frag.closed, 'the link closes')).code, PEER_CLOSE.tooLarge);
  });

  test('a peer that exceeds the window is closed; the node holds at most a window of its frames', async () => {
    const { node, router } = await target();
    router.hold = new Promise(() => {}); // nothing ever commits: no acks go back
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello([device('fake-phone-4')]);
    await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf('fake-phone-4'), 'directory');
    for (let seq = 1; seq <= PEER_LINK_WINDOW + 50; seq++) {
      try {
        peer.send({ type: 'envelope', seq, envelope: envelope('fake-phone-4', ['node-own-phone']) });
      } catch {
        break;
      }
    }
    assert.equal((await within(peer.closed, 'the link closes')).code, PEER_CLOSE.flood);
    // Each frame's store starts on arrival (to share a group commit); past the window the link is closed, so the
    // node never holds more than a window of one peer's envelopes, whatever the peer sends.
    assert.ok(router.stored.length <= PEER_LINK_WINDOW, `at most a window of stores in flight (got ${router.stored.length})`);
    assert.ok(router.stored.length > 1, 'stores start without waiting for earlier commits');
    assert.ok(!peer.frames.some((f) => f.type === 'ack'));
  });

  test('a revoked or unpaired peer is closed at once', async () => {
    const { node } = await target();
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello();
    await eventually(() => node.core.peerLinks!.isUp(me.nodeId), 'up');
    node.core.sessionsRepo.revokeAllFor(me.nodeId);
    assert.equal((await within(peer.closed, 'the link closes')).code, PEER_CLOSE.revoked);
    assert.equal(node.core.peerLinks!.isUp(me.nodeId), false);
    const again = await rawPeer(node, me);
    assert.equal((await within(again.closed, 'the link closes')).code, -401, 'the revoked pairing cannot link again');

    // Unpaired by the person on the node: the peer hears `unpair`, and the link closes after its ack.
    const other = await fakeDesktop(node);
    const p2 = await rawPeer(node, other);
    await p2.hello();
    await eventually(() => node.core.peerLinks!.isUp(other.nodeId), 'up');
    assert.equal((await node.admin(`/api/mesh/nodes/${other.nodeId}`, { method: 'DELETE' })).status, 200);
    await eventually(() => p2.frames.some((f) => f.type === 'unpair'), 'told');
    p2.send({ type: 'unpair_ack' });
    assert.equal((await within(p2.closed, 'the link closes')).code, PEER_CLOSE.unpaired);
    assert.equal(node.core.peerLinks!.hasUnpairNotice(other.nodeId), false, 'the notice is gone once acked');
  });

  test('a peer cannot claim our devices or another desktop\'s: refused, and envelopes "from" them too', async () => {
    const { node, router } = await target();
    const first = await fakeDesktop(node);
    const p1 = await rawPeer(node, first);
    await p1.hello([device('first-phone')]);
    await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf('first-phone') === first.nodeId, "first desktop's phone");

    const thief = await fakeDesktop(node);
    const p2 = await rawPeer(node, thief);
    await p2.hello([device('first-phone'), device('node-own-phone'), device('thief-phone')]);
    await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf('thief-phone') === thief.nodeId, 'its own phone is taken');
    assert.equal(node.core.peerLinks!.homeDirectory.nodeOf('first-phone'), first.nodeId, "another desktop's device stays with it");
    assert.equal(node.core.peerLinks!.homeDirectory.nodeOf('node-own-phone'), undefined, 'our own device is never a home device');
    await eventually(() => p2.frames.some((f) => f.type === 'error' && f.error === 'device_claimed'), 'told why');
    p2.send({ type: 'envelope', seq: 1, envelope: envelope('first-phone', ['node-own-phone']) });
    assert.equal((await within(p2.closed, 'the link closes')).code, PEER_CLOSE.refused);
    assert.equal(router.stored.length, 0);
  });
});
