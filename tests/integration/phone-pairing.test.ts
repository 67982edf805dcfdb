// A phone-like client pairs with a real node over HTTP, and every way a pairing can go wrong is refused
// with the right stable error code.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { cleanupAll, makePhone, postJson, startTestNode } from '../helpers/test-node.js';
import { fromBase64Url } from '../../src/shared/encoding.js';
import { fingerprintOf } from '../../src/shared/fingerprint.js';

after(cleanupAll);

describe('node identity', () => {
  test('GET /api/node/identity describes the node and its fingerprint follows the documented formula', async () => {
    const node = await startTestNode();
    const res = await fetch(`${node.base}/api/node/identity`);
    assert.equal(res.status, 200);
    const body = await res.json() as Record<string, unknown>;
    assert.match(body.node_id as string, /^node-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(body).sort(), ['capabilities', 'fingerprint', 'name', 'node_id', 'public_key', 'version']);
    const pub = fromBase64Url(body.public_key as string);
    assert.equal(pub.length, 32);
    const digest = createHash('sha256').update(pub).digest().subarray(0, 10);
    assert.equal(body.fingerprint, fingerprintOf(pub));
    assert.match(body.fingerprint as string, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
    assert.equal(digest.length, 10);
  });
});

describe('pair/start is for the local desktop UI only', () => {
  test('no token, a wrong token, or a foreign Host header are refused', async () => {
    const node = await startTestNode();
    const none = await postJson(`${node.base}/auth/pair/start`, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    const wrong = await postJson(`${node.base}/auth/pair/start`, {}, { authorization: 'Admin nope' });
    assert.equal(wrong.status, 401);
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host header.
    // fetch() will not send a custom Host header, so use node:http for this one.
    const rebound = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: node.port, path: '/auth/pair/start', method: 'POST',
        headers: { authorization: `Admin ${node.adminToken}`, host: 'evil.example', 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(rebound.status, 403);
    assert.equal(rebound.body.error, 'forbidden');
  });

  test('returns a 6-digit PIN, codes, a LAN URL (never loopback) with the fingerprint, and a QR', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    assert.match(p.pin, /^\d{6}$/);
    assert.match(p.linking_code, /^[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    const url = new URL(p.url);
    assert.notEqual(url.hostname, '127.0.0.1');
    assert.notEqual(url.hostname, 'localhost');
    assert.equal(url.pathname, '/pair');
    assert.equal(url.searchParams.get('code'), p.code);
    assert.equal(url.searchParams.get('fp'), node.identity.fingerprint.replace(/-/g, ''));
    assert.match(p.qr_svg, /^<svg[\s\S]*<\/svg>\s*$/);
    const ttl = Date.parse(p.expires_at) - Date.now();
    assert.ok(ttl > 60_000 && ttl <= 120_000, `default TTL is 120 s, got ${ttl} ms`);
  });

  test('an address that is not one of the node\'s own is refused', async () => {
    const node = await startTestNode();
    const r = await node.admin('/auth/pair/start', { body: { address: '203.0.113.9' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
  });
});

describe('pair/verify', () => {
  test('a phone pairs: both sides learn about each other and the session works', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const phone = makePhone("Felix's phone");
    const r = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: phone.identity });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, true);
    assert.equal(r.body.desktop_node.node_id, node.identity.node_id);
    assert.equal(r.body.desktop_node.public_key, node.identity.public_key);
    assert.equal(r.body.desktop_node.port, node.port);
    assert.ok(Array.isArray(r.body.desktop_node.capabilities));
    assert.match(r.body.session_token, /^[A-Za-z0-9_-]{43}$/);
    const cookie = r.headers.get('set-cookie') ?? '';
    assert.match(cookie, /salita_session=/);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);

    const state = await node.admin('/api/admin/state');
    const dev = state.body.devices.find((d: any) => d.node_id === phone.identity.node_id);
    assert.ok(dev, 'the phone is in the desktop\'s mesh');
    assert.equal(dev.name, "Felix's phone");
    assert.equal(dev.kind, 'phone');
    assert.equal(dev.status, 'online');
    assert.equal(dev.hostname, '127.0.0.1', 'address taken from the connection');
    assert.equal(dev.public_key, phone.identity.public_key);
    assert.deepEqual(dev.metadata, phone.identity.device_info);
    assert.ok(dev.paired_at);

    const me = await fetch(`${node.base}/api/session`, { headers: { authorization: `Session ${r.body.session_token}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json() as any).node_id, phone.identity.node_id);
    const hb = await postJson(`${node.base}/api/node/heartbeat`, {}, { cookie: `salita_session=${r.body.session_token}` });
    assert.equal(hb.status, 200, 'the cookie works as well as the header');
  });

  test('five wrong PINs burn the code; the right PIN is refused after that', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const phone = makePhone();
    const wrong = p.pin === '000000' ? '111111' : '000000';
    for (const left of [4, 3, 2, 1, 0]) {
      const r = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: wrong, node_identity: phone.identity });
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'pin_mismatch');
      assert.equal(r.body.attempts_left, left);
    }
    const right = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: phone.identity });
    assert.equal(right.status, 423);
    assert.equal(right.body.error, 'code_locked');
    const state = await node.admin('/api/admin/state');
    assert.equal(state.body.devices.length, 0, 'nothing was paired');
  });

  test('concurrent wrong guesses cannot exceed the limit, and a code pairs exactly one device', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: String((Number(p.pin) + 1 + i) % 1_000_000).padStart(6, '0'), node_identity: makePhone().identity })));
    assert.equal(guesses.filter((g) => g.body.error === 'pin_mismatch').length, 5);
    assert.equal(guesses.filter((g) => g.body.error === 'code_locked').length, 7);

    const q = await node.startPairing();
    const racers = await Promise.all(Array.from({ length: 6 }, () =>
      postJson(`${node.base}/auth/pair/verify`, { code: q.code, pin: q.pin, node_identity: makePhone().identity })));
    assert.equal(racers.filter((r) => r.status === 200).length, 1);
    assert.ok(racers.filter((r) => r.status !== 200).every((r) => r.body.error === 'code_used'));
  });

  test('a used code says code_used; an unknown one code_unknown; an expired one code_expired', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const ok = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: makePhone().identity });
    assert.equal(ok.status, 200);
    const again = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: makePhone().identity });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'code_used');
    const unknown = await postJson(`${node.base}/auth/pair/verify`, { code: '00000000-0000-4000-8000-000000000000', pin: '123456', node_identity: makePhone().identity });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'code_unknown');

    const quick = await startTestNode({ timings: { pairingTtlMs: 1 } });
    const e = await quick.startPairing();
    await new Promise((r) => setTimeout(r, 20));
    const expired = await postJson(`${quick.base}/auth/pair/verify`, { code: e.code, pin: e.pin, node_identity: makePhone().identity });
    assert.equal(expired.status, 410);
    assert.equal(expired.body.error, 'code_expired');
  });

  test('the linking code works instead of the code, and a mismatched pair of codes is refused', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const q = await node.startPairing();
    const mixed = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, linking_code: q.linking_code, pin: p.pin, node_identity: makePhone().identity });
    assert.equal(mixed.body.error, 'code_unknown');
    const r = await postJson(`${node.base}/auth/pair/verify`, { linking_code: p.linking_code.toLowerCase().replace('-', ''), pin: p.pin, node_identity: makePhone().identity });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  test('malformed bodies get 4xx JSON with invalid_request, never a crash', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const phone = makePhone();
    const url = `${node.base}/auth/pair/verify`;
    const cases: [string, unknown][] = [
      ['not JSON', '{"code": '],
      ['JSON but an array', '[1,2,3]'],
      ['JSON null', 'null'],
      ['pin as a number', { code: p.code, pin: Number(p.pin), node_identity: phone.identity }],
      ['pin with 5 digits', { code: p.code, pin: '12345', node_identity: phone.identity }],
      ['no node_identity', { code: p.code, pin: p.pin }],
      ['no code at all', { pin: p.pin, node_identity: phone.identity }],
      ['unknown field', { code: p.code, pin: p.pin, node_identity: phone.identity, admin: true }],
      ['bad public key', { code: p.code, pin: p.pin, node_identity: { ...phone.identity, public_key: 'x' } }],
      ['name too long', { code: p.code, pin: p.pin, node_identity: { ...phone.identity, name: 'n'.repeat(200) } }],
      ['node id with spaces', { code: p.code, pin: p.pin, node_identity: { ...phone.identity, node_id: 'a b c' } }],
      ['capabilities not a list', { code: p.code, pin: p.pin, node_identity: { ...phone.identity, capabilities: 'all' } }],
    ];
    for (const [what, body] of cases) {
      const r = await postJson(url, body);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'invalid_request', what);
      assert.equal(typeof r.body.message, 'string', what);
    }
    const big = await postJson(url, { code: p.code, pin: p.pin, node_identity: phone.identity, pad: 'x'.repeat(200_000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'payload_too_large');
    // None of that consumed the code or counted as a PIN attempt.
    const ok = await postJson(url, { code: p.code, pin: p.pin, node_identity: phone.identity });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('a device cannot pair as the node itself', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const r = await postJson(`${node.base}/auth/pair/verify`, {
      code: p.code, pin: p.pin,
      node_identity: { ...makePhone().identity, node_id: node.identity.node_id },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
  });

  test('unknown routes are 404 JSON', async () => {
    const node = await startTestNode();
    for (const path of ['/nope', '/api/nope', '/auth/pair/nope']) {
      const r = await fetch(node.base + path);
      assert.equal(r.status, 404, path);
      assert.equal((await r.json() as any).error, 'not_found', path);
    }
  });
});
