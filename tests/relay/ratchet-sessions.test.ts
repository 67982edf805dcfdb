// Forward-secret sessions end to end with real processes: phones whose MessagingClient holds DeviceSessions
// publish prekeys at their node, claim each other's bundles (at the node, over the peer link from a home desktop,
// at the cloud for another home) and message on envelope v2, both ways. In the middle a phone's signed prekey is
// rotated (its clock moved a week on): the sessions made before go on, and a new session is made under the new
// signed prekey. Between the two homes, Anna links her phone (home A) with her tablet (home B) as one person:
// Bo's message to Anna reaches both in one envelope, and what her phone sends Bo is copied to her tablet
// across the cloud. No node or cloud file holds the plaintext.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import type { MessagingClient } from '../../src/shared/client/messaging-client.js';
import type { Envelope } from '../../src/shared/e2ee/index.js';
import { PrekeyBundle, PrekeyStatus } from '../../src/shared/wire/prekeys.js';
import { cleanupAll, eventually, filesUnder } from '../helpers/test-node.js';
import { pairDesktops, waitHomeDevice } from './home-mesh-helpers.js';
import { type NodeProcess, type PairedPhone, pairPhoneWith, requireBuild, startNodeProcess } from './processes.js';
import { LINK_WAIT_MS, receive, startTwoHomes } from './relay-helpers.js';

const WEEK_AND_A_DAY = 8 * 24 * 60 * 60 * 1000;

after(cleanupAll);

async function sendV2(from: MessagingClient, to: string, text: string): Promise<Envelope & { v: 2 }> {
  const env = await from.sealText(to, text);
  assert.equal(env.v, 2, `${text}: sealed on a session`);
  await from.sendEnvelope(env);
  return env as Envelope & { v: 2 };
}

async function texts(client: MessagingClient, count: number): Promise<string[]> {
  return (await receive(client, count)).map((m) => (m.ok ? m.text : `!${m.error}`));
}

/** Rotates the phone's signed prekey (a week on), publishes, and returns the new id. */
async function rotate(phone: PairedPhone, client: MessagingClient, before: number | null): Promise<number> {
  phone.clockSkewMs += WEEK_AND_A_DAY;
  const st = await client.publishPrekeys();
  assert.ok(st && st.signed_prekey_id !== null && st.signed_prekey_id !== before, `a new signed prekey: ${JSON.stringify(st)}`);
  return st.signed_prekey_id;
}

const spkOf = (env: Envelope & { v: 2 }) => env.wraps[0]!.pre?.signed_prekey_id;

function assertNoPlaintext(dirs: string[], secrets: string[]): void {
  for (const dir of dirs)
    for (const f of filesUnder(dir)) {
      const bytes = readFileSync(f);
      for (const s of secrets) assert.ok(!bytes.includes(Buffer.from(s)), `${f} holds "${s}"`);
    }
}

describe('forward-secret sessions on one node (real process)', { timeout: 300_000 }, () => {
  let A: NodeProcess;
  after(() => A?.stop());

  it('phone <-> phone on v2; a signed-prekey rotation in the middle; the old session goes on, a new one uses the new key', async () => {
    requireBuild();
    A = await startNodeProcess({ label: 'node A' });
    const [anna, bo, cai] = [await pairPhoneWith(A, 'Anna'), await pairPhoneWith(A, 'Bo'), await pairPhoneWith(A, 'Cai')];
    const a = anna.secure(A.base);
    const b = bo.secure(A.base);
    const c = cai.secure(A.base);
    const first = await b.publishPrekeys();
    await Promise.all([a.publishPrekeys(), c.publishPrekeys()]);

    const hello = await sendV2(a, bo.deviceId, 'ratchet one');
    assert.equal(spkOf(hello), first?.signed_prekey_id);
    assert.deepEqual(await texts(b, 1), ['ratchet one']);
    await sendV2(b, anna.deviceId, 'ratchet two');
    assert.deepEqual(await texts(a, 1), ['ratchet two']);

    const rotated = await rotate(bo, b, first!.signed_prekey_id);
    // Anna's session was made under the old signed prekey: it goes on (no initial message any more).
    const onOld = await sendV2(a, bo.deviceId, 'ratchet three');
    assert.equal(onOld.wraps[0]!.pre, undefined);
    // Cai starts now: the bundle carries the new signed prekey.
    const fromCai = await sendV2(c, bo.deviceId, 'ratchet four');
    assert.equal(spkOf(fromCai), rotated);
    assert.deepEqual((await texts(b, 2)).sort(), ['ratchet four', 'ratchet three']);
    await sendV2(b, cai.deviceId, 'ratchet five');
    await sendV2(b, anna.deviceId, 'ratchet six');
    assert.deepEqual(await texts(c, 1), ['ratchet five']);
    assert.deepEqual(await texts(a, 1), ['ratchet six']);
    assertNoPlaintext([A.dataDir], ['ratchet one', 'ratchet four', 'ratchet six']);
  });
});

