// A node and an older cloud that has no replaced-ids routes (it answers 404): the node publishes its keys and
// reads the directory as always, does not ask again for the rest of that login, and reports no error. And with
// a cloud that has them, the directory it stores carries each remote device's replaced ids.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { CloudDirectory } from '../../src/main/core/cloud/cloud-directory.js';
import { DEFAULT_CLOUD_LINK_OPTIONS } from '../../src/main/core/cloud/cloud-link-options.js';
import type { RemoteEntry } from '../../src/main/core/messaging/relay-port.js';
import type { DirectoryDevice } from '../../src/shared/wire/relay.js';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

const remote = {
  device_id: 'bo-tablet-2',
  public_key: 'k'.repeat(43),
  name: 'Bo tablet',
  kind: 'phone' as const,
  node: 'other-node',
  updated_at: '2026-12-01T00:00:00.000Z',
};

/** A cloud with /api/keys; the replaced-ids routes only when `withReplacements`. Counts what was asked. */
async function fakeCloud(withReplacements: boolean) {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/keys' && req.method === 'PUT') return res.end(JSON.stringify({ devices: [], refused: [] }));
      if (req.url === '/api/keys' && req.method === 'GET') return res.end(JSON.stringify({ devices: [remote] }));
      if (withReplacements && req.url === '/api/keys/replacements')
        return res.end(
          JSON.stringify({ replacements: req.method === 'GET' ? [{ device_id: 'bo-tablet-2', replaces: ['bo-tablet-1'] }] : [] }),
        );
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not_found', message: `No route for ${req.method} ${req.url}.` }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

function directoryAt(url: string) {
  let stored: RemoteEntry[] = [];
  const errors: string[] = [];
  const local: DirectoryDevice[] = [{ device_id: 'ana-phone-2', public_key: 'p'.repeat(43), name: 'Ana phone', kind: 'phone' }];
  const dir = new CloudDirectory({
    store: {
      localDevices: () => local,
      setRemoteDirectory: (e: RemoteEntry[]) => {
        stored = e;
      },
    } as never,
    log: pino({ level: 'silent' }),
    options: DEFAULT_CLOUD_LINK_OPTIONS,
    credentials: () => ({ url, token: 'token' }),
    isUp: () => true,
    selfId: () => 'self-node',
    published: () => {},
    tokenRefused: () => {},
    report: { changed: () => {}, setError: (_c: string, m: string) => errors.push(m), clearError: () => {}, lastError: () => null },
    replacements: () => new Map([['ana-phone-2', ['ana-phone-1']]]),
  });
  return { dir, stored: () => stored, errors };
}

describe('replaced ids and the cloud version', () => {
  test('an older cloud (404): keys published and the directory read as always, no error, not asked again this login', async () => {
    const cloud = await fakeCloud(false);
    const { dir, stored, errors } = directoryAt(cloud.url);
    await dir.syncKeys();
    assert.deepEqual(stored(), [remote], 'the directory as the cloud gave it');
    assert.deepEqual(errors, []);
    await dir.syncKeys();
    assert.equal(cloud.hits.filter((h) => h.includes('/replacements')).length, 1, 'asked once, then left be');
    dir.forget(); // a new login asks again
    await dir.syncKeys();
    assert.equal(cloud.hits.filter((h) => h.includes('/replacements')).length, 2);
  });

  test('a cloud that keeps them: ours published, the remote device stored with the id it replaced', async () => {
    const cloud = await fakeCloud(true);
    const { dir, stored, errors } = directoryAt(cloud.url);
    await dir.syncKeys();
    assert.ok(cloud.hits.includes('PUT /api/keys/replacements'));
    assert.deepEqual(stored(), [{ ...remote, replaces: ['bo-tablet-1'] }]);
    assert.deepEqual(errors, []);
  });
});
