// The cloud's record of re-paired devices' older ids (src/cloud/key-replacements.ts) on a real cloud on loopback:
// a node states them for its own published devices only, and only for old ids it published itself and that no
// device is published under now (no node can put its device in another one's place, present or gone); everyone
// logged in reads them; a device its node no longer publishes takes its claim with it; bad bodies are 400s.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { generateIdentityKeyPair } from '../../src/shared/ratchet/pqxdh.js';
import { startTestCloud } from '../helpers/test-cloud.js';
import { type BlobTestNode, loginNode } from './blob-helpers.js';

let cloud: RunningCloud;
let dir: string;
const otp = new MemoryOtpSender();
let n = 0;
const id = (what: string) => `${what}-${process.pid}-${++n}`;
const entry = (device_id: string) => ({
  device_id,
  public_key: toBase64Url(generateIdentityKeyPair().publicKey),
  name: device_id,
  kind: 'phone' as const,
});

async function call(method: string, path: string, node?: BlobTestNode, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (node) headers.authorization = `Noise ${node.token}`;
  const res = await fetch(cloud.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function publish(node: BlobTestNode, ids: string[]) {
  const r = await call('PUT', '/api/keys', node, { devices: ids.map(entry) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'salita-cloud-replacements-'));
  cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
});
after(async () => {
  await cloud.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('replaced device ids at the cloud', () => {
  it('kept for the own published devices and for ids nobody publishes; read by everyone; gone with the device', async () => {
    const [a, b] = [await loginNode(cloud, otp), await loginNode(cloud, otp)];
    const [ben, benOld, anaTablet, other, bGone] = [id('ben'), id('ben-old'), id('ana-tablet'), id('b-phone'), id('b-gone')];
    // Each node once published an id that is gone now: benOld by a, bGone by b.
    await publish(a, [ben, benOld, anaTablet]);
    await publish(a, [ben, anaTablet]);
    await publish(b, [other, bGone]);
    await publish(b, [other]);
    const put = await call('PUT', '/api/keys/replacements', a, {
      replacements: [
        // benOld: a's own, nobody's now (kept); anaTablet and other: published now; bGone: b's; an id never
        // published; ben itself: all dropped.
        { device_id: ben, replaces: [benOld, anaTablet, other, bGone, id('never-seen'), ben] },
        // Not published by a: ignored.
        { device_id: other, replaces: [id('x')] },
      ],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.replacements, [{ device_id: ben, replaces: [benOld] }]);
    const got = await call('GET', '/api/keys/replacements', b);
    assert.equal(got.status, 200);
    assert.deepEqual(
      got.body.replacements.filter((r: { device_id: string }) => [ben, other].includes(r.device_id)),
      [{ device_id: ben, replaces: [benOld] }],
    );

    // An old id published again later (by anyone) is no longer "replaced".
    await publish(b, [other, benOld]);
    assert.equal(
      (await call('GET', '/api/keys/replacements', b)).body.replacements.some((r: { device_id: string }) => r.device_id === ben),
      false,
    );
    await publish(b, [other]);
    // The node stops publishing the device: its claim goes with it.
    await publish(a, [anaTablet]);
    assert.equal(
      (await call('GET', '/api/keys/replacements', b)).body.replacements.some((r: { device_id: string }) => r.device_id === ben),
      false,
    );
    // A new set replaces the node's claims.
    const tabletOld = id('tablet-old');
    await publish(a, [ben, anaTablet, tabletOld]);
    await publish(a, [ben, anaTablet]);
    await call('PUT', '/api/keys/replacements', a, { replacements: [{ device_id: anaTablet, replaces: [tabletOld] }] });
    const ids = (await call('GET', '/api/keys/replacements', a)).body.replacements.map((r: { device_id: string }) => r.device_id);
    assert.ok(ids.includes(anaTablet) && !ids.includes(ben));
  });

  it('refuses what is malformed or unauthenticated, never a 500', async () => {
    const a = await loginNode(cloud, otp);
    const d = id('dev');
    await publish(a, [d]);
    const bad = [
      { replacements: [{ device_id: d, replaces: [] }] },
      { replacements: [{ device_id: d, replaces: Array.from({ length: 9 }, (_, i) => `old-${i}-x`) }] },
      { replacements: [{ device_id: '!', replaces: ['ok-id'] }] },
      { replacements: [{ device_id: d, replaces: ['ok-id'], extra: 1 }] },
      {
        replacements: [
          { device_id: d, replaces: ['ok-id'] },
          { device_id: d, replaces: ['ok-id-2'] },
        ],
      },
      { other: [] },
    ];
    for (const body of bad) {
      const r = await call('PUT', '/api/keys/replacements', a, body);
      assert.equal(r.status, 400, JSON.stringify({ body, got: r.body }));
      assert.equal(r.body.error, 'invalid_request');
    }
    assert.equal((await call('GET', '/api/keys/replacements')).status, 401);
    assert.equal((await call('PUT', '/api/keys/replacements', undefined, { replacements: [] })).status, 401);
  });
});
