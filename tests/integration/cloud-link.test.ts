// The node's cloud link against the real reference cloud (src/cloud) on loopback, driven through the node's
// admin HTTP API as the desktop UI would: login + code, sealed token on disk, reconnects (node restart, cloud
// restart), a changed cloud key, a revoked token, the noise_handshake rollout, messages between two nodes,
// logout, and a corrupt cloud.json.

import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import WebSocket from 'ws';
import { NOISE_HANDSHAKE_FLAG } from '../../src/cloud/auth-service.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { CloudLink as CloudLinkClass } from '../../src/main/core/cloud/cloud-link.js';
import { aesGcmBox, keyFileSecretBox } from '../../src/main/core/secrets/secret-box.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { seal } from '../../src/shared/e2ee/index.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { cleanupAll, eventually, filesUnder, pairPhone, postJson, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

const FAST = { backoff: { baseMs: 20, capMs: 250 }, directoryRefreshMs: 150 };

function readCloudJson(node: { dataDir: string }) {
  return JSON.parse(readFileSync(join(node.dataDir, 'cloud.json'), 'utf8')) as {
    url: string;
    cloud_key: string;
    token_sealed: string | null;
    token_expires_at: string | null;
  };
}

function tokenOnDisk(node: { dataDir: string }): string {
  const f = readCloudJson(node);
  assert.ok(f.token_sealed, 'a sealed token is stored');
  return Buffer.from(keyFileSecretBox(node.dataDir).open(f.token_sealed)).toString('utf8');
}

async function cloudGet(cloud: RunningCloud, path: string, token: string) {
  const res = await fetch(cloud.url + path, { headers: { authorization: `Noise ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
}

const view = async (node: TestNode) => (await node.admin('/api/admin/cloud')).body;
const waitStatus = (node: TestNode, status: string, what = status) =>
  eventually(async () => {
    const v = await view(node);
    return v.status === status ? v : undefined;
  }, `cloud link ${what}`);

/** Logs `node` in to `cloud` through the admin API, as the desktop UI does (the code read from `otp`), until connected. */
async function linkedTo(node: TestNode, cloud: RunningCloud, otp: MemoryOtpSender): Promise<void> {
  const r = await node.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: 'home@salita.test' } });
  assert.equal(r.body.status, 'awaiting_code', JSON.stringify(r.body));
  await node.admin('/api/admin/cloud/code', { body: { code: otp.sent.at(-1)!.code } });
  await waitStatus(node, 'connected');
}

/**
 * A node linked to a fresh cloud that then stopped, so the node is `reconnecting` (devices paired now cannot be
 * published yet); `back()` starts the cloud again on the same port and data dir.
 */
async function linkedThenCloudAway(): Promise<{ node: TestNode; back: () => Promise<RunningCloud> }> {
  const otp = new MemoryOtpSender();
  const cloudDir = tempDir('salita-cloud-');
  const cloud = await startCloud({ dataDir: cloudDir, port: 0, otpSender: otp, log: () => {} });
  const node = await startTestNode({ cloud: FAST });
  await linkedTo(node, cloud, otp);
  await cloud.stop();
  await waitStatus(node, 'reconnecting');
  return { node, back: () => startCloud({ dataDir: cloudDir, port: cloud.port, otpSender: otp, log: () => {} }) };
}

describe('cloud link (node side) against the reference cloud', () => {
  const otp = new MemoryOtpSender();
  let cloudDir: string;
  let cloud: RunningCloud;
  let port: number;
  let node: TestNode;
  let dataDir: string;
  const events: any[] = [];
  let events$: WebSocket | undefined;

  const startTheCloud = async (dir = cloudDir, p = port) =>
    startCloud({ dataDir: dir, port: p, otpSender: otp, log: () => {}, tokenRecheckMs: 100 });
  const codesFor = (deviceId: string) => otp.sent.filter((m) => m.deviceId === deviceId);
  const lastCode = (deviceId: string) => codesFor(deviceId).at(-1)!.code;

  /** Full login through the admin API; returns the view after the code. */
  async function login(n: TestNode, url = cloud.url) {
    const r = await n.admin('/api/admin/cloud/login', { body: { url, email: 'home@salita.test' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'awaiting_code');
    const c = await n.admin('/api/admin/cloud/code', { body: { code: lastCode(n.identity.public_key) } });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    return c.body;
  }

  before(async () => {
    cloudDir = tempDir('salita-cloud-');
    cloud = await startTheCloud(cloudDir, 0);
    port = cloud.port;
    dataDir = tempDir();
    node = await startTestNode({ dataDir, cloud: FAST });
  });
  after(async () => {
    events$?.close();
    await cloudLinkCleanup();
  });
  const cloudLinkCleanup = async () => {
    await cleanupAll();
    await cloud.stop();
  };

  it('starts not configured; admin-only; refuses bad input and unreachable clouds with 4xx codes', async () => {
    const v = await view(node);
    assert.equal(v.status, 'not_configured');
    assert.equal(v.url, null);
    assert.equal(v.outbox, 0);
    const anon = await fetch(`${node.base}/api/admin/cloud`);
    assert.equal(anon.status, 401);

    const noLogin = await node.admin('/api/admin/cloud/code', { body: { code: '123456' } });
    assert.equal(noLogin.status, 409);
    assert.equal(noLogin.body.error, 'cloud_login_not_started');
    const badUrl = await node.admin('/api/admin/cloud/login', { body: { url: 'not a url', email: 'home@salita.test' } });
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.body.error, 'invalid_request');
    const badCode = await node.admin('/api/admin/cloud/code', { body: { code: '12' } });
    assert.equal(badCode.status, 400);

    const unreachable = await node.admin('/api/admin/cloud/login', { body: { url: 'http://127.0.0.1:1', email: 'home@salita.test' } });
    assert.equal(unreachable.status, 424, JSON.stringify(unreachable.body));
    assert.equal(unreachable.body.error, 'cloud_unreachable');
    const after = await view(node);
    assert.equal(after.status, 'not_configured');
    assert.equal(after.last_error.code, 'cloud_unreachable');
  });

  it('login: awaiting_code -> wrong code (cloud_rejected/otp_invalid) -> right code -> connected, pushed on the admin socket', async () => {
    events$ = new WebSocket(`ws://127.0.0.1:${node.port}/api/admin/events`, ['salita-admin', node.adminToken]);
    events$.on('message', (d) => events.push(JSON.parse(String(d))));
    await new Promise((r) => events$!.once('open', r));

    const r = await node.admin('/api/admin/cloud/login', { body: { url: `${cloud.url}/`, email: 'home@salita.test' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'awaiting_code');
    assert.equal(r.body.url, cloud.url, 'trailing slash dropped');
    assert.equal(r.body.cloud_key, toBase64Url(cloud.publicKey));
    assert.equal(codesFor(node.identity.public_key).length, 1, 'the code went out for device_id = the node key');

    const right = lastCode(node.identity.public_key);
    const wrong = right === '000000' ? '000001' : '000000';
    const bad = await node.admin('/api/admin/cloud/code', { body: { code: wrong } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error, 'cloud_rejected');
    assert.equal(bad.body.cloud_error, 'otp_invalid');
    assert.equal((await view(node)).status, 'awaiting_code', 'a wrong code may be typed again');

    const ok = await node.admin('/api/admin/cloud/code', { body: { code: right } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(['connecting', 'connected'].includes(ok.body.status));
    const v = await waitStatus(node, 'connected');
    assert.equal(v.last_error, null);
    assert.ok(Date.parse(v.token_expires_at) > Date.now());
    assert.equal((await node.admin('/api/admin/settings')).body.cloud_url, cloud.url);
    await eventually(() => events.some((e) => e.type === 'cloud' && e.cloud.status === 'awaiting_code'), 'awaiting_code event');
    await eventually(() => events.some((e) => e.type === 'cloud' && e.cloud.status === 'connected'), 'connected event');
  });

  it('keeps the token sealed in a 0600 cloud.json: the raw token is in no file of the data dir', async () => {
    assert.equal(statSync(join(dataDir, 'cloud.json')).mode & 0o777, 0o600);
    const f = readCloudJson(node);
    assert.equal(f.url, cloud.url);
    assert.equal(f.cloud_key, toBase64Url(cloud.publicKey));
    const token = tokenOnDisk(node);
    const me = await cloudGet(cloud, '/api/me', token);
    assert.equal(me.status, 200, 'the sealed token is the live one');
    assert.equal(me.body.device_id, node.identity.public_key);
    assert.ok(me.body.noise_session_id, 'the token is bound to the Noise handshake');
    for (const file of filesUnder(dataDir)) {
      assert.ok(!readFileSync(file).includes(Buffer.from(token)), `${file} holds the raw token`);
    }
  });

  it("publishes this node's devices to the key directory (again when they change)", async () => {
    const uiKey = x25519.getPublicKey(x25519.utils.randomSecretKey());
    const put = await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(uiKey) } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const token = tokenOnDisk(node);
    await eventually(async () => {
      const dir = await cloudGet(cloud, '/api/keys', token);
      return (
        dir.status === 200 &&
        dir.body.devices.some(
          (d: any) =>
            d.device_id === `${node.identity.node_id}.ui` && d.public_key === toBase64Url(uiKey) && d.node === node.identity.public_key,
        )
      );
    }, 'the UI device in the cloud directory');
  });

  it("relays an envelope between two nodes: sent -> delivered, in the other node's inbox", async () => {
    const other = await startTestNode({ cloud: FAST });
    await login(other);
    await waitStatus(other, 'connected');
    const keys = (n: TestNode) => {
      const privateKey = x25519.utils.randomSecretKey();
      return { device_id: `${n.identity.node_id}.ui`, privateKey, publicKey: x25519.getPublicKey(privateKey) };
    };
    const a = keys(node);
    const b = keys(other);
    assert.equal(
      (await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(a.publicKey) } })).status,
      200,
    );
    assert.equal(
      (await other.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(b.publicKey) } })).status,
      200,
    );
    // Each node learns the other's UI device from the directory.
    await eventually(
      async () =>
        (await node.admin('/api/admin/messages/directory')).body.devices?.some(
          (d: any) => d.device_id === b.device_id && d.home === 'remote',
        ),
      "B in A's directory",
    );

    const envelope = seal(new TextEncoder().encode('hello over the cloud'), {
      from: a,
      to: [{ device_id: b.device_id, publicKey: b.publicKey }],
    });
    const sent = await node.admin('/api/admin/messages', { body: { envelope } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await eventually(async () => {
      const inbox = await other.admin('/api/admin/messages/inbox');
      return inbox.body.messages?.some((m: any) => m.envelope.id === envelope.id);
    }, "the envelope in B's inbox");
    await eventually(async () => {
      const out = await node.admin('/api/admin/messages/outbox');
      return out.body.messages?.find((m: any) => m.id === envelope.id)?.status === 'delivered';
    }, 'A sees delivered');
    assert.equal((await view(node)).outbox, 0);
    await other.stop();
  });

  it('a restarted node reconnects with its stored token, without a new code', async () => {
    const codes = otp.sent.length;
    await node.stop();
    node = await startTestNode({ dataDir, cloud: FAST });
    await waitStatus(node, 'connected', 'connected after restart');
    assert.equal(otp.sent.length, codes, 'no code was asked for');
  });

  it('cloud stopped -> reconnecting (with the next attempt time); cloud back on the same port -> connected', async () => {
    await cloud.stop();
    const v = await waitStatus(node, 'reconnecting');
    assert.equal(v.url, cloud.url);
    await eventually(async () => (await view(node)).next_attempt_at, 'next_attempt_at');
    cloud = await startTheCloud();
    await waitStatus(node, 'connected', 'connected after the cloud came back');
  });

  it('a revoked token -> logged_out (URL and pin kept); logging in again works', async () => {
    assert.ok((await cloud.auth.revokeDevice(node.identity.public_key)) >= 1);
    const v = await waitStatus(node, 'logged_out');
    assert.equal(v.last_error.code, 'token_revoked');
    assert.match(v.last_error.message, /log in/);
    assert.equal(v.url, cloud.url);
    assert.equal(v.cloud_key, toBase64Url(cloud.publicKey));
    assert.equal(readCloudJson(node).token_sealed, null, 'the dead token is forgotten on disk too');
    assert.ok(['connecting', 'connected'].includes((await login(node)).status));
    await waitStatus(node, 'connected');
  });

  it('noise_handshake turned on under a plain token -> new handshake + code asked for by itself -> awaiting_code', async () => {
    // Give the node a plain (not Noise-bound) token, as an older node would have.
    const ch = await postJson(`${cloud.url}/api/auth/challenge`, { device_id: node.identity.public_key, email: 'home@salita.test' });
    const ver = await postJson(`${cloud.url}/api/auth/verify`, {
      challenge_id: ch.body.challenge_id,
      code: otp.codeFor(ch.body.challenge_id),
    });
    assert.equal(ver.status, 200, JSON.stringify(ver.body));
    await node.stop();
    const f = readCloudJson(node);
    f.token_sealed = keyFileSecretBox(dataDir).seal(new TextEncoder().encode(ver.body.noise_session.token));
    f.token_expires_at = ver.body.noise_session.expires_at;
    writeFileSync(join(dataDir, 'cloud.json'), JSON.stringify(f), { mode: 0o600 });
    node = await startTestNode({ dataDir, cloud: FAST });
    await waitStatus(node, 'connected', 'connected with the plain token');

    const codes = codesFor(node.identity.public_key).length;
    await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, true);
    try {
      const v = await waitStatus(node, 'awaiting_code');
      assert.equal(v.last_error.code, 'noise_handshake');
      assert.equal(codesFor(node.identity.public_key).length, codes + 1, 'a new code was asked for');
      const c = await node.admin('/api/admin/cloud/code', { body: { code: lastCode(node.identity.public_key) } });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      await waitStatus(node, 'connected', 'connected with a Noise-bound token');
      assert.ok((await cloudGet(cloud, '/api/me', tokenOnDisk(node))).body.noise_session_id);
    } finally {
      await cloud.auth.setFlag(NOISE_HANDSHAKE_FLAG, false);
    }
  });

  it('a cloud with another key on the same URL: cloud_key_changed, the login is refused', async () => {
    await cloud.stop();
    const impostor = await startTheCloud(tempDir('salita-cloud-other-'), port);
    try {
      // Our token means nothing there: the link logs out rather than trusting the new cloud.
      await waitStatus(node, 'logged_out');
      const codes = otp.sent.length;
      const r = await node.admin('/api/admin/cloud/login', { body: { url: impostor.url, email: 'home@salita.test' } });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error, 'cloud_key_changed');
      assert.match(r.body.message, /key/);
      const v = await view(node);
      assert.equal(v.status, 'logged_out');
      assert.equal(v.last_error.code, 'cloud_key_changed');
      assert.equal(v.cloud_key, toBase64Url(cloud.publicKey), 'the old pin stays');
      assert.equal(otp.sent.length, codes, 'no code was asked of the impostor');
    } finally {
      await impostor.stop();
    }
    cloud = await startTheCloud();
    await login(node);
    await waitStatus(node, 'connected', 'connected to the real cloud again (IK)');
  });

  it('logout: token revoked at the cloud and forgotten; URL and pin kept', async () => {
    const token = tokenOnDisk(node);
    const r = await node.admin('/api/admin/cloud/logout', { body: {} });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'logged_out');
    assert.equal(r.body.url, cloud.url);
    assert.equal((await cloudGet(cloud, '/api/me', token)).body.error, 'token_revoked');
    const f = readCloudJson(node);
    assert.equal(f.token_sealed, null);
    assert.equal(f.cloud_key, toBase64Url(cloud.publicKey));
    await node.stop();
    node = await startTestNode({ dataDir, cloud: FAST });
    assert.equal((await view(node)).status, 'logged_out', 'stays logged out after a restart');
  });

  it('a corrupt cloud.json: logged out with a clear error, no crash; a new login writes a good file', async () => {
    await node.stop();
    writeFileSync(join(dataDir, 'cloud.json'), '{ not json');
    node = await startTestNode({ dataDir, cloud: FAST });
    const v = await view(node);
    assert.equal(v.status, 'logged_out');
    assert.equal(v.last_error.code, 'cloud_state_unreadable');
    assert.match(v.last_error.message, /cloud\.json/);
    await login(node);
    await waitStatus(node, 'connected');
    assert.equal(readCloudJson(node).cloud_key, toBase64Url(cloud.publicKey));
    assert.equal(readFileSync(join(dataDir, 'cloud.json.corrupt'), 'utf8'), '{ not json', 'the bad file is kept aside');
  });
});

