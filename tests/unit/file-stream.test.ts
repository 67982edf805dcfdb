// The file cipher (src/shared/e2ee/file-stream.ts, docs/e2ee.md "Files"): the known-answer vector on both suites
// (@noble and node:crypto) and re-derived by hand, round trips at every size edge and chunk size, a decryptor fed
// in random pieces and resumed after a cut, the attacks STREAM exists to stop (each with its error code and with
// no plaintext of the attacked chunk handed out, and never a finish()), a property over random files, and the
// two suites interoperating.

import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { NODE_FILE_SUITE } from '../../src/server/crypto/file-stream-node.js';
import { E2eeError, type E2eeErrorCode } from '../../src/shared/e2ee/errors.js';
import { FileManifest } from '../../src/shared/e2ee/file-manifest.js';
import {
  chunkCount,
  chunkNonce,
  ciphertextSize,
  decryptFileChunk,
  encryptFileChunk,
  FILE_CHUNK_BYTES,
  FILE_CHUNK_SIZES,
  FILE_LABELS,
  FILE_TAG_BYTES,
  type FileCipherSuite,
  FileDecryptor,
  FileEncryptor,
  filePayloadKey,
  NOBLE_FILE_SUITE,
} from '../../src/shared/e2ee/file-stream.js';
import { toBase64Url } from '../../src/shared/encoding.js';

const SUITES: Record<'noble' | 'node', FileCipherSuite> = { noble: NOBLE_FILE_SUITE, node: NODE_FILE_SUITE };
const SMALLEST = Math.min(...FILE_CHUNK_SIZES);

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A small seeded PRNG (mulberry32): the same pieces and bytes on every run, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
function bytes(n: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0;
  return out;
}
const key = (seed: number) => bytes(32, seed);

/** Cuts `data` into pieces of random sizes (1 byte up to a bit more than two chunks). */
function pieces(data: Uint8Array, seed: number, chunk: number): Uint8Array[] {
  const next = prng(seed);
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; ) {
    const r = next();
    const n = r < 0.3 ? 1 + Math.floor(next() * 32) : r < 0.8 ? 1 + Math.floor(next() * chunk) : 1 + Math.floor(next() * 2.2 * chunk);
    out.push(data.subarray(o, o + n));
    o += n;
  }
  return out;
}

interface Sealed {
  key: Uint8Array;
  plain: Uint8Array;
  chunk: number;
  /** Each chunk's ciphertext, in index order. */
  chunks: Uint8Array[];
  /** Each chunk's plaintext, in index order. */
  plainChunks: Uint8Array[];
  ct: Uint8Array;
  sha: Uint8Array;
}

function sealFile(k: Uint8Array, plain: Uint8Array, chunk: number, suite: FileCipherSuite = NOBLE_FILE_SUITE): Sealed {
  const enc = new FileEncryptor(k, plain.length, chunk, suite);
  const chunks: Uint8Array[] = [];
  const plainChunks: Uint8Array[] = [];
  for (let i = 0; i < enc.chunks; i++) {
    const [a, b] = enc.chunkPlaintextRange(i);
    plainChunks.push(plain.subarray(a, b));
    chunks.push(enc.encryptChunk(i, plain.subarray(a, b)));
  }
  const ct = concat(chunks);
  assert.equal(ct.length, enc.ciphertextSize);
  return { key: k, plain, chunk, chunks, plainChunks, ct, sha: sha256(plain) };
}

interface Outcome {
  /** Plaintext chunks the decryptor handed out, in order. */
  handed: Uint8Array[];
  /** finish() returned: the file was declared whole. */
  complete: boolean;
  error?: E2eeError;
}

/** Feeds `input` piece by piece, then finish(); collects what came out and the first error. */
function drive(d: FileDecryptor, input: Uint8Array[]): Outcome {
  const handed: Uint8Array[] = [];
  try {
    for (const p of input) handed.push(...d.push(p));
    handed.push(...d.finish());
    return { handed, complete: true };
  } catch (err) {
    assert.ok(err instanceof E2eeError, `expected an E2eeError, got ${String(err)}`);
    return { handed, complete: false, error: err };
  }
}

