// The peer link's handshake inputs as docs/protocol.md writes them ("Peer link"): the prologue bytes, the psk
// derivation, and that every bound value (pairing, both node ids, psk, pinned keys) must match on both sides.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type HandshakeInput, peerLinkHandshake, peerLinkPrologue, peerLinkPsk } from '../../src/main/core/peer-link/peer-link-keys.js';
import { PEER_LINK_PROTOCOL } from '../../src/shared/wire/peer-link.js';

const te = new TextEncoder();
const keys = () => {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
};

test('protocol, prologue and psk are byte for byte what the docs say', () => {
  assert.equal(PEER_LINK_PROTOCOL, 'Noise_KKpsk0_25519_ChaChaPoly_SHA256');
  assert.deepEqual(
    peerLinkPrologue('sess', 'node-a', 'node-b'),
    te.encode('salita/v1/peer-link\nNoise_KKpsk0_25519_ChaChaPoly_SHA256\nsess\nnode-a\nnode-b'),
  );
  const k = new Uint8Array(32).fill(7);
  assert.deepEqual(peerLinkPsk(k), hkdf(sha256, k, te.encode('salita/v1/peer-link/psk/salt'), te.encode('salita/v1/peer-link/psk'), 32));
  assert.notDeepEqual(peerLinkPsk(k), k, 'the link never uses the request-signing key itself');
});

function run(dialer: HandshakeInput, listener: HandshakeInput): boolean {
  const i = peerLinkHandshake(dialer);
  const r = peerLinkHandshake(listener);
  try {
    r.readMessage(i.writeMessage());
    i.readMessage(r.writeMessage());
  } catch {
    return false;
  }
  const a = i.split();
  const b = r.split();
  return (
    Buffer.from(b.receive.decryptWithAd(new Uint8Array(0), a.send.encryptWithAd(new Uint8Array(0), te.encode('x')))).toString() === 'x'
  );
}

test('a KKpsk0 handshake succeeds only when the pairing, node ids, psk and pinned keys all agree', () => {
  const A = keys();
  const B = keys();
  const hmac = new Uint8Array(32).fill(1);
  const dial: HandshakeInput = {
    dialer: true,
    sessionId: 's1',
    selfNodeId: 'node-a',
    peerNodeId: 'node-b',
    staticKey: A,
    peerPublicKey: B.publicKey,
    serverHmacKey: hmac,
  };
  const listen: HandshakeInput = {
    dialer: false,
    sessionId: 's1',
    selfNodeId: 'node-b',
    peerNodeId: 'node-a',
    staticKey: B,
    peerPublicKey: A.publicKey,
    serverHmacKey: hmac,
  };
  assert.equal(run(dial, listen), true);
  assert.equal(run({ ...dial, sessionId: 's2' }, listen), false, 'another pairing');
  assert.equal(run({ ...dial, selfNodeId: 'node-c' }, listen), false, 'another dialer node id');
  assert.equal(run(dial, { ...listen, selfNodeId: 'node-c' }), false, 'another listener node id');
  assert.equal(run({ ...dial, serverHmacKey: new Uint8Array(32).fill(2) }, listen), false, 'another psk');
  assert.equal(run({ ...dial, staticKey: keys() }, listen), false, 'a static key other than the pinned one');
  assert.equal(run(dial, { ...listen, peerPublicKey: keys().publicKey }), false, 'the listener pinned another key');
});
