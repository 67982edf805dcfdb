// CipherState (Noise spec section 5.1): a key and a 64-bit counter nonce. The nonce only moves forward, so
// a (key, nonce) pair is never used twice; 2^64-1 is reserved for rekey and never used for a message.
import { NoiseError } from './noise-error.js';
import type { CipherFunction } from './primitives.js';

export const MAX_NONCE = (1n << 64n) - 1n;
const EMPTY = new Uint8Array(0);

export class CipherState {
  private k: Uint8Array | undefined;
  private n = 0n;

  constructor(
    private readonly cipher: CipherFunction,
    key?: Uint8Array,
  ) {
    if (key) this.initializeKey(key);
  }

  initializeKey(key: Uint8Array | undefined): void {
    if (key !== undefined && key.length !== 32) throw new NoiseError('invalid_key', 'cipher keys are 32 bytes');
    this.k = key && Uint8Array.from(key);
    this.n = 0n;
  }

  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The next nonce to be used (for tests and for transports that carry it explicitly). */
  get nonce(): bigint {
    return this.n;
  }

  /** Out-of-order transports only (spec 5.1 SetNonce); never move it backwards on an in-order channel. */
  setNonce(n: bigint): void {
    if (n < 0n || n > MAX_NONCE) throw new NoiseError('invalid_argument', 'nonce out of range');
    this.n = n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!this.k) return Uint8Array.from(plaintext);
    if (this.n >= MAX_NONCE) throw new NoiseError('nonce_exhausted', 'nonce space exhausted; rekey or start a new session');
    const out = this.cipher.encrypt(this.k, this.n, ad, plaintext);
    this.n++;
    return out;
  }

  /** On failure the nonce does not advance, so one forged message cannot desynchronise the channel. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (!this.k) return Uint8Array.from(ciphertext);
    if (this.n >= MAX_NONCE) throw new NoiseError('nonce_exhausted', 'nonce space exhausted; rekey or start a new session');
    const out = this.cipher.decrypt(this.k, this.n, ad, ciphertext);
    this.n++;
    return out;
  }

  /** REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes); the nonce is kept (spec 11.3). */
  rekey(): void {
    if (!this.k) throw new NoiseError('bad_state', 'cannot rekey a CipherState without a key');
    this.k = this.cipher.encrypt(this.k, MAX_NONCE, EMPTY, new Uint8Array(32)).subarray(0, 32);
  }
}