describe('forward-secret sessions across the peer link (real processes)', { timeout: 300_000 }, () => {
  let A: NodeProcess;
  let B: NodeProcess;
  after(() => Promise.all([A?.stop(), B?.stop()]));

  it("A's phone claims B's phone's bundle through A (B answers over the peer link); v2 both ways, with a rotation", async () => {
    requireBuild();
    [A, B] = await Promise.all([startNodeProcess({ label: 'node A' }), startNodeProcess({ label: 'node B' })]);
    const anna = await pairPhoneWith(A, 'Anna');
    const bo = await pairPhoneWith(B, 'Bo');
    await pairDesktops(A, B);
    const a = anna.secure(A.base);
    const b = bo.secure(B.base);
    await Promise.all([a.publishPrekeys(), b.publishPrekeys()]);
    await waitHomeDevice(a, bo.deviceId, B.nodeId, 'lan', "Bo's phone, reachable over the peer link");
    await waitHomeDevice(b, anna.deviceId, A.nodeId, 'lan', "Anna's phone, reachable over the peer link");

    await sendV2(a, bo.deviceId, 'over the link one');
    assert.deepEqual(await texts(b, 1), ['over the link one']);
    await sendV2(b, anna.deviceId, 'over the link two');
    assert.deepEqual(await texts(a, 1), ['over the link two']);

    await rotate(anna, a, (await statusOf(anna, A)).signed_prekey_id);
    await sendV2(b, anna.deviceId, 'over the link three');
    await sendV2(a, bo.deviceId, 'over the link four');
    assert.deepEqual(await texts(a, 1), ['over the link three']);
    assert.deepEqual(await texts(b, 1), ['over the link four']);
    assertNoPlaintext([A.dataDir, B.dataDir], ['over the link one', 'over the link four']);
  });
});

