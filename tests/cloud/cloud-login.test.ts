// The reference cloud (src/cloud) as is, on loopback port 0 with a temp data dir: Noise NX/IK over WebSocket,
// OTP login with the noise_handshake flag off and on, token checks, key-change detection, /metrics.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { NOISE_HANDSHAKE_FLAG } from '../../src/cloud/auth-service.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import type { TelemetryEvent } from '../../src/cloud/telemetry.js';
import {
  CloudHandshakeError,
  type CloudNoiseSession,
  cloudHandshake,
  cloudHandshakeWithPin,
} from '../../src/main/core/cloud/cloud-handshake.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import type { KeyPair } from '../../src/shared/crypto/noise/index.js';
import { startTestCloud, testCloudStoreArgs } from '../helpers/test-cloud.js';

const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

async function post(cloud: RunningCloud, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(cloud.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function get(cloud: RunningCloud, path: string, token?: string) {
  const res = await fetch(cloud.url + path, { headers: token ? { authorization: `Noise ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function challenge(cloud: RunningCloud, otp: MemoryOtpSender, key: KeyPair) {
  const r = await post(cloud, '/api/auth/challenge', { device_id: b64(key.publicKey), email: 'home@salita.test' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const challengeId = r.body.challenge_id as string;
  return { challengeId, code: otp.codeFor(challengeId) };
}

function noiseFields(s: CloudNoiseSession) {
  return { noise_session_id: s.sessionId, noise_signature: s.signature, last_handshake_at: s.completedAt };
}

async function noiseLogin(cloud: RunningCloud, otp: MemoryOtpSender, key: KeyPair, s: CloudNoiseSession) {
  const { challengeId, code } = await challenge(cloud, otp, key);
  const r = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code, ...noiseFields(s) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.noise_session.token as string;
}

/** Opens a WS with the given headers: resolves with the first message, or the HTTP status of a refusal. */
function wsFirst(url: string, headers: Record<string, string>): Promise<{ message?: any; status?: number; body?: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('message', (d) => {
      resolve({ message: JSON.parse(String(d)) });
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      // The body of a refused upgrade does not survive; the code comes in the x-cloud-error header.
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : { error: res.headers['x-cloud-error'] } }));
    });
    ws.on('error', (e) => {
      if (!e.message.includes('Unexpected server response')) reject(e);
    });
  });
}

function counter(metrics: string, event: string, code = ''): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`salita_cloud_telemetry_events_total{event="${event}",code="${code}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('reference cloud: Noise + OTP login', () => {
  let dir: string;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  const events: TelemetryEvent[] = [];
  const client = NODE_X25519.generateKeyPair();
  let pinned: Uint8Array;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'salita-cloud-'));
    cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
    cloud.telemetry.subscribe((e) => events.push(e));
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its static key in a 0600 file', () => {
    assert.equal(statSync(join(dir, 'cloud.key')).mode & 0o777, 0o600);
  });

  it('NX first contact: learns the cloud key and gets a Session', async () => {
    const s = await cloudHandshake({ url: cloud.url, staticKey: client });
    assert.equal(s.pattern, 'NX');
    assert.deepEqual(s.cloudStaticKey, cloud.publicKey);
    assert.equal(s.handshakeHash.length, 32);
    assert.match(s.sessionId, /^[0-9a-f-]{36}$/);
    pinned = s.cloudStaticKey;
  });

  it('IK with the pinned key', async () => {
    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    assert.equal(s.pattern, 'IK');
    assert.deepEqual(s.cloudStaticKey, cloud.publicKey);
  });

  it('flag off: the plain OTP flow logs in; token works on REST and WS', async () => {
    assert.equal(await cloud.auth.isEnabled(NOISE_HANDSHAKE_FLAG), false);
    const { challengeId, code } = await challenge(cloud, otp, client);
    const r = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const token = r.body.noise_session.token as string;
    assert.ok(Date.parse(r.body.noise_session.expires_at) > Date.now());
    const me = await get(cloud, '/api/me', token);
    assert.equal(me.status, 200);
    assert.equal(me.body.device_id, b64(client.publicKey));
    assert.equal(me.body.noise_session_id, null);
    const relay = await wsFirst(`${cloud.url.replace('http', 'ws')}/v1/relay`, { authorization: `Noise ${token}` });
    assert.equal(relay.message.type, 'hello');
    assert.equal(relay.message.device_id, b64(client.publicKey));
  });

  it('a reused code is refused; a wrong code is refused', async () => {
    const { challengeId, code } = await challenge(cloud, otp, client);
    const wrong = code === '000000' ? '000001' : '000000';
    const bad = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code: wrong });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'otp_invalid');
    assert.equal(typeof bad.body.message, 'string');
    assert.equal((await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code })).status, 200);
    const again = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'otp_used');
    const unknown = await post(cloud, '/api/auth/verify', { challenge_id: 'nope', code });
    assert.equal(unknown.body.error, 'challenge_not_found');
  });

  it('flag on: the noise fields are required; a signed IK login works', async () => {
    const before = await (await fetch(`${cloud.url}/metrics`)).text();
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    const { challengeId, code } = await challenge(cloud, otp, client);
    const plain = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code });
    assert.equal(plain.status, 401);
    assert.equal(plain.body.error, 'noise_handshake');

    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const r = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code, ...noiseFields(s) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.noise_session.noise_session_id, s.sessionId);
    const token = r.body.noise_session.token as string;
    const me = await get(cloud, '/api/me', token);
    assert.equal(me.status, 200);
    assert.equal(me.body.noise_session_id, s.sessionId);

    // One login per handshake.
    const second = await challenge(cloud, otp, client);
    const reuse = await post(cloud, '/api/auth/verify', { challenge_id: second.challengeId, code: second.code, ...noiseFields(s) });
    assert.equal(reuse.body.error, 'noise_handshake');

    const afterText = await (await fetch(`${cloud.url}/metrics`)).text();
    for (const e of [
      'messngr.auth.noise.handshake.success',
      'messngr.noise.token.register',
      'messngr.noise.token.issue',
      'messngr.noise.handshake.stop',
    ]) {
      assert.ok(counter(afterText, e) > counter(before, e), `${e} should have moved`);
    }
    assert.ok(
      counter(afterText, 'messngr.auth.noise.handshake.failure', 'noise_handshake') >
        counter(before, 'messngr.auth.noise.handshake.failure', 'noise_handshake'),
    );
  });

  it('flag on: a token from the plain flow gets noise_handshake; a first contact (NX, then IK) logs in', async () => {
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, false);
    const plainToken = await (async () => {
      const { challengeId, code } = await challenge(cloud, otp, client);
      return (await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code })).body.noise_session.token as string;
    })();
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    const refused = await get(cloud, '/api/me', plainToken);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'noise_handshake');
    const s = await cloudHandshakeWithPin({ url: cloud.url, staticKey: client });
    assert.equal(s.pattern, 'IK', 'NX only learns the cloud key; the login uses the IK that follows');
    assert.deepEqual(s.cloudStaticKey, cloud.publicKey);
    const token = await noiseLogin(cloud, otp, client, s);
    assert.equal((await get(cloud, '/api/me', token)).status, 200);
  });

  it('turning the flag off keeps Noise-bound sessions valid', async () => {
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const token = await noiseLogin(cloud, otp, client, s);
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, false);
    assert.equal((await get(cloud, '/api/me', token)).status, 200);
  });

  it('bad signature, other device key, missing/unknown token are refused with stable codes', async () => {
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const { challengeId, code } = await challenge(cloud, otp, client);
    const forged = Buffer.from(s.signature, 'base64url');
    forged[0]! ^= 1;
    const bad = await post(cloud, '/api/auth/verify', {
      challenge_id: challengeId,
      code,
      ...noiseFields(s),
      noise_signature: forged.toString('base64url'),
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'noise_signature_invalid');

    const other = NODE_X25519.generateKeyPair();
    const c2 = await challenge(cloud, otp, other);
    const mismatch = await post(cloud, '/api/auth/verify', { challenge_id: c2.challengeId, code: c2.code, ...noiseFields(s) });
    assert.equal(mismatch.body.error, 'device_mismatch');

    assert.equal((await get(cloud, '/api/me')).body.error, 'token_missing');
    assert.equal((await get(cloud, '/api/me', 'A'.repeat(43))).body.error, 'token_invalid');
    const ws = await wsFirst(`${cloud.url.replace('http', 'ws')}/v1/relay`, {});
    assert.equal(ws.status, 401);
    assert.equal(ws.body.error, 'token_missing');
    assert.ok(events.some((e) => e.name === 'messngr.noise.token.verify.failure' && e.code === 'token_invalid'));
  });

  it('a revoked token gets token_revoked (REST and WS)', async () => {
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const token = await noiseLogin(cloud, otp, client, s);
    const out = await post(cloud, '/api/auth/logout', {}, { authorization: `Noise ${token}` });
    assert.equal(out.status, 200);
    const me = await get(cloud, '/api/me', token);
    assert.equal(me.status, 401);
    assert.equal(me.body.error, 'token_revoked');
    const ws = await wsFirst(`${cloud.url.replace('http', 'ws')}/v1/relay`, { authorization: `Noise ${token}` });
    assert.equal(ws.status, 401);
    assert.equal(ws.body.error, 'token_revoked');
  });

  it('refresh: a valid token + a fresh IK handshake gives a new token without a code; NX, reused, foreign or missing proofs are refused', async () => {
    const s = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const token = await noiseLogin(cloud, otp, client, s);
    const codesBefore = otp.sent.length;
    const refresh = (tok: string, p: CloudNoiseSession) =>
      post(cloud, '/api/auth/refresh', noiseFields(p), { authorization: `Noise ${tok}` });

    const ik = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    const r = await refresh(token, ik);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const fresh = r.body.noise_session.token as string;
    assert.notEqual(fresh, token);
    assert.equal(otp.sent.length, codesBefore, 'no one-time code was needed');
    assert.equal((await get(cloud, '/api/me', fresh)).status, 200);
    // The old one still works for the grace period (its live socket moves over), and expires soon after.
    const oldMe = await get(cloud, '/api/me', token);
    assert.equal(oldMe.status, 200);
    assert.ok(Date.parse(oldMe.body.expires_at) <= Date.now() + 5 * 60_000 + 1000, 'the old token now expires within the grace period');

    // The same handshake cannot be used twice.
    assert.equal((await refresh(fresh, ik)).body.error, 'noise_handshake');
    // NX only states the client key: not enough to renew a token.
    const nx = await cloudHandshake({ url: cloud.url, staticKey: client });
    const viaNx = await refresh(fresh, nx);
    assert.equal(viaNx.status, 401);
    assert.equal(viaNx.body.error, 'noise_key_unproven');
    // Another node's handshake cannot renew this node's token.
    const other = NODE_X25519.generateKeyPair();
    const foreign = await cloudHandshake({ url: cloud.url, staticKey: other, pinnedCloudKey: pinned });
    assert.equal((await refresh(fresh, foreign)).body.error, 'device_mismatch');
    // No token, or a bad one: refused before anything else.
    const ik2 = await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: pinned });
    assert.equal((await post(cloud, '/api/auth/refresh', noiseFields(ik2))).body.error, 'token_missing');
    assert.equal((await refresh('x'.repeat(43), ik2)).body.error, 'token_invalid');
    // Missing proof fields: 400.
    assert.equal((await post(cloud, '/api/auth/refresh', {}, { authorization: `Noise ${fresh}` })).status, 400);
    // And the proof still works afterwards (nothing above consumed it).
    assert.equal((await refresh(fresh, ik2)).status, 200);
  });

  it('a malformed first handshake message fails clearly and counts an exception', async () => {
    const res = await new Promise<{ text: any; code: number }>((resolve) => {
      const ws = new WebSocket(`${cloud.url.replace('http', 'ws')}/v1/noise?pattern=IK`);
      let text: any;
      ws.on('open', () => ws.send(Buffer.alloc(10)));
      ws.on('message', (d) => {
        text = JSON.parse(String(d));
      });
      ws.on('close', (code) => resolve({ text, code }));
    });
    assert.equal(res.code, 4400);
    assert.equal(res.text.error, 'noise_handshake_failed');
    const m = await (await fetch(`${cloud.url}/metrics`)).text();
    assert.ok(counter(m, 'messngr.noise.handshake.exception', 'message_too_short') >= 1);
  });
});