function decryptor(f: Sealed, o: { key?: Uint8Array; sha?: Uint8Array; suite?: FileCipherSuite } = {}): FileDecryptor {
  return new FileDecryptor(o.key ?? f.key, f.plain.length, f.chunk, o.sha ?? f.sha, o.suite ?? NOBLE_FILE_SUITE);
}

/**
 * The attack outcome every test below asserts: the given code; only the chunks before the attacked one handed out
 * (`goodChunks`, or at most that many where it depends on how the bytes were cut into pieces), each exactly the
 * sender's; no finish(); and the failure is final (a later push or finish throws it again).
 */
function assertRefused(f: Sealed, d: FileDecryptor, out: Outcome, code: E2eeErrorCode, goodChunks: number, atMost = false) {
  assert.equal(out.error?.code, code, out.error?.message ?? 'no error');
  assert.equal(out.complete, false);
  if (atMost) assert.ok(out.handed.length <= goodChunks, `handed out ${out.handed.length} chunks, at most ${goodChunks}`);
  else assert.equal(out.handed.length, goodChunks, `handed out ${out.handed.length} chunks, expected ${goodChunks}`);
  for (const [i, p] of out.handed.entries()) assert.deepEqual(p, f.plainChunks[i], `handed chunk ${i} is not the sender's`);
  assert.throws(
    () => d.finish(),
    (e: unknown) => e instanceof E2eeError && e.code === code,
  );
  assert.throws(
    () => d.push(new Uint8Array(1)),
    (e: unknown) => e instanceof E2eeError && e.code === code,
  );
}

// ---- the known-answer vector -------------------------------------------------------------------------------

interface VectorCase {
  name: string;
  content_key: string;
  chunk: number;
  size: number;
  plaintext?: string;
  plaintext_sha256: string;
  payload_key: string;
  ciphertext_size: number;
  ciphertext_sha256: string;
  chunks: { index: number; last: boolean; plaintext_bytes: number; nonce: string; ciphertext: string }[];
}
const VECTOR = JSON.parse(readFileSync(fileURLToPath(new URL('../vectors/file-stream.json', import.meta.url)), 'utf8')) as {
  hkdf: { salt: string; info: string };
  cases: VectorCase[];
};
const vectorPlaintext = (c: VectorCase) =>
  c.plaintext !== undefined ? hex(c.plaintext) : Uint8Array.from({ length: c.size }, (_, i) => i % 251);

test('the vector covers an empty file, a short one, exactly one full chunk and several chunks with a partial last', () => {
  assert.deepEqual(
    VECTOR.cases.map((c) => [c.name, c.chunk, c.size, c.chunks.length]),
    [
      ['empty', SMALLEST, 0, 1],
      ['short', SMALLEST, 14, 1],
      ['one_full_chunk', SMALLEST, SMALLEST, 1],
      ['three_and_a_bit', SMALLEST, 3 * SMALLEST + 1000, 4],
    ],
  );
  assert.deepEqual(VECTOR.hkdf, { ...VECTOR.hkdf, salt: FILE_LABELS.salt, info: FILE_LABELS.payload });
});