// ---- the relay protocol against a scripted fake cloud, with an in-memory store (no SQLite) -----------------

interface FakeRelay {
  url: string;
  frames: any[];
  sockets: WebSocket[];
  keysPut: any[];
  send(frame: unknown): void;
  stop(): Promise<void>;
}

async function fakeRelay(opts: { putStatus?: number; onSend?: (ws: WebSocket, frame: any) => void } = {}): Promise<FakeRelay> {
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('ws');
  const frames: any[] = [];
  const sockets: WebSocket[] = [];
  const keysPut: any[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      if (req.url === '/api/keys' && req.method === 'PUT') keysPut.push(JSON.parse(body));
      res.setHeader('content-type', 'application/json');
      if (req.method === 'PUT' && opts.putStatus) {
        res.statusCode = opts.putStatus;
        res.end(JSON.stringify({ error: 'internal_error', message: 'down' }));
        return;
      }
      res.end(JSON.stringify({ devices: [], ...(req.method === 'PUT' ? { refused: [] } : {}) }));
    });
  });
  const wss = new WebSocketServer({ server, path: '/v1/relay' });
  wss.on('connection', (ws, req) => {
    assert.equal(req.headers.authorization, 'Noise fake-token-0123456789abcdefghij');
    const n = sockets.push(ws);
    ws.on('message', (d) => {
      const f = { ...JSON.parse(String(d)), socket: n };
      frames.push(f);
      opts.onSend?.(ws, f);
    });
    ws.send(JSON.stringify({ type: 'hello', device_id: 'fake-node', pending: 0 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    frames,
    sockets,
    keysPut,
    send: (frame) => sockets.at(-1)!.send(JSON.stringify(frame)),
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

describe('cloud link relay protocol (fake cloud, in-memory store)', () => {
  let relay: FakeRelay;
  let link: InstanceType<typeof CloudLinkClass>;
  const accepted: string[] = [];
  const rejected: string[] = [];
  const stored: string[] = [];
  const outbox: { seq: number; id: string; envelope: any }[] = [];
  let queued: (() => void) | undefined;
  const sender = (() => {
    const privateKey = x25519.utils.randomSecretKey();
    return { device_id: 'node-a.ui', privateKey, publicKey: x25519.getPublicKey(privateKey) };
  })();
  const rcpt = { device_id: 'node-b.ui', publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
  const envelope = () => seal(new TextEncoder().encode('x'), { from: sender, to: [rcpt] });
  let storeDelay = (_id: string) => 0;

  const store = {
    pendingOutbound: (after: number, limit: number) => outbox.filter((r) => r.seq > after).slice(0, limit),
    outboxSize: () => outbox.length,
    onQueued: (fn: () => void) => {
      queued = fn;
      return () => {
        queued = undefined;
      };
    },
    accepted: (id: string) => {
      accepted.push(id);
      outbox.splice(
        outbox.findIndex((r) => r.id === id),
        1,
      );
    },
    rejected: (id: string) => {
      rejected.push(id);
      outbox.splice(
        outbox.findIndex((r) => r.id === id),
        1,
      );
    },
    delivered: () => {},
    storeInbound: async (env: any) => {
      await new Promise((r) => setTimeout(r, storeDelay(env.id)));
      stored.push(env.id);
    },
    localDevices: () => [{ device_id: 'node-a.ui', public_key: toBase64Url(sender.publicKey), name: 'A', kind: 'desktop' as const }],
    onLocalDevicesChanged: () => () => {},
    setRemoteDirectory: () => {},
  };

  before(async () => {
    relay = await fakeRelay();
    const dir = tempDir();
    const box = aesGcmBox(new Uint8Array(32).fill(7), 'test');
    writeFileSync(
      join(dir, 'cloud.json'),
      JSON.stringify({
        version: 1,
        url: relay.url,
        cloud_key: toBase64Url(new Uint8Array(32).fill(1)),
        token_sealed: box.seal(new TextEncoder().encode('fake-token-0123456789abcdefghij')),
        token_expires_at: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    for (let i = 1; i <= 300; i++) {
      const e = envelope();
      outbox.push({ seq: i, id: e.id, envelope: e });
    }
    const { createLogger } = await import('../../src/main/core/log.js');
    link = new CloudLinkClass({
      dataDir: dir,
      box,
      store,
      log: createLogger('cloud-test'),
      staticKey: () => {
        const privateKey = x25519.utils.randomSecretKey();
        return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
      },
      settings: { cloudUrl: () => relay.url, setCloudUrl: () => {} },
      options: { backoff: { baseMs: 10, capMs: 50 }, directoryRefreshMs: 60_000 },
    });
    link.start();
  });
  after(async () => {
    await link.stop();
    await relay.stop();
  });

  it('sends the outbox in order with at most 256 in flight; more as they are accepted', async () => {
    await eventually(() => link.status() === 'connected', 'connected');
    await eventually(() => relay.frames.filter((f) => f.type === 'send').length >= 256, '256 sent');
    await new Promise((r) => setTimeout(r, 100));
    const sends = () => relay.frames.filter((f) => f.type === 'send').map((f) => f.envelope.id);
    assert.equal(sends().length, 256, 'the window holds');
    assert.deepEqual(
      sends(),
      outbox.slice(0, 256).map((r) => r.id),
      'in outbox order',
    );
    for (const id of sends().slice(0, 10)) relay.send({ type: 'accepted', id });
    relay.send({ type: 'rejected', id: sends()[10], error: 'unknown_recipient', message: 'no such device' });
    await eventually(() => sends().length === 267, 'eleven more sent');
    assert.equal(accepted.length, 10);
    assert.equal(rejected.length, 1);
    assert.deepEqual(
      sends().slice(256),
      outbox.slice(245, 256).map((r) => r.id),
      'the next ones, in order',
    );
    assert.equal(link.view().outbox, 289);
    assert.ok(
      relay.keysPut.some((k) => k.devices[0].device_id === 'node-a.ui'),
      'keys published',
    );
  });

  it('a newly queued envelope goes out at once when the window has room', async () => {
    const answered = new Set(
      relay.frames
        .filter((x) => x.type === 'send')
        .slice(0, 11)
        .map((f) => f.envelope.id),
    );
    await eventually(() => {
      for (const f of relay.frames) {
        if (f.type === 'send' && !answered.has(f.envelope.id)) {
          answered.add(f.envelope.id);
          relay.send({ type: 'accepted', id: f.envelope.id });
        }
      }
      return outbox.length === 0;
    }, 'outbox drained');
    const e = envelope();
    outbox.push({ seq: 1000, id: e.id, envelope: e });
    queued?.();
    await eventually(() => relay.frames.some((f) => f.type === 'send' && f.envelope.id === e.id), 'the new one sent');
    relay.send({ type: 'accepted', id: e.id });
    await eventually(() => outbox.length === 0, 'accepted');
  });

  it('stores deliveries strictly in arrival order and acks each only after it is stored', async () => {
    const envs = Array.from({ length: 5 }, envelope);
    storeDelay = (id) => (5 - envs.findIndex((e) => e.id === id)) * 30; // the first is the slowest
    const before = relay.frames.length;
    envs.forEach((e, i) => {
      relay.send({ type: 'deliver', seq: i + 1, envelope: e });
    });
    relay.send({ type: 'receipt', seq: 6, id: envs[0]!.id, device_ids: ['node-b.ui'] });
    await eventually(() => relay.frames.slice(before).filter((f) => f.type === 'ack').length === 6, 'six acks');
    assert.deepEqual(
      stored.slice(-5),
      envs.map((e) => e.id),
      'stored in arrival order',
    );
    assert.deepEqual(
      relay.frames
        .slice(before)
        .filter((f) => f.type === 'ack')
        .map((f) => f.seq),
      [1, 2, 3, 4, 5, 6],
    );
  });

  it('after a dropped connection it reconnects and sends everything not yet accepted again, from the start', async () => {
    const a = envelope();
    const b = envelope();
    outbox.push({ seq: 2000, id: a.id, envelope: a }, { seq: 2001, id: b.id, envelope: b });
    queued?.();
    await eventually(() => relay.frames.some((f) => f.type === 'send' && f.envelope.id === b.id), 'both sent');
    const sockets = relay.sockets.length;
    relay.sockets.at(-1)!.terminate();
    await eventually(() => relay.sockets.length === sockets + 1 && link.status() === 'connected', 'reconnected');
    const resent = () => relay.frames.filter((f) => f.socket === sockets + 1 && f.type === 'send').map((f) => f.envelope.id);
    await eventually(() => resent().length >= 2, 'resent');
    assert.deepEqual(resent(), [a.id, b.id]);
  });
});

describe('cloud link with a store that applies inbound calls in call order (fake cloud)', () => {
  it('hands every delivery and receipt over at once, in arrival order; acks in order, each only after its own commit', async () => {
    const relay = await fakeRelay();
    const dir = tempDir();
    const box = aesGcmBox(new Uint8Array(32).fill(7), 'test');
    writeFileSync(
      join(dir, 'cloud.json'),
      JSON.stringify({
        version: 1,
        url: relay.url,
        cloud_key: toBase64Url(new Uint8Array(32).fill(1)),
        token_sealed: box.seal(new TextEncoder().encode('fake-token-0123456789abcdefghij')),
        token_expires_at: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    const calls: string[] = [];
    const commits = new Map<string, () => void>();
    const failing = new Set<string>();
    const pending = (key: string) =>
      new Promise<void>((resolve, reject) => {
        calls.push(key);
        commits.set(key, () => (failing.has(key) ? reject(new Error('disk full')) : resolve()));
      });
    const store = {
      inboundInCallOrder: true,
      pendingOutbound: () => [],
      outboxSize: () => 0,
      onQueued: () => () => {},
      accepted: () => {},
      rejected: () => {},
      delivered: (id: string) => pending(`receipt:${id}`),
      storeInbound: (env: any) => pending(`deliver:${env.id}`),
      localDevices: () => [],
      onLocalDevicesChanged: () => () => {},
      setRemoteDirectory: () => {},
    };
    const { createLogger } = await import('../../src/main/core/log.js');
    const link = new CloudLinkClass({
      dataDir: dir,
      box,
      store,
      log: createLogger('cloud-test'),
      staticKey: () => {
        const privateKey = x25519.utils.randomSecretKey();
        return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
      },
      settings: { cloudUrl: () => relay.url, setCloudUrl: () => {} },
      options: { backoff: { baseMs: 10, capMs: 50 }, directoryRefreshMs: 60_000 },
    });
    link.start();
    try {
      await eventually(() => link.status() === 'connected', 'connected');
      const sender = (() => {
        const privateKey = x25519.utils.randomSecretKey();
        return { device_id: 'node-a.ui', privateKey, publicKey: x25519.getPublicKey(privateKey) };
      })();
      const rcpt = { device_id: 'node-b.ui', publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
      const envs = Array.from({ length: 4 }, () => seal(new TextEncoder().encode('x'), { from: sender, to: [rcpt] }));
      envs.forEach((e, i) => {
        relay.send({ type: 'deliver', seq: i + 1, envelope: e });
      });
      relay.send({ type: 'receipt', seq: 5, id: envs[0]!.id, device_ids: ['node-b.ui'] });
      // All five reach the store before any of them is committed, in arrival order.
      await eventually(() => calls.length === 5, 'all handed over');
      assert.deepEqual(calls, [...envs.map((e) => `deliver:${e.id}`), `receipt:${envs[0]!.id}`]);
      const acks = () => relay.frames.filter((f) => f.type === 'ack').map((f) => f.seq);
      // Commits finishing out of order: no ack may overtake an earlier one that is not stored yet.
      failing.add(`deliver:${envs[2]!.id}`);
      commits.get(`deliver:${envs[1]!.id}`)!();
      commits.get(`receipt:${envs[0]!.id}`)!();
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(acks(), [], 'nothing acked before the first is stored');
      commits.get(`deliver:${envs[0]!.id}`)!();
      await eventually(() => acks().length === 2, 'the first two acked');
      commits.get(`deliver:${envs[2]!.id}`)!(); // fails: not acked, the cloud sends it again
      commits.get(`deliver:${envs[3]!.id}`)!();
      await eventually(() => acks().length === 4, 'the rest acked');
      assert.deepEqual(acks(), [1, 2, 4, 5], 'in arrival order; the one that failed to store is not acked');
    } finally {
      await link.stop();
      await relay.stop();
    }
  });
});

describe('a device that paired while the cloud was away', () => {
  after(async () => {
    await cleanupAll();
  });

  it('its first message is not refused as sender_not_published: the node publishes before it sends', async () => {
    const { node, back } = await linkedThenCloudAway();
    let cloud: RunningCloud | undefined;
    try {
      // The phone pairs and writes (to a phone of another home: one of its own node would be delivered locally)
      // while the cloud cannot hear of it.
      const { phone, client } = await pairPhone(node);
      const me = { device_id: phone.identity.node_id, privateKey: phone.privateKey, publicKey: phone.publicKey };
      const far = { device_id: 'phone-of-another-home', publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
      const sent = await new MessagingClient(client, me).sendEnvelope(
        seal(new TextEncoder().encode('first words'), { from: me, to: [far] }),
      );
      assert.equal(sent.status, 'queued');

      cloud = await back();
      // Another node of the same account (household): one the relay may carry the phone's envelope to.
      await cloud.accounts.join('another-home', 'home@salita.test', null);
      await cloud.directory.publish('another-home', [
        { device_id: far.device_id, public_key: toBase64Url(far.publicKey), name: 'Far phone', kind: 'phone' },
      ]);
      const status = await eventually(async () => {
        const s = (await new MessagingClient(client, me).outbox()).find((m) => m.id === sent.id);
        return s && s.status !== 'queued' ? s : undefined;
      }, 'the message left the outbox');
      assert.notEqual(status.status, 'failed', `refused: ${status.error}`);
    } finally {
      await cloud?.stop();
    }
  });
});

describe('token refresh', () => {
  after(async () => {
    await cleanupAll();
  });

  it('a connected node renews its token at half life with an IK handshake, without a new code, and stays connected', async () => {
    const otp = new MemoryOtpSender();
    // Tokens that live 4 s: the node must renew every ~2 s or drop to logged_out.
    const cloud = await startCloud({
      dataDir: tempDir('salita-cloud-'),
      port: 0,
      otpSender: otp,
      log: () => {},
      timings: { tokenTtlMs: 4_000 },
    });
    try {
      const node = await startTestNode({ cloud: FAST });
      await linkedTo(node, cloud, otp);
      const seen = new Set([tokenOnDisk(node)]);
      await eventually(
        () => {
          seen.add(tokenOnDisk(node));
          return seen.size >= 3;
        },
        'two refreshes',
        30_000,
      );
      assert.equal(otp.sent.length, 1, 'only the first login needed a code');
      // Well past the first token's life: still linked, on the newest token, and the cloud takes it.
      await waitStatus(node, 'connected', 'connected on the new token');
      const me = await cloudGet(cloud, '/api/me', tokenOnDisk(node));
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.device_id, node.identity.public_key);
    } finally {
      await cloud.stop();
    }
  });
});

describe('an envelope from a sender this node has not seen in the directory yet', () => {
  after(async () => {
    await cleanupAll();
  });

  it("is stored only after the node fetched the sender's key, so the recipient can open it at once", async () => {
    const otp = new MemoryOtpSender();
    const cloud = await startCloud({ dataDir: tempDir('salita-cloud-'), port: 0, otpSender: otp, log: () => {} });
    try {
      // B never refreshes its directory on a timer here: only the delivery itself can make it learn A's phone.
      const slow = { ...FAST, directoryRefreshMs: 3_600_000 };
      const [A, B] = await Promise.all([startTestNode({ cloud: FAST }), startTestNode({ cloud: slow })]);
      for (const n of [A, B]) await linkedTo(n, cloud, otp);
      const b = await pairPhone(B);
      const bMe = { device_id: b.phone.identity.node_id, privateKey: b.phone.privateKey, publicKey: b.phone.publicKey };
      // A's phone pairs after B fetched the directory at connect: B does not know it.
      const a = await pairPhone(A);
      const aMe = { device_id: a.phone.identity.node_id, privateKey: a.phone.privateKey, publicKey: a.phone.publicKey };
      const fromA = new MessagingClient(a.client, aMe);
      await eventually(async () => (await fromA.directory(true)).devices.some((d) => d.device_id === bMe.device_id), 'A sees B-phone');
      await eventually(async () => (await cloud.directory.all()).some((d) => d.device_id === aMe.device_id), 'A-phone published');
      const sent = await fromA.sendText(bMe.device_id, 'from a stranger, for now');

      const toB = new MessagingClient(b.client, bMe);
      const page = await eventually(async () => {
        const p = await toB.inbox();
        return p.messages.length > 0 ? p : undefined;
      }, 'delivered to B');
      const opened = await toB.openItem(page.messages[0]!);
      assert.ok(opened.ok, `B-phone could not open it: ${JSON.stringify(opened)}`);
      assert.equal(opened.text, 'from a stranger, for now');
      assert.equal(opened.id, sent.id);
    } finally {
      await cloud.stop();
    }
  });
});

describe('a cloud that keeps refusing (fake cloud)', () => {
  it('a persistent sender_not_published and a failing PUT /api/keys cost a few backed-off rounds, not a loop; the envelope then fails', async () => {
    // Every send is refused as sender_not_published, every PUT /api/keys fails with a 500.
    const relay = await fakeRelay({
      putStatus: 500,
      onSend: (ws, f) => {
        if (f.type === 'send')
          ws.send(JSON.stringify({ type: 'rejected', id: f.envelope.id, error: 'sender_not_published', message: 'not published' }));
      },
    });
    const dir = tempDir();
    const box = aesGcmBox(new Uint8Array(32).fill(7), 'test');
    writeFileSync(
      join(dir, 'cloud.json'),
      JSON.stringify({
        version: 1,
        url: relay.url,
        cloud_key: toBase64Url(new Uint8Array(32).fill(1)),
        token_sealed: box.seal(new TextEncoder().encode('fake-token-0123456789abcdefghij')),
        token_expires_at: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    const sender = (() => {
      const privateKey = x25519.utils.randomSecretKey();
      return { device_id: 'node-a.ui', privateKey, publicKey: x25519.getPublicKey(privateKey) };
    })();
    const rcpt = { device_id: 'node-b.ui', publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
    const e = seal(new TextEncoder().encode('x'), { from: sender, to: [rcpt] });
    const outbox = [{ seq: 1, id: e.id, envelope: e }];
    const rejected: { id: string; code: string; message: string }[] = [];
    const store = {
      pendingOutbound: (after: number, limit: number) => outbox.filter((r) => r.seq > after).slice(0, limit),
      outboxSize: () => outbox.length,
      onQueued: () => () => {},
      accepted: () => {},
      rejected: (id: string, code: string, message: string) => {
        rejected.push({ id, code, message });
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
    const lines: string[] = [];
    const { default: pino } = await import('pino');
    const log = pino(
      { level: 'debug' },
      {
        write: (l: string) => {
          lines.push(l);
        },
      },
    );
    const link = new CloudLinkClass({
      dataDir: dir,
      box,
      store,
      log,
      staticKey: () => {
        const privateKey = x25519.utils.randomSecretKey();
        return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
      },
      settings: { cloudUrl: () => relay.url, setCloudUrl: () => {} },
      options: {
        backoff: { baseMs: 10, capMs: 50 },
        directoryRefreshMs: 60_000,
        retryBackoff: { baseMs: 20, capMs: 2_000, jitterFloor: 0.5 },
        maxNotPublishedResends: 4,
      },
    });
    link.start();
    try {
      await eventually(() => rejected.length === 1, 'the envelope failed for good', 30_000);
      assert.equal(rejected[0]!.code, 'sender_not_published');
      assert.match(rejected[0]!.message, /4 publishes and resends/);
      // Watch a while longer: nothing goes on by itself but the backed-off publish retries.
      await new Promise((r) => setTimeout(r, 1_500));
      const sends = relay.frames.filter((f) => f.type === 'send').length;
      assert.equal(sends, 5, 'the first send and 4 resends');
      assert.ok(relay.keysPut.length <= 16, `PUT /api/keys ${relay.keysPut.length} times`);
      assert.ok(lines.length <= 60, `${lines.length} log lines`);
      assert.equal(link.status(), 'connected');
    } finally {
      await link.stop();
      await relay.stop();
    }
  });
});

describe('a phone whose id another node already publishes', () => {
  after(async () => {
    await cleanupAll();
  });

  it("is refused alone (shown in the view with its code); the node's other phones are published and can message", async () => {
    const { node, back } = await linkedThenCloudAway();
    let cloud: RunningCloud | undefined;
    try {
      const x = await pairPhone(node);
      const y = await pairPhone(node);
      const meOf = (p: typeof x) => ({ device_id: p.phone.identity.node_id, privateKey: p.phone.privateKey, publicKey: p.phone.publicKey });
      const [xMe, yMe] = [meOf(x), meOf(y)];
      const up = await back();
      cloud = up;
      // Another node got X's id into the directory first. It also serves a phone X and Y write to (a phone of
      // their own node would be delivered locally, without the cloud).
      const farKey = x25519.getPublicKey(x25519.utils.randomSecretKey());
      const far = { device_id: 'phone-of-another-node', publicKey: farKey };
      await up.accounts.join('another-node', 'home@salita.test', null);
      await up.directory.publish('another-node', [
        { device_id: xMe.device_id, public_key: toBase64Url(xMe.publicKey), name: 'squatter', kind: 'phone' },
        { device_id: far.device_id, public_key: toBase64Url(farKey), name: 'Far phone', kind: 'phone' },
      ]);

      const v = await eventually(async () => {
        const c = await view(node);
        return c.status === 'connected' && c.unpublished?.length ? c : undefined;
      }, 'the refusal in the view');
      assert.deepEqual(
        v.unpublished.map((u: any) => [u.device_id, u.error]),
        [[xMe.device_id, 'device_id_taken']],
      );
      assert.match(v.unpublished[0].message, /already used by another node/);
      await eventually(
        async () => (await up.directory.all()).some((d) => d.device_id === yMe.device_id && d.node === node.identity.public_key),
        'Y published',
      );

      const fromY = new MessagingClient(y.client, yMe);
      const sent = await fromY.sendEnvelope(seal(new TextEncoder().encode('Y still gets through'), { from: yMe, to: [far] }));
      const status = await eventually(async () => {
        const s = (await fromY.outbox()).find((m) => m.id === sent.id);
        return s && s.status !== 'queued' ? s : undefined;
      }, "Y's message left");
      assert.notEqual(status.status, 'failed', `refused: ${status.error}`);

      // X's message fails with a reason (once), instead of looping.
      const fromX = new MessagingClient(x.client, xMe);
      const xs = await fromX.sendEnvelope(seal(new TextEncoder().encode('X cannot'), { from: xMe, to: [far] }));
      const xStatus = await eventually(async () => {
        const s = (await fromX.outbox()).find((m) => m.id === xs.id);
        return s && s.status !== 'queued' ? s : undefined;
      }, "X's message settled");
      assert.equal(xStatus.status, 'failed');
      assert.equal(xStatus.error, 'sender_not_published');

      // The refusals belonged to that login: after a logout the panel no longer lists them.
      const out = await node.admin('/api/admin/cloud/logout', { body: {} });
      assert.equal(out.status, 200);
      assert.deepEqual((await view(node)).unpublished, []);
    } finally {
      await cloud?.stop();
    }
  });
});

describe('a node with more devices than one PUT /api/keys carries (fake cloud)', () => {
  it('publishes its 300 devices in pages of consecutive device-id ranges that cover the whole set', async () => {
    const relay = await fakeRelay();
    const dir = tempDir();
    const box = aesGcmBox(new Uint8Array(32).fill(7), 'test');
    writeFileSync(
      join(dir, 'cloud.json'),
      JSON.stringify({
        version: 1,
        url: relay.url,
        cloud_key: toBase64Url(new Uint8Array(32).fill(1)),
        token_sealed: box.seal(new TextEncoder().encode('fake-token-0123456789abcdefghij')),
        token_expires_at: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
    const devices = Array.from({ length: 300 }, (_, i) => ({
      device_id: `dev-${String(299 - i).padStart(3, '0')}`,
      public_key: toBase64Url(new Uint8Array(32).fill(2)),
      name: `D${i}`,
      kind: 'phone' as const,
    }));
    const store = {
      pendingOutbound: () => [],
      outboxSize: () => 0,
      onQueued: () => () => {},
      accepted: () => {},
      rejected: () => {},
      delivered: () => {},
      storeInbound: async () => {},
      localDevices: () => devices,
      onLocalDevicesChanged: () => () => {},
      setRemoteDirectory: () => {},
    };
    const { createLogger } = await import('../../src/main/core/log.js');
    const link = new CloudLinkClass({
      dataDir: dir,
      box,
      store,
      log: createLogger('cloud-test'),
      staticKey: () => {
        const privateKey = x25519.utils.randomSecretKey();
        return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
      },
      settings: { cloudUrl: () => relay.url, setCloudUrl: () => {} },
      options: { backoff: { baseMs: 10, capMs: 50 }, directoryRefreshMs: 60_000 },
    });
    link.start();
    try {
      await eventually(() => relay.keysPut.length >= 2, 'two pages');
      const [p1, p2] = relay.keysPut;
      assert.equal(p1.devices.length, 256);
      assert.equal(p2.devices.length, 44);
      assert.deepEqual(p1.range, { after: null, through: 'dev-255' });
      assert.deepEqual(p2.range, { after: 'dev-255', through: null });
      assert.deepEqual(
        [...p1.devices, ...p2.devices].map((d: any) => d.device_id),
        devices.map((d) => d.device_id).sort(),
      );
    } finally {
      await link.stop();
      await relay.stop();
    }
  });
});

describe('message backlog caps (node side)', () => {
  const otp = new MemoryOtpSender();
  let cloudDir: string;
  let cloud: RunningCloud;
  before(async () => {
    cloudDir = tempDir('salita-cloud-cap-');
    cloud = await startCloud({ dataDir: cloudDir, port: 0, otpSender: otp, log: () => {} });
  });
  after(async () => {
    await cleanupAll();
    await cloud.stop();
  });
  const uiKeys = async (n: TestNode) => {
    const privateKey = x25519.utils.randomSecretKey();
    const k = { device_id: `${n.identity.node_id}.ui`, privateKey, publicKey: x25519.getPublicKey(privateKey) };
    assert.equal(
      (await n.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(k.publicKey) } })).status,
      200,
    );
    return k;
  };
  const statusOf = async (n: TestNode, id: string) =>
    (await n.admin('/api/admin/messages/outbox')).body.messages?.find((m: any) => m.id === id);

  it('a device that never acks: its inbox stops at the cap, the sender sees failed/recipient_backlog_full, after an ack messages flow again', async () => {
    const CAP = 3;
    const a = await startTestNode({ cloud: FAST });
    const b = await startTestNode({ cloud: FAST, messaging: { inboxPerDevice: CAP } });
    await linkedTo(a, cloud, otp);
    await linkedTo(b, cloud, otp);
    const ka = await uiKeys(a);
    const kb = await uiKeys(b);
    await eventually(
      async () => (await a.admin('/api/admin/messages/directory')).body.devices?.some((d: any) => d.device_id === kb.device_id),
      "B in A's directory",
    );
    const send = async () => {
      const envelope = seal(new TextEncoder().encode('flood'), { from: ka, to: [{ device_id: kb.device_id, publicKey: kb.publicKey }] });
      const r = await a.admin('/api/admin/messages', { body: { envelope } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return envelope.id;
    };
    const ids: string[] = [];
    for (let i = 0; i < CAP * 3; i++) ids.push(await send());
    const final = await eventually(async () => {
      const all = await Promise.all(ids.map((id) => statusOf(a, id)));
      return all.every((m) => m?.status === 'delivered' || m?.status === 'failed') ? all : undefined;
    }, 'every message delivered or failed');
    assert.equal(final.filter((m: any) => m.status === 'delivered').length, CAP);
    const failed = final.filter((m: any) => m.status === 'failed');
    assert.equal(failed.length, CAP * 2);
    for (const m of failed) assert.equal(m.error, 'recipient_backlog_full');
    const inbox = await b.admin('/api/admin/messages/inbox');
    assert.equal(inbox.body.messages.length, CAP);
    // The device collects: new messages are stored again.
    assert.equal((await b.admin('/api/admin/messages/inbox/ack', { body: { up_to_seq: inbox.body.next_after } })).status, 200);
    const again = await send();
    await eventually(async () => (await statusOf(a, again))?.status === 'delivered', 'delivered after the ack');
  });

  it('a device sending while the cloud is away: 429 outbox_full at the cap, nothing accepted is lost', async () => {
    const CAP = 3;
    const dir = tempDir('salita-cloud-away-');
    let away = await startCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
    const port = new URL(away.url).port;
    const a = await startTestNode({ cloud: FAST, messaging: { outboxPerDevice: CAP } });
    const b = await startTestNode({ cloud: FAST });
    await linkedTo(a, away, otp);
    await linkedTo(b, away, otp);
    const ka = await uiKeys(a);
    const kb = await uiKeys(b);
    await eventually(
      async () => (await a.admin('/api/admin/messages/directory')).body.devices?.some((d: any) => d.device_id === kb.device_id),
      "B in A's directory",
    );
    await away.stop();
    await waitStatus(a, 'reconnecting');
    const accepted: string[] = [];
    let full: any;
    for (let i = 0; i < CAP * 3; i++) {
      const envelope = seal(new TextEncoder().encode('offline'), { from: ka, to: [{ device_id: kb.device_id, publicKey: kb.publicKey }] });
      const r = await a.admin('/api/admin/messages', { body: { envelope } });
      if (r.status === 202) accepted.push(envelope.id);
      else {
        full = r;
        break;
      }
    }
    assert.equal(accepted.length, CAP);
    assert.equal(full.status, 429);
    assert.equal(full.body.error, 'outbox_full');
    assert.equal(typeof full.body.message, 'string');
    away = await startCloud({ dataDir: dir, port: Number(port), otpSender: otp, log: () => {} });
    try {
      await eventually(async () => {
        const all = await Promise.all(accepted.map((id) => statusOf(a, id)));
        return all.every((m) => m?.status === 'delivered');
      }, 'every accepted message delivered');
    } finally {
      await away.stop();
    }
  });
});
