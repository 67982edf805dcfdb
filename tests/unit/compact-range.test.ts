// The compact range a node keeps of the key log (shared/transparency/compact-range.ts): appending leaves to it
// gives RFC 9162's root of every size, however the leaves are split into batches; and the root it gives changes
// when any leaf, or the order, changes (a rewritten history cannot be appended onto a kept range unseen).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { toHex } from '../../src/shared/encoding.js';
import { appendLeaves, EMPTY_RANGE, isCompactRange, rangeRoot } from '../../src/shared/transparency/compact-range.js';
import { EMPTY_ROOT, leafHash, rootOf } from '../../src/shared/transparency/merkle.js';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(sha256(new TextEncoder().encode(`leaf ${i}`))));

describe('compact range of the key log', () => {
  test('the empty range has the empty root', () => {
    assert.equal(toHex(rangeRoot(EMPTY_RANGE)), toHex(EMPTY_ROOT));
    assert.ok(isCompactRange(EMPTY_RANGE));
  });

  test('every size up to 70: the root is RFC 9162 root of the same leaves, with one hash per set bit', () => {
    const all = leaves(70);
    let range = EMPTY_RANGE;
    for (let n = 1; n <= all.length; n++) {
      range = appendLeaves(range, [all[n - 1]!]);
      assert.equal(range.size, n);
      assert.ok(isCompactRange(range), `well-formed at ${n}`);
      assert.equal(toHex(rangeRoot(range)), toHex(rootOf(all.slice(0, n))), `root at ${n}`);
    }
  });

  test('property: any split into batches gives the same root; a changed or swapped leaf gives another', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 6 }), (n, cuts) => {
        const all = leaves(n);
        const points = [...new Set(cuts.map((c) => c % (n + 1)))].sort((a, b) => a - b);
        let range = EMPTY_RANGE;
        let at = 0;
        for (const p of [...points, n]) {
          range = appendLeaves(range, all.slice(at, p));
          at = p;
        }
        assert.equal(toHex(rangeRoot(range)), toHex(rootOf(all)));
        const changed = [...all];
        const i = (cuts[0] ?? 0) % n;
        changed[i] = leafHash(new TextEncoder().encode('forged'));
        assert.notEqual(toHex(rangeRoot(appendLeaves(EMPTY_RANGE, changed))), toHex(rootOf(all)));
        if (n >= 2) {
          const swapped = [...all];
          [swapped[0], swapped[n - 1]] = [swapped[n - 1]!, swapped[0]!];
          assert.notEqual(toHex(rangeRoot(appendLeaves(EMPTY_RANGE, swapped))), toHex(rootOf(all)));
        }
      }),
      { numRuns: 60 },
    );
  });

  test('a malformed range or leaf is refused', () => {
    assert.equal(isCompactRange({ size: 3, hashes: leaves(1) }), false, 'size 3 needs two subtrees');
    assert.equal(isCompactRange({ size: -1, hashes: [] }), false);
    assert.equal(isCompactRange({ size: 1, hashes: [new Uint8Array(31)] }), false);
    assert.throws(() => appendLeaves(EMPTY_RANGE, [new Uint8Array(5)]), TypeError);
  });
});
