// Attacks on pairing: a man in the middle who swaps the node's static key, a proxy that
// flips one bit of a handshake message, and malformed Noise messages. The proxy is a real HTTP server between
// the pairing device and the node, as an active attacker on the LAN would be.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { pairWithNode } from '../../src/shared/client/pairing-client.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';
import { fingerprintOf } from '../../src/shared/fingerprint.js';
import {
  cleanupAll,
  craftPairing,
  makePhone,
  pairingRefused,
  pairPhone,
  postJson,
  startTestNode,
  type TestNode,
} from '../helpers/test-node.js';

after(cleanupAll);

type Rewrite = (path: string, direction: 'request' | 'response', body: any) => any;

/** A forwarding proxy that may rewrite JSON bodies in either direction; it records what it saw. */
async function startProxy(target: TestNode, rewrite: Rewrite): Promise<{ base: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks).toString();
    seen.push(`${req.method} ${req.url}`);
    if (body) body = JSON.stringify(rewrite(req.url!, 'request', JSON.parse(body)));
    const upstream = await fetch(target.base + req.url, {
      method: req.method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body } : {}),
    });
    let text = await upstream.text();
    try {
      text = JSON.stringify(rewrite(req.url!, 'response', JSON.parse(text)));
    } catch {
      /* not JSON: pass through */
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const flipBit = (b64: string, byte: number) => {
  const bytes = fromBase64Url(b64);
  const i = byte < 0 ? bytes.length + byte : byte;
  bytes[i] = bytes[i]! ^ 0x01;
  return toBase64Url(bytes);
};

describe('pairing under attack', () => {
  test("a MITM that swaps the node's static key is refused by the device before anything is sent", async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const evil = x25519.getPublicKey(x25519.utils.randomSecretKey());
    const proxy = await startProxy(node, (path, dir, body) =>
      path === '/api/node/identity' && dir === 'response'
        ? { ...body, public_key: toBase64Url(evil), fingerprint: fingerprintOf(evil) }
        : body,
    );
    try {
      const err = await pairingRefused(
        pairWithNode({
          baseUrl: proxy.base,
          code: start.code,
          pin: start.pin,
          expectedFingerprint: start.fingerprint,
          identity: makePhone().pairing,
        }),
        'fingerprint_mismatch',
      );
      assert.match(err.message, /not the one/);
      assert.ok(!proxy.seen.some((s) => s.includes('/auth/pair/verify')), 'no handshake message was sent to the impostor');
      // The code is untouched: the real node still pairs with it.
      await pairPhone(node, { start });
    } finally {
      await proxy.close();
    }
  });

  test('a MITM that answers the handshake with its own key cannot complete it', async () => {
    const node = await startTestNode();
    const impostor = await startTestNode();
    const start = await node.startPairing();
    // Identity from the real node (so the fingerprint matches), but the handshake goes to another node.
    const proxy = await startProxy(node, (_p, _d, body) => body);
    const split: typeof fetch = async (input, init) => {
      const url = String(input);
      return fetch(url.includes('/auth/pair/verify') ? url.replace(proxy.base, impostor.base) : url, init);
    };
    try {
      const err = await pairWithNode({
        baseUrl: proxy.base,
        code: start.code,
        pin: start.pin,
        expectedFingerprint: start.fingerprint,
        identity: makePhone().pairing,
        fetch: split,
      }).catch((e) => e);
      assert.ok(err instanceof Error, 'pairing must not succeed');
      assert.equal((await impostor.admin('/api/admin/state')).body.devices.length, 0);
      assert.equal((await node.admin('/api/admin/state')).body.devices.length, 0);
    } finally {
      await proxy.close();
    }
  });

  test("one flipped bit in the device's handshake message is refused (and counted like a wrong PIN)", async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    for (const byte of [0, 40, -1]) {
      const proxy = await startProxy(node, (path, dir, body) =>
        path === '/auth/pair/verify' && dir === 'request' ? { ...body, noise: flipBit(body.noise, byte) } : body,
      );
      try {
        const err = await pairWithNode({
          baseUrl: proxy.base,
          code: start.code,
          pin: start.pin,
          expectedFingerprint: start.fingerprint,
          identity: makePhone().pairing,
        }).catch((e) => e);
        assert.ok(['pin_mismatch', 'handshake_failed'].includes(err.code), `byte ${byte}: ${err.code} ${err.message}`);
        assert.ok(err.httpStatus >= 400 && err.httpStatus < 500, `byte ${byte}: a 4xx, got ${err.httpStatus}`);
      } finally {
        await proxy.close();
      }
    }
    assert.equal((await node.admin('/api/admin/state')).body.devices.length, 0);
  });

  test("one flipped bit in the node's answer makes the device refuse the pairing", async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const proxy = await startProxy(node, (path, dir, body) =>
      path === '/auth/pair/verify' && dir === 'response' && body.noise ? { ...body, noise: flipBit(body.noise, 50) } : body,
    );
    try {
      await pairingRefused(
        pairWithNode({
          baseUrl: proxy.base,
          code: start.code,
          pin: start.pin,
          expectedFingerprint: start.fingerprint,
          identity: makePhone().pairing,
        }),
        'handshake_failed',
      );
    } finally {
      await proxy.close();
    }
  });

  test('malformed Noise messages get a clear 4xx, never a crash or a 500', async () => {
    const node = await startTestNode();
    const start = await node.startPairing();
    const good = fromBase64Url(craftPairing(node, { codeRef: start.code, pin: start.pin }).noise);
    const messages: [string, Uint8Array][] = [
      ['truncated to the ephemeral key', good.subarray(0, 32)],
      ['cut in the middle of the static key', good.subarray(0, 60)],
      ['missing the payload tag', good.subarray(0, good.length - 20 - JSON.stringify(makePhone().identity).length)],
      ['a low-order ephemeral key', Uint8Array.from([...new Uint8Array(32), ...good.subarray(32)])],
      ['random bytes', crypto.getRandomValues(new Uint8Array(200))],
    ];
    for (const [what, msg] of messages) {
      const r = await postJson(`${node.base}/auth/pair/verify`, { code: start.code, noise: toBase64Url(msg) });
      assert.ok(r.status >= 400 && r.status < 500, `${what}: got ${r.status}`);
      assert.ok(
        ['handshake_failed', 'pin_mismatch', 'invalid_request', 'code_locked'].includes(r.body.error),
        `${what}: ${JSON.stringify(r.body)}`,
      );
      assert.equal(typeof r.body.message, 'string');
    }
    const big = await postJson(`${node.base}/auth/pair/verify`, { code: start.code, noise: toBase64Url(new Uint8Array(70_000)) });
    assert.ok([400, 413].includes(big.status), `oversized: ${big.status}`);
    const health = await fetch(`${node.base}/api/node/identity`);
    assert.equal(health.status, 200, 'the node is still up');
  });
});
