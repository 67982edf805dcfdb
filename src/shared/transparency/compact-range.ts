// The compact range of a Merkle log (the "frontier"): the roots of the perfect subtrees that make up the first
// `size` leaves, largest first, one per bit of `size` (at most 64 hashes, whatever the log's length). It is all a
// reader needs to append leaves and compute every later root itself: a node that keeps it checks a new head by
// hashing only the leaves added since, and sees every one of them (so none can be hidden from it), instead of
// trusting a proof about leaves it never saw. The roots it gives are RFC 9162's (merkle.ts rootOf).
import { EMPTY_ROOT, HASH_BYTES, nodeHash } from './merkle.js';

export interface CompactRange {
  size: number;
  /** The perfect subtrees' roots, left to right (sizes are the set bits of `size`, largest first). */
  hashes: Uint8Array[];
}

export const EMPTY_RANGE: CompactRange = { size: 0, hashes: [] };

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) c += v % 2;
  return c;
}

/** A compact range is well-formed: one 32-byte hash per set bit of its size. */
export function isCompactRange(r: CompactRange): boolean {
  return (
    Number.isSafeInteger(r.size) &&
    r.size >= 0 &&
    Array.isArray(r.hashes) &&
    r.hashes.length === popcount(r.size) &&
    r.hashes.every((h) => h instanceof Uint8Array && h.length === HASH_BYTES)
  );
}

/** The range with these leaf hashes appended (a new object; `range` is left as it was). */
export function appendLeaves(range: CompactRange, leafHashes: readonly Uint8Array[]): CompactRange {
  const hashes = [...range.hashes];
  let size = range.size;
  for (const leaf of leafHashes) {
    if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_BYTES) throw new TypeError('a leaf hash is 32 bytes');
    // Like adding one to a binary counter: each trailing 1 bit of the size is a subtree of the same height as
    // the one being carried, and the two merge.
    let carry = leaf;
    for (let s = size; s % 2 === 1; s = Math.floor(s / 2)) carry = nodeHash(hashes.pop()!, carry);
    hashes.push(carry);
    size++;
  }
  return { size, hashes };
}

/** The tree's root: RFC 9162 splits at the largest power of two, so the subtrees fold from the right. */
export function rangeRoot(range: CompactRange): Uint8Array {
  if (range.hashes.length === 0) return EMPTY_ROOT;
  let root = range.hashes.at(-1)!;
  for (let i = range.hashes.length - 2; i >= 0; i--) root = nodeHash(range.hashes[i]!, root);
  return root;
}
