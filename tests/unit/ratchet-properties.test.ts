// A property of the Double Ratchet (src/shared/ratchet): two parties, a random interleaving of sends from
// either side and, on the wire, deliveries in any order, drops and duplicates. Every message delivered decrypts
// exactly once to what was sent; every duplicate is refused as ratchet_duplicate with the state unchanged; a
// dropped message never stops the ones after it. Gaps stay far inside MAX_SKIP.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { utf8 } from '../../src/shared/encoding.js';
import { decrypt, encrypt, initReceiver, initSender } from '../../src/shared/ratchet/double-ratchet.js';
import { RatchetError } from '../../src/shared/ratchet/errors.js';
import type { RatchetHeader } from '../../src/shared/ratchet/header.js';
import { type RatchetState, ratchetStateToJson } from '../../src/shared/ratchet/state.js';
import { NOBLE_RATCHET_SUITE } from '../../src/shared/ratchet/suite.js';

type Side = 'a' | 'b';
type Wire = { to: Side; header: RatchetHeader; ciphertext: Uint8Array; text: string; delivered: boolean };
type Step = { kind: 'send'; from: Side } | { kind: 'deliver' | 'drop' | 'duplicate'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom<Side>('a', 'b') }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
);

const AD = utf8.encode('ad');
const json = (s: RatchetState) => JSON.stringify(ratchetStateToJson(s));

test('random interleavings: each delivered message opens once, duplicates refused unchanged, drops harmless', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 60 }), (steps, finalOrder) => {
      const sk = new Uint8Array(32).fill(3);
      const bobKeys = NOBLE_RATCHET_SUITE.generateKeyPair();
      const states: Record<Side, RatchetState> = { a: initSender(sk, bobKeys.publicKey), b: initReceiver(sk, bobKeys) };
      let bobCanSend = false;
      let counter = 0;
      const inFlight: Wire[] = []; // sent, neither delivered nor dropped
      const done: Wire[] = []; // delivered once

      const deliver = (w: Wire) => {
        const r = decrypt(states[w.to], w.header, w.ciphertext, AD);
        assert.equal(utf8.decode(r.plaintext), w.text);
        states[w.to] = r.state;
        if (w.to === 'b') bobCanSend = true;
        w.delivered = true;
        done.push(w);
      };
      const redeliver = (w: Wire) => {
        const before = json(states[w.to]);
        assert.throws(
          () => decrypt(states[w.to], w.header, w.ciphertext, AD),
          (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_duplicate',
        );
        assert.equal(json(states[w.to]), before);
      };

      for (const s of steps) {
        if (s.kind === 'send') {
          if (s.from === 'b' && !bobCanSend) continue;
          const text = `${s.from}${counter++}`;
          const r = encrypt(states[s.from], utf8.encode(text), AD);
          states[s.from] = r.state;
          inFlight.push({ to: s.from === 'a' ? 'b' : 'a', header: r.header, ciphertext: r.ciphertext, text, delivered: false });
        } else if (s.kind === 'duplicate') {
          if (done.length > 0) redeliver(done[s.pick % done.length] as Wire);
        } else if (inFlight.length > 0) {
          const [w] = inFlight.splice(s.pick % inFlight.length, 1);
          if (s.kind === 'deliver') deliver(w as Wire);
        }
      }
      // Whatever is still on the wire arrives, in a random order.
      let i = 0;
      while (inFlight.length > 0) {
        const [w] = inFlight.splice((finalOrder[i++] ?? 0) % inFlight.length, 1);
        deliver(w as Wire);
      }
      for (const w of done) redeliver(w);
    }),
    { numRuns: 40 },
  );
});
