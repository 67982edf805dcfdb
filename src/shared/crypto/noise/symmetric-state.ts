// SymmetricState (Noise spec section 5.2): the chaining key ck and handshake hash h, plus the CipherState
// that encrypts handshake payloads once a key has been mixed in.
import { CipherState } from './cipher-state.js';
import { type CipherFunction, concat, type HashFunction, noiseHkdf } from './primitives.js';
import { utf8Bytes } from './utf8.js';

const EMPTY = new Uint8Array(0);

/** HASHLEN 64 hashes give 64-byte HKDF outputs; cipher keys are their first 32 bytes (spec 5.2). */
const key32 = (k: Uint8Array) => (k.length === 32 ? k : k.subarray(0, 32));

export class SymmetricState {
  private ck: Uint8Array;
  private h: Uint8Array;
  readonly cipherState: CipherState;

  constructor(
    protocolName: string,
    private readonly hash: HashFunction,
    private readonly cipher: CipherFunction,
  ) {
    const name = utf8Bytes(protocolName);
    if (name.length <= hash.hashLen) {
      this.h = new Uint8Array(hash.hashLen);
      this.h.set(name);
    } else {
      this.h = hash.hash(name);
    }
    this.ck = this.h;
    this.cipherState = new CipherState(cipher);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = noiseHkdf(this.hash, this.ck, ikm, 2);
    this.ck = ck!;
    this.cipherState.initializeKey(key32(tempK!));
  }

  mixHash(data: Uint8Array): void {
    this.h = this.hash.hash(concat(this.h, data));
  }

  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = noiseHkdf(this.hash, this.ck, ikm, 3);
    this.ck = ck!;
    this.mixHash(tempH!);
    this.cipherState.initializeKey(key32(tempK!));
  }

  handshakeHash(): Uint8Array {
    return Uint8Array.from(this.h);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split (spec 5.2): two transport CipherStates (initiator→responder, responder→initiator). The third HKDF
   * output of the same call is returned as `exported`: an extra secret bound to the whole handshake that the
   * application may derive its own keys from (here: the paired device secret). It is independent of both
   * transport keys (a different HKDF output), so using it does not weaken the channel.
   */
  split(): { c1: CipherState; c2: CipherState; exported: Uint8Array } {
    const [k1, k2, exported] = noiseHkdf(this.hash, this.ck, EMPTY, 3);
    return {
      c1: new CipherState(this.cipher, key32(k1!)),
      c2: new CipherState(this.cipher, key32(k2!)),
      exported: key32(exported!),
    };
  }
}
