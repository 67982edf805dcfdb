// The key directory's log (docs/key-transparency.md): what a leaf says, and the head the cloud signs. Shared so
// that the cloud that appends and the nodes that check read the same bytes.
//
// A leaf is one change of one device's key: published (a new device, or a new key for its id) or removed. Its
// bytes are the JSON of its fields in this fixed order, so anyone can recompute its hash from what it says. The
// tree commits to each entry as a device tag and the hash of those bytes (leafTag, logLeafHash), so that the
// log can hand every reader all its entries' hashes and let each node find its own devices' changes.
// The head is the tree's size and root, signed by the cloud's static X25519 key (XEdDSA, the key nodes pin):
// a cloud that shows two heads that do not extend each other has signed both, which is the evidence.
import { sha256 } from '@noble/hashes/sha2.js';
import { toBase64Url as b64, fromBase64Url as unb64 } from '../encoding.js';
import { xeddsaSign, xeddsaVerify } from '../ratchet/xeddsa.js';
import { leafHash } from './merkle.js';

export interface KeyLogLeaf {
  op: 'publish' | 'remove';
  device_id: string;
  node: string;
  /** base64url X25519; null for a removal. */
  public_key: string | null;
  at: string;
}

export interface KeyLogHead {
  size: number;
  /** base64url SHA-256 Merkle root (RFC 9162) of the first `size` leaves. */
  root: string;
  /** base64url XEdDSA signature of headMessage(size, root) by the cloud's static key. */
  signature: string;
}

export function leafBytes(l: KeyLogLeaf): Uint8Array {
  const ordered = { op: l.op, device_id: l.device_id, node: l.node, public_key: l.public_key, at: l.at };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

const HEAD_LABEL = new TextEncoder().encode('salita key log head v1\n');

/** What the head's signature covers: a label, the size (8 bytes, big-endian) and the 32-byte root. */
export function headMessage(size: number, root: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEAD_LABEL.length + 8 + root.length);
  out.set(HEAD_LABEL, 0);
  new DataView(out.buffer).setBigUint64(HEAD_LABEL.length, BigInt(size));
  out.set(root, HEAD_LABEL.length + 8);
  return out;
}

export function signHead(cloudPrivateKey: Uint8Array, size: number, root: Uint8Array): KeyLogHead {
  return { size, root: b64(root), signature: b64(xeddsaSign(cloudPrivateKey, headMessage(size, root))) };
}

/** The head is signed by this cloud key (and well-formed). */
export function headSignedBy(cloudPublicKey: Uint8Array, head: KeyLogHead): boolean {
  if (!Number.isSafeInteger(head.size) || head.size < 0) return false;
  try {
    const root = unb64(head.root);
    if (root.length !== 32) return false;
    return xeddsaVerify(cloudPublicKey, headMessage(head.size, root), unb64(head.signature));
  } catch {
    return false;
  }
}

const TAG_LABEL = new TextEncoder().encode('salita key log tag v1\n');

/**
 * The leaf's device tag: SHA-256(label || index (8 bytes, big-endian) || device_id). The node that owns the
 * device finds its leaves among everyone's by recomputing it; anyone else sees a different, unlinkable value for
 * every leaf (the index is in it), so the hashes the log hands out say nothing about whose devices changed.
 */
export function leafTag(deviceId: string, index: number): Uint8Array {
  const id = new TextEncoder().encode(deviceId);
  const msg = new Uint8Array(TAG_LABEL.length + 8 + id.length);
  msg.set(TAG_LABEL, 0);
  new DataView(msg.buffer).setBigUint64(TAG_LABEL.length, BigInt(index));
  msg.set(id, TAG_LABEL.length + 8);
  return sha256(msg);
}

/** SHA-256 of the leaf's bytes: what the log hands out in place of the leaf itself. */
export function leafContentHash(l: KeyLogLeaf): Uint8Array {
  return sha256(leafBytes(l));
}

/** The Merkle leaf hash of the log's entry `index`: RFC 9162's leaf hash of tag || content hash. */
export function logLeafHash(tag: Uint8Array, content: Uint8Array): Uint8Array {
  const entry = new Uint8Array(64);
  entry.set(tag, 0);
  entry.set(content, 32);
  return leafHash(entry);
}

/** The Merkle leaf hash of `leaf` as entry `index` of the log. */
export function hashOfLeaf(l: KeyLogLeaf, index: number): Uint8Array {
  return logLeafHash(leafTag(l.device_id, index), leafContentHash(l));
}
