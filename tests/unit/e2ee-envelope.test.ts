// E2EE envelope (src/shared/e2ee, docs/e2ee.md): round trips, who can open, tampering of every field,
// what a recipient can and cannot forge, typed errors, and a known-answer test recomputed with node:crypto.

import assert from 'node:assert/strict';
import { createCipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  contentAd,
  contentDigest,
  E2eeError,
  type E2eeErrorCode,
  type EnvelopeV1 as Envelope,
  keyCommitment,
  MAX_ENVELOPE_JSON_BYTES,
  MAX_PLAINTEXT_BYTES,
  MAX_RECIPIENTS,
  open,
  parseEnvelope,
  seal,
  wrapAd,
  wrapKey,
} from '../../src/shared/e2ee/index.js';
import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../../src/shared/encoding.js';

function device(id: string, seed?: number) {
  const privateKey = seed === undefined ? x25519.utils.randomSecretKey() : new Uint8Array(32).fill(seed);
  return { device_id: id, privateKey, publicKey: x25519.getPublicKey(privateKey) };
}
const pub = (d: { device_id: string; publicKey: Uint8Array }) => ({ device_id: d.device_id, publicKey: d.publicKey });

const alice = device('phone-alice');
const bob = device('phone-bob');
const carol = device('phone-carol');
const dave = device('phone-dave');
const mallory = device('phone-mallory');
const msg = utf8.encode('hello from A, through two nodes and a cloud');

