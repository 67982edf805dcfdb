// The home mesh on the LAN test bed, with no cloud: desktops A and B and a phone for each, every one in its own
// network namespace on the bed's private bridge (tests/lan/netns.ts), every one a separate process. A and B pair
// by B's pairing URL; each phone pairs with its desktop by the URL of its QR. Messages go both ways over the
// peer link; then B's link to the bridge is taken down (`ip link set lan0 down` in B's namespace): what A-phone
// sends meanwhile waits on A; once B's link is up again it all reaches B-phone, in order, once.
//
// Skipped with the reason where namespaces cannot be made (see lan-testbed.test.ts); never uses the real
// network. Waits are generous and never assert speed.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminOk, createBed, destroyBed, type HostProc, lanBed, pollUntil, startDesktop } from './bed-session.js';
import { LanProcess } from './child.js';
import { whyNoLanBed } from './netns.js';

const reason = whyNoLanBed();
/** A safety net for each wait, not a speed assertion: a peer link may wait out a reconnect backoff step. */
const LIMIT_MS = 180_000;

interface PhoneSide {
  proc: LanProcess;
  label: string;
  node_id: string;
  public_key: string;
}

const bed = lanBed(!reason);
const desktops: Record<string, HostProc> = {};
const phones: Record<string, PhoneSide> = {};

/** A signed call from a phone to its desktop, over the bed. */
async function call(p: PhoneSide, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return p.proc.send('call', { label: p.label, method, path, ...(body !== undefined ? { body } : {}) });
}

/** Waits for `check` on this bed's time scale (a check that throws, e.g. while a link is down, is retried). */
const eventually = <T>(what: string, check: () => Promise<{ value: T | undefined | false | null; seen?: unknown }>, limitMs = LIMIT_MS) =>
  pollUntil(what, check, { limitMs, retryErrors: true });

/** Seals `texts` on the sending phone and sends them one after the other; returns the envelope ids. */
async function sendTexts(from: PhoneSide, to: PhoneSide, texts: string[]): Promise<{ ids: string[]; answers: any[] }> {
  const ids: string[] = [];
  const answers: any[] = [];
  for (const text of texts) {
    const envelope = await from.proc.send('seal', { label: from.label, to_device: to.node_id, to_public_key: to.public_key, text });
    const r = await call(from, 'POST', '/api/messages', { envelope });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    ids.push(envelope.id);
    answers.push(r.body);
  }
  return { ids, answers };
}

/** Reads the phone's inbox (opening each envelope, acking each page) until `count` arrived. */
async function receiveTexts(p: PhoneSide, from: PhoneSide, count: number): Promise<{ id: string; text: string }[]> {
  const got: { id: string; text: string }[] = [];
  let afterSeq = 0;
  await eventually(`${count} messages at ${p.label}`, async () => {
    for (;;) {
      const page = await call(p, 'GET', `/api/messages/inbox?after=${afterSeq}&limit=500`);
      if (page.status !== 200) return { value: false, seen: page };
      if (page.body.messages.length === 0) break;
      for (const item of page.body.messages) {
        const o = await p.proc.send('open', { label: p.label, envelope: item.envelope, from_public_key: from.public_key });
        got.push({ id: item.envelope.id, text: o.ok ? o.text : `<unopened ${o.error}>` });
      }
      afterSeq = page.body.next_after;
      const ack = await call(p, 'POST', '/api/messages/inbox/ack', { up_to_seq: afterSeq });
      if (ack.status !== 200) return { value: false, seen: ack };
    }
    return { value: got.length >= count, seen: { have: got.length } };
  });
  return got;
}

function assertOnceInOrder(got: { id: string; text: string }[], ids: string[], texts: string[], what: string): void {
  const count = new Map<string, number>();
  for (const g of got) count.set(g.id, (count.get(g.id) ?? 0) + 1);
  assert.deepEqual(
    [...count].filter(([, n]) => n > 1).map(([id]) => id),
    [],
    `${what}: delivered more than once`,
  );
  assert.deepEqual(
    ids.filter((id) => !count.has(id)),
    [],
    `${what}: lost`,
  );
  assert.deepEqual(
    got.map((g) => g.id),
    ids,
    `${what}: out of order (or strangers)`,
  );
  assert.deepEqual(
    got.map((g) => g.text),
    texts,
    `${what}: texts`,
  );
}

async function outboxOf(p: PhoneSide): Promise<Map<string, any>> {
  const r = await call(p, 'GET', '/api/messages/outbox');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return new Map((r.body.messages as any[]).map((m) => [m.id, m]));
}

async function waitAllSeen(p: PhoneSide, ids: string[], route: string): Promise<void> {
  await eventually(`${ids.length} messages of ${p.label} "seen" (route ${route})`, async () => {
    const rows = await outboxOf(p);
    const bad = ids.map((id) => rows.get(id) ?? { id, missing: true }).filter((m) => m.status !== 'seen' || m.route !== route);
    return { value: bad.length === 0, seen: bad.slice(0, 3) };
  });
}

