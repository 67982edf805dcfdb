// A property of device-pair sessions (src/shared/ratchet/session.ts, PQXDH + Double Ratchet) with three
// devices: a random interleaving of sends between any two of them (so sessions start from claimed bundles, also
// from both sides at once), and on the wire deliveries in any order, drops and duplicates. Every message not
// dropped opens exactly once to what was sent; every duplicate is refused as ratchet_duplicate and changes
// nothing; a one-time prekey is handed out once and gone after use, so later sessions fall back to none.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RatchetWrap } from '../../src/shared/e2ee/schema.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { RatchetError } from '../../src/shared/ratchet/errors.js';
import {
  generateIdentityKeyPair,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  type OneTimePrekeyPair,
  publicBundle,
  type ResponderKeys,
} from '../../src/shared/ratchet/pqxdh.js';
import { openOnSession, type SessionRecord, sealOnSession, startSession } from '../../src/shared/ratchet/session.js';
import { ratchetStateToJson } from '../../src/shared/ratchet/state.js';

const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];
const AD = utf8.encode('wrap-ad');

/** One device's keys (made once: ML-KEM key generation is the slow part) with fresh session records per run. */
function makeDevice(name: Name) {
  const identity = generateIdentityKeyPair();
  const spk = makeSignedPrekey(identity, 1);
  const kem = makeKemPrekey(identity, 1, { lastResort: true });
  return { name, identity, spk, kem, otks: makeOneTimePrekeys(1, 2) };
}
const DEVICES = Object.fromEntries(NAMES.map((n) => [n, makeDevice(n)])) as Record<Name, ReturnType<typeof makeDevice>>;

interface Run {
  records: Map<string, SessionRecord>;
  /** One-time prekeys not yet claimed (the directory's share) and not yet used (the device's own). */
  unclaimed: Map<Name, OneTimePrekeyPair[]>;
  unused: Map<Name, Set<number>>;
  claimedIds: string[];
}

const key = (at: Name, peer: Name) => `${at}>${peer}`;

function responderKeys(run: Run, name: Name): ResponderKeys {
  const d = DEVICES[name];
  return {
    identity: d.identity,
    signedPrekey: (id) => (id === d.spk.id ? d.spk : undefined),
    kemPrekey: (id) => (id === d.kem.id ? d.kem : undefined),
    oneTimePrekey: (id) => (run.unused.get(name)?.has(id) ? d.otks.find((k) => k.id === id) : undefined),
  };
}

/** The directory's claim: each one-time prekey once, then a bundle without one. */
function claim(run: Run, name: Name) {
  const d = DEVICES[name];
  const otk = run.unclaimed.get(name)?.shift();
  if (otk) run.claimedIds.push(`${name}:${otk.id}`);
  return publicBundle(d.identity, d.spk, d.kem, otk);
}

function seal(run: Run, from: Name, to: Name, text: string): RatchetWrap {
  const held = run.records.get(key(from, to));
  const record = held ?? { current: startSession(DEVICES[from].identity, to, claim(run, to)), archived: [] };
  const r = sealOnSession(record.current, utf8.encode(text), AD);
  run.records.set(key(from, to), { ...record, current: r.session });
  return r.wrap;
}

type Wire = { from: Name; to: Name; wrap: RatchetWrap; text: string };
type Step = { kind: 'send'; from: number; to: number } | { kind: 'deliver' | 'drop' | 'duplicate'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.nat(2), to: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
);

const recordJson = (r: SessionRecord | undefined) =>
  JSON.stringify(r ? [r.current, ...r.archived].map((s) => [s.id, ratchetStateToJson(s.ratchet), s.pending !== undefined]) : null);

test('three devices, random interleavings: each message not dropped opens once; duplicates refused unchanged', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 40 }), (steps, finalOrder) => {
      const run: Run = {
        records: new Map(),
        unclaimed: new Map(NAMES.map((n) => [n, [...DEVICES[n].otks]])),
        unused: new Map(NAMES.map((n) => [n, new Set(DEVICES[n].otks.map((k) => k.id))])),
        claimedIds: [],
      };
      const inFlight: Wire[] = [];
      const done: Wire[] = [];
      let counter = 0;

      const deliver = (w: Wire) => {
        const r = openOnSession(run.records.get(key(w.to, w.from)), w.from, w.wrap, AD, responderKeys(run, w.to));
        assert.equal(utf8.decode(r.plaintext), w.text);
        run.records.set(key(w.to, w.from), r.record);
        // The device deletes a one-time prekey once a session used it: it can never start a second one.
        if (r.started?.oneTimePrekeyId !== undefined) {
          assert.ok(run.unused.get(w.to)?.delete(r.started.oneTimePrekeyId), 'a one-time prekey used twice');
        }
        done.push(w);
      };
      const redeliver = (w: Wire) => {
        const before = recordJson(run.records.get(key(w.to, w.from)));
        assert.throws(
          () => openOnSession(run.records.get(key(w.to, w.from)), w.from, w.wrap, AD, responderKeys(run, w.to)),
          (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_duplicate',
        );
        assert.equal(recordJson(run.records.get(key(w.to, w.from))), before);
      };

      for (const s of steps) {
        if (s.kind === 'send') {
          const from = NAMES[s.from] as Name;
          const others = NAMES.filter((n) => n !== from);
          const to = others[s.to] as Name;
          const text = `m${counter++} ${from}>${to}`;
          inFlight.push({ from, to, wrap: seal(run, from, to, text), text });
        } else if (s.kind === 'deliver' && inFlight.length > 0) {
          deliver(inFlight.splice(s.pick % inFlight.length, 1)[0] as Wire);
        } else if (s.kind === 'drop' && inFlight.length > 0) {
          inFlight.splice(s.pick % inFlight.length, 1);
        } else if (s.kind === 'duplicate' && done.length > 0) {
          redeliver(done[s.pick % done.length] as Wire);
        }
      }
      for (const p of finalOrder) if (inFlight.length > 0) deliver(inFlight.splice(p % inFlight.length, 1)[0] as Wire);
      while (inFlight.length > 0) deliver(inFlight.shift() as Wire);
      for (const w of done) redeliver(w);
      assert.equal(new Set(run.claimedIds).size, run.claimedIds.length, 'a one-time prekey claimed twice');
    }),
    { numRuns: 60 },
  );
});

test('the directory hands each one-time prekey out once, then bundles without one', () => {
  const run: Run = {
    records: new Map(),
    unclaimed: new Map(NAMES.map((n) => [n, [...DEVICES[n].otks]])),
    unused: new Map(),
    claimedIds: [],
  };
  const got = [claim(run, 'a'), claim(run, 'a'), claim(run, 'a')].map((b) => b.one_time_prekey?.public);
  assert.deepEqual(got, [...DEVICES.a.otks.map((k) => toBase64Url(k.keyPair.publicKey)), undefined], 'two one-time prekeys, then none');
});
