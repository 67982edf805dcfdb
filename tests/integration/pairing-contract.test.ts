// What docs/protocol.md promises a client written from the docs alone, checked on a real node: the error code
// for each way a pairing request can be wrong, what the last wrong PIN and the attempt after it answer, and
// which address the pairing URL names.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanupAll, craftPairing, makePhone, postJson, startTestNode, verifyRaw } from '../helpers/test-node.js';
import { everyAddressAnswers, fakeInterfaces } from './network-helpers.js';

after(cleanupAll);

describe('pair/verify error codes', () => {
  test('Noise text that is not base64url or not a Noise message is handshake_failed, and costs no attempt', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const url = `${node.base}/auth/pair/verify`;
    const good = craftPairing(node, { codeRef: p.code, pin: p.pin }).noise;
    const texts: [string, string][] = [
      ['foreign characters', '!!!!'.repeat(10)],
      ['standard base64 with padding', `${good.slice(0, 40)}==`],
      ['a length no base64url text can have', good.slice(0, 41)],
      ['too short for the ephemeral key', good.slice(0, 20)],
      ['empty', ''],
    ];
    for (const [what, noise] of texts) {
      const r = await postJson(url, { code: p.code, noise });
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'handshake_failed', `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.message, 'string', what);
    }
    // Not a string at all is a body that fails validation.
    const typed = await postJson(url, { code: p.code, noise: 12345 });
    assert.equal(typed.body.error, 'invalid_request');
    const ok = await postJson(url, { code: p.code, noise: good });
    assert.equal(ok.status, 200, `no attempt was counted: ${JSON.stringify(ok.body)}`);
  });

  test('an unknown field inside the encrypted node_identity is refused with invalid_request, and costs no attempt', async () => {
    const node = await startTestNode();
    const p = await node.startPairing();
    const phone = makePhone();
    const r = await verifyRaw(node, { code: p.code }, { pin: p.pin, phone, payload: { ...phone.identity, role: 'admin' } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_request');
    assert.match(r.body.message, /role/);
    const ok = await verifyRaw(node, { code: p.code }, { pin: p.pin, phone });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('the 5th wrong PIN answers pin_mismatch with attempts_left 0; every attempt after it answers code_locked', async () => {
    const node = await startTestNode({ timings: { maxPinAttempts: 5 } });
    const p = await node.startPairing();
    const wrong = String((Number(p.pin) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 1; i <= 4; i++) {
      const r = await verifyRaw(node, { code: p.code }, { pin: wrong });
      assert.equal(r.body.attempts_left, 5 - i);
    }
    const fifth = await verifyRaw(node, { code: p.code }, { pin: wrong });
    assert.equal(fifth.status, 401);
    assert.equal(fifth.body.error, 'pin_mismatch');
    assert.equal(fifth.body.attempts_left, 0);
    for (const pin of [wrong, p.pin]) {
      const next = await verifyRaw(node, { code: p.code }, { pin });
      assert.equal(next.status, 423, JSON.stringify(next.body));
      assert.equal(next.body.error, 'code_locked');
      assert.equal(next.body.attempts_left, undefined);
    }
    const byLinking = await verifyRaw(node, { linking_code: p.linking_code }, { pin: p.pin });
    assert.equal(byLinking.body.error, 'code_locked', 'the linking code names the same locked code');
  });
});

describe('the pairing URL names an address the node listens on', () => {
  test('a node listening on 127.0.0.1 puts 127.0.0.1 in the URL, not a LAN address it does not listen on', async () => {
    const ifaces = fakeInterfaces({ eth0: ['192.168.1.20'] });
    const node = await startTestNode({ host: '127.0.0.1', networkInterfaces: ifaces.table });
    const p = await node.startPairing();
    assert.equal(new URL(p.url).hostname, '127.0.0.1', p.url);
    assert.deepEqual(p.candidate_urls, [p.url]);
    assert.equal(new URL(p.url).port, String(node.port));
    // The URL works as it is.
    const ident = await fetch(new URL('/api/node/identity', p.url));
    assert.equal(ident.status, 200);
    const foreign = await node.admin('/auth/pair/start', { body: { address: '192.168.1.20' } });
    assert.equal(foreign.status, 400, 'a QR for an address the node does not listen on');
    assert.equal(foreign.body.error, 'invalid_request');
  });

  test('a node listening on one advertised address offers only that one', async () => {
    // 127.0.0.0/8 is all on lo: real, bindable addresses that never leave the machine.
    const ifaces = fakeInterfaces({ eth0: ['127.0.0.3'], wlan0: ['127.0.0.4'] });
    const node = await startTestNode({ host: '127.0.0.3', networkInterfaces: ifaces.table });
    const res = await fetch(`http://127.0.0.3:${node.port}/auth/pair/start`, {
      method: 'POST',
      headers: { authorization: `Admin ${node.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const p = (await res.json()) as { url: string; candidate_urls: string[] };
    assert.equal(res.status, 200, JSON.stringify(p));
    assert.deepEqual(
      p.candidate_urls.map((u) => new URL(u).hostname),
      ['127.0.0.3'],
    );
    const ident = await fetch(new URL('/api/node/identity', p.url));
    assert.equal(ident.status, 200);
  });

  test('a node listening on every interface offers its advertised LAN addresses', async () => {
    const ifaces = fakeInterfaces({ eth0: ['192.168.1.20'], wlan0: ['192.168.1.21'] });
    const node = await startTestNode({ host: '0.0.0.0', networkInterfaces: ifaces.table, reachability: everyAddressAnswers });
    const p = await node.startPairing();
    assert.deepEqual(
      p.candidate_urls.map((u) => new URL(u).hostname),
      ['192.168.1.20', '192.168.1.21'],
    );
  });
});
