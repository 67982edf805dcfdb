// The cloud's prekey directory (src/cloud/prekey-directory.ts) on a real cloud on loopback: a node publishes for
// its own key-directory devices only, signatures checked against the directory's key; anyone logged in claims; a
// claimed bundle completes PQXDH; each one-time prekey is handed out once, then the last-resort KEM prekey; a
// replayed publish is accepted, a claimed id is never stored again; a device leaving the directory takes its
// prekeys with it. And the node's CloudPrekeys (the CloudPrekeysPort) against the same cloud.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { CloudCallError } from '../../src/main/core/cloud/cloud-api.js';
import { CloudPrekeys } from '../../src/main/core/cloud/cloud-prekeys.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { generateIdentityKeyPair, initiate, respond, verifyBundle } from '../../src/shared/ratchet/pqxdh.js';
import { MAX_ONE_TIME_STORED, type PrekeyBundle } from '../../src/shared/wire/prekeys.js';
import { PrekeyDevice } from '../helpers/prekey-device.js';
import { startTestCloud } from '../helpers/test-cloud.js';

let unique = 0;

/** A device with its private keys; its directory key is its X25519 identity key. */
class Device extends PrekeyDevice {
  constructor() {
    super(`dev-${process.pid}-${++unique}`);
  }

  get entry() {
    return { device_id: this.id, public_key: this.identityKey, name: this.id, kind: 'phone' as const };
  }
}

interface TestNode {
  id: string;
  token: string;
}

let cloud: RunningCloud;
let dir: string;
const otp = new MemoryOtpSender();

