// A phone-like client pairs with a real node over HTTP, and every way a pairing can go wrong is refused
// with the right stable error code.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, describe, test } from 'node:test';
import { fromBase64Url } from '../../src/shared/encoding.js';
import { fingerprintOf } from '../../src/shared/fingerprint.js';
import {
  cleanupAll,
  craftPairing,
  makePhone,
  pairingRefused,
  pairPhone,
  postJson,
  startTestNode,
  verifyRaw,
} from '../helpers/test-node.js';
import { everyAddressAnswers, fakeInterfaces } from './network-helpers.js';

after(cleanupAll);

describe('node identity', () => {
  test('GET /api/node/identity describes the node and its fingerprint follows the documented formula', async () => {
    const node = await startTestNode();
    const res = await fetch(`${node.base}/api/node/identity`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
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
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: node.port,
          path: '/auth/pair/start',
          method: 'POST',
          headers: { authorization: `Admin ${node.adminToken}`, host: 'evil.example', 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(rebound.status, 403);
    assert.equal(rebound.body.error, 'forbidden');
  });

  test('returns a 6-digit PIN, codes, a LAN URL (never loopback) with the fingerprint, and a QR', async () => {
    // Listening on every interface: a node bound to loopback only names loopback (pairing-contract.test.ts).
    const node = await startTestNode({
      host: '0.0.0.0',
      networkInterfaces: fakeInterfaces({ eth0: ['192.168.1.20'] }).table,
      reachability: everyAddressAnswers,
    });
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

  test("an address that is not one of the node's own is refused", async () => {
    const node = await startTestNode();
    const r = await node.admin('/auth/pair/start', { body: { address: '203.0.113.9' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
  });
});

describe('pair/verify (Noise IKpsk1)', () => {
  test('a phone pairs: both sides learn about each other and the signed session works', async () => {
    const node = await startTestNode();
    const phone = makePhone("Felix's phone");
    const { paired, client } = await pairPhone(node, { phone });
    assert.equal(paired.desktop.node_id, node.identity.node_id);
    assert.equal(paired.desktop.public_key, node.identity.public_key);
    assert.equal(paired.desktop.port, node.port);
    assert.ok(Array.isArray(paired.desktop.capabilities));
    assert.equal(paired.deviceSecret.length, 32);
    assert.equal(paired.sas, undefined, 'a QR pairing is anchored by the fingerprint: no code to compare');

    const state = await node.admin('/api/admin/state');
    const dev = state.body.devices.find((d: any) => d.node_id === phone.identity.node_id);
    assert.ok(dev, "the phone is in the desktop's mesh");
    assert.equal(dev.name, "Felix's phone");
    assert.equal(dev.kind, 'phone');
    assert.equal(dev.status, 'online');
    assert.equal(dev.hostname, '127.0.0.1', 'address taken from the connection');
    assert.equal(dev.public_key, phone.identity.public_key);
    assert.deepEqual(dev.metadata, phone.identity.device_info);
    assert.ok(dev.paired_at);

    const me = await client.request('GET', '/api/session');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal((me.body as any).node_id, phone.identity.node_id);
    const hb = await client.request('POST', '/api/node/heartbeat', {});
    assert.equal(hb.status, 200);
  });

  test('the PIN never crosses the wire: neither the request nor the response contains it', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const seen: string[] = [];
    const spy: typeof fetch = async (input, init) => {
      if (init?.body) seen.push(String(init.body));
      const res = await fetch(input, init);
      const text = await res.clone().text();
      seen.push(text);
      return res;
    };
    const phone = makePhone();
    const { pairWithNode } = await import('../../src/shared/client/pairing-client.js');
    await pairWithNode({
      baseUrl: node.base,
      code: start.code,
      pin: start.pin,
      expectedFingerprint: start.fingerprint,
      identity: phone.pairing,
      fetch: spy,
    });
    assert.ok(seen.length >= 3);
    for (const s of seen) {
      // Quoted: six digits may occur by chance inside base64 or a timestamp, but never as a JSON value.
      assert.ok(!s.includes(`"${start.pin}"`) && !/"pin"/.test(s), 'PIN in clear on the wire');
      assert.ok(!s.includes(phone.identity.name), 'node_identity in clear on the wire');
    }
  });

  test('five wrong PINs burn the code; the right PIN is refused after that', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const wrong = start.pin === '000000' ? '111111' : '000000';
    for (const left of [4, 3, 2, 1, 0]) {
      const err = await pairingRefused(pairPhone(node, { start, pin: wrong }), 'pin_mismatch');
      assert.equal(err.httpStatus, 401);
      assert.equal(err.details.attempts_left, left);
    }
    const locked = await pairingRefused(pairPhone(node, { start }), 'code_locked');
    assert.equal(locked.httpStatus, 423);
    const state = await node.admin('/api/admin/state');
    assert.equal(state.body.devices.length, 0, 'nothing was paired');
  });

  test('concurrent wrong guesses cannot exceed the limit, and a code pairs exactly one device', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        verifyRaw(node, { code: p.code }, { pin: String((Number(p.pin) + 1 + i) % 1_000_000).padStart(6, '0') }),
      ),
    );
    assert.equal(guesses.filter((g) => g.body.error === 'pin_mismatch').length, 5);
    assert.equal(guesses.filter((g) => g.body.error === 'code_locked').length, 7);

    const q = await node.startPairing();
    const racers = await Promise.all(Array.from({ length: 6 }, () => verifyRaw(node, { code: q.code }, { pin: q.pin })));
    assert.equal(racers.filter((r) => r.status === 200).length, 1);
    assert.ok(racers.filter((r) => r.status !== 200).every((r) => r.body.error === 'code_used'));
  });

  test('a used code says code_used; an unknown one code_unknown; an expired one code_expired', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    await pairPhone(node, { start });
    await pairingRefused(pairPhone(node, { start }), 'code_used');
    await pairingRefused(pairPhone(node, { start, code: '00000000-0000-4000-8000-000000000000' }), 'code_unknown');

    const quick = await startTestNode({ timings: { pairingTtlMs: 1 } });
    const e = await quick.startPairing();
    await new Promise((r) => setTimeout(r, 20));
    const expired = await pairingRefused(pairPhone(quick, { start: e }), 'code_expired');
    assert.equal(expired.httpStatus, 410);
  });

  test('the linking code works instead of the code, and a mismatched pair of codes is refused', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const q = await node.startPairing();
    const mixed = await postJson(`${node.base}/auth/pair/verify`, {
      code: p.code,
      linking_code: q.linking_code,
      noise: craftPairing(node, { codeRef: p.code, pin: p.pin }).noise,
    });
    assert.equal(mixed.body.error, 'code_unknown');
    const r = await verifyRaw(node, { linking_code: p.linking_code.toLowerCase().replace('-', '') }, { pin: p.pin });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  test('malformed bodies and malformed encrypted identities get 4xx JSON, never a crash, and cost no attempt', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const phone = makePhone();
    const url = `${node.base}/auth/pair/verify`;
    const good = craftPairing(node, { codeRef: p.code, pin: p.pin, phone }).noise;
    const cases: [string, unknown][] = [
      ['not JSON', '{"code": '],
      ['JSON but an array', '[1,2,3]'],
      ['JSON null', 'null'],
      ['noise as a number', { code: p.code, noise: 12345 }],
      ['no noise', { code: p.code }],
      ['no code at all', { noise: good }],
      ['the old clear-text PIN field', { code: p.code, pin: p.pin, noise: good }],
    ];
    for (const [what, body] of cases) {
      const r = await postJson(url, body);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'invalid_request', what);
      assert.equal(typeof r.body.message, 'string', what);
    }
    const payloads: [string, unknown][] = [
      ['payload not JSON', new TextEncoder().encode('{not json')],
      ['bad public key', { ...phone.identity, public_key: 'x' }],
      ['public key of another device', { ...phone.identity, public_key: makePhone().identity.public_key }],
      ['name too long', { ...phone.identity, name: 'n'.repeat(200) }],
      ['node id with spaces', { ...phone.identity, node_id: 'a b c' }],
      ['capabilities not a list', { ...phone.identity, capabilities: 'all' }],
      ['the node itself', { ...phone.identity, node_id: node.identity.node_id }],
    ];
    for (const [what, payload] of payloads) {
      const r = await verifyRaw(node, { code: p.code }, { pin: p.pin, phone, payload });
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'invalid_request', what);
    }
    const big = await postJson(url, { code: p.code, noise: good, pad: 'x'.repeat(200_000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'payload_too_large');
    // The same without a Content-Length (chunked): the limit counts the streamed bytes instead.
    const chunked = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (d: string) => {
              text += d;
            })
            .on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.write(JSON.stringify({ code: p.code, noise: good, pad: '' }).slice(0, -2));
      for (let i = 0; i < 20; i++) req.write('x'.repeat(10_000));
      req.end('"}');
    });
    assert.equal(chunked.status, 413, JSON.stringify(chunked.body));
    assert.equal(chunked.body.error, 'payload_too_large');
    // None of that consumed the code or counted as a PIN attempt.
    const ok = await postJson(url, { code: p.code, noise: good });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('unknown routes are 404 JSON', async () => {
    const node = await startTestNode();
    for (const path of ['/nope', '/api/nope', '/auth/pair/nope']) {
      const r = await fetch(node.base + path);
      assert.equal(r.status, 404, path);
      assert.equal(((await r.json()) as any).error, 'not_found', path);
    }
  });
});