describe('forward-secret sessions between two homes through the cloud (real processes)', { timeout: 300_000 }, () => {
  let stopAll: (() => Promise<unknown>) | undefined;
  after(() => stopAll?.());

  it("a claim for another home's phone is answered by the cloud; v2 both ways; after a rotation a new session uses the new key; linked devices across the homes", async () => {
    const { cloud, A, B, phoneA, phoneB } = await startTwoHomes(['Anna phone', 'Bo phone']);
    stopAll = () => Promise.all([A.stop(), B.stop(), cloud.stop()]);
    const a = phoneA.secure(A.base);
    const b = phoneB.secure(B.base);
    await Promise.all([a.publishPrekeys(), b.publishPrekeys()]);
    // Node B moves a share of Bo's one-time prekeys to the cloud as soon as he published them.
    await eventually(async () => (await statusOf(phoneB, B)).one_time_left < 100, "a share of Bo's prekeys at the cloud", LINK_WAIT_MS);

    await sendV2(a, phoneB.deviceId, 'between homes one');
    assert.deepEqual(await texts(b, 1), ['between homes one']);
    await sendV2(b, phoneA.deviceId, 'between homes two');
    assert.deepEqual(await texts(a, 1), ['between homes two']);

    // Bo rotates; his node passes the new signed prekey to the cloud. A second phone at home A starts then.
    const before = (await statusOf(phoneB, B)).signed_prekey_id;
    const rotated = await rotate(phoneB, b, before);
    const ada = await pairPhoneWith(A, 'Ada tablet');
    const ad = ada.secure(A.base);
    await ad.publishPrekeys();
    await eventually(
      async () => {
        const r = await ada.messaging(A.base).directory(true);
        if (!r.devices.some((d) => d.device_id === phoneB.deviceId)) return false;
        const claim = await claimAs(ada, A, phoneB.deviceId);
        return claim?.signed_prekey.id === rotated;
      },
      "the cloud hands out Bo's new signed prekey",
      LINK_WAIT_MS,
    );
    const fromAda = await sendV2(ad, phoneB.deviceId, 'between homes three');
    assert.equal(spkOf(fromAda), rotated);
    // The session made before the rotation goes on.
    await sendV2(a, phoneB.deviceId, 'between homes four');
    assert.deepEqual((await texts(b, 2)).sort(), ['between homes four', 'between homes three']);
    await sendV2(b, ada.deviceId, 'between homes five');
    assert.deepEqual(await texts(ad, 1), ['between homes five']);

    // Anna links her tablet at home B with her phone (home A), over the cloud; Bo then writes to Anna, the person.
    const tab = await pairPhoneWith(B, 'Anna tablet');
    const t = tab.secure(B.base);
    await t.publishPrekeys();
    await eventually(
      async () => (await a.directory(true)).devices.some((d) => d.device_id === tab.deviceId),
      "Anna's tablet in her phone's directory (through the cloud)",
      LINK_WAIT_MS,
    );
    await a.offerLink(tab.deviceId, 'Anna');
    assert.equal((await receive(t, 1))[0]?.ok && 'offer', 'offer');
    const personId = (await t.people()).find((p) => p.offer_from === phoneA.deviceId)!.person_id;
    await t.answerLinkOffer(personId, true);
    await receive(a, 1); // the join: Anna's phone sends the person key back
    await receive(t, 1);
    assert.equal((await t.people()).find((p) => p.own)?.roster.devices.length, 2, 'the tablet is linked');

    await sendV2(a, phoneB.deviceId, 'between homes, from Anna');
    const [atBo] = await receive(b, 1);
    assert.ok(atBo?.ok && atBo.text === 'between homes, from Anna' && atBo.people_changed);
    const [copy] = await receive(t, 1);
    assert.ok(copy?.ok && copy.text === 'between homes, from Anna', 'the tablet has its copy');
    assert.deepEqual(copy.copy_to, [phoneB.deviceId]);
    const toAnna = await b.sealPersonText(personId, 'between homes, to Anna');
    assert.deepEqual([...toAnna.to].sort(), [phoneA.deviceId, tab.deviceId].sort(), 'one envelope to both of her devices');
    await b.sendEnvelope(toAnna);
    for (const c of [a, t]) assert.deepEqual(await texts(c, 1), ['between homes, to Anna']);
    assertNoPlaintext(
      [A.dataDir, B.dataDir, cloud.dataDir],
      ['between homes one', 'between homes three', 'between homes five', 'between homes, from Anna', 'between homes, to Anna'],
    );
  });
});

async function statusOf(phone: PairedPhone, node: NodeProcess): Promise<PrekeyStatus> {
  const r = await new DeviceClient(node.base, phone.creds).request('GET', '/api/messages/prekeys');
  return PrekeyStatus.parse(r.body);
}

async function claimAs(phone: PairedPhone, node: NodeProcess, deviceId: string): Promise<PrekeyBundle | undefined> {
  const r = await new DeviceClient(node.base, phone.creds).request('POST', `/api/messages/prekeys/${deviceId}/claim`, {});
  return r.status === 200 ? PrekeyBundle.parse(r.body) : undefined;
}