for (const [suiteName, suite] of Object.entries(SUITES)) {
  test(`vector, ${suiteName} suite: payload key, every nonce, every chunk, both digests, byte for byte; and it decrypts`, () => {
    for (const c of VECTOR.cases) {
      const k = hex(c.content_key);
      const plain = vectorPlaintext(c);
      assert.equal(plain.length, c.size);
      assert.equal(toHex(sha256(plain)), c.plaintext_sha256, c.name);
      const pk = filePayloadKey(k, suite);
      assert.equal(toHex(pk), c.payload_key, c.name);
      assert.equal(chunkCount(c.size, c.chunk), c.chunks.length, c.name);
      assert.equal(ciphertextSize(c.size, c.chunk), c.ciphertext_size, c.name);

      const f = sealFile(k, plain, c.chunk, suite);
      assert.equal(f.chunks.length, c.chunks.length);
      c.chunks.forEach((v, i) => {
        assert.equal(v.index, i);
        assert.equal(v.last, i === c.chunks.length - 1);
        assert.equal(f.plainChunks[i]!.length, v.plaintext_bytes, `${c.name} chunk ${i}`);
        assert.equal(toHex(chunkNonce(i, v.last)), v.nonce, `${c.name} chunk ${i} nonce`);
        assert.equal(toHex(f.chunks[i]!), v.ciphertext, `${c.name} chunk ${i} ciphertext`);
        assert.equal(toHex(encryptFileChunk(pk, i, f.plainChunks[i]!, v.last, suite)), v.ciphertext);
        assert.deepEqual(decryptFileChunk(pk, i, hex(v.ciphertext), v.last, suite), f.plainChunks[i]);
      });
      assert.equal(f.ct.length, c.ciphertext_size);
      assert.equal(toHex(sha256(f.ct)), c.ciphertext_sha256, c.name);

      const d = new FileDecryptor(k, c.size, c.chunk, hex(c.plaintext_sha256), suite);
      const out = drive(d, [f.ct]);
      assert.ok(out.complete, out.error?.message);
      assert.deepEqual(concat(out.handed), plain);
    }
  });
}

test('vector re-derived from the written construction alone (hkdfSync, OpenSSL ChaCha20-Poly1305, a hand-built nonce)', () => {
  for (const c of VECTOR.cases) {
    const pk = Buffer.from(hkdfSync('sha256', hex(c.content_key), 'salita/file/v1/salt', 'salita/file/v1/payload', 32));
    assert.equal(pk.toString('hex'), c.payload_key);
    const plain = vectorPlaintext(c);
    const n = Math.max(1, Math.ceil(plain.length / c.chunk));
    const all: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const nonce = Buffer.alloc(12);
      nonce.writeUIntBE(i, 5, 6); // bytes 0..10 are the index, big endian (it fits in the low 6 here)
      nonce[11] = i === n - 1 ? 1 : 0;
      const cipher = createCipheriv('chacha20-poly1305', pk, nonce, { authTagLength: 16 });
      const body = Buffer.concat([cipher.update(plain.subarray(i * c.chunk, (i + 1) * c.chunk)), cipher.final(), cipher.getAuthTag()]);
      assert.equal(nonce.toString('hex'), c.chunks[i]!.nonce);
      assert.equal(body.toString('hex'), c.chunks[i]!.ciphertext, `${c.name} chunk ${i}`);
      all.push(body);
    }
    assert.equal(createHash('sha256').update(Buffer.concat(all)).digest('hex'), c.ciphertext_sha256);
  }
});

// ---- layout and arguments ----------------------------------------------------------------------------------

test('nonce: 11-byte big-endian index then the final flag; sizes: at least one chunk, a tag per chunk', () => {
  assert.equal(toHex(chunkNonce(0, false)), '000000000000000000000000');
  assert.equal(toHex(chunkNonce(0, true)), '000000000000000000000001');
  assert.equal(toHex(chunkNonce(0x0102, false)), '000000000000000000010200');
  assert.equal(toHex(chunkNonce(2 ** 40 + 5, true)), '000000000001000000000501');
  assert.equal(toHex(chunkNonce(Number.MAX_SAFE_INTEGER, false)), '000000001fffffffffffff00');
  assert.deepEqual(FILE_CHUNK_SIZES, [16384, 32768, 65536, 131072, 262144, 524288, 1048576]);
  assert.equal(FILE_CHUNK_BYTES, 65536);
  assert.equal(ciphertextSize(0, SMALLEST), 16);
  assert.equal(ciphertextSize(SMALLEST, SMALLEST), SMALLEST + 16);
  assert.equal(ciphertextSize(SMALLEST + 1, SMALLEST), SMALLEST + 1 + 32);
  assert.equal(ciphertextSize(10 * FILE_CHUNK_BYTES, FILE_CHUNK_BYTES), 10 * FILE_CHUNK_BYTES + 160);
});

