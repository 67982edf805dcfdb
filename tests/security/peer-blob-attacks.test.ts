// Attacks on files over the peer link, from a paired desktop that misbehaves (the test holds a real pairing with
// the node and speaks the link by hand). The node must serve only blobs it offered to that desktop, take only
// blobs from the peer's own devices for devices it serves, only the bytes it asked for, and keep nothing that
// does not hash to what was offered.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { newBlobId } from '../../src/main/core/files/blob-store.js';
import { MAX_BLOB_READ_BYTES, MAX_BLOB_READS, PEER_CLOSE, type PeerFrame } from '../../src/shared/wire/peer-link.js';
import { device, FAST_PEER_LINK, FakeRouterPort, fakeDesktop, rawPeer, within } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

const OWN_PHONE = 'node-own-phone';

async function linked(fakePhone: string) {
  const router = new FakeRouterPort();
  router.devices = [device(OWN_PHONE)];
  const node = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: router });
  const me = await fakeDesktop(node);
  const peer = await rawPeer(node, me);
  await peer.hello([device(fakePhone)]);
  await eventually(() => node.core.peerLinks!.homeDirectory.nodeOf(fakePhone) === me.nodeId, 'the fake phone is known');
  return { node, me, peer, store: node.core.files.store };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const framesOf = <T extends PeerFrame['type']>(frames: PeerFrame[], type: T) =>
  frames.filter((f): f is Extract<PeerFrame, { type: T }> => f.type === type);

/** Plays the honest sender for `bytes` (answers every blob_read) unless `tamper` changes what goes out. */
function serve(
  peer: Awaited<ReturnType<typeof rawPeer>>,
  id: string,
  bytes: Uint8Array,
  tamper?: (b: Uint8Array, offset: number) => Uint8Array,
) {
  let answered = 0;
  const timer = setInterval(() => {
    const reads = framesOf(peer.frames, 'blob_read').filter((r) => r.id === id);
    for (const r of reads.slice(answered)) {
      const part = bytes.subarray(r.offset, r.offset + r.length);
      for (let o = 0; o < part.length; o += 60_000) {
        const piece = part.subarray(o, o + 60_000);
        peer.sendBlobData(id, r.offset + o, tamper ? tamper(piece, r.offset + o) : piece);
      }
    }
    answered = reads.length;
  }, 5);
  return () => clearInterval(timer);
}

/** A complete blob for the node's own phone that came from the cloud (never offered to any desktop). */
async function fromTheCloud(store: Awaited<ReturnType<typeof linked>>['store'], bytes: Uint8Array): Promise<string> {
  const id = newBlobId();
  await store.beginIncoming({ id, size: bytes.length, fromDevice: 'x', origin: 'cloud', ciphertextSha256: sha256(bytes), to: [OWN_PHONE] });
  await store.appendIncoming(id, 0, bytes);
  return id;
}

