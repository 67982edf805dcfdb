// The file cipher (docs/e2ee.md "Files"): a STREAM construction like age's payload and libsodium's
// secretstream. A random content key per file; the payload key is HKDF-SHA256 of it; the plaintext is cut into
// fixed-size chunks, each sealed with ChaCha20-Poly1305 under a nonce that is the chunk's index (11 bytes, big
// endian) and a last-chunk flag (1 byte). So a chunk moved, repeated, dropped, taken from another file (another
// key) or a file cut short at a chunk boundary (no chunk carries the flag) fails to open. Browser-safe (@noble);
// src/server/crypto/file-stream-node.ts is the node:crypto twin with the same bytes.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../encoding.js';
import { E2eeError } from './errors.js';

export const FILE_CHUNK_BYTES = 64 * 1024;
export const FILE_TAG_BYTES = 16;
export const FILE_KEY_BYTES = 32;
/** Chunk sizes a manifest may name: powers of two from 16 KiB to 1 MiB. */
export const FILE_CHUNK_SIZES = [16, 32, 64, 128, 256, 512, 1024].map((k) => k * 1024);
export const FILE_LABELS = { salt: 'salita/file/v1/salt', payload: 'salita/file/v1/payload' } as const;

/** The AEAD and key derivation under the construction: @noble here, node:crypto in the twin. */
export interface FileCipherSuite {
  payloadKey(contentKey: Uint8Array): Uint8Array;
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws (anything) when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

export const NOBLE_FILE_SUITE: FileCipherSuite = {
  payloadKey: (k) => hkdf(sha256, k, utf8.encode(FILE_LABELS.salt), utf8.encode(FILE_LABELS.payload), 32),
  seal: (key, nonce, plaintext) => chacha20poly1305(key, nonce).encrypt(plaintext),
  open: (key, nonce, ciphertext) => chacha20poly1305(key, nonce).decrypt(ciphertext),
};

function checkChunk(chunk: number): void {
  if (!FILE_CHUNK_SIZES.includes(chunk))
    throw new E2eeError('invalid_argument', `chunk size ${chunk}: a power of two from 16 KiB to 1 MiB`);
}
function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new E2eeError('invalid_argument', 'file size: a whole number of bytes');
}

/** Chunks of a file: at least one (an empty file is one empty final chunk). */
export function chunkCount(size: number, chunk: number): number {
  return Math.max(1, Math.ceil(size / chunk));
}

export function ciphertextSize(size: number, chunk: number): number {
  return size + FILE_TAG_BYTES * chunkCount(size, chunk);
}

/** 11-byte big-endian chunk index, then 0x01 for the last chunk and 0x00 for every other. */
export function chunkNonce(index: number, last: boolean): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new E2eeError('invalid_argument', 'chunk index');
  const n = new Uint8Array(12);
  let v = index;
  for (let i = 10; i >= 0 && v > 0; i--) {
    n[i] = v % 256;
    v = Math.floor(v / 256);
  }
  n[11] = last ? 1 : 0;
  return n;
}

export function filePayloadKey(contentKey: Uint8Array, suite: FileCipherSuite = NOBLE_FILE_SUITE): Uint8Array {
  if (contentKey.length !== FILE_KEY_BYTES) throw new E2eeError('invalid_argument', 'content key: 32 bytes');
  return suite.payloadKey(contentKey);
}

export function encryptFileChunk(
  payloadKey: Uint8Array,
  index: number,
  plaintext: Uint8Array,
  last: boolean,
  suite: FileCipherSuite = NOBLE_FILE_SUITE,
): Uint8Array {
  return suite.seal(payloadKey, chunkNonce(index, last), plaintext);
}

export function decryptFileChunk(
  payloadKey: Uint8Array,
  index: number,
  ciphertext: Uint8Array,
  last: boolean,
  suite: FileCipherSuite = NOBLE_FILE_SUITE,
): Uint8Array {
  try {
    return suite.open(payloadKey, chunkNonce(index, last), ciphertext);
  } catch {
    throw new E2eeError('file_chunk_invalid', `chunk ${index} does not verify (tampered, moved, from another file, or the wrong key)`);
  }
}

/** Encrypts a file of known size chunk by chunk, in any order (a resumed upload starts anywhere). */
export class FileEncryptor {
  readonly chunks: number;
  readonly ciphertextSize: number;
  private readonly key: Uint8Array;

  constructor(
    contentKey: Uint8Array,
    readonly size: number,
    readonly chunk: number = FILE_CHUNK_BYTES,
    private readonly suite: FileCipherSuite = NOBLE_FILE_SUITE,
  ) {
    checkSize(size);
    checkChunk(chunk);
    this.key = filePayloadKey(contentKey, suite);
    this.chunks = chunkCount(size, chunk);
    this.ciphertextSize = ciphertextSize(size, chunk);
  }