test('bad arguments are invalid_argument: chunk sizes off the list, keys not 32 bytes, wrong chunk lengths and indexes', () => {
  const bad = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof E2eeError && e.code === 'invalid_argument');
  for (const chunk of [0, 1000, 8 * 1024, 48 * 1024, 2 * 1024 * 1024]) bad(() => new FileEncryptor(key(1), 10, chunk));
  bad(() => new FileDecryptor(key(1), 10, 1000, new Uint8Array(32)));
  bad(() => new FileEncryptor(new Uint8Array(31), 10, SMALLEST));
  bad(() => new FileDecryptor(new Uint8Array(33), 10, SMALLEST, new Uint8Array(32)));
  bad(() => new FileEncryptor(key(1), -1, SMALLEST));
  bad(() => new FileEncryptor(key(1), 1.5, SMALLEST));
  const enc = new FileEncryptor(key(1), SMALLEST + 5, SMALLEST);
  bad(() => enc.encryptChunk(0, new Uint8Array(5)));
  bad(() => enc.encryptChunk(1, new Uint8Array(SMALLEST)));
  bad(() => enc.encryptChunk(2, new Uint8Array(0)));
  bad(() => enc.encryptChunk(-1, new Uint8Array(0)));
  bad(() => chunkNonce(-1, false));
});

test('encryptor: chunks in any order give the same bytes (a resumed upload starts anywhere); ranges map to chunks', () => {
  const plain = bytes(3 * SMALLEST + 77, 7);
  const f = sealFile(key(7), plain, SMALLEST);
  const enc = new FileEncryptor(key(7), plain.length, SMALLEST);
  for (const i of [3, 1, 0, 2]) {
    const [a, b] = enc.chunkPlaintextRange(i);
    assert.deepEqual(enc.encryptChunk(i, plain.subarray(a, b)), f.chunks[i]);
  }
  const per = SMALLEST + FILE_TAG_BYTES;
  assert.deepEqual(enc.ciphertextRange(0, 1), { first: 0, last: 0 });
  assert.deepEqual(enc.ciphertextRange(per - 1, per + 1), { first: 0, last: 1 });
  assert.deepEqual(enc.ciphertextRange(2 * per, enc.ciphertextSize), { first: 2, last: 3 });
  assert.deepEqual(enc.ciphertextRange(0, enc.ciphertextSize + 100), { first: 0, last: 3 });
});

// ---- round trips ---------------------------------------------------------------------------------------------

test('round trip at every size edge (0, 1, chunk-1, chunk, chunk+1, several chunks) for every chunk size', () => {
  for (const chunk of FILE_CHUNK_SIZES) {
    for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 7]) {
      const f = sealFile(key(size), bytes(size, chunk + size), chunk);
      assert.equal(f.ct.length, ciphertextSize(size, chunk));
      assert.equal(f.chunks.length, Math.max(1, Math.ceil(size / chunk)));
      const d = decryptor(f);
      const out = drive(d, [f.ct]);
      assert.ok(out.complete, `${chunk}/${size}: ${out.error?.message}`);
      assert.deepEqual(concat(out.handed), f.plain, `${chunk}/${size}`);
      assert.equal(out.handed.length, f.chunks.length);
      assert.ok(d.sawFinal);
      assert.equal(d.position, f.ct.length);
    }
  }
});

test('decryptor fed in random piece sizes (1 byte .. 2 chunks) gives each chunk as soon as it is whole', () => {
  for (const chunk of [SMALLEST, 2 * SMALLEST]) {
    for (const size of [0, 5, chunk, 4 * chunk + 3]) {
      const f = sealFile(key(9), bytes(size, 9), chunk);
      for (const seed of [1, 2, 3, 4, 5]) {
        const d = decryptor(f);
        const handed: Uint8Array[] = [];
        for (const p of pieces(f.ct, seed, chunk)) {
          handed.push(...d.push(p));
          // Exactly the chunks whose last byte has arrived are out, never more.
          const whole = Math.min(f.chunks.length, Math.floor(d.position / (chunk + FILE_TAG_BYTES)));
          assert.equal(handed.length, d.position === f.ct.length ? f.chunks.length : whole);
        }
        d.finish();
        assert.deepEqual(concat(handed), f.plain);
      }
    }
  }
});