describe('peer link file attacks', () => {
  test('a blob that was not offered to this desktop is not served: blob_gone, not one byte', async () => {
    const { peer, store } = await linked('fake-phone-a');
    // A complete blob on the node for its own phone (it came from elsewhere; this desktop never got an offer).
    const bytes = randomBytes(4096);
    const id = await fromTheCloud(store, bytes);
    assert.ok(store.get(id)?.completedAt, 'complete on the node');
    peer.send({ type: 'blob_read', id, offset: 0, length: 4096 });
    await eventually(() => framesOf(peer.frames, 'blob_gone').some((f) => f.id === id), 'told it is gone');
    assert.equal(peer.blobData.length, 0, 'no bytes of it');
  });

  test("an offer of a blob from a device that is not the peer's closes the link and registers nothing", async () => {
    const { peer, store } = await linked('fake-phone-b');
    const id = newBlobId();
    peer.send({ type: 'blob_offer', id, size: 100, sha256: 'a'.repeat(64), from_device: 'someone-elses-phone', to: [OWN_PHONE] });
    const closed = await within(peer.closed, 'the link closes');
    assert.equal(closed.code, PEER_CLOSE.refused);
    assert.equal(store.get(id), undefined);
  });

  test('an offer for devices this desktop does not serve is refused', async () => {
    const { peer, store } = await linked('fake-phone-c');
    const id = newBlobId();
    peer.send({ type: 'blob_offer', id, size: 100, sha256: 'a'.repeat(64), from_device: 'fake-phone-c', to: ['not-here'] });
    await eventually(() => framesOf(peer.frames, 'blob_refused').find((f) => f.id === id), 'refused');
    assert.equal(framesOf(peer.frames, 'blob_refused').find((f) => f.id === id)?.error, 'unknown_recipient');
    assert.equal(store.get(id), undefined);
  });

  test("an offer under the id of the node's own blob is refused; that blob is untouched", async () => {
    const { peer, store } = await linked('fake-phone-d');
    const bytes = randomBytes(2048);
    const id = await fromTheCloud(store, bytes);
    peer.send({ type: 'blob_offer', id, size: 2048, sha256: sha256(bytes), from_device: 'fake-phone-d', to: [OWN_PHONE] });
    await eventually(() => framesOf(peer.frames, 'blob_refused').find((f) => f.id === id), 'refused');
    assert.equal(framesOf(peer.frames, 'blob_refused').find((f) => f.id === id)?.error, 'blob_conflict');
    assert.equal(framesOf(peer.frames, 'blob_read').length, 0, 'not one read');
    assert.ok(store.get(id)?.completedAt, 'still complete');
    assert.equal(store.get(id)?.origin, 'cloud');
  });

  test('bytes that do not hash to the offered SHA-256 are refused and nothing of them is kept', async () => {
    const { peer, store } = await linked('fake-phone-e');
    const id = newBlobId();
    const bytes = randomBytes(3 * MAX_BLOB_READ_BYTES + 123);
    const stop = serve(peer, id, bytes, (b, offset) => {
      if (offset !== MAX_BLOB_READ_BYTES) return b;
      const t = Uint8Array.from(b);
      t[7] = (t[7] ?? 0) ^ 1;
      return t;
    });
    try {
      peer.send({ type: 'blob_offer', id, size: bytes.length, sha256: sha256(bytes), from_device: 'fake-phone-e', to: [OWN_PHONE] });
      const refused = await eventually(() => framesOf(peer.frames, 'blob_refused').find((f) => f.id === id), 'refused', 30_000);
      assert.equal(refused.error, 'blob_digest_mismatch');
      assert.equal(store.get(id), undefined, 'no row');
      assert.equal(store.received(id), undefined);
      assert.equal(framesOf(peer.frames, 'blob_have').length, 0);
    } finally {
      stop();
    }
  });

  test('an honest transfer completes and is acknowledged (the control for the one above)', async () => {
    const { peer, store } = await linked('fake-phone-f');
    const id = newBlobId();
    const bytes = randomBytes(2 * MAX_BLOB_READ_BYTES + 5);
    const stop = serve(peer, id, bytes);
    try {
      peer.send({ type: 'blob_offer', id, size: bytes.length, sha256: sha256(bytes), from_device: 'fake-phone-f', to: [OWN_PHONE] });
      await eventually(() => framesOf(peer.frames, 'blob_have').some((f) => f.id === id), 'blob_have', 30_000);
      assert.ok(store.get(id)?.completedAt);
      assert.equal(store.get(id)?.ciphertextSha256, sha256(bytes));
      assert.ok(framesOf(peer.frames, 'blob_read').length <= Math.ceil(bytes.length / MAX_BLOB_READ_BYTES));
    } finally {
      stop();
    }
  });

  test('bytes that were not asked for (another offset) close the link', async () => {
    const { peer, store } = await linked('fake-phone-g');
    const id = newBlobId();
    const bytes = randomBytes(2 * MAX_BLOB_READ_BYTES);
    peer.send({ type: 'blob_offer', id, size: bytes.length, sha256: sha256(bytes), from_device: 'fake-phone-g', to: [OWN_PHONE] });
    await eventually(() => framesOf(peer.frames, 'blob_read').length > 0, 'the node asks for bytes');
    peer.sendBlobData(id, 12345, bytes.subarray(12345, 20000));
    assert.equal((await within(peer.closed, 'the link closes')).code, PEER_CLOSE.protocol);
    assert.equal(store.get(id)?.completedAt ?? null, null, 'nothing complete');
    assert.equal(store.received(id) ?? 0, 0, 'nothing kept');
  });

  test('more reads outstanding than allowed close the link (a peer cannot make the node buffer more)', async () => {
    const { me, peer, store } = await linked('fake-phone-h');
    // A blob the node does offer to this desktop: an upload by the node's phone for the fake desktop's phone.
    const id = newBlobId();
    const bytes = randomBytes(8 * MAX_BLOB_READ_BYTES);
    store.recordUpload(id, OWN_PHONE, bytes.length, [{ deviceId: 'fake-phone-h', route: 'lan', nodeId: me.nodeId }]);
    writeFileSync(store.path(id), bytes);
    await store.finishUpload(id);
    await eventually(() => framesOf(peer.frames, 'blob_offer').some((f) => f.id === id), 'offered to the fake desktop');
    for (let i = 0; i < 4 * MAX_BLOB_READS; i++) peer.send({ type: 'blob_read', id, offset: 0, length: MAX_BLOB_READ_BYTES });
    assert.equal((await within(peer.closed, 'the link closes')).code, PEER_CLOSE.flood);
  });
});
