// The cloud transport (CloudLink.transport) as a router uses it: isUp() and onChange() follow the relay
// connection (up after the cloud's hello, down when the socket drops or the token goes), and wake() sends what
// was queued. A router that wakes the transport from its "up" event must not get envelopes out before this
// node's keys are published (the cloud would refuse them as sender_not_published).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { CloudLink } from '../../src/main/core/cloud/cloud-link.js';
import { createLogger } from '../../src/main/core/log.js';
import { aesGcmBox } from '../../src/main/core/secrets/secret-box.js';
import { seal } from '../../src/shared/e2ee/index.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { eventually, tempDir } from '../helpers/test-node.js';

const TOKEN = 'fake-token-0123456789abcdefghij';

/** A scripted cloud: hello on every relay socket, records frames; PUT /api/keys is recorded and answered after `putDelayMs`. */
async function fakeCloud(putDelayMs: number) {
  const frames: any[] = [];
  const sockets: WebSocket[] = [];
  /** For each relay frame, how many key publishes the cloud had received when it arrived. */
  const putsSeenAt: number[] = [];
  let puts = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const put = req.url === '/api/keys' && req.method === 'PUT';
      if (put) puts++;
      setTimeout(
        () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ devices: [], ...(put ? { refused: [] } : {}) }));
        },
        put ? putDelayMs : 0,
      );
    });
  });
  const wss = new WebSocketServer({ server, path: '/v1/relay' });
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (d) => {
      frames.push(JSON.parse(String(d)));
      putsSeenAt.push(puts);
    });
    ws.send(JSON.stringify({ type: 'hello', device_id: 'fake-node', pending: 0 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    frames,
    sockets,
    putsSeenAt,
    stop: async () => {
      for (const s of wss.clients) s.terminate();
      wss.close();
      await new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
    },
  };
}

describe('the cloud transport as a router sees it (fake cloud, in-memory store)', () => {
  let cloud: Awaited<ReturnType<typeof fakeCloud>>;
  let link: CloudLink;
  const outbox: { seq: number; id: string; envelope: any }[] = [];
  const events: boolean[] = [];
  const sender = (() => {
    const privateKey = x25519.utils.randomSecretKey();
    return { device_id: 'node-a.ui', privateKey, publicKey: x25519.getPublicKey(privateKey) };
  })();
  const rcpt = { device_id: 'node-b.ui', publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
  const envelope = () => seal(new TextEncoder().encode('x'), { from: sender, to: [rcpt] });
  const sends = () => cloud.frames.filter((f) => f.type === 'send').map((f) => f.envelope.id as string);

  before(async () => {
    cloud = await fakeCloud(300);
    const dir = tempDir();
    const box = aesGcmBox(new Uint8Array(32).fill(7), 'test');
    writeFileSync(
      join(dir, 'cloud.json'),
      JSON.stringify({
        version: 1,
        url: cloud.url,
        cloud_key: toBase64Url(new Uint8Array(32).fill(1)),
        token_sealed: box.seal(new TextEncoder().encode(TOKEN)),
        token_expires_at: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    const store = {
      pendingOutbound: (after: number, limit: number) => outbox.filter((r) => r.seq > after).slice(0, limit),
      outboxSize: () => outbox.length,
      // Never called back: only the router's wake() tells the transport about new rows here.
      onQueued: () => () => {},
      accepted: (id: string) => {
        outbox.splice(
          outbox.findIndex((r) => r.id === id),
          1,
        );
      },
      rejected: (id: string) => {
        outbox.splice(
          outbox.findIndex((r) => r.id === id),
          1,
        );
      },
      delivered: () => {},
      storeInbound: async () => {},
      localDevices: () => [{ device_id: 'node-a.ui', public_key: toBase64Url(sender.publicKey), name: 'A', kind: 'desktop' as const }],
      onLocalDevicesChanged: () => () => {},
      setRemoteDirectory: () => {},
    };
    const e = envelope();
    outbox.push({ seq: 1, id: e.id, envelope: e });
    link = new CloudLink({
      dataDir: dir,
      box,
      store,
      log: createLogger('cloud-test'),
      staticKey: () => {
        const privateKey = x25519.utils.randomSecretKey();
        return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
      },
      settings: { cloudUrl: () => cloud.url, setCloudUrl: () => {} },
      options: { backoff: { baseMs: 10, capMs: 50 }, directoryRefreshMs: 60_000 },
    });
    // A router's reaction to "up": send what is queued for the cloud.
    link.transport.onChange((up) => {
      events.push(up);
      if (up) link.transport.wake();
    });
    assert.equal(link.transport.isUp(), false);
    link.start();
  });
  after(async () => {
    await link.stop();
    await cloud.stop();
  });

  it('is up once the cloud said hello, exactly when status() is connected; a wake() on that event waits for the key publish', async () => {
    await eventually(() => link.transport.isUp(), 'up');
    assert.equal(link.status(), 'connected');
    assert.deepEqual(events, [true]);
    await eventually(() => sends().length === 1, 'the queued envelope sent');
    assert.equal(sends()[0], outbox[0]!.id);
    assert.ok(cloud.putsSeenAt[0]! >= 1, 'the keys were published before the first envelope went out');
  });

  it('wake() sends a row queued meanwhile (the store never called onQueued)', async () => {
    cloud.sockets.at(-1)!.send(JSON.stringify({ type: 'accepted', id: outbox[0]!.id }));
    await eventually(() => outbox.length === 0, 'accepted');
    const e = envelope();
    outbox.push({ seq: 2, id: e.id, envelope: e });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sends().length, 1, 'nothing read without a wake: the outbox was dry');
    link.transport.wake();
    await eventually(() => sends().includes(e.id), 'sent after wake()');
  });

  it('goes down when the socket drops and up again after the reconnect; down for good on logout', async () => {
    cloud.sockets.at(-1)!.terminate();
    await eventually(() => events.length >= 3, 'down and up again');
    assert.deepEqual(events.slice(0, 3), [true, false, true]);
    await eventually(() => link.transport.isUp() && link.status() === 'connected', 'connected again');
    await link.logout();
    assert.equal(link.transport.isUp(), false);
    assert.equal(link.status(), 'logged_out');
    assert.deepEqual(events, [true, false, true, false]);
  });
});
