// Attacks on the reference cloud's login: guessing codes across many fresh challenges, from many source
// addresses, claiming another node's key in an NX handshake, and floods of challenges and handshakes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOISE_HANDSHAKE_FLAG } from '../../src/cloud/auth-service.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { CloudOptions, RunningCloud } from '../../src/cloud/server.js';
import { type CloudNoiseSession, cloudHandshake, cloudHandshakeWithPin } from '../../src/main/core/cloud/cloud-handshake.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import type { KeyPair } from '../../src/shared/crypto/noise/index.js';
import { startTestCloud } from '../helpers/test-cloud.js';

const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');
/** Off every limit but the one a test looks at (the per-account ones have tests of their own: accounts.test.ts). */
const LOOSE = { global: { ratePerSec: 1e6, burst: 1e6 }, maxLiveChallengesPerDevice: 1000, maxCodesPerSource: 1e6, maxCodesPerEmail: 1e6 };

/** Each node key its own account here: these tests count per device id and per source address. */
const emailOf = (deviceId: string) => `${Buffer.from(deviceId, 'base64url').toString('hex').slice(0, 16)}@salita.test`;

/** POST from a chosen loopback source address (Linux routes all of 127/8 to lo). */
function post(
  cloud: RunningCloud,
  path: string,
  body: unknown,
  from = '127.0.0.1',
): Promise<{ status: number; body: Record<string, any>; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      cloud.url + path,
      { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(text), retryAfter: res.headers['retry-after'] as string | undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function withCloud(opts: Partial<CloudOptions>, fn: (cloud: RunningCloud, otp: MemoryOtpSender, dir: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-limits-'));
  const otp = new MemoryOtpSender();
  const cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, ...opts });
  try {
    await fn(cloud, otp, dir);
  } finally {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function challenge(cloud: RunningCloud, otp: MemoryOtpSender, deviceId: string, from?: string) {
  const r = await post(cloud, '/api/auth/challenge', { device_id: deviceId, email: emailOf(deviceId) }, from);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { challengeId: r.body.challenge_id as string, code: otp.codeFor(r.body.challenge_id as string) };
}
/** A challenge body for a fresh node key (and its own account). */
const fresh = () => {
  const id = b64(NODE_X25519.generateKeyPair().publicKey);
  return { device_id: id, email: emailOf(id) };
};
const wrong = (code: string) => (code === '000000' ? '000001' : '000000');
const noiseFields = (s: CloudNoiseSession) => ({
  noise_session_id: s.sessionId,
  noise_signature: s.signature,
  last_handshake_at: s.completedAt,
});

function assertTooMany(r: { status: number; body: Record<string, any>; retryAfter?: string }) {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(r.body.error, 'too_many_attempts');
  assert.equal(typeof r.body.message, 'string');
  assert.ok(r.body.retry_after > 0);
  assert.equal(r.retryAfter, String(r.body.retry_after));
}

describe('cloud login limits: guessing codes', () => {
  it('5 wrong codes on 5 fresh challenges lock the device id: even the right code then gets 429, also after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-cloud-limits-'));
    const otp = new MemoryOtpSender();
    const victim = b64(NODE_X25519.generateKeyPair().publicKey);
    let cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, limits: LOOSE });
    try {
      const keep = await challenge(cloud, otp, victim);
      for (let i = 0; i < 5; i++) {
        const c = await challenge(cloud, otp, victim);
        const r = await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: wrong(c.code) });
        assert.equal(r.body.error, 'otp_invalid');
      }
      assertTooMany(await post(cloud, '/api/auth/verify', { challenge_id: keep.challengeId, code: keep.code }));
      assertTooMany(await post(cloud, '/api/auth/challenge', { device_id: victim, email: emailOf(victim) }));
      await cloud.stop();
      cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, limits: LOOSE });
      assertTooMany(await post(cloud, '/api/auth/verify', { challenge_id: keep.challengeId, code: keep.code }));
      // Another device id is not affected.
      const other = await challenge(cloud, otp, b64(NODE_X25519.generateKeyPair().publicKey));
      assert.equal((await post(cloud, '/api/auth/verify', { challenge_id: other.challengeId, code: other.code })).status, 200);
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('guesses from many source addresses still count for one device id', () =>
    withCloud({ limits: LOOSE }, async (cloud, otp) => {
      const victim = b64(NODE_X25519.generateKeyPair().publicKey);
      const keep = await challenge(cloud, otp, victim, '127.0.0.50');
      for (let i = 0; i < 5; i++) {
        const from = `127.0.0.${60 + i}`;
        const c = await challenge(cloud, otp, victim, from);
        assert.equal(
          (await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: wrong(c.code) }, from)).body.error,
          'otp_invalid',
        );
      }
      assertTooMany(await post(cloud, '/api/auth/verify', { challenge_id: keep.challengeId, code: keep.code }, '127.0.0.70'));
    }));

  it('one source address guessing across many device ids is locked', () =>
    withCloud({ limits: LOOSE }, async (cloud, otp) => {
      const from = '127.0.0.80';
      for (let i = 0; i < 20; i++) {
        const c = await challenge(cloud, otp, b64(NODE_X25519.generateKeyPair().publicKey), from);
        assert.equal(
          (await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: wrong(c.code) }, from)).body.error,
          'otp_invalid',
        );
      }
      const c = await challenge(cloud, otp, b64(NODE_X25519.generateKeyPair().publicKey), '127.0.0.81');
      assertTooMany(await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: c.code }, from));
      assertTooMany(await post(cloud, '/api/auth/challenge', fresh(), from));
      // The same challenge from another address is fine.
      assert.equal((await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: c.code }, '127.0.0.81')).status, 200);
    }));

  it('the cloud-wide rate limit answers 429 with Retry-After', () =>
    withCloud({ limits: { global: { ratePerSec: 0.01, burst: 3 } } }, async (cloud) => {
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await post(cloud, '/api/auth/challenge', fresh()));
      assert.equal(results.filter((r) => r.status === 200).length, 3);
      assertTooMany(results[5]!);
    }));
});

