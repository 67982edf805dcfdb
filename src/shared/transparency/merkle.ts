// The Merkle tree of an append-only log, as RFC 9162 (Certificate Transparency 2.0, section 2.1) defines it:
// the tree hash of a list of leaves, the proof that a leaf is in the tree of a given size (inclusion), and the
// proof that the tree of one size is a prefix of the tree of a larger size (consistency). A key directory built
// on it can show each reader the same history, and a reader that keeps the heads it saw detects a log that shows
// different keys to different people or rewrites what it said before. Pure functions over SHA-256 (@noble), the
// same on the cloud that makes proofs and on the nodes and pages that check them.
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../encoding.js';

export const HASH_BYTES = 32;
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** The hash of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** A leaf's hash: SHA-256(0x00 || leaf), so no leaf can pass for an interior node. */
export function leafHash(leaf: Uint8Array): Uint8Array {
  return sha256(concatBytes([LEAF_PREFIX, leaf]));
}

/** An interior node's hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) throw new TypeError('a node hash takes two 32-byte hashes');
  return sha256(concatBytes([NODE_PREFIX, left, right]));
}

/** The largest power of two smaller than n (n >= 2): where RFC 9162 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkHashes(hashes: readonly Uint8Array[]): void {
  if (!Array.isArray(hashes)) throw new TypeError('leaf hashes must be an array');
  for (const h of hashes) if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) throw new TypeError('a leaf hash is 32 bytes');
}

function treeHash(hashes: readonly Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return hashes[from]!;
  const k = split(n);
  return nodeHash(treeHash(hashes, from, from + k), treeHash(hashes, from + k, to));
}

/** The tree hash (the log's root) of these leaf hashes. */
export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  checkHashes(leafHashes);
  return treeHash(leafHashes, 0, leafHashes.length);
}

function checkSize(size: number, available: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > available)
    throw new RangeError(`no tree of size ${size} here (${available} leaves)`);
}

/** The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162 2.1.3.1). */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, size = leafHashes.length): Uint8Array[] {
  checkHashes(leafHashes);
  checkSize(size, leafHashes.length);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const path = (m: number, from: number, to: number): Uint8Array[] => {
    const n = to - from;
    if (n <= 1) return [];
    const k = split(n);
    return m < k
      ? [...path(m, from, from + k), treeHash(leafHashes, from + k, to)]
      : [...path(m - k, from + k, to), treeHash(leafHashes, from, from + k)];
  };
  return path(index, 0, size);
}

/** The consistency proof from the tree of `first` leaves to the tree of `second` leaves (RFC 9162 2.1.4.1). */
export function consistencyProof(leafHashes: readonly Uint8Array[], first: number, second = leafHashes.length): Uint8Array[] {
  checkHashes(leafHashes);
  checkSize(second, leafHashes.length);
  if (!Number.isSafeInteger(first) || first < 0 || first > second) throw new RangeError(`no consistency from ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const sub = (m: number, from: number, to: number, whole: boolean): Uint8Array[] => {
    const n = to - from;
    if (m === n) return whole ? [] : [treeHash(leafHashes, from, to)];
    const k = split(n);
    return m <= k
      ? [...sub(m, from, from + k, whole), treeHash(leafHashes, from + k, to)]
      : [...sub(m - k, from + k, to, false), treeHash(leafHashes, from, from + k)];
  };
  return sub(first, 0, second, true);
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_BYTES;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Whether `proof` shows the leaf hash at `index` in the tree of `size` leaves whose root is `root` (2.1.3.2). */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/**
 * Whether `proof` shows the tree of `first` leaves (root `firstRoot`) to be a prefix of the tree of `second`
 * leaves (root `secondRoot`) (2.1.4.2). The same size: the roots must be equal and the proof empty; from the
 * empty tree: the first root must be the empty tree's and the proof empty.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isHash(firstRoot) || !isHash(secondRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  if (first === 0) return proof.length === 0 && equal(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  // A first tree that is a whole subtree is itself the path's first node.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}
