// The prekey routes (routes/prekey-routes.ts) on real headless nodes with real paired phones (signed requests):
// publish, status and claims for this node's devices, the desktop UI's device on the admin routes, and a claim
// for a device another desktop of the home serves, answered by that desktop over the peer link.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { toBase64Url } from '../../src/shared/encoding.js';
import {
  generateIdentityKeyPair,
  type IdentityKeyPair,
  initiate,
  type KemPrekeyPair,
  kemPrekeyWire,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  oneTimePrekeyWire,
  type SignedPrekeyPair,
  signedPrekeyWire,
  verifyBundle,
} from '../../src/shared/ratchet/pqxdh.js';
import { PrekeyBundle, PrekeyStatus, type PublishPrekeysRequest } from '../../src/shared/wire/prekeys.js';
import { FAST_PEER_LINK, linkUp, pairDesktops } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

type Paired = Awaited<ReturnType<typeof pairPhone>>;

/** What a device publishes, signed under `identity` (its messaging key pair). */
function publishOf(identity: IdentityKeyPair, oneTime: number, firstId = 1): PublishPrekeysRequest {
  const spk: SignedPrekeyPair = makeSignedPrekey(identity, 7);
  const kem: KemPrekeyPair = makeKemPrekey(identity, 900, { lastResort: true });
  return {
    signed_prekey: signedPrekeyWire(spk),
    kem_last_resort: kemPrekeyWire(kem),
    one_time_prekeys: makeOneTimePrekeys(firstId, oneTime).map(oneTimePrekeyWire),
    kem_one_time_prekeys: [],
  };
}

const identityOf = (p: Paired): IdentityKeyPair => ({ privateKey: p.phone.privateKey, publicKey: p.phone.publicKey });
const idOf = (p: Paired) => p.phone.identity.node_id;

describe('prekey routes of a paired device', () => {
  test('publish, status, and claims that hand each one-time prekey out once, then the last-resort KEM', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);

    const before = await a.client.request('GET', '/api/messages/prekeys');
    assert.equal(before.status, 200);
    assert.equal(PrekeyStatus.parse(before.body).signed_prekey_id, null);

    const put = await a.client.request('PUT', '/api/messages/prekeys', publishOf(identityOf(a), 2));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const st = PrekeyStatus.parse(put.body);
    assert.equal(st.signed_prekey_id, 7);
    assert.equal(st.kem_last_resort_id, 900);
    assert.equal(st.one_time_left, 2);
    assert.deepEqual(PrekeyStatus.parse((await a.client.request('GET', '/api/messages/prekeys')).body), st);

    const ids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await b.client.request('POST', `/api/messages/prekeys/${idOf(a)}/claim`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const bundle = PrekeyBundle.parse(r.body);
      assert.equal(bundle.identity_key, toBase64Url(a.phone.publicKey));
      assert.ok(bundle.one_time_prekey, 'a one-time prekey while any is left');
      ids.push(bundle.one_time_prekey.id);
      // The bundle is a real one: it verifies and starts a PQXDH session.
      verifyBundle(bundle);
      assert.ok(initiate(identityOf(b), bundle));
    }
    assert.deepEqual(ids.sort(), [1, 2], 'each one-time prekey once');
    const exhausted = await b.client.request('POST', `/api/messages/prekeys/${idOf(a)}/claim`);
    assert.equal(exhausted.status, 200);
    const last = PrekeyBundle.parse(exhausted.body);
    assert.equal(last.one_time_prekey, undefined);
    assert.equal(last.kem_prekey.last_resort, true);
    assert.equal(last.kem_prekey.id, 900);
    assert.equal(PrekeyStatus.parse((await a.client.request('GET', '/api/messages/prekeys')).body).one_time_left, 0);
  });

  test('refusals: a bad signature, bad input, an unknown device, no prekeys, an unsigned caller', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);

    // Signed under another identity key than a's directory key.
    const forged = await a.client.request('PUT', '/api/messages/prekeys', publishOf(generateIdentityKeyPair(), 1));
    assert.equal(forged.status, 400);
    assert.equal(forged.body.error, 'invalid_prekey');
    const bad = await a.client.request('PUT', '/api/messages/prekeys', { signed_prekey: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_request');
    assert.equal(typeof bad.body.message, 'string');

    const none = await b.client.request('POST', `/api/messages/prekeys/${idOf(a)}/claim`);
    assert.equal(none.status, 404);
    assert.equal(none.body.error, 'no_prekeys');
    const unknown = await b.client.request('POST', '/api/messages/prekeys/phone-nobody-knows/claim');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'unknown_recipient');
    const badId = await b.client.request('POST', '/api/messages/prekeys/%20x/claim');
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error, 'invalid_request');

    // Not a paired device: no signed session, nothing stored.
    const res = await fetch(`${node.base}/api/messages/prekeys`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(publishOf(identityOf(a), 1)),
    });
    assert.equal(res.status, 401);
    assert.equal(PrekeyStatus.parse((await a.client.request('GET', '/api/messages/prekeys')).body).signed_prekey_id, null);
  });
});