describe('cloud login: a token only for a proven key', () => {
  for (const flag of [true, false]) {
    it(`flag ${flag ? 'on' : 'off'}: an NX handshake claiming another node's key plus the right code gives no token`, () =>
      withCloud({}, async (cloud, otp) => {
        await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, flag);
        const victim = NODE_X25519.generateKeyPair();
        const attacker = NODE_X25519.generateKeyPair();
        // NX never uses the client's private key: the payload only states a public key.
        const claim: KeyPair = { publicKey: victim.publicKey, privateKey: attacker.privateKey };
        const nx = await cloudHandshake({ url: cloud.url, staticKey: claim });
        const c = await challenge(cloud, otp, b64(victim.publicKey));
        const r = await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: c.code, ...noiseFields(nx) });
        assert.equal(r.status, 401, JSON.stringify(r.body));
        assert.equal(r.body.error, 'noise_key_unproven');
        assert.equal(r.body.noise_session, undefined);
        // IK with the claimed key but without its private key does not even finish.
        await assert.rejects(cloudHandshake({ url: cloud.url, staticKey: claim, pinnedCloudKey: cloud.publicKey }));
        // The real node, which holds the key, logs in with the same (unused) code: NX then IK.
        const real = await cloudHandshakeWithPin({ url: cloud.url, staticKey: victim });
        const ok = await post(cloud, '/api/auth/verify', { challenge_id: c.challengeId, code: c.code, ...noiseFields(real) });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const me = await fetch(`${cloud.url}/api/me`, { headers: { authorization: `Noise ${ok.body.noise_session.token}` } });
        assert.equal(((await me.json()) as { device_id: string }).device_id, b64(victim.publicKey));
      }));
  }
});

describe('cloud login tables stay bounded under a flood', () => {
  it('thousands of challenges: capped at maxChallenges with 429 past it', () =>
    withCloud({ limits: { ...LOOSE, maxChallenges: 100 } }, async (cloud) => {
      let refused = 0;
      for (let i = 0; i < 2000; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => post(cloud, '/api/auth/challenge', fresh())));
        for (const r of batch)
          if (r.status === 429) {
            assertTooMany(r);
            refused++;
          } else assert.equal(r.status, 200);
      }
      assert.equal(refused, 1900);
      assert.ok((await cloud.auth.loginRows()).challenges <= 100, JSON.stringify(await cloud.auth.loginRows()));
    }));

  it('expired challenges and handshakes are pruned, so a steady flood leaves few rows', () =>
    withCloud({ limits: LOOSE, timings: { otpTtlMs: 1, noiseSessionTtlMs: 1 } }, async (cloud) => {
      const key = NODE_X25519.generateKeyPair();
      for (let i = 0; i < 2000; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => post(cloud, '/api/auth/challenge', fresh())));
        for (const r of batch) assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      for (let i = 0; i < 300; i += 30)
        await Promise.all(Array.from({ length: 30 }, () => cloudHandshake({ url: cloud.url, staticKey: key })));
      // Each new row prunes the expired ones: at most about one batch is left.
      assert.ok((await cloud.auth.loginRows()).challenges <= 100, JSON.stringify(await cloud.auth.loginRows()));
      assert.ok((await cloud.auth.loginRows()).noiseSessions <= 60, JSON.stringify(await cloud.auth.loginRows()));
      await new Promise((r) => setTimeout(r, 5));
      await cloud.auth.prune();
      assert.deepEqual({ ...(await cloud.auth.loginRows()), failures: 0 }, { challenges: 0, noiseSessions: 0, failures: 0 });
    }));

  it('thousands of unfinished handshakes: capped at maxNoiseSessions, refused with too_many_attempts past it', () =>
    withCloud({ limits: { ...LOOSE, maxNoiseSessions: 100 } }, async (cloud) => {
      const key = NODE_X25519.generateKeyPair();
      let refused = 0;
      for (let i = 0; i < 1000; i += 50) {
        const batch = await Promise.allSettled(Array.from({ length: 50 }, () => cloudHandshake({ url: cloud.url, staticKey: key })));
        for (const r of batch) {
          if (r.status === 'rejected') {
            assert.equal((r.reason as { serverError?: { error: string } }).serverError?.error, 'too_many_attempts');
            refused++;
          }
        }
      }
      assert.equal(refused, 900);
      assert.ok((await cloud.auth.loginRows()).noiseSessions <= 100, JSON.stringify(await cloud.auth.loginRows()));
    }));
});