test('decryptor pieces may live in a buffer the caller reuses (it copies a partial chunk it keeps)', () => {
  const f = sealFile(key(11), bytes(3 * SMALLEST + 500, 11), SMALLEST);
  const d = decryptor(f);
  const scratch = new Uint8Array(1000);
  const handed: Uint8Array[] = [];
  for (let o = 0; o < f.ct.length; o += scratch.length) {
    const n = Math.min(scratch.length, f.ct.length - o);
    scratch.set(f.ct.subarray(o, o + n));
    handed.push(...d.push(scratch.subarray(0, n)).map((p) => p.slice()));
    scratch.fill(0xee);
  }
  d.finish();
  assert.deepEqual(concat(handed), f.plain);
});

test('resume: a cut mid-chunk (or on a boundary), dropPartial(), go on from resumeAt(): the same plaintext', () => {
  const chunk = SMALLEST;
  const per = chunk + FILE_TAG_BYTES;
  const f = sealFile(key(13), bytes(4 * chunk + 321, 13), chunk);
  const cuts = [0, 1, per - 1, per, per + 1, 2 * per + 4000, 4 * per, 4 * per + 1, f.ct.length - 1];
  for (const cut of cuts) {
    const d = decryptor(f);
    const handed: Uint8Array[] = [];
    for (const p of pieces(f.ct.subarray(0, cut), cut, chunk)) handed.push(...d.push(p));
    assert.equal(d.position, cut);
    d.dropPartial();
    assert.equal(d.resumeAt(), Math.floor(cut / per) * per, `cut ${cut}`);
    assert.equal(d.position, d.resumeAt());
    // A second break in the resumed stream, then the rest.
    const from = d.resumeAt();
    const again = Math.min(f.ct.length - 1, from + 700);
    handed.push(...d.push(f.ct.subarray(from, again)));
    d.dropPartial();
    for (const p of pieces(f.ct.subarray(d.resumeAt()), cut + 1, chunk)) handed.push(...d.push(p));
    d.finish();
    assert.deepEqual(concat(handed), f.plain, `cut ${cut}`);
  }
});

test('the two suites interoperate: same ciphertext, and each decrypts what the other encrypted', () => {
  for (const chunk of [SMALLEST, FILE_CHUNK_BYTES, 1024 * 1024]) {
    for (const size of [0, 1, chunk, 2 * chunk + 9]) {
      const plain = bytes(size, size + 17);
      const byNoble = sealFile(key(17), plain, chunk, NOBLE_FILE_SUITE);
      const byNode = sealFile(key(17), plain, chunk, NODE_FILE_SUITE);
      assert.deepEqual(byNode.ct, byNoble.ct, `${chunk}/${size}`);
      for (const [from, suite] of [
        [byNoble, NODE_FILE_SUITE],
        [byNode, NOBLE_FILE_SUITE],
      ] as const) {
        const out = drive(decryptor(from, { suite }), pieces(from.ct, size, chunk));
        assert.ok(out.complete, out.error?.message);
        assert.deepEqual(concat(out.handed), plain);
      }
    }
  }
});

// ---- attacks -------------------------------------------------------------------------------------------------

// A file of three full chunks and a partial fourth; every attack below is run on both suites' decryptors.
const PLAIN = bytes(3 * SMALLEST + 1000, 21);
const FILE = sealFile(key(21), PLAIN, SMALLEST);
const [C0, C1, C2, C3] = FILE.chunks as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
const PAYLOAD_KEY = filePayloadKey(FILE.key);
const flip = (b: Uint8Array, at: number, bit = 0) => {
  const c = b.slice();
  c[at]! ^= 1 << bit;
  return c;
};

function attack(
  name: string,
  code: E2eeErrorCode,
  goodChunks: number,
  input: () => Uint8Array[],
  o: { key?: Uint8Array; sha?: Uint8Array } = {},
) {
  test(`attack: ${name} -> ${code}, only the ${goodChunks} chunks before it handed out, never finished`, () => {
    for (const suite of Object.values(SUITES)) {
      const d = decryptor(FILE, { ...o, suite });
      assertRefused(FILE, d, drive(d, input()), code, goodChunks);
      // The same bytes in random pieces fail the same way, except that a push() that throws hands out nothing:
      // good chunks completed by the same piece as the bad one (or the extra bytes) are withheld with it.
      const d2 = decryptor(FILE, { ...o, suite });
      const inPush = code === 'file_chunk_invalid' || code === 'file_too_long';
      assertRefused(FILE, d2, drive(d2, pieces(concat(input()), 99, SMALLEST)), code, code === 'file_too_long' ? 4 : goodChunks, inPush);
    }
  });
}

