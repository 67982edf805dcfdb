// A cloud that lies about keys, against real nodes (docs/key-transparency.md): each way is caught by a node and
// said in its Cloud view (key_log.status 'alarm'), and the lying read is not used.
// - a key made up for one node, outside the log (a proxy rewrites GET /api/keys for it): key_log_not_included;
// - a key the operator appends to the log for someone's phone: the phone's own node finds it, key_log_foreign_key;
// - a rewritten entry under a head the node kept: key_log_inconsistent;
// - a fork: one node is shown a copy of the cloud (same key, a made-up entry added); its home's other node, on the
//   real log, is told the fork's head over the LAN peer link, and both nodes say key_log_forked.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import Database from 'better-sqlite3';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { CLOUD_KEY_FILE } from '../../src/cloud/static-key.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { type CloudProxy, cloudProxy } from '../helpers/cloud-proxy.js';
import { forgeKey, rewriteFirstLeaf } from '../helpers/key-log-forgery.js';
import { FAST_PEER_LINK, linkUp, pairDesktops } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

const FAST = { backoff: { baseMs: 20, capMs: 250 }, directoryRefreshMs: 150 };
const otp = new MemoryOtpSender();
const clouds: RunningCloud[] = [];
const proxies: CloudProxy[] = [];
after(async () => {
  await cleanupAll();
  for (const p of proxies) await p.close();
  for (const c of clouds) await c.stop();
});

async function cloudIn(dataDir = tempDir('salita-kt-cloud-')): Promise<RunningCloud & { dataDir: string }> {
  const cloud = await startCloud({ dataDir, port: 0, otpSender: otp, log: () => {} });
  clouds.push(cloud);
  return Object.assign(cloud, { dataDir });
}

const view = async (node: TestNode) => (await node.admin('/api/admin/cloud')).body;

async function signIn(node: TestNode, url: string, email: string): Promise<void> {
  const r = await node.admin('/api/admin/cloud/login', { body: { url, email } });
  assert.equal(r.body.status, 'awaiting_code', JSON.stringify(r.body));
  const code = otp.sent.findLast((m) => m.deviceId === node.identity.public_key)!.code;
  assert.equal((await node.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
  await eventually(async () => (await view(node)).key_log.status === 'verified', 'connected, and the first read verified');
}

type Phone = { client: MessagingClient; id: string; name: string };
async function desktop(opts: { peer?: boolean } = {}): Promise<[TestNode, Phone]> {
  const n = await startTestNode({ cloud: FAST, ...(opts.peer ? { peerLink: FAST_PEER_LINK } : {}) });
  const p = await pairPhone(n);
  const me = { device_id: p.phone.identity.node_id, privateKey: p.phone.privateKey, publicKey: p.phone.publicKey };
  return [n, { client: new MessagingClient(p.client, me), id: me.device_id, name: p.phone.identity.name }];
}

/** The key `phone`'s node shows it for device `id` (its directory, local or from the cloud). */
const keyShown = async (phone: Phone, id: string) =>
  (await phone.client.directory(true)).devices.find((d) => d.device_id === id)?.public_key ?? null;

const newKey = () => toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));

