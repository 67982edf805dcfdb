// The LAN test bed: desktop A, desktop B, a phone and (for the blocked-mDNS case) desktop C, each in
// its own network namespace, plugged by veth pairs into a private bridge that lives in a namespace of its own
// (tests/lan/netns.ts). Every node is a separate process started with `ip netns exec` (host-node.ts, phone.ts);
// nothing touches the machine's real interfaces or routes, and no multicast ever reaches a real network.
//
// The scenarios run in order and share the bed, as a person's devices would share one home network; each one
// that needs an earlier result (A and B paired, the phone paired) makes it itself if the earlier test failed,
// so one failure does not hide the others. Waits are generous and never assert speed.
//
// Where namespaces cannot be made (not Linux, not root / no CAP_SYS_ADMIN, no `ip`), the whole file is skipped
// with the reason; it never falls back to the real network. Teardown always runs (after(), process exit and
// signals), and namespaces left by an earlier crashed run are removed first.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminOk, createBed, destroyBed, type HostProc, lanBed, pollUntil, startDesktop as startBedDesktop } from './bed-session.js';
import { LanProcess } from './child.js';
import { whyNoLanBed } from './netns.js';

const reason = whyNoLanBed();

/** Short heartbeats so an address change heals within seconds; presence thresholds to match. */
const HEARTBEAT_MS = 1_000;
const OFFLINE_MS = 8_000;
/** A safety net for each wait, not a speed assertion: far above what any of these needs on a quiet machine. */
const LIMIT_MS = 90_000;

const bed = lanBed(!reason);
const procs: Record<string, HostProc> = {};
let phone: LanProcess;

async function startDesktop(role: string, name: string): Promise<HostProc> {
  const p = await startBedDesktop(bed, role, name, { heartbeatMs: HEARTBEAT_MS, offlineMs: OFFLINE_MS });
  procs[role] = p;
  return p;
}

const state = (p: HostProc) => adminOk(p, '/api/admin/state');
const device = (s: any, nodeId: string) => (s.devices as any[]).find((d) => d.node_id === nodeId);
const discovered = (s: any, nodeId: string) => (s.discovered as any[]).find((d) => d.node_id === nodeId);

/** Waits for `check` on this bed's time scale. */
const eventually = <T>(what: string, check: () => Promise<{ value: T | undefined | false | null; seen?: unknown }>, limitMs = LIMIT_MS) =>
  pollUntil(what, check, { limitMs, retryErrors: false });

/** A and B paired with each other: by scenario 1 if it worked, otherwise here by URL (no mDNS needed). */
async function ensureABPaired(): Promise<void> {
  const { a, b } = procs as { a: HostProc; b: HostProc };
  if (device(await state(a), b.ready.node_id) && device(await state(b), a.ready.node_id)) return;
  const p = await adminOk(b, '/auth/pair/start', {});
  const r = await adminOk(a, '/api/admin/pair-remote', { url: p.url, pin: p.pin });
  assert.equal(r.node?.node_id, b.ready.node_id, JSON.stringify(r));
}

let firstPhone: { label: string; node_id: string } | undefined;

/** The phone paired with A: by scenario 2 if it worked, otherwise here. */
async function ensurePhonePaired(): Promise<{ label: string; node_id: string }> {
  if (firstPhone) return firstPhone;
  const a = procs.a!;
  const installed = await phone.send('install', { label: 'first', name: 'LAN Phone', platform: 'android' });
  const p = await adminOk(a, '/auth/pair/start', {});
  const r = await phone.send('pair', { label: 'first', url: p.url, pin: p.pin });
  assert.equal(r.ok, true, JSON.stringify(r));
  firstPhone = { label: 'first', node_id: installed.node_id };
  return firstPhone;
}