attack('truncated at a chunk boundary (the final chunk dropped)', 'file_truncated', 3, () => [C0, C1, C2]);
attack('truncated to nothing', 'file_truncated', 0, () => []);
attack('truncated mid-chunk', 'file_truncated', 2, () => [C0, C1, C2.subarray(0, 5000)]);
attack('truncated inside the final chunk', 'file_truncated', 3, () => [C0, C1, C2, C3.subarray(0, C3.length - 1)]);
attack('two chunks swapped', 'file_chunk_invalid', 1, () => [C0, C2, C1, C3]);
attack('a chunk duplicated', 'file_chunk_invalid', 1, () => [C0, C0, C1, C2, C3]);
attack('a chunk repeated in place of the next', 'file_chunk_invalid', 2, () => [C0, C1, C1, C3]);
attack('the stream replayed from the start after a resume', 'file_chunk_invalid', 2, () => [C0, C1, C0, C1, C2, C3]);
attack('a chunk spliced from another file (another key)', 'file_chunk_invalid', 1, () => {
  const other = sealFile(key(22), bytes(PLAIN.length, 22), SMALLEST);
  return [C0, other.chunks[1]!, C2, C3];
});
attack('a chunk spliced from the same key at another index', 'file_chunk_invalid', 1, () => {
  const other = sealFile(FILE.key, bytes(PLAIN.length, 23), SMALLEST);
  return [C0, other.chunks[2]!, C2, C3];
});
attack('one bit flipped in a chunk body', 'file_chunk_invalid', 2, () => [C0, C1, flip(C2, 5), C3]);
attack('one bit flipped in a tag', 'file_chunk_invalid', 1, () => [C0, flip(C1, C1.length - 1, 7), C2, C3]);
attack('one bit flipped in the final chunk', 'file_chunk_invalid', 3, () => [C0, C1, C2, flip(C3, 0)]);
attack('the wrong key', 'file_chunk_invalid', 0, () => [FILE.ct], { key: key(24) });
attack('extra bytes after the final chunk, in the same piece', 'file_too_long', 0, () => [concat([FILE.ct, new Uint8Array(1)])]);
attack('extra bytes after the final chunk, in a later piece', 'file_too_long', 4, () => [FILE.ct, new Uint8Array(16)]);
attack('a non-final chunk sealed as final (a file cut short that claims to end)', 'file_chunk_invalid', 1, () => [
  C0,
  encryptFileChunk(PAYLOAD_KEY, 1, FILE.plainChunks[1]!, true),
  C2,
  C3,
]);
attack('the final chunk sealed as not final', 'file_chunk_invalid', 3, () => [
  C0,
  C1,
  C2,
  encryptFileChunk(PAYLOAD_KEY, 3, FILE.plainChunks[3]!, false),
]);
attack('a shorter file under the same key, its final chunk where a full one belongs', 'file_chunk_invalid', 0, () => {
  const short = sealFile(FILE.key, PLAIN.subarray(0, SMALLEST), SMALLEST);
  return [short.ct, C1, C2, C3];
});
attack('every chunk verifies but the plaintext is not the manifest digest', 'file_digest_mismatch', 4, () => [FILE.ct], {
  sha: sha256(bytes(PLAIN.length, 25)),
});
// Why the key must be fresh per file: under a reused key, another file's chunk at the SAME index verifies
// (same nonce), so its plaintext is handed out; only the manifest's SHA-256 then keeps the file from completing.
test('a same-key, same-index chunk from another file (a reused key) verifies, and the digest refuses the file', () => {
  const other = sealFile(FILE.key, bytes(PLAIN.length, 26), SMALLEST);
  for (const suite of Object.values(SUITES)) {
    const d = decryptor(FILE, { suite });
    const out = drive(d, [C0, other.chunks[1]!, C2, C3]);
    assert.equal(out.error?.code, 'file_digest_mismatch');
    assert.equal(out.complete, false);
    assert.deepEqual(out.handed, [FILE.plainChunks[0], other.plainChunks[1], FILE.plainChunks[2], FILE.plainChunks[3]]);
    assert.throws(
      () => d.finish(),
      (e: unknown) => e instanceof E2eeError && e.code === 'file_digest_mismatch',
    );
  }
});