function expectCode(fn: () => unknown, code: E2eeErrorCode) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof E2eeError, `expected E2eeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}
const clone = (e: Envelope): Envelope => JSON.parse(JSON.stringify(e));
const flipB64 = (text: string, byte = 0, bit = 0) => {
  const b = fromBase64Url(text).slice();
  b[byte]! ^= 1 << bit;
  return toBase64Url(b);
};

test('round trip to one recipient; envelope has only the public fields', () => {
  const env = seal(msg, { from: alice, to: [pub(bob)] });
  assert.deepEqual(Object.keys(env).sort(), ['ciphertext', 'from_device', 'header', 'id', 'sent_at', 'to', 'v']);
  assert.deepEqual(Object.keys(env.header).sort(), ['epk', 'kc', 'wraps']);
  assert.equal(env.v, 1);
  assert.match(env.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  assert.deepEqual(env.to, ['phone-bob']);
  assert.ok(Math.abs(Date.parse(env.sent_at) - Date.now()) < 5_000);
  assert.deepEqual(parseEnvelope(JSON.parse(JSON.stringify(env))), env);
  assert.deepEqual(open(JSON.parse(JSON.stringify(env)), { me: bob, senderPublicKey: alice.publicKey }), msg);
  // The plaintext is not visible in the JSON.
  assert.ok(!JSON.stringify(env).includes('hello'));
});

test('round trip to three recipients (given unsorted; to is sorted), and empty plaintext', () => {
  const env = seal(msg, { from: alice, to: [pub(dave), pub(bob), pub(carol)] });
  assert.deepEqual(env.to, ['phone-bob', 'phone-carol', 'phone-dave']);
  assert.equal(env.header.wraps.length, 3);
  for (const r of [bob, carol, dave]) assert.deepEqual(open(env, { me: r, senderPublicKey: alice.publicKey }), msg);
  const empty = seal(new Uint8Array(0), { from: alice, to: [pub(bob)] });
  assert.deepEqual(open(empty, { me: bob, senderPublicKey: alice.publicKey }), new Uint8Array(0));
  // The sender may include its own device (a "sent" copy).
  const self = seal(msg, { from: alice, to: [pub(alice), pub(bob)] });
  assert.deepEqual(open(self, { me: alice, senderPublicKey: alice.publicKey }), msg);
});

test('ids are unique and time-ordered uuidv7s', () => {
  const ids = Array.from({ length: 50 }, () => seal(msg, { from: alice, to: [pub(bob)] }).id);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});

test('a non-recipient cannot open: not_a_recipient; pretending to be a recipient: decrypt_failed', () => {
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  expectCode(() => open(env, { me: mallory, senderPublicKey: alice.publicKey }), 'not_a_recipient');
  // Mallory claims Bob's device id with her own keys: the wrap for Bob does not open.
  expectCode(() => open(env, { me: { ...mallory, device_id: 'phone-bob' }, senderPublicKey: alice.publicKey }), 'decrypt_failed');
  // Bob's key used under Carol's id (wrong slot) fails too.
  expectCode(() => open(env, { me: { ...bob, device_id: 'phone-carol' }, senderPublicKey: alice.publicKey }), 'decrypt_failed');
});

test('wrong claimed sender key fails (sender authentication)', () => {
  const env = seal(msg, { from: alice, to: [pub(bob)] });
  expectCode(() => open(env, { me: bob, senderPublicKey: mallory.publicKey }), 'decrypt_failed');
  // Mallory seals under Alice's device id with her own static key: Bob, who knows Alice's key, rejects it.
  const forged = seal(msg, { from: { ...mallory, device_id: 'phone-alice' }, to: [pub(bob)] });
  expectCode(() => open(forged, { me: bob, senderPublicKey: alice.publicKey }), 'decrypt_failed');
});

test('every field tampered fails', () => {
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const opens = (e: unknown) => open(e, { me: bob, senderPublicKey: alice.publicKey });
  assert.deepEqual(opens(env), msg);
  const other = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const mutations: Array<[string, (e: Envelope) => void, E2eeErrorCode]> = [
    [
      'id',
      (e) => {
        e.id = other.id;
      },
      'decrypt_failed',
    ],
    [
      'id last hex digit',
      (e) => {
        e.id = e.id.slice(0, -1) + (e.id.endsWith('0') ? '1' : '0');
      },
      'decrypt_failed',
    ],
    [
      'from_device',
      (e) => {
        e.from_device = 'phone-carol';
      },
      'decrypt_failed',
    ],
    [
      'to reordered',
      (e) => {
        e.to.reverse();
        e.header.wraps.reverse();
      },
      'malformed',
    ],
    [
      'to reordered, wraps kept',
      (e) => {
        e.to.reverse();
      },
      'malformed',
    ],
    [
      'to extended (+wrap copy)',
      (e) => {
        e.to.push('phone-zed');
        e.header.wraps.push(e.header.wraps[0]!);
      },
      'decrypt_failed',
    ],
    [
      'to shrunk to bob only',
      (e) => {
        e.to = ['phone-bob'];
        e.header.wraps = [e.header.wraps[0]!];
      },
      'decrypt_failed',
    ],
    [
      'to: carol replaced by dave',
      (e) => {
        e.to[1] = 'phone-dave';
      },
      'decrypt_failed',
    ],
    [
      'sent_at +1 ms',
      (e) => {
        e.sent_at = new Date(Date.parse(e.sent_at) + 1).toISOString();
      },
      'decrypt_failed',
    ],
    [
      'header.epk bit',
      (e) => {
        e.header.epk = flipB64(e.header.epk, 5, 3);
      },
      'decrypt_failed',
    ],
    [
      'header.kc bit',
      (e) => {
        e.header.kc = flipB64(e.header.kc, 31, 0);
      },
      'decrypt_failed',
    ],
    [
      'header.kc from another envelope',
      (e) => {
        e.header.kc = other.header.kc;
      },
      'decrypt_failed',
    ],
    [
      'header.epk from another envelope',
      (e) => {
        e.header.epk = other.header.epk;
      },
      'decrypt_failed',
    ],
    [
      'header wrap first byte',
      (e) => {
        e.header.wraps[0] = flipB64(e.header.wraps[0]!, 0, 0);
      },
      'decrypt_failed',
    ],
    [
      'header wrap tag byte',
      (e) => {
        e.header.wraps[0] = flipB64(e.header.wraps[0]!, 47, 7);
      },
      'decrypt_failed',
    ],
    [
      'header wrap from another envelope',
      (e) => {
        e.header.wraps[0] = other.header.wraps[0]!;
      },
      'decrypt_failed',
    ],
    [
      'wraps swapped',
      (e) => {
        e.header.wraps.reverse();
      },
      'decrypt_failed',
    ],
    [
      'ciphertext first bit',
      (e) => {
        e.ciphertext = flipB64(e.ciphertext, 0, 0);
      },
      'decrypt_failed',
    ],
    [
      'ciphertext tag bit',
      (e) => {
        const n = fromBase64Url(e.ciphertext).length;
        e.ciphertext = flipB64(e.ciphertext, n - 1, 7);
      },
      'decrypt_failed',
    ],
    [
      'ciphertext truncated',
      (e) => {
        e.ciphertext = toBase64Url(fromBase64Url(e.ciphertext).subarray(0, -1));
      },
      'decrypt_failed',
    ],
    [
      'ciphertext from another envelope',
      (e) => {
        e.ciphertext = other.ciphertext;
      },
      'decrypt_failed',
    ],
    [
      'v',
      (e) => {
        (e as { v: number }).v = 4;
      },
      'version_unsupported',
    ],
    [
      'v 2 with the fields of v1',
      (e) => {
        (e as { v: number }).v = 2;
      },
      'malformed',
    ],
  ];
  for (const [name, mutate, code] of mutations) {
    const e = clone(env);
    mutate(e);
    assert.notDeepEqual(e, env, name);
    expectCode(() => opens(e), code);
  }
  // Every single bit of the wrap and of the ciphertext.
  for (const field of ['wrap', 'ciphertext'] as const) {
    const n = fromBase64Url(field === 'wrap' ? env.header.wraps[0]! : env.ciphertext).length;
    for (let i = 0; i < n * 8; i++) {
      const e = clone(env);
      if (field === 'wrap') e.header.wraps[0] = flipB64(e.header.wraps[0]!, i >> 3, i & 7);
      else e.ciphertext = flipB64(e.ciphertext, i >> 3, i & 7);
      expectCode(() => opens(e), 'decrypt_failed');
    }
  }
});

/** What a recipient knows after opening: the content key. */
function contentKeyOf(env: Envelope, me: ReturnType<typeof device>, senderPublicKey: Uint8Array): Uint8Array {
  const epk = fromBase64Url(env.header.epk);
  const i = env.to.indexOf(me.device_id);
  const ad = contentAd({ ...env, epk, kc: fromBase64Url(env.header.kc) });
  const k = wrapKey(x25519.getSharedSecret(me.privateKey, epk), x25519.getSharedSecret(me.privateKey, senderPublicKey), {
    id: env.id,
    from_device: env.from_device,
    to_device: me.device_id,
    epk,
    senderPublicKey,
    recipientPublicKey: me.publicKey,
  });
  return chacha20poly1305(
    k,
    new Uint8Array(12),
    wrapAd(env.from_device, me.device_id, contentDigest(ad, fromBase64Url(env.ciphertext))),
  ).decrypt(fromBase64Url(env.header.wraps[i]!));
}

test('a recipient cannot change the content for another recipient (wraps bind the ciphertext digest)', () => {
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const kc = contentKeyOf(env, bob, alice.publicKey);
  // Bob re-encrypts other text under the same content key and the same AD, keeping Carol's wrap.
  const e = clone(env);
  const ad = contentAd({ ...e, epk: fromBase64Url(e.header.epk), kc: fromBase64Url(e.header.kc) });
  e.ciphertext = toBase64Url(chacha20poly1305(kc, new Uint8Array(12), ad).encrypt(utf8.encode('pay mallory')));
  // The content AEAD alone would accept it...
  assert.deepEqual(utf8.decode(chacha20poly1305(kc, new Uint8Array(12), ad).decrypt(fromBase64Url(e.ciphertext))), 'pay mallory');
  // ...but Carol's wrap authenticates the digest of the original ciphertext.
  expectCode(() => open(e, { me: carol, senderPublicKey: alice.publicKey }), 'decrypt_failed');
});

test('key commitment: a wrap carrying a different content key is rejected even if it authenticates', () => {
  // A malicious sender gives Carol a different content key than Bob (the first step of showing two
  // recipients two plaintexts with one ciphertext, possible because ChaCha20-Poly1305 is not key-committing).
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const e = clone(env);
  const epk = fromBase64Url(e.header.epk);
  const ad = contentAd({ ...e, epk, kc: fromBase64Url(e.header.kc) });
  const digest = contentDigest(ad, fromBase64Url(e.ciphertext));
  // (dh_es is taken from Carol's side for brevity; Alice would use her ephemeral secret: same value.)
  const k = wrapKey(x25519.getSharedSecret(carol.privateKey, epk), x25519.getSharedSecret(alice.privateKey, carol.publicKey), {
    id: e.id,
    from_device: 'phone-alice',
    to_device: 'phone-carol',
    epk,
    senderPublicKey: alice.publicKey,
    recipientPublicKey: carol.publicKey,
  });
  e.header.wraps[1] = toBase64Url(
    chacha20poly1305(k, new Uint8Array(12), wrapAd('phone-alice', 'phone-carol', digest)).encrypt(new Uint8Array(32).fill(9)),
  );
  expectCode(() => open(e, { me: carol, senderPublicKey: alice.publicKey }), 'decrypt_failed');
  assert.deepEqual(open(e, { me: bob, senderPublicKey: alice.publicKey }), msg);
});

test('a recipient cannot forge a new envelope from A to another recipient', () => {
  // Bob tries the auth-KEM with what he has: his own static key in place of Alice's.
  const forged = seal(utf8.encode('from "alice"'), { from: { ...bob, device_id: 'phone-alice' }, to: [pub(carol)] });
  expectCode(() => open(forged, { me: carol, senderPublicKey: alice.publicKey }), 'decrypt_failed');
  // Or he reuses Alice's ephemeral key from an envelope he received: without e's private key or Alice's
  // static key he cannot compute either DH for Carol; with the wrong DH values the wrap fails.
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const e = clone(env);
  e.to = ['phone-carol'];
  const epk = fromBase64Url(e.header.epk);
  const ad = contentAd({ ...e, epk, kc: fromBase64Url(e.header.kc) });
  const kc = contentKeyOf(env, bob, alice.publicKey);
  const ct = chacha20poly1305(kc, new Uint8Array(12), ad).encrypt(utf8.encode('from "alice"'));
  e.ciphertext = toBase64Url(ct);
  const guess = wrapKey(x25519.getSharedSecret(bob.privateKey, carol.publicKey), x25519.getSharedSecret(bob.privateKey, carol.publicKey), {
    id: e.id,
    from_device: 'phone-alice',
    to_device: 'phone-carol',
    epk,
    senderPublicKey: alice.publicKey,
    recipientPublicKey: carol.publicKey,
  });
  e.header.wraps = [
    toBase64Url(chacha20poly1305(guess, new Uint8Array(12), wrapAd('phone-alice', 'phone-carol', contentDigest(ad, ct))).encrypt(kc)),
  ];
  expectCode(() => open(e, { me: carol, senderPublicKey: alice.publicKey }), 'decrypt_failed');
});

test('documented limit: a recipient CAN forge an envelope to itself that appears to come from A (deniability)', () => {
  // dh_ss = X25519(a, B) = X25519(b, A): Bob computes it from his own private key. The auth-KEM proves
  // "Alice or Bob made this" to Bob, which is all Bob needs (he knows he did not), but proves nothing to
  // a third party. This is the deniability of HPKE Auth mode, not a signature (docs/e2ee.md).
  const eSk = x25519.utils.randomSecretKey();
  const epk = x25519.getPublicKey(eSk);
  const kc = new Uint8Array(32).fill(7);
  const fields = {
    v: 1,
    id: '01900000-0000-7000-8000-000000000000',
    from_device: 'phone-alice',
    to: ['phone-bob'],
    sent_at: '2026-01-01T00:00:00.000Z',
    epk,
    kc: keyCommitment(kc),
  };
  const ad = contentAd(fields);
  const ct = chacha20poly1305(kc, new Uint8Array(12), ad).encrypt(utf8.encode('I owe Bob 100'));
  const k = wrapKey(x25519.getSharedSecret(eSk, bob.publicKey), x25519.getSharedSecret(bob.privateKey, alice.publicKey), {
    id: fields.id,
    from_device: 'phone-alice',
    to_device: 'phone-bob',
    epk,
    senderPublicKey: alice.publicKey,
    recipientPublicKey: bob.publicKey,
  });
  const wrap = chacha20poly1305(k, new Uint8Array(12), wrapAd('phone-alice', 'phone-bob', contentDigest(ad, ct))).encrypt(kc);
  const env: Envelope = {
    v: 1,
    id: fields.id,
    from_device: 'phone-alice',
    to: ['phone-bob'],
    sent_at: fields.sent_at,
    header: { epk: toBase64Url(epk), kc: toBase64Url(fields.kc), wraps: [toBase64Url(wrap)] },
    ciphertext: toBase64Url(ct),
  };
  assert.equal(utf8.decode(open(env, { me: bob, senderPublicKey: alice.publicKey })), 'I owe Bob 100');
  // The same forgery cannot be aimed at anyone but Bob himself (previous test), and a compromised
  // Bob key lets the attacker do exactly this to Bob (key-compromise impersonation, docs/e2ee.md).
});

test('malformed inputs give typed errors, never a TypeError', () => {
  const env = seal(msg, { from: alice, to: [pub(bob), pub(carol)] });
  const opens = (e: unknown) => open(e, { me: bob, senderPublicKey: alice.publicKey });
  const bad: unknown[] = [
    undefined,
    null,
    0,
    'x',
    [],
    {},
    [env],
    JSON.stringify(env),
    { ...env, v: '1' },
    { ...env, v: undefined },
    { ...env, extra: 1 },
    { ...env, header: { ...env.header, extra: 1 } },
    { ...env, id: 'not-a-uuid' },
    { ...env, id: env.id.toUpperCase() },
    { ...env, id: '0190f5c2-6a1b-4c3d-8e4f-0123456789ab' }, // v4 digit
    { ...env, from_device: '' },
    { ...env, from_device: 'a b c' },
    { ...env, from_device: 'x'.repeat(129) },
    { ...env, to: [] },
    { ...env, to: ['phone-bob', 'phone-bob'], header: { ...env.header, wraps: [env.header.wraps[0], env.header.wraps[0]] } },
    { ...env, to: 'phone-bob' },
    { ...env, to: [1, 2] },
    {
      ...env,
      to: Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => `dev-${String(i).padStart(3, '0')}`),
      header: { ...env.header, wraps: Array(MAX_RECIPIENTS + 1).fill(env.header.wraps[0]) },
    },
    { ...env, sent_at: 'yesterday' },
    { ...env, sent_at: '2026-02-30T00:00:00.000Z' },
    { ...env, sent_at: '2026-01-01T00:00:00Z' },
    { ...env, sent_at: 1 },
    { ...env, header: null },
    { ...env, header: { epk: env.header.epk } },
    { ...env, header: { epk: env.header.epk, wraps: env.header.wraps } },
    { ...env, header: { ...env.header, kc: env.header.kc.slice(2) } },
    { ...env, header: { ...env.header, epk: env.header.epk.slice(1) } },
    { ...env, header: { ...env.header, epk: `${env.header.epk.slice(0, -1)}!` } },
    { ...env, header: { ...env.header, epk: `${env.header.epk.slice(0, -1)}_` } }, // nonzero padding bits
    { ...env, header: { ...env.header, wraps: [env.header.wraps[0]] } },
    { ...env, header: { ...env.header, wraps: [`${env.header.wraps[0]!}A`, env.header.wraps[1]] } },
    { ...env, ciphertext: '' },
    { ...env, ciphertext: 'AAAA' },
    { ...env, ciphertext: `${env.ciphertext}=` },
    { ...env, ciphertext: 'A'.repeat(Math.ceil(((MAX_PLAINTEXT_BYTES + 17) * 4) / 3)) },
    { ...env, ciphertext: 12345 },
  ];
  for (const input of bad) {
    assert.throws(
      () => opens(input),
      (err: unknown) => {
        assert.ok(err instanceof E2eeError, `${JSON.stringify(input)?.slice(0, 120)}: ${String(err)}`);
        assert.equal(err.code, 'malformed', `${JSON.stringify(input)?.slice(0, 200)}: ${err.message}`);
        return true;
      },
    );
  }
  expectCode(() => opens({ ...env, v: 2 }), 'malformed');
  expectCode(() => opens({ ...env, v: 4 }), 'version_unsupported');
  expectCode(() => opens({ ...env, v: 0 }), 'version_unsupported');
  expectCode(() => opens({ v: 99, anything: 'else' }), 'version_unsupported');
  // Low-order ephemeral key (all zeros): a clean decrypt_failed.
  expectCode(() => opens({ ...env, header: { ...env.header, epk: toBase64Url(new Uint8Array(32)) } }), 'decrypt_failed');
  // Random JSON-ish garbage.
  for (let i = 0; i < 300; i++) {
    const e = clone(env) as unknown as Record<string, unknown>;
    const keys = ['v', 'id', 'from_device', 'to', 'sent_at', 'header', 'ciphertext'];
    const key = keys[i % keys.length]!;
    const values = [null, 1, -1, 1.5, '', 'A'.repeat(i), [], {}, [null], true, { epk: 1, wraps: 'x' }];
    e[key] = values[(i * 7) % values.length];
    if (JSON.stringify(e) === JSON.stringify(env)) continue; // e.g. v = 1
    assert.throws(
      () => opens(e),
      (err: unknown) => err instanceof E2eeError && ['malformed', 'version_unsupported', 'decrypt_failed'].includes(err.code),
    );
  }
});

test('bad arguments to seal/open: invalid_argument', () => {
  const env = seal(msg, { from: alice, to: [pub(bob)] });
  expectCode(() => seal('text' as unknown as Uint8Array, { from: alice, to: [pub(bob)] }), 'invalid_argument');
  expectCode(() => seal(new Uint8Array(MAX_PLAINTEXT_BYTES + 1), { from: alice, to: [pub(bob)] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [pub(bob), pub(bob)] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: { ...alice, publicKey: bob.publicKey }, to: [pub(bob)] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [{ device_id: 'phone-bob', publicKey: new Uint8Array(31) }] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [{ device_id: 'phone-bob', publicKey: new Uint8Array(32) }] }), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [{ device_id: 'no', publicKey: bob.publicKey }] }), 'invalid_argument');
  expectCode(() => seal(msg, undefined as never), 'invalid_argument');
  expectCode(() => seal(msg, { from: alice, to: [pub(bob)], rng: () => new Uint8Array(1) }), 'invalid_argument');
  expectCode(() => open(env, { me: bob, senderPublicKey: new Uint8Array(5) }), 'invalid_argument');
  expectCode(() => open(env, undefined as never), 'invalid_argument');
  // All-zero sender key is a low-order point.
  expectCode(() => open(env, { me: bob, senderPublicKey: new Uint8Array(32) }), 'decrypt_failed');
  // Largest plaintext fits the schema and the documented JSON bound.
  const big = seal(new Uint8Array(MAX_PLAINTEXT_BYTES), {
    from: alice,
    to: Array.from({ length: MAX_RECIPIENTS }, (_, i) => ({
      device_id: `d${String(i).padStart(2, '0')}-${'x'.repeat(124)}`,
      publicKey: bob.publicKey,
    })),
  });
  assert.ok(JSON.stringify(big).length <= MAX_ENVELOPE_JSON_BYTES, `${JSON.stringify(big).length} > ${MAX_ENVELOPE_JSON_BYTES}`);
  assert.deepEqual(parseEnvelope(JSON.parse(JSON.stringify(big))), big);
});

// ---- known answer ------------------------------------------------------------------------------------------

const KAT = {
  alice: { device_id: 'phone-alice', privateKey: fromHex('a1'.repeat(32)) },
  bob: { device_id: 'phone-bob', privateKey: fromHex('b0'.repeat(32)) },
  carol: { device_id: 'desk-carol', privateKey: fromHex('c0'.repeat(32)) },
  ephemeral: fromHex('e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'),
  contentKey: fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
  uuidRandom: fromHex('5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a'),
  now: Date.UTC(2026, 10, 25, 12, 34, 56, 789),
  plaintext: utf8.encode('Kumusta, Salita!'),
};
/** Fixed at first run; every byte is re-derived below with node:crypto as an independent check. */
const KAT_EXPECTED: Envelope = {
  v: 1,
  id: '01a212b3-b495-75a5-a969-6a5a5a5a5a5a',
  from_device: 'phone-alice',
  to: ['desk-carol', 'phone-bob'],
  sent_at: '2026-11-25T12:34:56.789Z',
  header: {
    epk: 'c2hF1U6H3gnWuxFKpwQsUKSgFb2ZAdGgAm9ZVlM6FRk',
    kc: 'NsvfLbBECSItSzaIf0GkLNOpc4iV7TxEFWbsB1qLlpY',
    wraps: [
      'pYhBuJfBXKlLBt8qV7d2dw-g78_htHknA9MVTq7CJghfdEjnX92wfGID8ZdgFBWq',
      'X2IZKeF7HEaQC8stlS5aiJ4nsBDfT1nj36zosuJhdmXVIAaDmP2Qyxh8ogK_72Tq',
    ],
  },
  ciphertext: 'U80vRN6Sx_0zMj0NxjcvBv4GpWPVC6AbObsAcOdiERQ',
};

function katSeal(): Envelope {
  const queue = [KAT.ephemeral, KAT.contentKey, KAT.uuidRandom];
  const rng = (n: number) => {
    const b = queue.shift()!;
    assert.equal(b.length, n);
    return b;
  };
  const kp = (k: { device_id: string; privateKey: Uint8Array }) => ({ ...k, publicKey: x25519.getPublicKey(k.privateKey) });
  return seal(KAT.plaintext, { from: kp(KAT.alice), to: [pub(kp(KAT.bob)), pub(kp(KAT.carol))], rng, now: () => KAT.now });
}

test('KAT: fixed randomness gives fixed bytes', () => {
  const env = katSeal();
  if (process.env.E2EE_PRINT_KAT) console.log(JSON.stringify(env));
  assert.deepEqual(env, KAT_EXPECTED);
  assert.deepEqual(katSeal(), env);
  const kp = (k: { device_id: string; privateKey: Uint8Array }) => ({ ...k, publicKey: x25519.getPublicKey(k.privateKey) });
  for (const r of [KAT.bob, KAT.carol])
    assert.deepEqual(open(KAT_EXPECTED, { me: kp(r), senderPublicKey: kp(KAT.alice).publicKey }), KAT.plaintext);
});

test('KAT: recomputed independently with node:crypto (X25519, HKDF, ChaCha20-Poly1305, SHA-256)', () => {
  const B = (u: Uint8Array | string) => (typeof u === 'string' ? Buffer.from(u, 'utf8') : Buffer.from(u));
  const lp = (x: Uint8Array | string) => {
    const b = B(x);
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return Buffer.concat([n, b]);
  };
  const privKey = (raw: Uint8Array) =>
    createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), B(raw)]),
      format: 'der',
      type: 'pkcs8',
    });
  const pubOf = (raw: Uint8Array) => createPublicKey(privKey(raw)).export({ format: 'der', type: 'spki' }).subarray(-32);
  const pubKey = (raw: Uint8Array) =>
    createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), B(raw)]), format: 'der', type: 'spki' });
  const dh = (a: Uint8Array, bPub: Uint8Array) => diffieHellman({ privateKey: privKey(a), publicKey: pubKey(bPub) });
  const aead = (key: Uint8Array, ad: Buffer, pt: Uint8Array) => {
    const c = createCipheriv('chacha20-poly1305', B(key), Buffer.alloc(12), { authTagLength: 16 });
    c.setAAD(ad, { plaintextLength: pt.length });
    return Buffer.concat([c.update(B(pt)), c.final(), c.getAuthTag()]);
  };

  // id: uuidv7 per RFC 9562, 48-bit ms, then uuid's layout of 31 "seq" bits from random[6..9], rest random.
  const r = KAT.uuidRandom;
  const seq = ((r[6]! & 0x7f) << 24) | (r[7]! << 16) | (r[8]! << 8) | r[9]!;
  const idBytes = Buffer.alloc(16);
  idBytes.writeUIntBE(KAT.now, 0, 6);
  idBytes[6] = 0x70 | ((seq >>> 28) & 0x0f);
  idBytes[7] = (seq >>> 20) & 0xff;
  idBytes[8] = 0x80 | ((seq >>> 14) & 0x3f);
  idBytes[9] = (seq >>> 6) & 0xff;
  idBytes[10] = ((seq << 2) & 0xff) | (r[10]! & 3);
  B(r).copy(idBytes, 11, 11, 16);
  const h = idBytes.toString('hex');
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const sent_at = '2026-11-25T12:34:56.789Z';
  const to = ['desk-carol', 'phone-bob']; // byte order
  const recipients = [KAT.carol, KAT.bob];

  const epk = pubOf(KAT.ephemeral);
  const kc = createHash('sha256').update(lp('salita/e2ee/v1/key-commit')).update(KAT.contentKey).digest();
  const alicePub = pubOf(KAT.alice.privateKey);
  const ad = Buffer.concat([
    lp('salita/e2ee/v1/content'),
    Buffer.from([1]),
    lp(id),
    lp('phone-alice'),
    Buffer.from([0, 0, 0, 2]),
    lp(to[0]!),
    lp(to[1]!),
    lp(sent_at),
    lp(epk),
    lp(kc),
  ]);
  const ct = aead(KAT.contentKey, ad, KAT.plaintext);
  const digest = createHash('sha256').update(lp(ad)).update(ct).digest();
  const wraps = recipients.map((rc) => {
    const rPub = pubOf(rc.privateKey);
    const ikm = Buffer.concat([dh(KAT.ephemeral, rPub), dh(KAT.alice.privateKey, rPub)]);
    const info = Buffer.concat([
      lp('salita/e2ee/v1/wrap-key'),
      lp(id),
      lp('phone-alice'),
      lp(rc.device_id),
      lp(epk),
      lp(alicePub),
      lp(rPub),
    ]);
    const k = Buffer.from(hkdfSync('sha256', ikm, Buffer.from('salita/e2ee/v1/wrap-salt'), info, 32));
    const wad = Buffer.concat([lp('salita/e2ee/v1/wrap-ad'), lp('phone-alice'), lp(rc.device_id), lp(digest)]);
    return aead(k, wad, KAT.contentKey).toString('base64url');
  });
  const independent: Envelope = {
    v: 1,
    id,
    from_device: 'phone-alice',
    to,
    sent_at,
    header: { epk: epk.toString('base64url'), kc: kc.toString('base64url'), wraps },
    ciphertext: ct.toString('base64url'),
  };
  assert.deepEqual(independent, KAT_EXPECTED);
  assert.equal(toHex(fromBase64Url(KAT_EXPECTED.ciphertext)).length, (KAT.plaintext.length + 16) * 2);
});