describe('LAN test bed: the home mesh with no cloud (desktops and phones in namespaces)', {
  skip: reason ? `LAN test bed skipped: ${reason}` : false,
  timeout: 15 * 60_000,
}, () => {
  before(async () => {
    createBed(bed, [
      ['a', 11],
      ['b', 12],
      ['pa', 51],
      ['pb', 52],
    ]);
    const start = (role: string, name: string) => startDesktop(bed, role, name, { heartbeatMs: 1000, offlineMs: 8000 });
    [desktops.a, desktops.b] = await Promise.all([start('a', 'Desktop A'), start('b', 'Desktop B')]);
    for (const [role, desk, name] of [
      ['pa', desktops.a, 'Anna phone'],
      ['pb', desktops.b, 'Bo phone'],
    ] as const) {
      const proc = await LanProcess.start(`phone ${role}`, bed.host(role).ns, './phone.ts');
      const installed = await proc.send('install', { label: role, name, platform: 'android' });
      const p = await adminOk(desk, '/auth/pair/start', {});
      const r = await proc.send('pair', { label: role, url: p.url, pin: p.pin });
      assert.equal(r.ok, true, JSON.stringify(r));
      phones[role] = { proc, label: role, node_id: installed.node_id, public_key: installed.public_key };
    }
    // The person types B's pairing URL (its LAN address) and PIN on A.
    const p = await adminOk(desktops.b, '/auth/pair/start', {});
    assert.equal(new URL(p.url).hostname, bed.addr(12), p.url);
    const r = await adminOk(desktops.a, '/api/admin/pair-remote', { url: p.url, pin: p.pin });
    assert.equal(r.node?.node_id, desktops.b.ready.node_id, JSON.stringify(r));
  });

  after(async () => {
    await destroyBed(bed, [...Object.values(desktops), ...Object.values(phones).map((p) => p.proc)]);
  });

  test('messages both ways over the peer link, no cloud: each phone sees the other\'s as "home", route lan, then "seen"', async () => {
    const { pa, pb } = phones as Record<'pa' | 'pb', PhoneSide>;
    for (const [me, other, desk] of [
      [pa, pb, desktops.b!],
      [pb, pa, desktops.a!],
    ] as const) {
      await eventually(`${me.label}'s directory to list ${other.label} at home, route lan`, async () => {
        const r = await call(me, 'GET', '/api/messages/directory');
        const e = (r.body.devices as any[] | undefined)?.find((d) => d.device_id === other.node_id);
        return { value: e?.home === 'home' && e.node_id === desk.ready.node_id && e.route === 'lan', seen: { e, nodes: r.body.nodes } };
      });
    }
    const aTexts = Array.from({ length: 20 }, (_, i) => `a2b-${i}`);
    const bTexts = Array.from({ length: 20 }, (_, i) => `b2a-${i}`);
    const [fromA, fromB] = await Promise.all([sendTexts(pa, pb, aTexts), sendTexts(pb, pa, bTexts)]);
    const [atB, atA] = await Promise.all([receiveTexts(pb, pa, 20), receiveTexts(pa, pb, 20)]);
    assertOnceInOrder(atB, fromA.ids, aTexts, 'A-phone -> B-phone');
    assertOnceInOrder(atA, fromB.ids, bTexts, 'B-phone -> A-phone');
    await Promise.all([waitAllSeen(pa, fromA.ids, 'lan'), waitAllSeen(pb, fromB.ids, 'lan')]);
  });

  test("B's link to the bridge goes down: A-phone's messages wait on A; back up, they reach B-phone in order, once", async () => {
    const { pa, pb } = phones as Record<'pa' | 'pb', PhoneSide>;
    bed.linkDown('b');
    try {
      const texts = Array.from({ length: 30 }, (_, i) => `while-down-${i}`);
      const sent = await sendTexts(pa, pb, texts);
      for (const ans of sent.answers)
        assert.ok(['queued', 'sent'].includes(ans.status), `B is unreachable, so not delivered: ${JSON.stringify(ans)}`);
      // However long they wait, nothing can be delivered while B has no link (it is not a timing check: B
      // cannot be reached at all, so "delivered" would be a lie).
      await new Promise((r) => setTimeout(r, 3000));
      const rows = await outboxOf(pa);
      const early = sent.ids.map((id) => rows.get(id)).filter((m) => !m || !['queued', 'sent'].includes(m.status));
      assert.deepEqual(early, [], 'still waiting on A while B is cut off');

      bed.linkUp('b');
      const got = await receiveTexts(pb, pa, texts.length);
      assertOnceInOrder(got, sent.ids, texts, "after B's link came back");
      await waitAllSeen(pa, sent.ids, 'lan');
      const again = await call(pb, 'GET', '/api/messages/inbox?after=0&limit=500');
      assert.deepEqual(
        again.body.messages.map((m: any) => m.envelope.id),
        [],
        'nothing more arrived (no second copy)',
      );
    } finally {
      bed.linkUp('b'); // idempotent; a failed assertion above must not leave B cut off for teardown
    }
  });
});