  /** The plaintext bytes [start, end) chunk `i` holds. */
  chunkPlaintextRange(i: number): [number, number] {
    return [i * this.chunk, Math.min(this.size, (i + 1) * this.chunk)];
  }

  /** The chunks that hold ciphertext bytes [start, end) (end exclusive, > start). */
  ciphertextRange(start: number, end: number): { first: number; last: number } {
    const per = this.chunk + FILE_TAG_BYTES;
    return { first: Math.floor(start / per), last: Math.min(this.chunks - 1, Math.floor((end - 1) / per)) };
  }

  encryptChunk(i: number, plaintext: Uint8Array): Uint8Array {
    const [a, b] = this.chunkPlaintextRange(i);
    if (i < 0 || i >= this.chunks || plaintext.length !== b - a)
      throw new E2eeError('invalid_argument', `chunk ${i} holds ${b - a} bytes, not ${plaintext.length}`);
    return encryptFileChunk(this.key, i, plaintext, i === this.chunks - 1, this.suite);
  }
}

/**
 * Decrypts a file's ciphertext as it arrives, in pieces of any size, in order, and checks at the end that it was
 * all there and hashes to the manifest's SHA-256. Nothing it hands out is the whole file until finish() returns.
 * A download that breaks off resumes at resumeAt() with the same decryptor (dropPartial() first).
 * An integrity error is final, as in age's STREAM reader: every later push() and finish() throws it again, so a
 * caller that swallows one cannot go on to a finish() that reports the file whole.
 */
export class FileDecryptor {
  readonly chunks: number;
  readonly ciphertextSize: number;
  private readonly key: Uint8Array;
  private readonly hash = sha256.create();
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Chunks opened so far. */
  private opened = 0;
  private failure: E2eeError | undefined;
  private digest: Uint8Array | undefined;

  constructor(
    contentKey: Uint8Array,
    readonly size: number,
    readonly chunk: number,
    private readonly expectedSha256: Uint8Array,
    private readonly suite: FileCipherSuite = NOBLE_FILE_SUITE,
  ) {
    checkSize(size);
    checkChunk(chunk);
    this.key = filePayloadKey(contentKey, suite);
    this.chunks = chunkCount(size, chunk);
    this.ciphertextSize = ciphertextSize(size, chunk);
  }

  /** The ciphertext offset to ask for next: the start of the first chunk not opened yet (the end, once all are). */
  resumeAt(): number {
    // The final chunk may be short: past it, the offset is the ciphertext's size, not a whole chunk further.
    return Math.min(this.opened * (this.chunk + FILE_TAG_BYTES), this.ciphertextSize);
  }

  /** Ciphertext bytes taken so far (opened chunks and the partial one). */
  get position(): number {
    return this.resumeAt() + this.pendingBytes;
  }

  get sawFinal(): boolean {
    return this.opened === this.chunks;
  }

  /** Forgets bytes of a chunk not yet whole (the connection broke mid-chunk). */
  dropPartial(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  private chunkLength(i: number): number {
    const plain = Math.min(this.size, (i + 1) * this.chunk) - i * this.chunk;
    return plain + FILE_TAG_BYTES;
  }

  /** Takes the next ciphertext bytes; returns the plaintext of the chunks they completed. */
  push(bytes: Uint8Array): Uint8Array[] {
    return this.guard(() => this.take(bytes));
  }

  private take(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let rest = bytes;
    while (rest.length > 0) {
      if (this.opened === this.chunks) throw new E2eeError('file_too_long', 'bytes after the final chunk');
      const need = this.chunkLength(this.opened) - this.pendingBytes;
      const take = rest.subarray(0, need);
      rest = rest.subarray(take.length);
      // A piece that does not finish its chunk outlives this call: copy it, since the caller may reuse its buffer.
      this.pending.push(take.length < need ? take.slice() : take);
      this.pendingBytes += take.length;
      if (this.pendingBytes === this.chunkLength(this.opened)) {
        const whole = concatBytes(this.pending, this.pendingBytes);
        this.dropPartial();
        const plain = decryptFileChunk(this.key, this.opened, whole, this.opened === this.chunks - 1, this.suite);
        this.hash.update(plain);
        this.opened++;
        out.push(plain);
      }
    }
    return out;
  }

  /** The ciphertext is over: throws unless every chunk was there and the plaintext hashes to the expected digest. */
  finish(): Uint8Array[] {
    return this.guard(() => this.check());
  }

  private check(): Uint8Array[] {
    if (this.opened < this.chunks) throw new E2eeError('file_truncated', `the file ends after ${this.opened} of ${this.chunks} chunks`);
    this.digest ??= this.hash.digest();
    if (!equal(this.digest, this.expectedSha256))
      throw new E2eeError('file_digest_mismatch', "the file does not hash to the manifest's SHA-256");
    return [];
  }

  private guard<T>(step: () => T): T {
    if (this.failure) throw this.failure;
    try {
      return step();
    } catch (err) {
      if (err instanceof E2eeError) this.failure = err;
      throw err;
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
