// A person's roster (src/shared/people/person.ts): signed by the person key, its id the hash of that key. Every
// field is covered by the signature (each one tampered is refused); only a device of the person, or one it
// removed, brings a roster; an older one changes nothing; two made at once resolve the same way everywhere;
// our own person without us in it means we were unlinked (the secret goes).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toBase64Url } from '../../src/shared/encoding.js';
import { PersonError } from '../../src/shared/people/errors.js';
import {
  applyRoster,
  checkRoster,
  isNewer,
  isPersonPayload,
  MAX_KNOWN_PEOPLE,
  MAX_PENDING_OFFERS,
  MAX_PERSON_DEVICES,
  newPerson,
  nextRoster,
  type PersonDevice,
  type PersonRecord,
  type PersonRoster,
  peopleToDrop,
  personIdOf,
  secretMatches,
} from '../../src/shared/people/person.js';
import { generateIdentityKeyPair } from '../../src/shared/ratchet/pqxdh.js';

const device = (id: string): PersonDevice => ({ device_id: id, identity_key: toBase64Url(generateIdentityKeyPair().publicKey) });

function refused(fn: () => unknown, code: string) {
  assert.throws(fn, (err: unknown) => err instanceof PersonError && err.code === code);
}

describe('person rosters', () => {
  test('a new person: its id is its key hash, its roster verifies, its secret is its key', () => {
    const a1 = device('ana-1');
    const { roster, secret } = newPerson(a1, ' Ana ');
    assert.equal(roster.name, 'Ana');
    assert.equal(roster.version, 1);
    assert.deepEqual(roster.devices, [a1]);
    assert.equal(roster.person_id, personIdOf(Buffer.from(roster.person_key, 'base64url')));
    assert.deepEqual(checkRoster(roster), roster);
    assert.equal(secretMatches(roster, secret), true);
    assert.equal(secretMatches(roster, newPerson(a1, 'Ana').secret), false);
  });

  test('every field is signed: each one changed is refused', () => {
    const { roster, secret } = newPerson(device('ana-1'), 'Ana');
    const two = nextRoster(roster, secret, { devices: [...roster.devices, device('ana-2')] });
    const other = newPerson(device('dev-x'), 'X').roster;
    const tampered: [string, PersonRoster][] = [
      ['name', { ...two, name: 'Mallory' }],
      ['version', { ...two, version: 9 }],
      ['a device added', { ...two, devices: [...two.devices, device('dev-x')] }],
      ['a device dropped', { ...two, devices: two.devices.slice(1) }],
      ['a device key swapped', { ...two, devices: [{ ...two.devices[0]!, identity_key: device('dev-y').identity_key }, two.devices[1]!] }],
      ['another person key', { ...two, person_key: other.person_key }],
      ['another id', { ...two, person_id: other.person_id }],
      ['another signature', { ...two, signature: other.signature }],
    ];
    for (const [what, r] of tampered)
      assert.throws(
        () => checkRoster(r),
        (err: unknown) => err instanceof PersonError && err.code === 'person_bad_roster',
        what,
      );
    refused(() => checkRoster(null), 'person_bad_roster');
    refused(() => checkRoster({ ...two, version: 0 }), 'person_bad_roster');
  });

  test('a next roster: one version on, devices sorted, none twice, at most MAX_PERSON_DEVICES', () => {
    const { roster, secret } = newPerson(device('dev-m'), 'Ana');
    const next = nextRoster(roster, secret, { devices: [device('dev-z'), ...roster.devices, device('dev-a')] });
    assert.equal(next.version, 2);
    assert.deepEqual(
      next.devices.map((d) => d.device_id),
      ['dev-a', 'dev-m', 'dev-z'],
    );
    checkRoster(next);
    const twice = device('dev-a');
    refused(() => nextRoster(roster, secret, { devices: [twice, twice] }), 'person_bad_roster');
    const many = Array.from({ length: MAX_PERSON_DEVICES + 1 }, (_, i) => device(`dev-${i}`));
    refused(() => nextRoster(roster, secret, { devices: many }), 'person_too_large');
    refused(() => nextRoster(roster, secret, { name: '' }), 'person_invalid_argument');
  });

  test('two rosters of one version: the same one wins whichever is seen first', () => {
    const { roster, secret } = newPerson(device('dev-a'), 'Ana');
    const b = nextRoster(roster, secret, { devices: [...roster.devices, device('dev-b')] });
    const c = nextRoster(roster, secret, { devices: [...roster.devices, device('dev-c')] });
    assert.equal(b.version, c.version);
    assert.notEqual(isNewer(b, c), isNewer(c, b));
    assert.equal(isNewer(b, b), false);
    assert.equal(isNewer(b, roster), false);
    assert.equal(isNewer(roster, b), true);
  });

  test('applying: from a device of the person (or one it removed); an older one is no change; unlinked, the secret goes', () => {
    const a1 = device('ana-1');
    const a2 = device('ana-2');
    const { roster, secret } = newPerson(a1, 'Ana');
    const v2 = nextRoster(roster, secret, { devices: [a1, a2] });
    const v3 = nextRoster(v2, secret, { devices: [a1] });

    refused(() => applyRoster(undefined, v2, { me: 'ben', from: 'x' }), 'person_not_member');
    const held = applyRoster(undefined, v2, { me: 'ben', from: 'ana-2' })!;
    assert.deepEqual(held, { person_id: v2.person_id, roster: v2 });
    assert.equal(applyRoster(held, v2, { me: 'ben', from: 'ana-1' }), undefined, 'the same roster again');
    assert.equal(applyRoster(held, roster, { me: 'ben', from: 'ana-1' }), undefined, 'an older roster');
    // ana-2 is not in v3, but it was in what Ben holds: the device that was removed may pass it on.
    assert.deepEqual(applyRoster(held, v3, { me: 'ben', from: 'ana-2' })?.roster, v3);
    refused(() => applyRoster(held, newPerson(a1, 'Ana').roster, { me: 'ben', from: 'ana-1' }), 'person_bad_roster');

    const mine = { person_id: v2.person_id, roster: v2, secret, offered_to: ['ana-3'] };
    const left = applyRoster(mine, v3, { me: 'ana-2', from: 'ana-1' })!;
    assert.equal(left.secret, undefined, 'unlinked: the person key is gone');
    assert.equal(left.offered_to, undefined);
    assert.equal(applyRoster(mine, v3, { me: 'ana-1', from: 'ana-1' })!.secret, secret);
  });

  test('bounded whatever others send: one offer per device, at most MAX_PENDING_OFFERS offers and MAX_KNOWN_PEOPLE others', () => {
    const rec = (i: number, extra: Partial<PersonRecord> = {}): PersonRecord => ({
      person_id: `person-${i}`,
      roster: { person_id: `person-${i}` } as PersonRoster,
      seen_at: i,
      ...extra,
    });
    const ids = (list: PersonRecord[]) => list.map((r) => r.person_id).sort();
    // A second offer from the same device replaces its first; an accepted one and our own person stay.
    const held = [rec(1, { offer_from: 'dev-x' }), rec(2, { offer_from: 'dev-x', accepted: true }), rec(3, { secret: 's' })];
    assert.deepEqual(ids(peopleToDrop(held, [rec(9, { offer_from: 'dev-x' })])), ['person-1']);
    // Offers from many devices: the oldest beyond the bound go.
    const offers = Array.from({ length: MAX_PENDING_OFFERS }, (_, i) => rec(i, { offer_from: `dev-${i}` }));
    assert.deepEqual(ids(peopleToDrop(offers, [rec(100, { offer_from: 'dev-new' })])), ['person-0']);
    // Other people's rosters: the least recently seen goes; our own never does, nor the one being written.
    const many = [rec(-1, { secret: 's', seen_at: -1 }), ...Array.from({ length: MAX_KNOWN_PEOPLE }, (_, i) => rec(i))];
    assert.deepEqual(ids(peopleToDrop(many, [rec(MAX_KNOWN_PEOPLE + 5)])), ['person-0']);
    assert.deepEqual(peopleToDrop(many, [rec(0, { seen_at: 99999 })]), [], 'rewriting a held one adds nothing');
  });

  test('linking payloads are told from everything else', () => {
    assert.equal(isPersonPayload({ t: 'person', op: 'offer' }), true);
    assert.equal(isPersonPayload({ t: 'person', op: 'nope' }), false);
    assert.equal(isPersonPayload({ t: 'text', body: 'x' }), false);
    assert.equal(isPersonPayload(undefined), false);
  });
});
