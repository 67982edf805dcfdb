// Attacks on signed device requests. Each test sends what an attacker could send and
// expects the node's stable refusal; each would pass the request through if its check were removed.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { deriveServerHmacKey, signRequest } from '../../src/shared/auth/request-signing.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

interface Creds {
  sessionId: string;
  deviceSecret: Uint8Array;
}

/** One raw signed request; `send` lets a test change what goes on the wire after signing. */
async function signedCall(
  node: TestNode,
  creds: Creds,
  o: {
    method: string;
    path: string;
    body?: string;
    now?: number;
    nonce?: string;
    key?: Uint8Array;
    send?: { method?: string; path?: string; body?: string };
  },
) {
  const body = o.body === undefined ? undefined : new TextEncoder().encode(o.body);
  const headers = signRequest({
    sessionId: creds.sessionId,
    serverHmacKey: o.key ?? deriveServerHmacKey(creds.deviceSecret),
    method: o.method,
    pathWithQuery: o.path,
    ...(body ? { body } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.nonce ? { nonce: o.nonce } : {}),
  });
  const sendBody = o.send?.body ?? o.body;
  const res = await fetch(node.base + (o.send?.path ?? o.path), {
    method: o.send?.method ?? o.method,
    headers: { ...headers, ...(sendBody !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(sendBody !== undefined ? { body: sendBody } : {}),
  });
  return { status: res.status, body: (await res.json()) as any, headers };
}

const announce = (nodeId: string, name: string) => JSON.stringify({ node_id: nodeId, name });

describe('signed requests', () => {
  test('a correctly signed request works; replaying it byte for byte is refused as nonce_reused', async () => {
    const node = await startTestNode();
    const { creds } = await pairPhone(node);
    const first = await signedCall(node, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await fetch(`${node.base}/api/node/heartbeat`, {
      method: 'POST',
      headers: { ...first.headers, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as any).error, 'nonce_reused');
  });

  test('tampering with the body, method, path or query breaks the signature', async () => {
    const node = await startTestNode();
    const { creds, phone } = await pairPhone(node);
    const me = phone.identity.node_id;
    const cases = [
      { what: 'body', method: 'POST', path: '/api/mesh/announce', body: announce(me, 'Mine'), send: { body: announce(me, 'Evil') } },
      { what: 'method', method: 'POST', path: '/api/session', send: { method: 'GET' } },
      { what: 'path', method: 'POST', path: '/api/mesh/announce', body: '{}', send: { path: '/api/node/heartbeat' } },
      { what: 'query', method: 'GET', path: '/api/session?view=short', send: { path: '/api/session?view=full' } },
      { what: 'query added', method: 'GET', path: '/api/session', send: { path: '/api/session?x=1' } },
    ];
    for (const c of cases) {
      const r = await signedCall(node, creds, c);
      assert.equal(r.status, 401, `${c.what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'signature_invalid', c.what);
    }
    const state = await node.admin('/api/admin/state');
    assert.notEqual(state.body.devices[0].name, 'Evil');
    // The untampered forms pass, so the refusals above are the signature's doing.
    assert.equal((await signedCall(node, creds, { method: 'GET', path: '/api/session?view=short' })).status, 200);
    assert.equal((await signedCall(node, creds, { method: 'POST', path: '/api/mesh/announce', body: announce(me, 'Mine') })).status, 200);
  });

  test('a signature under another key, or a made-up session, is refused', async () => {
    const node = await startTestNode();
    const { creds } = await pairPhone(node);
    const wrongKey = await signedCall(node, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}', key: randomBytes(32) });
    assert.equal(wrongKey.body.error, 'signature_invalid');
    const unknown = await signedCall(
      node,
      { sessionId: toBase64Url(randomBytes(16)), deviceSecret: randomBytes(32) },
      { method: 'POST', path: '/api/node/heartbeat', body: '{}' },
    );
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'session_unknown');
    const unsigned = await fetch(`${node.base}/api/node/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Session ${creds.sessionId}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(unsigned.status, 401);
    assert.equal(((await unsigned.json()) as any).error, 'signature_invalid');
  });

  test('stale and future timestamps are refused outside the window and accepted inside it', async () => {
    const node = await startTestNode();
    const { creds } = await pairPhone(node);
    const call = (skewS: number) =>
      signedCall(node, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}', now: Date.now() + skewS * 1000 });
    for (const skew of [-120, -61 - 1, 62, 3600]) {
      const r = await call(skew);
      assert.equal(r.status, 401, `skew ${skew}s`);
      assert.equal(r.body.error, 'timestamp_skew', `skew ${skew}s`);
    }
    for (const skew of [-45, 45]) assert.equal((await call(skew)).status, 200, `skew ${skew}s is inside ±60 s`);

    const strict = await startTestNode({ timings: { signatureWindowMs: 5_000 } });
    const p = await pairPhone(strict);
    const r = await signedCall(strict, p.creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}', now: Date.now() - 30_000 });
    assert.equal(r.body.error, 'timestamp_skew', 'the window is configurable');
  });

  test('a nonce stays used across a node restart', async () => {
    const dataDir = tempDir();
    const node = await startTestNode({ dataDir });
    const { creds } = await pairPhone(node);
    const nonce = toBase64Url(randomBytes(16));
    assert.equal((await signedCall(node, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}', nonce })).status, 200);
    await node.stop();
    const again = await startTestNode({ dataDir });
    const reused = await signedCall(again, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}', nonce });
    assert.equal(reused.status, 401);
    assert.equal(reused.body.error, 'nonce_reused');
    assert.equal(
      (await signedCall(again, creds, { method: 'POST', path: '/api/node/heartbeat', body: '{}' })).status,
      200,
      'a fresh nonce works',
    );
  });

  test('logout revokes at once; the client forgets its session and reports why', async () => {
    const node = await startTestNode();
    const { client, lost, stubborn } = await pairPhone(node);
    assert.equal((await client.request('POST', '/api/session/logout', {})).status, 200);
    const after = await stubborn().request('POST', '/api/node/heartbeat', {});
    assert.equal(after.status, 401);
    assert.equal(after.body.error, 'session_revoked');
    const r = await client.request('GET', '/api/session').catch((e: Error) => e);
    assert.ok(client.hasSession === false || (r as any).status === 401);
    const c2 = new DeviceClient(node.base, (await pairPhone(node)).creds, { onSessionLost: (code) => lost.push(code) });
    await node.admin(`/api/mesh/nodes/${(await c2.request('GET', '/api/session')).body.node_id}`, { method: 'DELETE' });
    await c2.request('POST', '/api/node/heartbeat', {});
    assert.equal(c2.hasSession, false, 'a 401 session_revoked makes the client drop the session');
    assert.ok(lost.includes('session_revoked'));
  });

  test('a linking-code pairing that nobody confirmed cannot use its session', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const { stubborn } = await pairPhone(node, { start, linkingCode: start.linking_code });
    const r = await stubborn().request('POST', '/api/node/heartbeat', {});
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'pairing_unconfirmed');
    const pending = (await node.admin('/api/admin/state')).body.pending_pairings[0];
    await node.admin(`/api/admin/pairings/${pending.pairing_id}/confirm`, { body: {} });
    assert.equal((await stubborn().request('POST', '/api/node/heartbeat', {})).status, 200);
  });

  test('the node keeps only an encrypted verification key: neither the device secret nor the key is on disk', async () => {
    const dataDir = tempDir();
    const node = await startTestNode({ dataDir });
    const { creds } = await pairPhone(node);
    await node.stop();
    const db = Buffer.concat(
      ['salita.db', 'salita.db-wal'].map((f) => {
        try {
          return readFileSync(join(dataDir, f));
        } catch {
          return Buffer.alloc(0);
        }
      }),
    );
    const hmacKey = deriveServerHmacKey(creds.deviceSecret);
    for (const secret of [creds.deviceSecret, hmacKey]) {
      for (const form of [
        Buffer.from(secret),
        Buffer.from(toBase64Url(secret)),
        Buffer.from(Buffer.from(secret).toString('hex')),
        Buffer.from(Buffer.from(secret).toString('base64')),
      ]) {
        assert.equal(db.indexOf(form), -1, 'secret material in clear in the database');
      }
    }
    assert.equal(statSync(join(dataDir, 'storage.key')).mode & 0o777, 0o600);
  });
});

describe('signed WebSockets', () => {
  const open = (url: string) =>
    new Promise<{ ws: WebSocket; first: any }>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('message', (d) => resolve({ ws, first: JSON.parse(String(d)) }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });

  test('an upgrade must be signed; a replayed upgrade URL is refused', async () => {
    const node = await startTestNode();
    const { client, creds } = await pairPhone(node);
    await assert.rejects(open(`ws://127.0.0.1:${node.port}/api/device/events?salita_session=${creds.sessionId}`), /401/);
    const url = client.webSocketUrl('/api/device/events');
    const { ws, first } = await open(url);
    assert.equal(first.type, 'hello');
    ws.close();
    await assert.rejects(open(url), /401/, 'the same signed URL cannot open a second socket');
    const tampered = new URL(client.webSocketUrl('/api/device/events'));
    tampered.pathname = '/api/admin/events';
    await assert.rejects(open(tampered.toString()), /40[13]/);
  });

  test("unpair closes the device's open sockets at once, and only that device's", async () => {
    const node = await startTestNode();
    const victim = await pairPhone(node);
    const other = await pairPhone(node);
    const a = await open(victim.client.webSocketUrl('/api/device/events'));
    const b = await open(other.client.webSocketUrl('/api/device/events'));
    const closed = new Promise<number>((resolve) => a.ws.once('close', (code) => resolve(code)));
    await node.admin(`/api/mesh/nodes/${victim.phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(await closed, 4401);
    assert.equal(b.ws.readyState, WebSocket.OPEN, 'the other device stays connected');
    const bClosed = new Promise<number>((resolve) => b.ws.once('close', (code) => resolve(code)));
    await other.client.request('POST', '/api/session/logout', {});
    assert.equal(await bClosed, 4401, "logout closes the device's own sockets too");
    await eventually(() => node.core.deviceSockets.count() === 0, 'no socket left registered');
  });
});
