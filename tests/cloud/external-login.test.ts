// External login sessions at the API (the browser's side is in tests/e2e/external-login.e2e.test.ts): a session
// needs a proven Noise handshake (IK), or the token of a signed-in node to add a passkey; its state is pushed on
// the WebSocket topic and read by polling; an approved login's token goes out exactly once, bound to the node's
// Noise session, and works; an unused session fails as session_expired after its time (a shortened clock here),
// pushed, counted in /metrics, and its page refuses it; a used or unknown token is refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { cloudHandshake } from '../../src/main/core/cloud/cloud-handshake.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { EXTERNAL_EVENTS_PATH, externalSessionTopic } from '../../src/shared/wire/external-login.js';
import { sqliteOnly } from '../helpers/test-cloud.js';
import { eventually } from '../helpers/test-node.js';
import { b64, call, joinAccount, withCloud } from './account-helpers.js';

const otp = new MemoryOtpSender();
const codeOf = (id: string) => otp.codeFor(id);

/** A node key with a proven (IK) handshake: what a login session must carry. */
async function provenNode(cloud: RunningCloud) {
  const key = NODE_X25519.generateKeyPair();
  const s = await cloudHandshake({ url: cloud.url, staticKey: key, pinnedCloudKey: cloud.publicKey });
  return {
    key,
    id: b64(key.publicKey),
    proof: { noise_session_id: s.sessionId, noise_signature: s.signature, last_handshake_at: s.completedAt },
  };
}

/** A passkey login session for a fresh node with a proven handshake. */
async function passkeySession(cloud: RunningCloud) {
  const node = await provenNode(cloud);
  const made = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, {
    method: 'passkey',
    device_id: node.id,
    ...node.proof,
  });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  return { token: made.body.session_token as string, uri: made.body.verification_uri as string };
}

/** A socket on the session's topic, with every frame it got. */
async function listen(cloud: RunningCloud, token: string) {
  const ws = new WebSocket(cloud.url.replace('http', 'ws') + EXTERNAL_EVENTS_PATH);
  const frames: any[] = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', topic: externalSessionTopic(token) }));
  return { frames, closed, ws };
}