async function call(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Noise ${token}`;
  const res = await fetch(cloud.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function loginNode(): Promise<TestNode> {
  const key = NODE_X25519.generateKeyPair();
  const id = toBase64Url(key.publicKey);
  const c = await call('POST', '/api/auth/challenge', undefined, { device_id: id, email: 'home@salita.test' });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const v = await call('POST', '/api/auth/verify', undefined, {
    challenge_id: c.body.challenge_id,
    code: otp.codeFor(c.body.challenge_id),
  });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return { id, token: v.body.noise_session.token };
}

async function publishDirectory(node: TestNode, devices: Device[]) {
  const r = await call('PUT', '/api/keys', node.token, { devices: devices.map((d) => d.entry) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.refused, []);
}

const prekeysPath = (d: Device | string) => `/api/keys/${encodeURIComponent(typeof d === 'string' ? d : d.id)}/prekeys`;
const putPrekeys = (node: TestNode, d: Device, body: unknown) => call('PUT', prekeysPath(d), node.token, body);
const claim = (node: TestNode, d: Device | string) => call('POST', `${prekeysPath(d)}/claim`, node.token);

function expectRefused(r: { status: number; body: Record<string, any> }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error, code);
  assert.equal(typeof r.body.message, 'string');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'salita-cloud-prekeys-'));
  cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
});
after(async () => {
  await cloud.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cloud prekey directory', () => {
  it('publish, status, and a claim by another home whose bundle completes PQXDH', async () => {
    const home = await loginNode();
    const other = await loginNode();
    const bob = new Device();
    await publishDirectory(home, [bob]);
    const p = await putPrekeys(home, bob, bob.publish(1, 3, 1, 2));
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.signed_prekey_id, 1);
    assert.equal(p.body.kem_last_resort_id, 1000);
    assert.equal(p.body.one_time_left, 3);
    assert.equal(p.body.kem_one_time_left, 2);
    assert.ok(!Number.isNaN(Date.parse(p.body.signed_prekey_at)));

    const c = await claim(other, bob);
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const bundle = c.body as PrekeyBundle;
    assert.equal(bundle.identity_key, bob.entry.public_key);
    const verified = verifyBundle(bundle);
    assert.equal(verified.oneTimePrekey?.id, 1);
    assert.equal(verified.kemPrekey.id, 1);
    assert.equal(verified.kemPrekey.lastResort, false);
    const a = initiate(generateIdentityKeyPair(), bundle);
    const b = respond(
      {
        identity: bob.identity,
        signedPrekey: (id) => bob.signed.get(id),
        kemPrekey: (id) => bob.kem.get(id),
        oneTimePrekey: (id) => bob.oneTime.get(id),
      },
      JSON.parse(JSON.stringify(a.initialMessage)),
    );
    assert.deepEqual(b.sharedKey, a.sharedKey);

    const s = await call('GET', prekeysPath(bob), home.token);
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.deepEqual({ ...s.body, signed_prekey_at: null }, { ...p.body, signed_prekey_at: null, one_time_left: 2, kem_one_time_left: 1 });
  });

  it('hands each one-time prekey out once: claim N+1 times and the last has none and the last-resort KEM prekey', async () => {
    const home = await loginNode();
    const bob = new Device();
    await publishDirectory(home, [bob]);
    const N = 4;
    assert.equal((await putPrekeys(home, bob, bob.publish(10, N, 20, N))).status, 200);
    const bundles: PrekeyBundle[] = [];
    for (let i = 0; i <= N; i++) {
      const c = await claim(home, bob);
      assert.equal(c.status, 200, JSON.stringify(c.body));
      bundles.push(c.body as PrekeyBundle);
    }
    const handedOut = bundles.slice(0, N);
    assert.deepEqual(
      handedOut.map((b) => b.one_time_prekey?.id),
      [10, 11, 12, 13],
    );
    assert.deepEqual(
      handedOut.map((b) => b.kem_prekey.id),
      [20, 21, 22, 23],
    );
    assert.ok(handedOut.every((b) => b.kem_prekey.last_resort === false));
    const last = bundles[N]!;
    assert.equal(last.one_time_prekey, undefined);
    assert.equal(last.kem_prekey.id, 1000);
    assert.equal(last.kem_prekey.last_resort, true);
    // The last-resort bundle still verifies and completes PQXDH without a one-time prekey.
    assert.equal(verifyBundle(last).oneTimePrekey, undefined);
    const s = await call('GET', prekeysPath(bob), home.token);
    assert.equal(s.body.one_time_left, 0);
    assert.equal(s.body.kem_one_time_left, 0);
  });

  it('a replayed publish is accepted and stores nothing twice; a claimed id published again is 409 prekey_id_taken', async () => {
    const home = await loginNode();
    const bob = new Device();
    await publishDirectory(home, [bob]);
    const req = bob.publish(1, 3, 1, 1);
    const first = await putPrekeys(home, bob, req);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await putPrekeys(home, bob, req);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.one_time_left, 3);
    assert.equal(again.body.kem_one_time_left, 1);

    // Same id, another key: refused, and nothing of that publish stored.
    const otherKey = bob.publish(3, 1);
    expectRefused(
      await putPrekeys(home, bob, {
        ...otherKey,
        one_time_prekeys: [...otherKey.one_time_prekeys, ...bob.publish(50, 1).one_time_prekeys],
      }),
      409,
      'prekey_id_taken',
    );
    assert.equal((await call('GET', prekeysPath(bob), home.token)).body.one_time_left, 3);

    const c = await claim(home, bob);
    assert.equal(c.body.one_time_prekey.id, 1);
    // The very key it handed out, once more (a late retry): accepted, and NOT stored again.
    const retried = await putPrekeys(home, bob, req);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.one_time_left, 2);
    assert.equal((await claim(home, bob)).body.one_time_prekey.id, 2);
    // The handed-out id under a new key: refused.
    expectRefused(await putPrekeys(home, bob, bob.publish(1, 1)), 409, 'prekey_id_taken');
    // The handed-out KEM id under a new key: refused too.
    expectRefused(await putPrekeys(home, bob, bob.publish(60, 0, 1, 1)), 409, 'prekey_id_taken');
  });

  it('refuses more than MAX_ONE_TIME_STORED one-time prekeys with 409 prekey_limit, storing none of that publish', async () => {
    const home = await loginNode();
    const bob = new Device();
    await publishDirectory(home, [bob]);
    for (let i = 0; i < MAX_ONE_TIME_STORED / 100; i++) assert.equal((await putPrekeys(home, bob, bob.publish(i * 100, 100))).status, 200);
    expectRefused(await putPrekeys(home, bob, bob.publish(MAX_ONE_TIME_STORED, 1)), 409, 'prekey_limit');
    assert.equal((await call('GET', prekeysPath(bob), home.token)).body.one_time_left, MAX_ONE_TIME_STORED);
  });

  it('a signature that does not verify under the directory key is 400 invalid_prekey; malformed bodies are 400 too', async () => {
    const home = await loginNode();
    const bob = new Device();
    const mallory = new Device();
    await publishDirectory(home, [bob]);
    // Keys signed by another identity than bob's directory key.
    expectRefused(await putPrekeys(home, bob, mallory.publish(1, 1)), 400, 'invalid_prekey');
    const req = bob.publish(1, 1, 1, 1);
    const sig = req.kem_one_time_prekeys[0]!.signature;
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expectRefused(
      await putPrekeys(home, bob, { ...req, kem_one_time_prekeys: [{ ...req.kem_one_time_prekeys[0]!, signature: flipped }] }),
      400,
      'invalid_prekey',
    );
    expectRefused(
      await putPrekeys(home, bob, { ...req, kem_last_resort: { ...req.kem_last_resort, last_resort: false } }),
      400,
      'invalid_prekey',
    );
    expectRefused(await putPrekeys(home, bob, { nonsense: true }), 400, 'invalid_prekey');
    const raw = await fetch(cloud.url + prekeysPath(bob), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Noise ${home.token}` },
      body: '{not json',
    });
    expectRefused({ status: raw.status, body: (await raw.json()) as Record<string, any> }, 400, 'invalid_request');
    expectRefused(await claim(home, bob), 404, 'no_prekeys');
  });

  it('another home cannot publish or read the status for a device it does not publish (403 forbidden); unknown devices are 404', async () => {
    const home = await loginNode();
    const intruder = await loginNode();
    const bob = new Device();
    await publishDirectory(home, [bob]);
    expectRefused(await putPrekeys(intruder, bob, bob.publish(1, 1)), 403, 'forbidden');
    expectRefused(await call('GET', prekeysPath(bob), intruder.token), 403, 'forbidden');
    expectRefused(await claim(intruder, bob), 404, 'no_prekeys');
    const ghost = new Device();
    expectRefused(await putPrekeys(home, ghost, ghost.publish(1, 1)), 404, 'unknown_recipient');
    expectRefused(await claim(intruder, ghost), 404, 'unknown_recipient');
    expectRefused(await claim(intruder, 'no such device / at all'), 404, 'unknown_recipient');
    assert.equal((await call('POST', `${prekeysPath(bob)}/claim`)).status, 401);
  });

  it('a device removed from the key directory (or published under another key) loses its prekeys', async () => {
    const home = await loginNode();
    const bob = new Device();
    const carol = new Device();
    await publishDirectory(home, [bob, carol]);
    assert.equal((await putPrekeys(home, bob, bob.publish(1, 2))).status, 200);
    assert.equal((await putPrekeys(home, carol, carol.publish(1, 2))).status, 200);
    assert.equal((await claim(home, bob)).body.one_time_prekey.id, 1);
    await publishDirectory(home, [carol]);
    expectRefused(await claim(home, bob), 404, 'unknown_recipient');
    // Back in the directory: nothing of before is there, and the id handed out before stays taken.
    await publishDirectory(home, [bob, carol]);
    expectRefused(await claim(home, bob), 404, 'no_prekeys');
    assert.equal((await call('GET', prekeysPath(bob), home.token)).body.one_time_left, 0);
    // carol, published unchanged, keeps hers.
    assert.equal((await call('GET', prekeysPath(carol), home.token)).body.one_time_left, 2);
    // carol under a new identity key: her old prekeys (signed by the old one) go.
    const carolNew = Object.assign(new Device(), { id: carol.id });
    await publishDirectory(home, [bob, carolNew]);
    expectRefused(await claim(home, carol), 404, 'no_prekeys');
  });
});

