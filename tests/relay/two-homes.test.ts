// The relay end to end: two homes (two headless nodes, each with a paired phone-like client) and one cloud, all
// real processes on loopback. A message goes A-phone -> A-node -> cloud -> B-node -> B-phone and decrypts
// there; tampered ciphertext is refused by the recipient; no node or cloud file ever holds the plaintext. A phone
// re-paired at one home is, at the other, the device it replaced (the cloud carries the old id).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, eventually, filesUnder } from '../helpers/test-node.js';
import { type CloudProcess, type NodeProcess, type PairedPhone, pairPhoneWith } from './processes.js';
import { LINK_WAIT_MS, receive, startTwoHomes, waitInDirectory } from './relay-helpers.js';

describe('two homes and one cloud (real processes)', { timeout: 300_000 }, () => {
  let cloud: CloudProcess;
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;

  before(async () => {
    ({ cloud, A, B, phoneA, phoneB } = await startTwoHomes(['Anna phone', 'Bo phone']));
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop(), cloud?.stop()]);
    await cleanupAll();
  });

  it('a message from A-phone reaches B-phone through both nodes and the cloud, decrypts, and A sees it delivered', async () => {
    const a = phoneA.messaging(A.base);
    const b = phoneB.messaging(B.base);
    await waitInDirectory(a, phoneB.deviceId);
    const dirA = await a.directory();
    assert.equal(dirA.me, phoneA.deviceId);
    assert.equal(dirA.devices.find((d) => d.device_id === phoneB.deviceId)?.home, 'remote');
    assert.equal(dirA.devices.find((d) => d.device_id === phoneA.deviceId)?.home, 'local');

    const sent = await a.sendText(phoneB.deviceId, 'Hei Bo, middag klokka sju?');
    assert.ok(['queued', 'sent'].includes(sent.status), JSON.stringify(sent));

    await waitInDirectory(b, phoneA.deviceId);
    const [msg] = await receive(b, 1);
    assert.ok(msg?.ok, `B-phone could not open it: ${JSON.stringify(msg)}`);
    assert.equal(msg.text, 'Hei Bo, middag klokka sju?');
    assert.equal(msg.from_device, phoneA.deviceId);
    assert.equal(msg.id, sent.id);

    await eventually(
      async () => (await a.outbox()).find((m) => m.id === sent.id)?.status === 'delivered',
      'A-phone sees "delivered"',
      LINK_WAIT_MS,
    );

    // And back: B answers A.
    const back = await b.sendText(phoneA.deviceId, 'Ja!');
    const [reply] = await receive(a, 1);
    assert.ok(reply?.ok && reply.text === 'Ja!' && reply.id === back.id, JSON.stringify(reply));
  });

  it('tampered ciphertext travels as an envelope but the recipient refuses to open it', async () => {
    const a = phoneA.messaging(A.base);
    const b = phoneB.messaging(B.base);
    const env = await a.sealText(phoneB.deviceId, 'original words');
    // Flip one bit in the middle of the ciphertext: still a valid-looking envelope, so nodes and cloud relay it.
    const ct = Buffer.from(env.ciphertext, 'base64url');
    ct[Math.floor(ct.length / 2)]! ^= 0x01;
    const tampered = { ...env, ciphertext: ct.toString('base64url') };
    await a.sendEnvelope(tampered);
    const [msg] = await receive(b, 1);
    assert.ok(msg, 'the tampered envelope arrived');
    assert.equal(msg.id, env.id);
    assert.equal(msg.ok, false, 'a tampered message must never open');
    if (!msg.ok) assert.equal(msg.error, 'decrypt_failed');
  });

  it('a phone cannot send as another device', async () => {
    const a = phoneA.messaging(A.base);
    const env = await a.sealText(phoneB.deviceId, 'spoof');
    const spoofed = { ...env, from_device: phoneB.deviceId };
    await assert.rejects(
      a.sendEnvelope(spoofed),
      (err: { code?: string; status?: number }) => err.status === 403 && err.code === 'sender_mismatch',
    );
  });

  it("a phone re-paired at B (a reinstall) is listed at A as replacing its old id: 'safety number changed', not a stranger", async () => {
    const first = await pairPhoneWith(B, 'Bo tablet');
    const a = phoneA.messaging(A.base);
    await waitInDirectory(a, first.deviceId);
    const again = await pairPhoneWith(B, 'Bo tablet');
    const entry = await eventually(
      async () => (await a.directory(true)).devices.find((d) => d.device_id === again.deviceId && d.replaces),
      'the re-paired tablet at A, with the id it replaced',
      LINK_WAIT_MS,
    );
    assert.equal(entry.home, 'remote');
    assert.deepEqual(entry.replaces, [first.deviceId]);
    assert.equal(
      (await a.directory(true)).devices.some((d) => d.device_id === first.deviceId),
      false,
      'the old id is gone',
    );
  });

  it('no file of either node or of the cloud holds a plaintext', async () => {
    const a = phoneA.messaging(A.base);
    const b = phoneB.messaging(B.base);
    const secret = 'plaintext-canary-7f3a9c1e';
    await a.sendText(phoneB.deviceId, secret);
    // Read it at B but do not ack, so the envelope is still stored at B-node while we look.
    await eventually(async () => (await b.inbox(0, 500)).messages.length > 0, 'the canary stored at B-node', LINK_WAIT_MS);
    const files = [...filesUnder(A.dataDir), ...filesUnder(B.dataDir), ...filesUnder(cloud.dataDir)];
    assert.ok(
      files.some((f) => f.endsWith('.db') || f.includes('.db-')),
      'databases were scanned',
    );
    for (const f of files) {
      assert.ok(!readFileSync(f).includes(Buffer.from(secret)), `${f} contains the plaintext`);
    }
    const [msg] = await receive(b, 1);
    assert.ok(msg?.ok && msg.text === secret);
  });
});
