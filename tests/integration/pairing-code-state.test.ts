// GET /auth/pair/codes/:code: the page carrying a code learns whether it can still be used, and which desktop
// issued it, before a PIN is typed; asking never spends an attempt and never tells anything secret.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pairingCodeState } from '../../src/shared/client/pairing-client.js';
import { PairCodeStateResponse } from '../../src/shared/wire/schemas.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, verifyRaw } from '../helpers/test-node.js';

after(cleanupAll);

async function codeState(node: TestNode, code: string) {
  const res = await fetch(`${node.base}/auth/pair/codes/${encodeURIComponent(code)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
}

const wrongPin = (pin: string) => String((Number(pin) + 1) % 1_000_000).padStart(6, '0');

describe('GET /auth/pair/codes/:code', () => {
  test('an open code: its expiry and the desktop, nothing secret, and asking spends no attempt', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    for (let i = 0; i < 8; i++) {
      const r = await codeState(node, start.code);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        state: 'open',
        expires_at: start.expires_at,
        desktop: { name: node.identity.name, fingerprint: node.identity.fingerprint },
      });
      PairCodeStateResponse.parse(r.body);
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes(start.pin) && !text.includes(start.linking_code), 'neither the PIN nor the linking code');
    }
    // Eight checks later the first wrong PIN still leaves four of five attempts, and the right one pairs.
    const wrong = await verifyRaw(node, { code: start.code }, { pin: wrongPin(start.pin) });
    assert.equal(wrong.body.error, 'pin_mismatch');
    assert.equal(wrong.body.attempts_left, 4);
    await pairPhone(node, { start });
    assert.equal((await codeState(node, start.code)).body.state, 'used');
  });

  test("the device client's pairingCodeState reads it, and is undefined where the node cannot say", async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    assert.deepEqual(await pairingCodeState(node.base, start.code), (await codeState(node, start.code)).body);
    assert.equal((await pairingCodeState(node.base, 'nope'))?.state, 'unknown');
    assert.equal(await pairingCodeState(node.base, 'x'.repeat(65)), undefined, 'a 400');
    assert.equal(await pairingCodeState('http://127.0.0.1:1', start.code), undefined, 'unreachable');
  });

  test('a renamed desktop is named as it is now', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Kitchen PC' } });
    assert.equal(((await codeState(node, start.code)).body.desktop as { name: string }).name, 'Kitchen PC');
  });

  test('expired, locked and unknown codes, each with the desktop', async () => {
    const node = await startTestNode({ timings: { pairingTtlMs: 1_000 } });
    const expiring = await node.startPairing();
    await eventually(async () => (await codeState(node, expiring.code)).body.state === 'expired', 'the code expires');
    const expired = await codeState(node, expiring.code);
    assert.equal(expired.body.expires_at, expiring.expires_at);

    const node2 = await startTestNode();
    const locking = await node2.startPairing();
    for (let i = 0; i < 5; i++) await verifyRaw(node2, { code: locking.code }, { pin: wrongPin(locking.pin) });
    const locked = await codeState(node2, locking.code);
    assert.deepEqual(locked.body, { state: 'locked', desktop: { name: node2.identity.name, fingerprint: node2.identity.fingerprint } });

    // A link cut short (a garbled QR or a partial copy) names no code the node knows.
    for (const code of [locking.code.slice(0, 20), 'not-a-code', '%20']) {
      const r = await codeState(node2, code);
      assert.equal(r.status, 200, code);
      assert.deepEqual(r.body, { state: 'unknown', desktop: { name: node2.identity.name, fingerprint: node2.identity.fingerprint } });
    }
    const long = await codeState(node2, 'x'.repeat(65));
    assert.equal(long.status, 400);
    assert.equal(long.body.error, 'invalid_request');
  });

  test('rate-limited per source address, in the same bucket as pair/verify', async () => {
    const node = await startTestNode({ limits: { pairLookupsPerMinute: 5 } });
    const start = await node.startPairing();
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await codeState(node, start.code));
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 2, `429s: ${limited.length}`);
    for (const r of limited) {
      assert.equal(r.body.error, 'rate_limited');
      assert.ok(Number(r.retryAfter) >= 1);
    }
    const verify = await verifyRaw(node, { code: start.code }, { pin: start.pin });
    assert.equal(verify.status, 429, 'checking codes used up the lookups of pair/verify too');
  });
});
