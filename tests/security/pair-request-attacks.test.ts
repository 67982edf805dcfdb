// Attacks on pairing by request (docs/protocol.md, "Pair requests"; docs/threat-model.md). Anyone on the LAN can
// send B a pair request: what must hold is that nothing is trusted until B's person accepts. A handshake made for
// another key fails; the requester cannot accept its own request (its session stays pending whatever it signs,
// and the accept route is admin-only: token + loopback); and B's prompts are capped.

import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import { MAX_PENDING_CONFIRMATIONS } from '../../src/main/core/pairing/pending-confirmations.js';
import { startPairingInitiator } from '../../src/shared/auth/pairing-handshake.js';
import { PAIR_REQUEST_CODE_REF, PAIR_REQUEST_PSK_INPUT } from '../../src/shared/auth/pairing-keys.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { requestPairing } from '../../src/shared/client/pairing-client.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { fingerprintOf } from '../../src/shared/fingerprint.js';
import { cleanupAll, postJson, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

/** The test as a desktop with its own keys: what an attacker on the LAN can be. */
function fakeDesktop(name = 'Mallory desktop') {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const payload = {
    node_id: `desk-${uuidv7()}`,
    name,
    capabilities: ['mesh'],
    device_info: { platform: 'test', app_version: '1.0.0' },
    public_key: toBase64Url(publicKey),
    port: 9,
    addresses: ['127.0.0.1'],
  };
  return { privateKey, publicKey, payload };
}

const prompts = async (b: TestNode) => (await b.admin('/api/admin/state')).body.pending_pairings as any[];

describe('pair request attacks', () => {
  test("a handshake made for another static key than B's fails and puts no prompt on B", async () => {
    const b = await startTestNode();
    const me = fakeDesktop();
    const wrongKey = x25519.getPublicKey(x25519.utils.randomSecretKey());
    const init = startPairingInitiator({
      staticPrivateKey: me.privateKey,
      staticPublicKey: me.publicKey,
      responderPublicKey: wrongKey,
      codeRef: PAIR_REQUEST_CODE_REF,
      pin: PAIR_REQUEST_PSK_INPUT,
      payload: utf8.encode(JSON.stringify(me.payload)),
    });
    const r = await postJson(`${b.base}/auth/pair/request`, { noise: toBase64Url(init.firstMessage) });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'handshake_failed');
    assert.deepEqual(await prompts(b), []);
  });

  test("A's node refuses a target whose key does not match the pinned fingerprint, before sending anything", async () => {
    const [a, b, other] = [await startTestNode(), await startTestNode(), await startTestNode()];
    const r = await a.admin('/api/admin/pair-requests', {
      body: { host: '127.0.0.1', port: b.port, fingerprint: other.identity.fingerprint },
    });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal(r.body.error, 'fingerprint_mismatch');
    assert.deepEqual(await prompts(b), []);
  });

  test("the requester cannot accept its own request: its session stays pending until B's admin accepts", async () => {
    const b = await startTestNode();
    const me = fakeDesktop();
    const paired = await requestPairing({ baseUrl: b.base, expectedFingerprint: b.identity.fingerprint, identity: me });
    assert.equal(fingerprintOf(me.publicKey), (await prompts(b))[0].fingerprint);
    const client = new DeviceClient(b.base, { sessionId: paired.sessionId, deviceSecret: paired.deviceSecret });
    // Signed calls on the pending session: none works, none accepts.
    assert.equal((await client.request('GET', '/api/session')).status, 403);
    const announce = await client.request('POST', '/api/mesh/announce', { name: me.payload.name });
    assert.equal(announce.status, 403);
    assert.equal(announce.body.error, 'pairing_unconfirmed');
    const forged = await client.request('POST', `/api/admin/pairings/${paired.sessionId}/confirm`, {});
    assert.equal(forged.status, 401, 'the accept route wants the admin token, not a device signature');
    // Without a token, or with a guessed one.
    assert.equal((await postJson(`${b.base}/api/admin/pairings/${paired.sessionId}/confirm`, {})).status, 401);
    const guessed = await fetch(`${b.base}/api/admin/pairings/${paired.sessionId}/confirm`, {
      method: 'POST',
      headers: { authorization: 'Admin not-the-token', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(guessed.status, 401);
    // A second request (the same node) does not make the first one count either: it replaces it.
    await requestPairing({ baseUrl: b.base, identity: me });
    assert.equal((await client.request('GET', '/api/session')).status, 401, 'the replaced session is ended');
    assert.equal((await b.admin('/api/admin/state')).body.devices.length, 0, 'B stored nothing');
  });

  test('a caller that is not on this machine cannot accept, even with the admin token', async (t) => {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!lan) return t.skip('no non-loopback IPv4 address on this machine');
    const b = await startTestNode({ host: '0.0.0.0' });
    const me = fakeDesktop();
    const paired = await requestPairing({ baseUrl: b.base, identity: me });
    const r = await fetch(`http://${lan}:${b.port}/api/admin/pairings/${paired.sessionId}/confirm`, {
      method: 'POST',
      headers: { authorization: `Admin ${b.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { error: string }).error, 'forbidden');
    assert.equal((await prompts(b)).length, 1, 'the prompt is still there, untouched');
    assert.equal((await b.admin('/api/admin/state')).body.devices.length, 0);
  });

  test(`B shows at most ${MAX_PENDING_CONFIRMATIONS} prompts however many desktops ask`, async () => {
    const b = await startTestNode({ limits: { pairRequestsPerMinute: 1e9 } });
    for (let i = 0; i < MAX_PENDING_CONFIRMATIONS + 8; i++) {
      await requestPairing({ baseUrl: b.base, identity: fakeDesktop(`Flood ${i}`) });
    }
    const shown = await prompts(b);
    assert.equal(shown.length, MAX_PENDING_CONFIRMATIONS);
    assert.ok(
      shown.some((p) => p.name === `Flood ${MAX_PENDING_CONFIRMATIONS + 7}`),
      'the newest are kept',
    );
  });

  test('a node_identity without a port (a phone, not a desktop) cannot send a pair request', async () => {
    const b = await startTestNode();
    const me = fakeDesktop();
    const { port: _p, ...phoneLike } = me.payload;
    await assert.rejects(
      requestPairing({ baseUrl: b.base, identity: { ...me, payload: phoneLike } }),
      (e: any) => e.code === 'invalid_request',
    );
    assert.deepEqual(await prompts(b), []);
  });
});