// ---- property --------------------------------------------------------------------------------------------------

test('property: random files, chunk sizes, splits and suites round trip; any one changed byte, cut or extra byte is refused', () => {
  const chunkArb = fc.oneof(
    { arbitrary: fc.constantFrom(SMALLEST, 2 * SMALLEST), weight: 6 },
    { arbitrary: fc.constantFrom(...FILE_CHUNK_SIZES), weight: 1 },
  );
  const fileArb = chunkArb.chain((chunk) =>
    fc.record({
      chunk: fc.constant(chunk),
      size: fc.oneof(
        fc.integer({ min: 0, max: 3 * chunk + 100 }),
        fc.constantFrom(0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk - 1),
      ),
      key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      seed: fc.integer(),
      enc: fc.constantFrom('noble' as const, 'node' as const),
      dec: fc.constantFrom('noble' as const, 'node' as const),
      at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      xor: fc.integer({ min: 1, max: 255 }),
      cut: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    }),
  );
  fc.assert(
    fc.property(fileArb, (p) => {
      const f = sealFile(p.key, bytes(p.size, p.seed), p.chunk, SUITES[p.enc]);
      const suite = SUITES[p.dec];
      const per = p.chunk + FILE_TAG_BYTES;
      const split = (b: Uint8Array) => pieces(b, p.seed ^ 0x5eed, p.chunk);

      const ok = drive(decryptor(f, { suite }), split(f.ct));
      assert.ok(ok.complete, ok.error?.message);
      assert.deepEqual(concat(ok.handed), f.plain);

      const at = Math.floor(p.at * f.ct.length);
      const changed = f.ct.slice();
      changed[at]! ^= p.xor;
      const d1 = decryptor(f, { suite });
      assertRefused(f, d1, drive(d1, split(changed)), 'file_chunk_invalid', Math.floor(at / per), true);

      const cut = Math.floor(p.cut * f.ct.length);
      const d2 = decryptor(f, { suite });
      assertRefused(f, d2, drive(d2, split(f.ct.subarray(0, cut))), 'file_truncated', Math.floor(cut / per));

      const d3 = decryptor(f, { suite });
      const longer = drive(d3, [...split(f.ct), new Uint8Array([p.xor])]);
      assert.equal(longer.error?.code, 'file_too_long');
      assert.equal(longer.complete, false);
    }),
    { numRuns: 60 },
  );
});

// ---- the manifest ----------------------------------------------------------------------------------------------

test('the manifest names one of the chunk sizes, a 32-byte key and a 32-byte digest, and nothing else', () => {
  const good = {
    t: 'file',
    v: 1,
    blob: toBase64Url(new Uint8Array(16)),
    name: 'holiday.jpg',
    type: 'image/jpeg',
    size: PLAIN.length,
    chunk: SMALLEST,
    key: toBase64Url(FILE.key),
    sha256: toBase64Url(FILE.sha),
  };
  assert.ok(FileManifest.safeParse(good).success);
  for (const chunk of FILE_CHUNK_SIZES) assert.ok(FileManifest.safeParse({ ...good, chunk }).success);
  for (const bad of [
    { chunk: 1000 },
    { chunk: 8192 },
    { key: toBase64Url(new Uint8Array(31)) },
    { sha256: toBase64Url(new Uint8Array(33)) },
    { size: -1 },
    { name: '../x' },
    { extra: 1 },
  ])
    assert.equal(FileManifest.safeParse({ ...good, ...bad }).success, false, JSON.stringify(bad));
});
