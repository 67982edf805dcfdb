// Linked devices through a real headless node (docs/e2ee.md "Linked devices"): Ana links her two phones as one
// person; what one of them writes goes, in the same envelope, as a copy to the other; Ben learns Ana's roster
// from her message and writes to both of her phones at once (one ratchet message per device). A device that
// is not Ana's cannot put itself into her roster, not with a forged roster, not with a replayed old one, not
// with a person key it was never sent. Unlinking takes a phone out of both fan-outs.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import type { DeviceSessions } from '../../src/shared/device-keys/device-sessions.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { newPerson, nextRoster, type PersonRoster } from '../../src/shared/people/person.js';
import { idOf, keysOf, type Paired, readAll, sessionsFor, withSessions } from '../helpers/session-devices.js';
import { cleanupAll, pairPhone, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

/** Reads (and acks) everything in each inbox, in this order: each step's answers go out before the next reads. */
async function drain(...clients: MessagingClient[]) {
  const out = [];
  for (const c of clients) out.push(await readAll(c));
  return out;
}

const texts = (opened: Awaited<ReturnType<typeof readAll>>) => opened.filter((m) => m.ok && !m.person_update).map((m) => m.ok && m.text);

/** A device that seals whatever plaintext it wants on its own sessions (the attacker's tool). */
async function rawSender(
  p: Paired,
): Promise<{ client: MessagingClient; sessions: DeviceSessions; send: (to: Paired, payload: unknown) => Promise<void> }> {
  const me = keysOf(p);
  const sessions = sessionsFor(me.device_id, me);
  const client = new MessagingClient(p.client, me, '/api/messages', sessions);
  await client.publishPrekeys();
  const claim = async (id: string) => (await p.client.request('POST', `/api/messages/prekeys/${encodeURIComponent(id)}/claim`, {})).body;
  return {
    client,
    sessions,
    send: async (to, payload) => {
      const r = await sessions.seal(
        [{ device_id: idOf(to), identity_key: toBase64Url(to.phone.publicKey) }],
        utf8.encode(JSON.stringify(payload)),
        claim,
      );
      await client.sendEnvelope(r.envelope);
    },
  };
}

describe('linked devices (one person, several devices)', () => {
  test('link, copies to the own other device, a contact writes to every device of the person, unlink', async () => {
    const node = await startTestNode();
    const [pa1, pa2, pb] = [await pairPhone(node), await pairPhone(node), await pairPhone(node)];
    const [a1, a2, b] = [await withSessions(pa1), await withSessions(pa2), await withSessions(pb)];

    // Ana's first phone offers to link the second; nothing is linked before the second one accepts.
    await a1.offerLink(idOf(pa2), 'Ana');
    const [offer] = await drain(a2);
    assert.equal(offer!.length, 1);
    assert.equal(offer![0]!.ok && offer![0]!.person_update, true, 'an offer is nothing to show');
    const offered = (await a2.people()).find((p) => p.offer_from === idOf(pa1));
    assert.ok(offered, 'the second phone holds the offer');
    assert.equal(offered.own, false);
    assert.deepEqual(
      (await a1.people()).find((p) => p.own)?.roster.devices.map((d) => d.device_id),
      [idOf(pa1)],
      'not linked before the answer',
    );

    await a2.answerLinkOffer(offered.person_id, true);
    await drain(a1, a2); // join → the person key for a2 (and the roster)
    for (const c of [a1, a2]) {
      const own = (await c.people()).find((p) => p.own);
      assert.ok(own, 'each phone holds the person as its own');
      assert.equal(own.person_id, offered.person_id);
      assert.deepEqual(own.roster.devices.map((d) => d.device_id).sort(), [idOf(pa1), idOf(pa2)].sort());
      assert.equal(own.roster.name, 'Ana');
    }

    // Ana writes to Ben from her first phone: the second gets a copy, shown as sent to Ben.
    await a1.sendText(idOf(pb), 'Hei Ben');
    const [atBen, atA2] = await drain(b, a2);
    assert.deepEqual(texts(atBen!), ['Hei Ben']);
    assert.equal(atBen![0]!.ok && atBen![0]!.copy_to, undefined, 'for Ben it is a message, not a copy');
    assert.equal(atBen![0]!.ok && atBen![0]!.people_changed, true, "Ben learnt Ana's roster from it");
    assert.deepEqual(texts(atA2!), ['Hei Ben']);
    assert.deepEqual(atA2![0]!.ok && atA2![0]!.copy_to, [idOf(pb)], 'the copy says whom it went to');

    // Ben writes to Ana the person: one envelope, both of her phones open it.
    const ana = (await b.people()).find((p) => p.person_id === offered.person_id);
    assert.ok(ana);
    assert.equal(ana.own, false);
    const env = await b.sealPersonText(ana.person_id, 'Hei Ana');
    assert.deepEqual([...env.to].sort(), [idOf(pa1), idOf(pa2)].sort());
    assert.equal(env.v, 2);
    await b.sendEnvelope(env);
    const [at1, at2] = await drain(a1, a2);
    for (const got of [at1!, at2!]) {
      assert.deepEqual(texts(got), ['Hei Ana']);
      assert.equal(got[0]!.from_device, idOf(pb));
      assert.equal(got[0]!.ok && got[0]!.copy_to, undefined);
    }

    // The second phone leaves: the first is told, Ben learns it with Ana's next message; nothing more reaches it.
    await a2.unlink(idOf(pa2));
    await drain(a1);
    assert.deepEqual(
      (await a1.people()).find((p) => p.own)?.roster.devices.map((d) => d.device_id),
      [idOf(pa1)],
    );
    assert.equal(
      (await a2.people()).some((p) => p.own),
      false,
      'the phone that left holds no person key',
    );
    await a1.sendText(idOf(pb), 'Bare meg nå');
    const [atBen2, atA2b] = await drain(b, a2);
    assert.deepEqual(texts(atBen2!), ['Bare meg nå']);
    assert.deepEqual(atA2b, [], 'no copy to the unlinked phone');
    const after = await b.sealPersonText(ana.person_id, 'Bare deg');
    assert.deepEqual(after.to, [idOf(pa1)], "Ben's next message to Ana goes to her remaining phone only");
  });

  test('a device that got linked with another meanwhile keeps that link when an earlier accepted one completes', async () => {
    const node = await startTestNode();
    const [pa, pb, pd] = [await pairPhone(node), await pairPhone(node), await pairPhone(node)];
    const [a, b, d] = [await withSessions(pa), await withSessions(pb), await withSessions(pd)];
    await a.offerLink(idOf(pb), 'Ana');
    await drain(b);
    const fromA = (await b.people()).find((p) => p.offer_from === idOf(pa))!.person_id;
    await b.answerLinkOffer(fromA, true); // the join goes to A, which is not read yet
    await b.offerLink(idOf(pd), 'Bo');
    await drain(d);
    await d.answerLinkOffer((await d.people()).find((p) => p.offer_from === idOf(pb))!.person_id, true);
    await drain(b, d); // B and D are linked now
    await drain(a); // A takes B's join and sends it the person key
    const [keys] = await drain(b);
    assert.equal(!keys![0]!.ok && keys![0]!.error, 'person_already_linked');
    const own = (await b.people()).find((p) => p.own)!;
    assert.notEqual(own.person_id, fromA);
    assert.deepEqual(own.roster.devices.map((x) => x.device_id).sort(), [idOf(pb), idOf(pd)].sort());
  });

  test('attacks: a forged roster, a replayed older one, keys nobody asked for, an offer in another device’s name', async () => {
    const node = await startTestNode();
    const [pa1, pa2, pb, px] = [await pairPhone(node), await pairPhone(node), await pairPhone(node), await pairPhone(node)];
    const [a1, b] = [await withSessions(pa1), await withSessions(pb)];
    const a2raw = await rawSender(pa2);
    const a2 = a2raw.client;
    const x = await rawSender(px);
    await a1.offerLink(idOf(pa2), 'Ana');
    await drain(a2);
    const pid = (await a2.people())[0]!.person_id;
    await a2.answerLinkOffer(pid, true);
    await drain(a1, a2);
    await a1.sendText(idOf(pb), 'Hei');
    await drain(b, a2);
    const held = (await b.people()).find((p) => p.person_id === pid)!.roster;
    const mallory = { device_id: idOf(px), identity_key: toBase64Url(px.phone.publicKey) };

    // X re-signs Ana's roster with itself in it, with a person key of its own: not Ana's key, refused.
    const own = newPerson(mallory, 'Ana');
    const forged: PersonRoster = nextRoster({ ...held, person_key: own.roster.person_key }, own.secret, {
      devices: [...held.devices, mallory],
    });
    await x.send(pb, { t: 'text', body: 'hi', from_person: { ...forged, person_id: pid } });
    await x.send(pb, { t: 'person', op: 'roster', roster: { ...forged, person_id: pid } });
    await drain(b);
    const still = (await b.people()).find((p) => p.person_id === pid)!.roster;
    assert.deepEqual(still, held, "Ben's copy of Ana's roster is unchanged");
    assert.deepEqual(
      [...(await b.sealPersonText(pid, 'til Ana')).to].sort(),
      [idOf(pa1), idOf(pa2)].sort(),
      'X gets nothing of what Ben writes to Ana',
    );

    // Ana unlinks her second phone; it (or anyone) replays the older roster that still lists it: Ben keeps the newer one.
    await a1.unlink(idOf(pa2));
    await drain(a2);
    await a1.sendText(idOf(pb), 'ny liste');
    await drain(b);
    assert.deepEqual((await b.sealPersonText(pid, 'x')).to, [idOf(pa1)]);
    await a2raw.send(pb, { t: 'text', body: 'gammel', from_person: held });
    const [replayed] = await drain(b);
    assert.equal(replayed![0]!.ok && replayed![0]!.people_changed, undefined, 'an older roster changes nothing');
    assert.deepEqual((await b.sealPersonText(pid, 'x')).to, [idOf(pa1)]);

    // X sends Ben a person key and roster Ben never asked for: refused, Ben stays unlinked.
    const xs = newPerson(mallory, 'X');
    const xr = nextRoster(xs.roster, xs.secret, {
      devices: [mallory, { device_id: idOf(pb), identity_key: toBase64Url(pb.phone.publicKey) }],
    });
    await x.send(pb, { t: 'person', op: 'keys', roster: xr, person_secret: xs.secret });
    const [keys] = await drain(b);
    assert.equal(keys![0]!.ok, false);
    assert.equal(!keys![0]!.ok && keys![0]!.error, 'person_no_offer');
    assert.equal(
      (await b.people()).some((p) => p.own),
      false,
    );

    // X offers Ben to link in Ana's name (her roster, her id): it does not list X, so it is refused.
    await x.send(pb, { t: 'person', op: 'offer', roster: still });
    const [fake] = await drain(b);
    assert.equal(!fake![0]!.ok && fake![0]!.error, 'person_not_member');
    assert.equal((await b.people()).find((p) => p.person_id === pid)?.offer_from, undefined);

    // And a join X was never offered changes nothing at Ana's.
    await x.send(pa1, { t: 'person', op: 'join', person_id: pid });
    const [join] = await drain(a1);
    assert.equal(!join![0]!.ok && join![0]!.error, 'person_no_offer');
    assert.deepEqual(
      (await a1.people()).find((p) => p.own)?.roster.devices.map((d) => d.device_id),
      [idOf(pa1)],
    );
  });
});
