// `GET /` serves the desktop UI only to this machine: any other peer (a phone opening the bare address) is
// redirected to the phone page, whatever the Host header says; the UI-not-built answer follows the same rule.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { staticRoutes } from '../../src/main/core/http/routes/static-routes.js';

const rendererDir = mkdtempSync(join(tmpdir(), 'salita-renderer-'));
writeFileSync(join(rendererDir, 'index.html'), '<title>desktop</title>');
writeFileSync(join(rendererDir, 'phone.html'), '<title>phone</title>');

const from = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress, remotePort: 50000, remoteFamily: 'IPv4' } } });

for (const [label, app] of [
  ['UI built', staticRoutes(rendererDir)],
  ['UI not built', staticRoutes(undefined)],
] as const) {
  test(`${label}: a non-loopback peer is sent to /pair, a loopback one gets the desktop page`, async () => {
    for (const peer of ['192.168.1.20', '::ffff:10.0.0.7', 'fd00::2']) {
      const res = await app.request('/', { headers: { host: '127.0.0.1:6969' } }, from(peer));
      assert.equal(res.status, 302, peer);
      assert.equal(res.headers.get('location'), '/pair');
    }
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const res = await app.request('/', {}, from(peer));
      assert.notEqual(res.status, 302, `${peer} gets the desktop page`);
    }
  });
}