describe('reference cloud: token expiry and cloud key change', () => {
  it('an expired token gets token_expired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-'));
    const otp = new MemoryOtpSender();
    // A token that is already expired when issued: no clock waits.
    const cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, timings: { tokenTtlMs: -1 } });
    try {
      const key = NODE_X25519.generateKeyPair();
      const { challengeId, code } = await challenge(cloud, otp, key);
      const r = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code });
      const me = await get(cloud, '/api/me', r.body.noise_session.token);
      assert.equal(me.status, 401);
      assert.equal(me.body.error, 'token_expired');
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the key persists across restarts; a replaced key is detected by an IK client that pinned the old one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-'));
    const client = NODE_X25519.generateKeyPair();
    try {
      let cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {} });
      const first = await cloudHandshake({ url: cloud.url, staticKey: client });
      await cloud.stop();
      cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {} });
      assert.deepEqual(cloud.publicKey, first.cloudStaticKey, 'same key after a restart');
      assert.equal((await cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: first.cloudStaticKey })).pattern, 'IK');
      await cloud.stop();

      rmSync(join(dir, 'cloud.key'));
      cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {} });
      try {
        await assert.rejects(
          cloudHandshake({ url: cloud.url, staticKey: client, pinnedCloudKey: first.cloudStaticKey }),
          (err: unknown) => {
            assert.ok(err instanceof CloudHandshakeError);
            assert.equal(err.code, 'cloud_key_changed');
            assert.match(err.message, /static key may have changed/);
            assert.equal(err.serverError?.error, 'noise_handshake_failed');
            return true;
          },
        );
        // An NX re-contact also notices the pin does not match.
        await assert.rejects(
          cloudHandshakeWithPin({ url: cloud.url, staticKey: client, pinnedCloudKey: first.cloudStaticKey, preferIK: false }),
          (err: unknown) => err instanceof CloudHandshakeError && err.code === 'cloud_key_changed',
        );
      } finally {
        await cloud.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference cloud: expired code and the rollout CLI', () => {
  it('an expired code gets otp_expired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-'));
    const otp = new MemoryOtpSender();
    const cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, timings: { otpTtlMs: -1 } });
    try {
      const { challengeId, code } = await challenge(cloud, otp, NODE_X25519.generateKeyPair());
      const r = await post(cloud, '/api/auth/verify', { challenge_id: challengeId, code });
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'otp_expired');
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`cloud rollout noise_handshake --enable|--disable` persists the flag in the data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-'));
    const store = await testCloudStoreArgs(dir);
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cloud/main.ts', ...args, '--data-dir', dir, ...store], { encoding: 'utf8' });
    try {
      const on = run('rollout', 'noise_handshake', '--enable');
      assert.equal(on.status, 0, on.stderr);
      let cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {} });
      assert.equal(await cloud.auth.isEnabled(NOISE_HANDSHAKE_FLAG), true);
      assert.equal((await get(cloud, '/healthz')).body.flags.noise_handshake, true);
      await cloud.stop();
      assert.equal(run('rollout', 'noise_handshake', '--disable').status, 0);
      cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {} });
      assert.equal(await cloud.auth.isEnabled(NOISE_HANDSHAKE_FLAG), false);
      await cloud.stop();
      assert.equal(run('rollout', 'no_such_flag', '--enable').status, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
