// One device's Sender Key chain in one group and epoch (docs/e2ee.md "Groups"): a symmetric chain as
// libsignal's SenderChainKey (HMAC-SHA256 with 0x01 for a message key seed, 0x02 for the next chain key, and
// HKDF-SHA256 "WhisperGroup" for the message key's iv and cipher key), ChaCha20-Poly1305 instead of AES-CBC, and
// every message signed (XEdDSA) by the chain's signing key, so a member who holds the chain can read but not
// forge another member's messages. Pure functions over plain-JSON state: each returns the next state, and a
// refusal (GroupError) leaves the caller's state as it was.
import { x25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { lp } from '../e2ee/envelope.js';
import { concatBytes, fromBase64Url, toBase64Url, u32be, utf8 } from '../encoding.js';
import { CHAIN_KEY_SEED, MESSAGE_KEY_SEED } from '../ratchet/kdf.js';
import { NOBLE_RATCHET_SUITE } from '../ratchet/suite.js';
import { xeddsaSign, xeddsaVerify } from '../ratchet/xeddsa.js';
import { GroupError } from './errors.js';

/** libsignal's SenderMessageKey info string: the message key material is derived as libsignal derives it. */
export const SENDER_KEY_INFO = 'WhisperGroup';
export const GROUP_MESSAGE_AD_LABEL = 'salita/group/v1/message';
/** Most keys one message may skip in a chain (messages lost or still on their way). */
export const MAX_GROUP_SKIP = 2000;
/** Most skipped message keys kept per chain; the oldest go first. */
export const MAX_GROUP_SKIPPED_KEYS = 2000;
/** Largest group message plaintext (as an envelope's). */
export const MAX_GROUP_PLAINTEXT_BYTES = 64 * 1024;

const ZERO_SALT = new Uint8Array(32);
const INFO = utf8.encode(SENDER_KEY_INFO);
const suite = NOBLE_RATCHET_SUITE;

export interface SenderChainJson {
  epoch: number;
  /** The iteration of the next message key this chain gives. */
  iteration: number;
  chain_key: string;
  signing_public: string;
  /** Only on this device's own chain. */
  signing_private?: string;
  /** Seeds of message keys skipped over (out-of-order delivery), oldest first. */
  skipped: { iteration: number; seed: string }[];
}

/** What a member sends each other member over their pairwise session: its chain as it is now. */
export interface SenderKeyDistribution {
  group_id: string;
  sender_device: string;
  epoch: number;
  iteration: number;
  chain_key: string;
  signing_key: string;
}

/** One group message: the same bytes for every member device. */
export interface GroupMessage {
  group_id: string;
  sender_device: string;
  epoch: number;
  iteration: number;
  ciphertext: string;
  signature: string;
}

/** A uint32 (epochs and iterations are numbered so). */
export function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}

function bytesOf(b64: unknown, length: number, what: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = fromBase64Url(String(b64));
  } catch {
    throw new GroupError('group_bad_message', `${what}: not base64url`);
  }
  if (out.length !== length) throw new GroupError('group_bad_message', `${what}: ${length} bytes expected`);
  return out;
}

/** The message key material of one seed: iv (16) | cipher key (32), as libsignal's SenderMessageKey. */
export function senderMessageKey(seed: Uint8Array): { iv: Uint8Array; cipherKey: Uint8Array } {
  const out = suite.hkdfSha256(seed, ZERO_SALT, INFO, 48);
  return { iv: out.slice(0, 16), cipherKey: out.slice(16, 48) };
}

/** One step of the chain: the seed of the message key at this iteration, and the chain key after it. */
export function senderChainStep(chainKey: Uint8Array): { seed: Uint8Array; next: Uint8Array } {
  return { seed: suite.hmacSha256(chainKey, MESSAGE_KEY_SEED), next: suite.hmacSha256(chainKey, CHAIN_KEY_SEED) };
}

/** What a group message's tag and signature cover besides its ciphertext: where it belongs and its place. */
export function groupMessageAd(m: Pick<GroupMessage, 'group_id' | 'sender_device' | 'epoch' | 'iteration'>): Uint8Array {
  return concatBytes([lp(GROUP_MESSAGE_AD_LABEL), lp(m.group_id), lp(m.sender_device), u32be(m.epoch), u32be(m.iteration)]);
}

/** A new chain of this device for `epoch`: a random chain key and signing key pair (`rng`: test vectors). */
export function newSenderChain(epoch: number, rng: (n: number) => Uint8Array = randomBytes): SenderChainJson {
  const signing = rng(32);
  return {
    epoch,
    iteration: 0,
    chain_key: toBase64Url(rng(32)),
    // XEdDSA signs with an X25519 key pair.
    signing_public: toBase64Url(x25519.getPublicKey(signing)),
    signing_private: toBase64Url(signing),
    skipped: [],
  };
}

export function distributionOf(own: SenderChainJson, groupId: string, senderDevice: string): SenderKeyDistribution {
  return {
    group_id: groupId,
    sender_device: senderDevice,
    epoch: own.epoch,
    iteration: own.iteration,
    chain_key: own.chain_key,
    signing_key: own.signing_public,
  };
}