describe('prekey routes of the desktop UI device', () => {
  test('the UI publishes once its messaging key is registered, and a phone claims from it', async () => {
    const node = await startTestNode();
    const phone = await pairPhone(node);
    const ui = generateIdentityKeyPair();

    const early = await node.admin('/api/admin/messages/prekeys', { method: 'PUT', body: publishOf(ui, 1) });
    assert.equal(early.status, 409, 'no messaging key registered yet');
    assert.equal(early.body.error, 'invalid_request');

    const reg = await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(ui.publicKey) } });
    assert.equal(reg.status, 200);
    const uiId: string = reg.body.device_id;
    const put = await node.admin('/api/admin/messages/prekeys', { method: 'PUT', body: publishOf(ui, 1) });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(PrekeyStatus.parse(put.body).one_time_left, 1);
    assert.equal(PrekeyStatus.parse((await node.admin('/api/admin/messages/prekeys')).body).one_time_left, 1);

    const claim = await phone.client.request('POST', `/api/messages/prekeys/${uiId}/claim`);
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    assert.equal(PrekeyBundle.parse(claim.body).identity_key, toBase64Url(ui.publicKey));
    assert.equal(PrekeyBundle.parse(claim.body).one_time_prekey?.id, 1);

    // And the UI claims for the phone (after it published).
    assert.equal((await phone.client.request('PUT', '/api/messages/prekeys', publishOf(identityOf(phone), 1))).status, 200);
    const back = await node.admin(`/api/admin/messages/prekeys/${idOf(phone)}/claim`, { method: 'POST', body: {} });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(PrekeyBundle.parse(back.body).identity_key, toBase64Url(phone.phone.publicKey));
  });

  test('the UI back under another key (its storage cleared): its old prekeys are gone, and the same ids publish again', async () => {
    const node = await startTestNode();
    const phone = await pairPhone(node);
    const register = (k: IdentityKeyPair) =>
      node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(k.publicKey) } });
    const old = generateIdentityKeyPair();
    const uiId: string = (await register(old)).body.device_id;
    assert.equal((await node.admin('/api/admin/messages/prekeys', { method: 'PUT', body: publishOf(old, 3) })).status, 200);
    // The same key again (a reload) keeps them.
    await register(old);
    assert.equal(PrekeyStatus.parse((await node.admin('/api/admin/messages/prekeys')).body).one_time_left, 3);

    const fresh = generateIdentityKeyPair();
    assert.equal((await register(fresh)).body.device_id, uiId);
    const st = PrekeyStatus.parse((await node.admin('/api/admin/messages/prekeys')).body);
    assert.deepEqual([st.signed_prekey_id, st.one_time_left], [null, 0], 'nothing signed by the old key is handed out');
    const claim = await phone.client.request('POST', `/api/messages/prekeys/${uiId}/claim`);
    assert.equal(claim.status, 404);
    assert.equal(claim.body.error, 'no_prekeys');
    // A new state may reuse the ids the old one had: they are not "taken" for the new key.
    const put = await node.admin('/api/admin/messages/prekeys', { method: 'PUT', body: publishOf(fresh, 3) });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const bundle = PrekeyBundle.parse((await phone.client.request('POST', `/api/messages/prekeys/${uiId}/claim`)).body);
    assert.equal(bundle.identity_key, toBase64Url(fresh.publicKey));
    verifyBundle(bundle);
  });
});

describe('claims across the peer link', () => {
  test("a phone of desktop A claims for a phone of desktop B: B's store answers over the link; link down -> 503", async () => {
    const nodeA: TestNode = await startTestNode({ peerLink: FAST_PEER_LINK });
    const nodeB: TestNode = await startTestNode({ peerLink: FAST_PEER_LINK });
    await pairDesktops(nodeA, nodeB);
    await linkUp(nodeA, nodeB);
    const onA = await pairPhone(nodeA);
    const onB = await pairPhone(nodeB);
    await eventually(
      () => nodeA.core.router.directory(idOf(onA)).devices.some((d) => d.device_id === idOf(onB) && d.home === 'home'),
      "A's directory lists B's phone",
    );
    // Nothing published at B yet: B refuses over the link (prekey_refused) and A answers 404.
    const early = await onA.client.request('POST', `/api/messages/prekeys/${idOf(onB)}/claim`);
    assert.equal(early.status, 404, JSON.stringify(early.body));
    assert.equal(early.body.error, 'no_prekeys');
    assert.equal((await onB.client.request('PUT', '/api/messages/prekeys', publishOf(identityOf(onB), 1))).status, 200);

    const first = await onA.client.request('POST', `/api/messages/prekeys/${idOf(onB)}/claim`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const bundle = PrekeyBundle.parse(first.body);
    assert.equal(bundle.identity_key, toBase64Url(onB.phone.publicKey));
    assert.equal(bundle.one_time_prekey?.id, 1);
    // B handed it out: its own store has none left, and the next claim gets the last-resort KEM.
    assert.equal(nodeB.core.prekeys.status(idOf(onB)).one_time_left, 0);
    const second = PrekeyBundle.parse((await onA.client.request('POST', `/api/messages/prekeys/${idOf(onB)}/claim`)).body);
    assert.equal(second.one_time_prekey, undefined);
    assert.equal(second.kem_prekey.last_resort, true);

    // B stops: its device stays in A's directory (home), but the claim cannot be answered.
    await nodeB.stop();
    await eventually(() => !nodeA.core.peerLinks!.isUp(nodeB.identity.node_id), 'the link is down on A');
    const down = await onA.client.request('POST', `/api/messages/prekeys/${idOf(onB)}/claim`);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.error, 'peer_unreachable');
  });
});
