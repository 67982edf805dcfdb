// The log's Merkle tree (src/shared/transparency/merkle.ts) against the RFC 6962 / 9162 reference vectors that
// transparency-dev/merkle publishes (testonly/constants.go: the eight leaves, the root of every size 0..8, two
// inclusion proofs and a consistency proof; used as data), then every proof of every tree up to 40 leaves, and
// proofs that were tampered with, cut, lengthened, or shown for the wrong size or leaf, which must all fail.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/shared/encoding.js';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../src/shared/transparency/merkle.js';

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  leafHash(fromHex(h)),
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const CONSISTENCY_2_8 = [
  '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
  '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
];

const MANY = Array.from({ length: 40 }, (_, i) => leafHash(Uint8Array.of(i, i * 7, 0x5a)));
const MANY_ROOTS = Array.from({ length: MANY.length + 1 }, (_, n) => rootOf(MANY.slice(0, n)));

describe('Merkle tree of the log (RFC 9162)', () => {
  test('the reference roots of every size 0..8, and the hashing prefixes', () => {
    assert.equal(toHex(EMPTY_ROOT), ROOTS[0]);
    for (let n = 0; n <= 8; n++) assert.equal(toHex(rootOf(LEAVES.slice(0, n))), ROOTS[n], `size ${n}`);
    assert.equal(toHex(nodeHash(LEAVES[0]!, LEAVES[1]!)), ROOTS[2]);
  });

  test('the reference inclusion and consistency proofs, made and checked', () => {
    for (const v of INCLUSION) {
      assert.deepEqual(inclusionProof(LEAVES, v.index, v.size).map(toHex), v.proof);
      assert.equal(verifyInclusion(LEAVES[v.index]!, v.index, v.size, v.proof.map(fromHex), fromHex(ROOTS[v.size]!)), true);
    }
    assert.deepEqual(consistencyProof(LEAVES, 2, 8).map(toHex), CONSISTENCY_2_8);
    assert.equal(verifyConsistency(2, 8, fromHex(ROOTS[2]!), fromHex(ROOTS[8]!), CONSISTENCY_2_8.map(fromHex)), true);
  });

  test('every leaf of every tree up to 40 leaves, and every pair of sizes, verifies', () => {
    for (let n = 1; n <= MANY.length; n++)
      for (let i = 0; i < n; i++)
        assert.equal(verifyInclusion(MANY[i]!, i, n, inclusionProof(MANY, i, n), MANY_ROOTS[n]!), true, `leaf ${i} of ${n}`);
    for (let second = 0; second <= MANY.length; second++)
      for (let first = 0; first <= second; first++)
        assert.equal(
          verifyConsistency(first, second, MANY_ROOTS[first]!, MANY_ROOTS[second]!, consistencyProof(MANY, first, second)),
          true,
          `${first} -> ${second}`,
        );
  });

  test('attacks on an inclusion proof: a changed byte, a cut or longer proof, another leaf, index or size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: MANY.length }), fc.nat(), fc.nat(), (n, i0, byte) => {
        const i = i0 % n;
        const proof = inclusionProof(MANY, i, n);
        const root = MANY_ROOTS[n]!;
        if (proof.length > 0) {
          const flipped = proof.map((p) => p.slice());
          flipped[byte % proof.length]![byte % 32]! ^= 1;
          assert.equal(verifyInclusion(MANY[i]!, i, n, flipped, root), false, 'a changed byte');
          assert.equal(verifyInclusion(MANY[i]!, i, n, proof.slice(0, -1), root), false, 'cut');
        }
        assert.equal(verifyInclusion(MANY[i]!, i, n, [...proof, MANY[0]!], root), false, 'longer');
        assert.equal(verifyInclusion(MANY[(i + 1) % n]!, i, n, proof, root), false, 'another leaf');
        if (n > 1) assert.equal(verifyInclusion(MANY[i]!, (i + 1) % n, n, proof, root), false, 'another index');
        // The tree size is vouched for by the signed head, not by the proof: against the larger tree's own root
        // the proof fails.
        if (n < MANY.length) assert.equal(verifyInclusion(MANY[i]!, i, n + 1, proof, MANY_ROOTS[n + 1]!), false, 'another size');
      }),
      { numRuns: 300 },
    );
  });

  test('attacks on a consistency proof: a rewritten history, a changed byte, a cut or longer proof', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MANY.length - 1 }), fc.integer({ min: 1, max: MANY.length }), fc.nat(), (a, b, byte) => {
        const first = Math.min(a, b);
        const second = Math.max(a, b);
        if (first === second) return;
        const proof = consistencyProof(MANY, first, second);
        // A log that rewrote one of the first leaves: its big tree is not an extension of the head we kept.
        const rewritten = MANY.slice(0, second).map((h, k) => (k === byte % first ? leafHash(Uint8Array.of(0xff, k)) : h));
        const forged = consistencyProof(rewritten, first, second);
        assert.equal(verifyConsistency(first, second, MANY_ROOTS[first]!, rootOf(rewritten), forged), false, 'rewritten');
        const flipped = proof.map((p) => p.slice());
        flipped[byte % proof.length]![byte % 32]! ^= 1;
        assert.equal(verifyConsistency(first, second, MANY_ROOTS[first]!, MANY_ROOTS[second]!, flipped), false, 'a changed byte');
        assert.equal(verifyConsistency(first, second, MANY_ROOTS[first]!, MANY_ROOTS[second]!, proof.slice(0, -1)), false, 'cut');
        assert.equal(verifyConsistency(first, second, MANY_ROOTS[first]!, MANY_ROOTS[second]!, [...proof, MANY[0]!]), false, 'longer');
      }),
      { numRuns: 300 },
    );
  });

  test('the edge cases: same size, from the empty tree, bad arguments', () => {
    assert.equal(verifyConsistency(4, 4, MANY_ROOTS[4]!, MANY_ROOTS[4]!, []), true);
    assert.equal(verifyConsistency(4, 4, MANY_ROOTS[4]!, MANY_ROOTS[5]!, []), false);
    assert.equal(verifyConsistency(4, 4, MANY_ROOTS[4]!, MANY_ROOTS[4]!, [MANY[0]!]), false);
    assert.equal(verifyConsistency(0, 8, EMPTY_ROOT, MANY_ROOTS[8]!, []), true);
    assert.equal(verifyConsistency(0, 8, MANY_ROOTS[1]!, MANY_ROOTS[8]!, []), false);
    assert.equal(verifyConsistency(8, 4, MANY_ROOTS[8]!, MANY_ROOTS[4]!, []), false);
    assert.equal(verifyConsistency(3, 8, MANY_ROOTS[3]!, MANY_ROOTS[8]!, []), false);
    assert.equal(verifyInclusion(MANY[0]!, 0, 0, [], EMPTY_ROOT), false);
    assert.equal(verifyInclusion(new Uint8Array(31), 0, 1, [], MANY_ROOTS[1]!), false);
    assert.equal(verifyInclusion(MANY[0]!, 0, 2, 'nope' as never, MANY_ROOTS[2]!), false);
    assert.throws(() => inclusionProof(MANY, 5, 5), RangeError);
    assert.throws(() => inclusionProof(MANY, 0, MANY.length + 1), RangeError);
    assert.throws(() => consistencyProof(MANY, 6, 5), RangeError);
    assert.throws(() => rootOf([new Uint8Array(31)]), TypeError);
  });
});
