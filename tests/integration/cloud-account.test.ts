// The account from a real node's side, through the admin API the Cloud panel uses: two desktops signed in to one
// account are one household and see each other's phones; a third, in another account, sees neither; removing a
// desktop from the household logs it out (its link says so) and takes its phone out of the others' directory;
// signing out everywhere logs every desktop out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

const FAST = { backoff: { baseMs: 20, capMs: 250 }, directoryRefreshMs: 150 };

const status = async (node: TestNode) => (await node.admin('/api/admin/cloud')).body.status as string;

async function signIn(node: TestNode, cloud: RunningCloud, otp: MemoryOtpSender, email: string): Promise<void> {
  const r = await node.admin('/api/admin/cloud/login', { body: { url: cloud.url, email } });
  assert.equal(r.body.status, 'awaiting_code', JSON.stringify(r.body));
  const code = otp.sent.findLast((m) => m.deviceId === node.identity.public_key)!.code;
  assert.equal((await node.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
  await eventually(async () => (await status(node)) === 'connected', 'connected');
}

type Phone = { client: MessagingClient; id: string };

/** Whether `phone`'s directory (through its node) lists `id`. */
const sees = async (phone: Phone, id: string) => (await phone.client.directory(true)).devices.some((d) => d.device_id === id);

describe('the account from the node (admin API)', () => {
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  before(async () => {
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-account-'), port: 0, otpSender: otp, log: () => {} });
  });
  after(async () => {
    await cleanupAll();
    await cloud.stop();
  });

  /** One desktop per address, each with a paired phone, each signed in. */
  type Desktop = [TestNode, Phone];
  async function desktops(emails: [string, string, string]): Promise<[Desktop, Desktop, Desktop]> {
    const out: Desktop[] = [];
    for (const email of emails) {
      const n = await startTestNode({ cloud: FAST });
      const p = await pairPhone(n);
      await signIn(n, cloud, otp, email);
      const me = { device_id: p.phone.identity.node_id, privateKey: p.phone.privateKey, publicKey: p.phone.publicKey };
      out.push([n, { client: new MessagingClient(p.client, me), id: me.device_id }]);
    }
    return out as [Desktop, Desktop, Desktop];
  }

  it('one household sees itself only; removing a desktop logs it out; signing out everywhere logs out all', async () => {
    const [[a, pa], [b, pb], [c, pc]] = await desktops(['ana@example.org', 'ana@example.org', 'cy@example.org']);
    await eventually(() => sees(pa, pb.id), "A's phone sees B's phone");
    assert.equal(await sees(pc, pa.id), false, "C's phone does not see A's");
    assert.equal(await sees(pa, pc.id), false, "A's phone does not see C's");

    const acct = await a.admin('/api/admin/cloud/account');
    assert.equal(acct.status, 200, JSON.stringify(acct.body));
    assert.equal(acct.body.account.email, 'ana@example.org');
    assert.deepEqual(
      acct.body.nodes.map((n: { node: string; self: boolean }) => [n.node, n.self]).sort(),
      [
        [a.identity.public_key, true],
        [b.identity.public_key, false],
      ].sort(),
    );

    const rm = await a.admin(`/api/admin/cloud/account/nodes/${b.identity.public_key}`, { method: 'DELETE' });
    assert.equal(rm.status, 200, JSON.stringify(rm.body));
    await eventually(async () => (await status(b)) === 'logged_out', 'B is logged out');
    assert.equal((await b.admin('/api/admin/cloud')).body.last_error?.code, 'token_revoked');
    await eventually(async () => !(await sees(pa, pb.id)), "B's phone left A's directory");

    const foreign = await a.admin(`/api/admin/cloud/account/nodes/${c.identity.public_key}`, { method: 'DELETE' });
    assert.equal(foreign.status, 422);
    assert.equal(foreign.body.cloud_error, 'node_not_in_account');

    const out = await a.admin('/api/admin/cloud/account/sign-out', { method: 'POST' });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    await eventually(async () => (await status(a)) === 'logged_out', 'A is logged out');
    assert.equal(await status(c), 'connected', 'another account is not touched');
    const after = await a.admin('/api/admin/cloud/account');
    assert.equal(after.status, 409, 'no account to show while logged out');
    assert.equal(after.body.error, 'cloud_login_not_started');
  });

  it('contacts: an invite link accepted on another household makes both see each other; a swapped link is refused; remove ends it', async () => {
    const [[a, pa], [b, pb], [c, pc]] = await desktops(['dee@example.org', 'eli@example.org', 'fay@example.org']);

    const inv = await a.admin('/api/admin/cloud/invites', { method: 'POST' });
    assert.equal(inv.status, 200, JSON.stringify(inv.body));
    assert.match(inv.body.link, new RegExp(`^${cloud.url}/invite#[A-Za-z0-9_-]{43}\\.[A-Z0-9]+$`));
    assert.match(inv.body.qr_svg, /^<svg/);
    assert.equal(inv.body.fingerprint, a.identity.fingerprint, "the link names A's desktop as its UI shows it");

    // A link whose fingerprint was swapped for another desktop's is refused by the node before the cloud hears of it.
    const swapped = inv.body.link.replace(/\.[A-Z0-9]+$/, `.${c.identity.fingerprint.replace(/-/g, '')}`);
    const bad = await b.admin('/api/admin/cloud/invites/accept', { body: { link: swapped } });
    assert.equal(bad.status, 409, JSON.stringify(bad.body));
    assert.equal(bad.body.error, 'invite_mismatch');
    assert.equal((await b.admin('/api/admin/cloud/invites/accept', { body: { link: 'https://nope.example/x' } })).status, 400);

    const look = await b.admin('/api/admin/cloud/invites/accept', { body: { link: inv.body.link, dry_run: true } });
    assert.equal(look.body.email, 'dee@example.org');
    assert.equal(await sees(pb, pa.id), false, 'looking accepts nothing');
    const ok = await b.admin('/api/admin/cloud/invites/accept', { body: { link: inv.body.link } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await eventually(() => sees(pb, pa.id), "B's phone sees A's phone");
    await eventually(() => sees(pa, pb.id), "A's phone sees B's phone");
    assert.equal(await sees(pc, pa.id), false, 'C sees neither');

    const again = await c.admin('/api/admin/cloud/invites/accept', { body: { link: inv.body.link } });
    assert.equal(again.status, 422);
    assert.equal(again.body.cloud_error, 'invite_used');

    const list = await a.admin('/api/admin/cloud/contacts');
    assert.deepEqual(
      list.body.contacts.map((x: { email: string }) => x.email),
      ['eli@example.org'],
    );
    const rm = await a.admin(`/api/admin/cloud/contacts/${list.body.contacts[0].account_id}`, { method: 'DELETE' });
    assert.equal(rm.status, 200, JSON.stringify(rm.body));
    await eventually(async () => !(await sees(pb, pa.id)), "B's phone no longer sees A's");
  });
});
