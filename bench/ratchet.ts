// The Double Ratchet's cost per message, against a bare AEAD seal/open of the same payload with the same library,
// and PQXDH session setups per second (see bench/README.md).
//
//   node --import tsx bench/ratchet.ts [--seconds 2] [--bytes 200] [--turn 10]
//
// ratchet: Alice and Bob in one process hold a session; one operation = encrypt by the sender + decrypt by the
//          receiver of a --bytes message, with the direction changing every --turn messages (a conversation: each
//          change is a DH ratchet step on both sides). The states are the library's pure values (a new state per
//          operation, as a caller that stores them would hold them).
// bare:    ChaCha20-Poly1305 seal + open of the same payload, a fixed key and a counter nonce, from the same suite.
// setup:   PQXDH initiate + respond (X25519 ×4, XEdDSA verify ×2, ML-KEM-768 encapsulate + decapsulate), @noble.
// The last lines are `ratio ratchet / bare aead (<library>) = <x>`, one per library. Never exits non-zero because
// of a figure.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { NODE_RATCHET_SUITE } from '../src/server/crypto/ratchet-node.js';
import { decrypt, encrypt, initReceiver, initSender } from '../src/shared/ratchet/double-ratchet.js';
import { generateIdentityKeyPair, initiate, makeKemPrekey, makeSignedPrekey, publicBundle, respond } from '../src/shared/ratchet/pqxdh.js';
import { NOBLE_RATCHET_SUITE, type RatchetSuite } from '../src/shared/ratchet/suite.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '200' },
    turn: { type: 'string', default: '10' },
  },
});
const SECONDS = Number(values.seconds);
const BYTES = Number(values.bytes);
const TURN = Math.max(1, Number(values.turn));

/** Runs `op` for about SECONDS (after a short untimed warm-up); operations per second. */
function rate(op: () => void): number {
  for (let i = 0; i < 200; i++) op();
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(SECONDS * 1e9));
  let now = start;
  while (now < until) {
    for (let i = 0; i < 50; i++) op();
    n += 50;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

function bare(suite: RatchetSuite): number {
  const key = randomBytes(32);
  const payload = randomBytes(BYTES);
  const ad = randomBytes(64);
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  let counter = 0;
  return rate(() => {
    view.setUint32(8, counter++);
    const sealed = suite.seal(key, nonce, payload, ad);
    suite.open(key, nonce, sealed, ad);
  });
}

function ratchet(suite: RatchetSuite): number {
  const secret = randomBytes(32);
  const bobKeys = suite.generateKeyPair();
  const ad = randomBytes(64);
  const payload = randomBytes(BYTES);
  const opts = { suite };
  const states = [initSender(secret, bobKeys.publicKey, opts), initReceiver(secret, bobKeys)];
  let i = 0;
  return rate(() => {
    const from = Math.floor(i++ / TURN) % 2;
    const to = 1 - from;
    const sent = encrypt(states[from]!, payload, ad, opts);
    states[from] = sent.state;
    states[to] = decrypt(states[to]!, sent.header, sent.ciphertext, ad, opts).state;
  });
}

function setups(): number {
  const bob = generateIdentityKeyPair();
  const spk = makeSignedPrekey(bob, 1);
  const kem = makeKemPrekey(bob, 1, { lastResort: true });
  const bundle = publicBundle(bob, spk, kem);
  const alice = generateIdentityKeyPair();
  const keys = {
    identity: bob,
    signedPrekey: (id: number) => (id === spk.id ? spk : undefined),
    kemPrekey: (id: number) => (id === kem.id ? kem : undefined),
    oneTimePrekey: () => undefined,
  };
  // Fewer, slower operations: time them one by one.
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(SECONDS * 1e9));
  let n = 0;
  let now = start;
  while (now < until || n < 5) {
    const a = initiate(alice, bundle);
    respond(keys, a.initialMessage);
    n++;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const rows: { case: string; library: string; 'ops/s': number; 'µs/op': number }[] = [];
const ratios: string[] = [];
for (const [library, suite] of [
  ['@noble', NOBLE_RATCHET_SUITE],
  ['node:crypto', NODE_RATCHET_SUITE],
] as const) {
  const b = bare(suite);
  const r = ratchet(suite);
  rows.push({ case: 'bare aead seal+open', library, 'ops/s': Math.round(b), 'µs/op': Math.round(1e6 / b) });
  rows.push({ case: `ratchet encrypt+decrypt (turn every ${TURN})`, library, 'ops/s': Math.round(r), 'µs/op': Math.round(1e6 / r) });
  ratios.push(`ratio ratchet / bare aead (${library}) = ${(r / b).toFixed(3)}`);
}
const s = setups();
rows.push({ case: 'PQXDH setup (initiate + respond)', library: '@noble', 'ops/s': Math.round(s * 10) / 10, 'µs/op': Math.round(1e6 / s) });

console.log(`ratchet bench: ${BYTES}-byte messages, ${SECONDS} s per case, one process (one core)\n`);
console.table(rows);
console.log('(a ratio is throughput: ratchet operations per second over bare AEAD operations per second, same library)');
for (const line of ratios) console.log(line);