/** Another member's chain as its distribution gives it (checked: sizes and numbers). */
export function chainFromDistribution(d: SenderKeyDistribution): SenderChainJson {
  if (!d || typeof d !== 'object' || !isU32(d.epoch) || !isU32(d.iteration))
    throw new GroupError('group_bad_message', 'a sender key distribution needs a u32 epoch and iteration');
  bytesOf(d.chain_key, 32, 'chain_key');
  bytesOf(d.signing_key, 32, 'signing_key');
  return { epoch: d.epoch, iteration: d.iteration, chain_key: d.chain_key, signing_public: d.signing_key, skipped: [] };
}

/** Seals `plaintext` on our own chain: the next chain state and the message. */
export function senderKeyEncrypt(
  own: SenderChainJson,
  groupId: string,
  senderDevice: string,
  plaintext: Uint8Array,
): { chain: SenderChainJson; message: GroupMessage } {
  if (!own.signing_private) throw new GroupError('group_invalid_argument', 'only our own chain (with its signing key) can seal');
  if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_GROUP_PLAINTEXT_BYTES)
    throw new GroupError('group_invalid_argument', `plaintext: a Uint8Array of at most ${MAX_GROUP_PLAINTEXT_BYTES} bytes`);
  if (own.iteration >= 0xffff_ffff) throw new GroupError('group_invalid_argument', 'this chain is used up: rotate the sender key');
  const { seed, next } = senderChainStep(fromBase64Url(own.chain_key));
  const { iv, cipherKey } = senderMessageKey(seed);
  const head = { group_id: groupId, sender_device: senderDevice, epoch: own.epoch, iteration: own.iteration };
  const ad = groupMessageAd(head);
  const ciphertext = suite.seal(cipherKey, iv.subarray(0, 12), plaintext, ad);
  const signature = xeddsaSign(fromBase64Url(own.signing_private), concatBytes([ad, ciphertext]));
  return {
    chain: { ...own, iteration: own.iteration + 1, chain_key: toBase64Url(next) },
    message: { ...head, ciphertext: toBase64Url(ciphertext), signature: toBase64Url(signature) },
  };
}

/**
 * Opens a message on the sender's chain of its epoch. The signature is checked first (a member holding the
 * chain cannot forge another's message), then the key is found: an earlier skipped one, or by stepping the
 * chain forward (at most MAX_GROUP_SKIP steps), and the tag is checked. Only then is the new state returned.
 */
export function senderKeyDecrypt(chain: SenderChainJson, message: GroupMessage): { chain: SenderChainJson; plaintext: Uint8Array } {
  if (!message || typeof message !== 'object' || !isU32(message.iteration) || !isU32(message.epoch))
    throw new GroupError('group_bad_message', 'a group message needs a u32 epoch and iteration');
  if (message.epoch !== chain.epoch) throw new GroupError('group_unknown_sender', `no chain of epoch ${message.epoch} here`);
  let ciphertext: Uint8Array;
  let signature: Uint8Array;
  try {
    ciphertext = fromBase64Url(String(message.ciphertext));
    signature = fromBase64Url(String(message.signature));
  } catch {
    throw new GroupError('group_bad_message', 'ciphertext and signature: base64url');
  }
  const ad = groupMessageAd(message);
  if (!xeddsaVerify(fromBase64Url(chain.signing_public), concatBytes([ad, ciphertext]), signature))
    throw new GroupError('group_bad_message', "the signature is not the sender's");

  let seed: Uint8Array;
  let next: SenderChainJson;
  if (message.iteration < chain.iteration) {
    const at = chain.skipped.findIndex((s) => s.iteration === message.iteration);
    if (at < 0) throw new GroupError('group_duplicate', `message ${message.iteration} of this chain was opened before`);
    seed = fromBase64Url(chain.skipped[at]!.seed);
    next = { ...chain, skipped: chain.skipped.filter((_, i) => i !== at) };
  } else {
    const gap = message.iteration - chain.iteration;
    if (gap > MAX_GROUP_SKIP) throw new GroupError('group_too_many_skipped', `${gap} skipped messages (at most ${MAX_GROUP_SKIP})`);
    let ck = fromBase64Url(chain.chain_key);
    const skipped = [...chain.skipped];
    for (let i = chain.iteration; i < message.iteration; i++) {
      const step = senderChainStep(ck);
      skipped.push({ iteration: i, seed: toBase64Url(step.seed) });
      ck = step.next;
    }
    const step = senderChainStep(ck);
    seed = step.seed;
    next = {
      ...chain,
      iteration: message.iteration + 1,
      chain_key: toBase64Url(step.next),
      skipped: skipped.slice(Math.max(0, skipped.length - MAX_GROUP_SKIPPED_KEYS)),
    };
  }
  const { iv, cipherKey } = senderMessageKey(seed);
  try {
    return { chain: next, plaintext: suite.open(cipherKey, iv.subarray(0, 12), ciphertext, ad) };
  } catch {
    throw new GroupError('group_bad_message', 'the message did not verify');
  }
}