describe('LAN test bed: desktops and a phone in network namespaces on a private bridge', {
  skip: reason ? `LAN test bed skipped: ${reason}` : false,
  timeout: 15 * 60_000,
}, () => {
  before(async () => {
    createBed(bed, [
      ['a', 11],
      ['b', 12],
      ['c', 13],
      ['phone', 50],
    ]);
    // Desktop C sits behind "AP isolation": no multicast to or from it, unicast fine.
    bed.blockMulticast('c');
    const [a, b] = await Promise.all([startDesktop('a', 'Desktop A'), startDesktop('b', 'Desktop B')]);
    assert.notEqual(a.ready.node_id, b.ready.node_id);
    phone = await LanProcess.start('phone', bed.host('phone').ns, './phone.ts');
  });

  after(async () => {
    await destroyBed(bed, [...Object.values(procs), ...(phone ? [phone] : [])]);
  });

  test('A and B find each other by mDNS and pair by linking code + PIN, the short code confirmed on both', async () => {
    const { a, b } = procs as { a: HostProc; b: HostProc };
    const bSeen = await eventually('A to discover B by mDNS', async () => {
      const s = await state(a);
      return { value: discovered(s, b.ready.node_id), seen: s.discovered };
    });
    const aSeen = await eventually('B to discover A by mDNS', async () => {
      const s = await state(b);
      return { value: discovered(s, a.ready.node_id), seen: s.discovered };
    });
    assert.equal(bSeen.fingerprint, b.ready.fingerprint, "the TXT fingerprint is B's");
    assert.equal(bSeen.port, 6969);
    assert.equal(bSeen.paired, false);
    assert.ok(bSeen.addresses.includes(bed.addr(12)), `A sees B at ${bSeen.addresses}`);
    assert.ok(aSeen.addresses.includes(bed.addr(11)), `B sees A at ${aSeen.addresses}`);

    // B shows a linking code and PIN; the person types them on A, which pairs with the address mDNS gave.
    const p = await adminOk(b, '/auth/pair/start', {});
    const r = await adminOk(a, '/api/admin/pair-remote', {
      host: bed.onSubnet(bSeen.addresses)[0],
      port: bSeen.port,
      linking_code: p.linking_code,
      fingerprint: bSeen.fingerprint,
      pin: p.pin,
    });
    const mine = r.pending;
    assert.ok(mine, `not paired before the codes are compared: ${JSON.stringify(r)}`);
    assert.match(mine.sas, /^\d{6}$/);
    const theirs = await eventually('B to show the pending pairing', async () => {
      const s = await state(b);
      return { value: (s.pending_pairings as any[]).find((x) => x.node_id === a.ready.node_id), seen: s.pending_pairings };
    });
    assert.equal(theirs.sas, mine.sas, 'both screens show the same verification code');
    assert.equal(device(await state(a), b.ready.node_id), undefined, 'A adds B only once the person confirms');

    await adminOk(b, `/api/admin/pairings/${theirs.pairing_id}/confirm`, {});
    await adminOk(a, `/api/admin/pairings/${mine.pairing_id}/confirm`, {});
    const aSide = device(await state(a), b.ready.node_id);
    const bSide = device(await state(b), a.ready.node_id);
    assert.ok(aSide, 'A has B');
    assert.ok(bSide, 'B has A');
    assert.equal(aSide.kind, 'desktop');
    assert.equal(aSide.fingerprint, b.ready.fingerprint);
    assert.ok(aSide.addresses.includes(bed.addr(12)), `A knows B at ${aSide.addresses}`);
    assert.equal(bSide.public_key, a.ready.public_key);
    await eventually("A's mDNS list to mark B as paired", async () => {
      const s = await state(a);
      return { value: discovered(s, b.ready.node_id)?.paired === true, seen: discovered(s, b.ready.node_id) };
    });
  });

  test("the phone pairs with A by the URL of A's QR, on A's LAN address", async () => {
    const a = procs.a!;
    const installed = await phone.send('install', { label: 'first', name: 'LAN Phone', platform: 'android' });
    const p = await adminOk(a, '/auth/pair/start', {});
    assert.equal(new URL(p.url).hostname, bed.addr(11), `the QR names A's address on the LAN: ${p.url}`);
    const r = await phone.send('pair', { label: 'first', url: p.url, pin: p.pin });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.desktop.node_id, a.ready.node_id);
    firstPhone = { label: 'first', node_id: installed.node_id };

    const me = await phone.send('call', { label: 'first', method: 'GET', path: '/api/session' });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.node_id, installed.node_id);
    const row = device(await state(a), installed.node_id);
    assert.ok(row, 'A lists the phone');
    assert.equal(row.kind, 'phone');
    assert.equal(row.status, 'online');
    assert.ok(row.addresses.includes(bed.addr(50)), `A saw the phone at ${row.addresses}`);
  });

  test("A gets a second interface and advertises it: B's mDNS entry for A, the QR candidates and /api/node/addresses list it", async () => {
    const { a, b } = procs as { a: HostProc; b: HostProc };
    const second = bed.addr(111);
    bed.addInterface('a', 'lan1', second);

    // A re-publishes on both interfaces. Each mDNS answer carries only the address of the interface it went out
    // on (RFC 6762 §6.2), and B's browser keeps the addresses of the first answer it heard, so B's entry lists
    // one of A's two addresses; the other reaches B through A's announce and heartbeat bodies.
    const entry = await eventually("B's discovered entry for A after A re-published", async () => {
      const s = await state(b);
      const d = discovered(s, a.ready.node_id);
      return { value: d?.addresses.some((x: string) => x === second || x === bed.addr(11)) ? d : undefined, seen: d };
    });
    assert.ok(
      entry.addresses.every((x: string) => !x.toLowerCase().startsWith('fe80:')),
      `no zone-less link-local: ${entry.addresses}`,
    );

    // Offered once A reached itself on it (its interface poll and self-check), not as soon as it appears.
    const mine = await eventually('A to list lan1 as an advertised LAN interface', async () => {
      const s = await state(a);
      return { value: (s.lan_addresses as any[]).find((l) => l.address === second && l.advertised), seen: s.lan_addresses };
    });
    assert.equal(mine.interface, 'lan1');
    assert.equal(mine.kind, 'lan');
    assert.equal(mine.advertised, true);

    const p = await adminOk(a, '/auth/pair/start', {});
    assert.ok(
      p.candidate_urls.includes(`http://${second}:6969`) || p.candidate_urls.some((u: string) => new URL(u).hostname === second),
      `candidate_urls: ${p.candidate_urls}`,
    );
    assert.ok(
      p.candidate_urls.some((u: string) => new URL(u).hostname === bed.addr(11)),
      `candidate_urls: ${p.candidate_urls}`,
    );

    // The phone page asks the node it reached (through the first address) for every other way to reach it.
    const urls = await phone.send('get', { url: `http://${bed.addr(11)}:6969/api/node/addresses` });
    assert.equal(urls.status, 200, JSON.stringify(urls.body));
    assert.ok(urls.body.urls.includes(`http://${second}:6969`), `urls: ${JSON.stringify(urls.body)}`);
    // And the new address really reaches A, from another host.
    const viaSecond = await b.send('get', { url: `http://${second}:6969/api/node/identity` });
    assert.equal(viaSecond.body.node_id, a.ready.node_id);
  });

  test("B's address changes and A reaches B again after the next heartbeat, without re-pairing", async () => {
    const { a, b } = procs as { a: HostProc; b: HostProc };
    await ensureABPaired();
    const oldAddr = bed.addr(12);
    const newAddr = bed.addr(22);
    await eventually('A to have heard from B at its first address', async () => {
      const d = device(await state(a), b.ready.node_id);
      return { value: d?.status === 'online' && d.addresses.includes(oldAddr), seen: d };
    });

    const changedAt = Date.now();
    bed.changeAddress('b', 'lan0', newAddr);
    const unreachable = await a.send('get', { url: `http://${oldAddr}:6969/api/node/identity`, timeout_ms: 8_000 }).then(
      () => false,
      () => true,
    );
    assert.ok(unreachable, 'the old address no longer answers (the bed really moved B)');

    await eventually("A to learn B's new address", async () => {
      const d = device(await state(a), b.ready.node_id);
      return { value: d?.addresses.includes(newAddr), seen: d };
    });
    // A heartbeat B accepted after the move can only have come to the new address.
    await eventually('a heartbeat from A to reach B at its new address', async () => {
      const d = device(await state(b), a.ready.node_id);
      return {
        value: d?.last_seen && Date.parse(d.last_seen) > changedAt + HEARTBEAT_MS,
        seen: { d, changedAt: new Date(changedAt).toISOString() },
      };
    });
    const aSide = await eventually('A to show B online', async () => {
      const d = device(await state(a), b.ready.node_id);
      return { value: d?.status === 'online' ? d : undefined, seen: d };
    });
    assert.equal(aSide.addresses[0], newAddr, `the address that works comes first: ${aSide.addresses}`);
    assert.equal((await state(a)).devices.filter((d: any) => d.node_id === b.ready.node_id).length, 1, 'still one row for B');
  });

  test("with mDNS blocked between A and C, pairing by C's address (its pairing URL) still works", async () => {
    const a = procs.a!;
    const c = await startDesktop('c', 'Desktop C');
    // C announces at start; give that ample time to (not) arrive, and check the bed blocks it both ways.
    await new Promise((r) => setTimeout(r, 8_000));
    assert.equal(discovered(await state(a), c.ready.node_id), undefined, 'A must not see C by mDNS (blocked)');
    assert.equal(discovered(await state(c), a.ready.node_id), undefined, 'C must not see A by mDNS (blocked)');

    const p = await adminOk(c, '/auth/pair/start', {});
    assert.equal(new URL(p.url).hostname, bed.addr(13), `C's URL names its LAN address: ${p.url}`);
    const r = await adminOk(a, '/api/admin/pair-remote', { url: p.url, pin: p.pin });
    assert.equal(r.node?.node_id, c.ready.node_id, JSON.stringify(r));
    assert.ok(device(await state(c), a.ready.node_id), 'C has A');
    const aSide = device(await state(a), c.ready.node_id);
    assert.ok(aSide?.addresses.includes(bed.addr(13)), `A knows C at ${aSide?.addresses}`);
    // And the link keeps working without mDNS: A's heartbeats reach C.
    const pairedAt = Date.now();
    await eventually('a heartbeat from A to reach C', async () => {
      const d = device(await state(c), a.ready.node_id);
      return { value: d?.last_seen && Date.parse(d.last_seen) > pairedAt, seen: d };
    });
  });

  test('the phone is reinstalled (new identity, same name) and pairs again: one row, the old session revoked', async () => {
    const a = procs.a!;
    const old = await ensurePhonePaired();
    assert.equal((await phone.send('call', { label: old.label, method: 'POST', path: '/api/node/heartbeat', body: {} })).status, 200);

    const fresh = await phone.send('install', { label: 'reinstalled', name: 'LAN Phone', platform: 'android' });
    assert.notEqual(fresh.node_id, old.node_id);
    const p = await adminOk(a, '/auth/pair/start', {});
    const r = await phone.send('pair', { label: 'reinstalled', url: p.url, pin: p.pin });
    assert.equal(r.ok, true, `pairing again after a reinstall must work: ${JSON.stringify(r)}`);

    const s = await state(a);
    const phones = (s.devices as any[]).filter((d) => d.kind === 'phone');
    assert.deepEqual(
      phones.map((d) => d.node_id),
      [fresh.node_id],
      `exactly one row for the phone: ${JSON.stringify(phones.map((d) => [d.node_id, d.name]))}`,
    );
    assert.equal(phones[0].name, 'LAN Phone');

    const stale = await phone.send('call', { label: old.label, method: 'POST', path: '/api/node/heartbeat', body: {} });
    assert.equal(stale.status, 401, JSON.stringify(stale.body));
    assert.equal(stale.body.error, 'session_revoked');
    const now = await phone.send('call', { label: 'reinstalled', method: 'POST', path: '/api/node/heartbeat', body: {} });
    assert.equal(now.status, 200, JSON.stringify(now.body));

    const note = (s.notices as any[] | undefined)?.find((n) => n.type === 'device_replaced' && n.new_node_id === fresh.node_id);
    assert.ok(note, `a device_replaced notice for the UI: ${JSON.stringify(s.notices)}`);
    assert.equal(note.old_node_id, old.node_id);
    assert.equal(note.name, 'LAN Phone');
  });
});