describe('a cloud that lies about keys is caught by the nodes', () => {
  it('a key made up for one node only (not in the log): that node raises key_log_not_included and keeps the real key', async () => {
    const cloud = await cloudIn();
    const proxy = await cloudProxy(cloud.port);
    proxies.push(proxy);
    const [a, pa] = await desktop();
    const [b, pb] = await desktop();
    await signIn(a, proxy.url, 'ana@example.org');
    await signIn(b, cloud.url, 'ana@example.org');
    const real = await eventually(() => keyShown(pa, pb.id), "A's phone sees B's phone");

    const fake = newKey();
    proxy.rewrite = (method, path, body) =>
      method === 'GET' && path === '/api/keys'
        ? { devices: body.devices.map((d: { device_id: string }) => (d.device_id === pb.id ? { ...d, public_key: fake } : d)) }
        : null;
    const alarmed = await eventually(async () => {
      const v = await view(a);
      return v.key_log.status === 'alarm' ? v : null;
    }, 'A raises the alarm');
    assert.equal(alarmed.key_log.alarm.code, 'key_log_not_included');
    assert.equal(alarmed.last_error.code, 'key_log_not_included');
    assert.equal(await keyShown(pa, pb.id), real, "A's phone still seals to B's phone's real key");
    assert.equal((await view(b)).key_log.status, 'verified', 'B was shown the truth');

    // Trusting the log again while the lie goes on: the first read of the new history catches it again.
    const reset = await a.admin('/api/admin/cloud/key-log/reset', { method: 'POST' });
    assert.equal(reset.status, 200);
    assert.notEqual(reset.body.key_log.status, 'alarm');
    await eventually(async () => (await view(a)).key_log.status === 'alarm', 'caught again');
    proxy.rewrite = () => null;
    await a.admin('/api/admin/cloud/key-log/reset', { method: 'POST' });
    await eventually(async () => (await view(a)).key_log.status === 'verified', 'an honest cloud is verified after the reset');
  });

  it("a key the operator appends to the log for someone's phone: the phone's own node raises key_log_foreign_key", async () => {
    const cloud = await cloudIn();
    const [a, pa] = await desktop();
    const [b, pb] = await desktop();
    await signIn(a, cloud.url, 'bo@example.org');
    await signIn(b, cloud.url, 'bo@example.org');
    await eventually(() => keyShown(pa, pb.id), "A's phone sees B's phone");

    const fake = newKey();
    forgeKey(cloud.dataDir, pb.id, fake);
    const alarm = await eventually(async () => (await view(b)).key_log.alarm, 'B, the owner, raises the alarm');
    assert.equal(alarm.code, 'key_log_foreign_key');
    assert.match(alarm.message, new RegExp(pb.name));
    // A cannot tell (the entry is in the log everyone sees): that is why the owner checks its own devices.
    await eventually(async () => (await keyShown(pa, pb.id)) === fake, "A's node took the logged key");
    assert.equal((await view(a)).key_log.status, 'verified');
  });

  it('an entry rewritten under a head the node kept: key_log_inconsistent, and it survives a restart of the node', async () => {
    const cloud = await cloudIn();
    const [a] = await desktop();
    await signIn(a, cloud.url, 'cy@example.org');
    // Its kept head covers the whole log (its first read may predate its own publishes).
    await eventually(async () => (await view(a)).key_log.size === (await cloud.keyLog.head()).size, 'the whole log kept');
    rewriteFirstLeaf(cloud.dataDir, (leaf) => ({ ...leaf, public_key: newKey() }));
    const alarm = await eventually(async () => (await view(a)).key_log.alarm, 'A raises the alarm');
    assert.equal(alarm.code, 'key_log_inconsistent');
    await a.stop();
    const again = await startTestNode({ cloud: FAST, dataDir: a.dataDir });
    assert.equal((await view(again)).key_log.alarm?.code, 'key_log_inconsistent', 'the alarm is kept on disk');
  });

  it('a fork shown to one desktop of a home: the other is told its head on the LAN, and both raise key_log_forked', async () => {
    const cloud = await cloudIn();
    const proxy = await cloudProxy(cloud.port);
    proxies.push(proxy);
    const [a] = await desktop({ peer: true });
    const [b, pb] = await desktop({ peer: true });
    await pairDesktops(a, b);
    await linkUp(a, b);
    await signIn(a, proxy.url, 'di@example.org');
    await signIn(b, cloud.url, 'di@example.org');
    await eventually(async () => (await view(a)).key_log.size === (await view(b)).key_log.size, 'both kept the same head');

    // The fork: a consistent copy of the cloud (same key), with a made-up key for B's phone appended.
    const forkDir = tempDir('salita-kt-fork-');
    mkdirSync(forkDir, { recursive: true });
    const src = new Database(join(cloud.dataDir, 'cloud.db'));
    src.exec(`VACUUM INTO '${join(forkDir, 'cloud.db')}'`);
    src.close();
    copyFileSync(join(cloud.dataDir, CLOUD_KEY_FILE), join(forkDir, CLOUD_KEY_FILE));
    const fork = await cloudIn(forkDir);
    assert.deepEqual(fork.publicKey, cloud.publicKey, 'the fork signs with the cloud key');
    forgeKey(forkDir, pb.id, newKey());
    const keyReads = (method: string, path: string) => (method === 'GET' && path === '/api/keys') || path.startsWith('/api/keys/log/');
    proxy.route = (method, path) => (keyReads(method, path) ? fork.port : cloud.port);

    // A verifies the fork (it extends what A kept) and tells B its head: B's cloud cannot prove it.
    const bAlarm = await eventually(async () => (await view(b)).key_log.alarm, 'B raises the alarm');
    assert.equal(bAlarm.code, 'key_log_forked');
    // The real log grows (B pairs another phone); B keeps checking and tells A its head, which the fork cannot prove.
    await pairPhone(b);
    const aAlarm = await eventually(async () => (await view(a)).key_log.alarm, 'A raises the alarm');
    assert.equal(aAlarm.code, 'key_log_forked');
  });
});