describe("the node's CloudPrekeys against the cloud", () => {
  it('is available when logged in, publishes, claims (then no_prekeys / unknown_recipient as values), throws CloudCallError', async () => {
    const home = await loginNode();
    const other = await loginNode();
    const bob = new Device();
    const lonely = new Device();
    await publishDirectory(home, [bob, lonely]);
    let loggedIn: { url: string; token: string } | null = null;
    const refused: string[] = [];
    const port = new CloudPrekeys({ credentials: () => loggedIn, tokenRefused: (code) => refused.push(code) });
    assert.equal(port.available(), false);
    await assert.rejects(port.publish(bob.id, bob.publish(1, 1)), (e) => e instanceof CloudCallError);
    loggedIn = { url: cloud.url, token: home.token };
    assert.equal(port.available(), true);

    const req = bob.publish(1, 2, 1, 1);
    const status = await port.publish(bob.id, req);
    assert.equal(status.one_time_left, 2);
    assert.equal((await port.publish(bob.id, req)).one_time_left, 2);
    await assert.rejects(
      port.publish(bob.id, bob.publish(1, 1)),
      (e) => e instanceof CloudCallError && e.kind === 'rejected' && e.status === 409 && e.cloudError === 'prekey_id_taken',
    );

    const claimer = new CloudPrekeys({ credentials: () => ({ url: cloud.url, token: other.token }) });
    const c = await claimer.claim(bob.id);
    assert.ok(c.ok);
    assert.equal(c.bundle.one_time_prekey?.id, 1);
    assert.equal(verifyBundle(c.bundle).kemPrekey.lastResort, false);
    assert.deepEqual(await claimer.claim(lonely.id), { ok: false, error: 'no_prekeys' });
    assert.deepEqual(await claimer.claim(new Device().id), { ok: false, error: 'unknown_recipient' });
    await assert.rejects(
      claimer.publish(bob.id, bob.publish(70, 1)),
      (e) => e instanceof CloudCallError && e.status === 403 && e.cloudError === 'forbidden',
    );

    assert.deepEqual(refused, []);
    loggedIn = { url: cloud.url, token: 'not-a-token' };
    await assert.rejects(port.claim(bob.id), (e) => e instanceof CloudCallError && e.status === 401);
    assert.equal(refused.length, 1);
  });
});