const metric = async (cloud: RunningCloud, event: string) => {
  const text = await (await fetch(`${cloud.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('salita_cloud_telemetry_events_total') && l.includes(`event="${event}"`) && !l.includes('code=""'));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('external login sessions (API)', () => {
  it('needs a proven handshake; pushes and polls its state; the approved token goes out once and works', { skip: sqliteOnly }, () =>
    withCloud({ otpSender: otp }, async (cloud, dataDir) => {
      assert.deepEqual((await call(cloud, 'GET', '/api/auth/external/methods')).body, { passkey: true, oidc: null });
      const node = await provenNode(cloud);
      const none = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, { method: 'passkey', device_id: node.id });
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'noise_handshake');
      const nx = await cloudHandshake({ url: cloud.url, staticKey: node.key });
      const unproven = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, {
        method: 'passkey',
        device_id: node.id,
        noise_session_id: nx.sessionId,
        noise_signature: nx.signature,
        last_handshake_at: nx.completedAt,
      });
      assert.equal(unproven.body.error, 'noise_key_unproven', 'NX only states the key');
      const oidc = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, {
        method: 'oidc',
        device_id: node.id,
        ...node.proof,
      });
      assert.equal(oidc.status, 404);
      assert.equal(oidc.body.error, 'method_unavailable');
      const register = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, { method: 'passkey_register' });
      assert.equal(register.body.error, 'token_missing');

      const made = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, {
        method: 'passkey',
        device_id: node.id,
        name: 'Study desk',
        ...node.proof,
      });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      assert.match(made.body.session_token, /^[A-Za-z0-9_-]{43}$/);
      assert.match(made.body.verification_uri, new RegExp(`^http://localhost:${cloud.port}/login/external/[A-Za-z0-9_-]{24}$`));
      assert.equal(await metric(cloud, 'external_login.session_created'), 1);
      const token = made.body.session_token as string;
      assert.equal((await call(cloud, 'GET', `/api/auth/external/sessions/${token}`)).body.status, 'pending');
      const sub = await listen(cloud, token);
      await eventually(() => sub.frames.find((f) => f.type === 'session_update' && f.status === 'pending'), 'the pending state pushed');
      const page = await fetch(`${cloud.url}/login/external/${made.body.verification_uri.split('/').at(-1)}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self' 'nonce-/);
      assert.match(await page.text(), /Study desk/);

      // The person approves in the browser (the e2e test does it with a passkey; here the row is set as it would be).
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const accountId = (await call(cloud, 'GET', '/api/account', ana.token)).body.account.id;
      const db = new Database(join(dataDir, 'cloud.db'));
      db.prepare("UPDATE external_login_sessions SET status = 'approved', account_id = ?").run(accountId);
      db.close();
      const polled = await call(cloud, 'GET', `/api/auth/external/sessions/${token}`);
      assert.equal(polled.status, 200, JSON.stringify(polled.body));
      assert.equal(polled.body.status, 'approved');
      const issued = polled.body.tokens.token as string;
      assert.equal(polled.body.tokens.noise_session_id, node.proof.noise_session_id, 'bound to the Noise session the node proved');
      const again = await call(cloud, 'GET', `/api/auth/external/sessions/${token}`);
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'session_used');
      const me = await call(cloud, 'GET', '/api/me', issued);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      const acct = await call(cloud, 'GET', '/api/account', issued);
      assert.equal(acct.body.account.email, 'ana@example.org', "the node joined the approved account's household");
      // The handshake is used up: it cannot make a second login.
      const reuse = await call(cloud, 'POST', '/api/auth/external/sessions', undefined, {
        method: 'passkey',
        device_id: node.id,
        ...node.proof,
      });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.error, 'noise_handshake');
      sub.ws.close();
      const unknown = await call(cloud, 'GET', `/api/auth/external/sessions/${'A'.repeat(43)}`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error, 'session_not_found');
    }),
  );

  it('the push carries the token to the first listener; a bad topic is closed', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const { token, uri } = await passkeySession(cloud);
      const sub = await listen(cloud, token);
      await eventually(() => sub.frames.length > 0, 'the first push');
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const accountId = (await call(cloud, 'GET', '/api/account', ana.token)).body.account.id;
      // Approve through the service, as the passkey check does, so the change is pushed.
      const logins = cloud.logins as unknown as { finish(row: unknown, o: unknown): Promise<void>; pending(id: string): Promise<unknown> };
      await logins.finish(await logins.pending(uri.split('/').at(-1)!), { status: 'approved', accountId });
      const pushed = await eventually(() => sub.frames.find((f) => f.status === 'approved'), 'the approval pushed');
      assert.equal(pushed.type, 'session_update');
      assert.equal(pushed.topic, externalSessionTopic(token));
      assert.ok(pushed.tokens?.token, 'the push carries the token');
      assert.equal(await sub.closed, 1000, 'and the socket is closed: the session is over');
      assert.equal((await call(cloud, 'GET', `/api/auth/external/sessions/${token}`)).body.error, 'session_used');
      assert.equal(await metric(cloud, 'external_login.completed'), 1);

      const bad = await listen(cloud, 'B'.repeat(43));
      assert.equal(await bad.closed, 4404);
      assert.equal(bad.frames[0]?.error, 'session_not_found');
    }));

  it('an unused session fails as session_expired after its time: pushed, polled, counted, its page refuses it', () =>
    withCloud({ otpSender: otp, externalSessionTtlMs: 400 }, async (cloud) => {
      const { token, uri } = await passkeySession(cloud);
      const sub = await listen(cloud, token);
      const failed = await eventually(() => sub.frames.find((f) => f.status === 'failed'), 'the expiry pushed');
      assert.equal(failed.error, 'session_expired');
      assert.equal(await sub.closed, 1000);
      const polled = await call(cloud, 'GET', `/api/auth/external/sessions/${token}`);
      assert.deepEqual([polled.status, polled.body.status, polled.body.error], [200, 'failed', 'session_expired']);
      const page = await fetch(uri.replace('localhost', '127.0.0.1'), { headers: { accept: 'text/html' } });
      assert.equal(page.status, 410);
      assert.match(await page.text(), /expired/);
      const options = await call(cloud, 'POST', `/api/auth/external/browser/${uri.split('/').at(-1)}/options`);
      assert.equal(options.body.error, 'session_expired');
      assert.equal(await metric(cloud, 'external_login.expired'), 1, 'counted once');
    }));

  it('a signed-in node starts a passkey registration for its own account', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const r = await call(cloud, 'POST', '/api/auth/external/sessions', ana.token, { method: 'passkey_register' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.method, 'passkey_register');
      const state = await call(cloud, 'GET', `/api/auth/external/sessions/${r.body.session_token}`);
      assert.equal(state.body.status, 'pending');
      const legacy = await joinAccount(cloud, undefined, codeOf).catch(() => null);
      assert.equal(legacy, null, 'no legacy login on a new cloud (so every account has an email)');
    }));
});
