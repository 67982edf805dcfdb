// A device in prekey tests: its identity, every prekey it made with its private part (so a test can complete
// PQXDH as the responder), and the publish requests a phone or the desktop UI would send.
import { toBase64Url } from '../../src/shared/encoding.js';
import {
  generateIdentityKeyPair,
  type IdentityKeyPair,
  type KemPrekeyPair,
  kemPrekeyWire,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  type OneTimePrekeyPair,
  oneTimePrekeyWire,
  type ResponderKeys,
  type SignedPrekeyPair,
  signedPrekeyWire,
} from '../../src/shared/ratchet/pqxdh.js';
import type { PublishPrekeysRequest } from '../../src/shared/wire/prekeys.js';

/** A device with its private keys, as a phone or the desktop UI holds them. */
export class PrekeyDevice {
  readonly identity: IdentityKeyPair = generateIdentityKeyPair();
  readonly signed = new Map<number, SignedPrekeyPair>();
  readonly kem = new Map<number, KemPrekeyPair>();
  readonly oneTime = new Map<number, OneTimePrekeyPair>();
  spk: SignedPrekeyPair;
  lastResort: KemPrekeyPair;

  constructor(readonly id = `dev-${Math.random().toString(36).slice(2)}`) {
    this.spk = this.newSigned(1);
    this.lastResort = this.newKem(1000, true);
  }

  get identityKey(): string {
    return toBase64Url(this.identity.publicKey);
  }

  newSigned(id: number): SignedPrekeyPair {
    const spk = makeSignedPrekey(this.identity, id);
    this.signed.set(id, spk);
    return spk;
  }

  newKem(id: number, lastResort: boolean): KemPrekeyPair {
    const kem = makeKemPrekey(this.identity, id, { lastResort });
    this.kem.set(id, kem);
    return kem;
  }

  /** A publish of the current signed and last-resort prekeys, fresh one-time prekeys [first, first+n) and KEM ones [kemFirst, kemFirst+kemN). */
  publish(first: number, n: number, kemFirst = 0, kemN = 0): PublishPrekeysRequest {
    const opks = makeOneTimePrekeys(first, n);
    for (const k of opks) this.oneTime.set(k.id, k);
    const kems = Array.from({ length: kemN }, (_, i) => this.newKem(kemFirst + i, false));
    return {
      signed_prekey: signedPrekeyWire(this.spk),
      kem_last_resort: kemPrekeyWire(this.lastResort),
      one_time_prekeys: opks.map(oneTimePrekeyWire),
      kem_one_time_prekeys: kems.map(kemPrekeyWire),
    };
  }

  get keys(): ResponderKeys {
    return {
      identity: this.identity,
      signedPrekey: (id) => this.signed.get(id),
      kemPrekey: (id) => this.kem.get(id),
      oneTimePrekey: (id) => this.oneTime.get(id),
    };
  }
}
