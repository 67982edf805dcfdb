// The peer link between two paired desktops (docs/protocol.md, "Peer link"): after the Noise handshake every
// WebSocket message is one Noise transport message; its plaintext is one fragment of one frame below (UTF-8
// JSON). Everything here is checked before use: a frame that does not parse closes the link.
import { z } from 'zod';
import { BlobId } from '../e2ee/file-manifest.js';
import { DeviceId, Envelope, EnvelopeId, MAX_ENVELOPE_JSON_BYTES, MAX_RECIPIENTS } from '../e2ee/schema.js';
import { PrekeyBundle } from './prekeys.js';
import { DirectoryDevice, MAX_REPLACED_IDS } from './relay.js';
import { DisplayName, NodeId, PublicKeyB64 } from './schemas.js';

/** The Noise protocol of the link: KK (both static keys pinned at pairing) with the pairing's key as psk0. */
export const PEER_LINK_PROTOCOL = 'Noise_KKpsk0_25519_ChaChaPoly_SHA256';
/** The WebSocket route on every node's port. */
export const PEER_LINK_PATH = '/api/peer/link';
/** Query parameter naming the pairing (its session id; not a secret). */
export const PEER_LINK_SESSION_PARAM = 'session';
/** The session id a dialer names: what the route accepts before looking the pairing up. */
export const PEER_LINK_SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;
/**
 * Query parameter with the dialer's optional features, comma-separated. A node that names none (an older one)
 * gets frames exactly as before; the listener names its own in its hello, only to a dialer that named some.
 */
export const PEER_LINK_FEATURES_PARAM = 'features';
/** Device entries may carry `replaces` (the ids a re-paired device replaced: "safety number changed" elsewhere). */
export const PEER_FEATURE_REPLACES = 'replaces';
/** The link carries key_log_head frames (the heads of the cloud's key log each side verified). */
export const PEER_FEATURE_KEY_LOG = 'key_log';
/** The features this node speaks. */
export const PEER_LINK_FEATURES: readonly string[] = [PEER_FEATURE_REPLACES, PEER_FEATURE_KEY_LOG];
export const PeerLinkQuery = z.object({
  [PEER_LINK_SESSION_PARAM]: z.string().regex(PEER_LINK_SESSION_ID),
  [PEER_LINK_FEATURES_PARAM]: z.string().max(200).optional(),
});

/** Of the features a peer named (in a dialer's comma-separated query, or a listener's hello), those we speak. */
export function featuresOf(named: string | readonly string[] | undefined): Set<string> {
  const list = typeof named === 'string' ? named.split(',') : (named ?? []);
  return new Set(list.filter((f) => PEER_LINK_FEATURES.includes(f)));
}

/**
 * Unacked envelope + seen frames one side may have in flight. The sender never exceeds it; a receiver that finds
 * more in its queue closes the link (CLOSE_FLOOD): a flooding peer costs at most this much memory.
 */
export const PEER_LINK_WINDOW = 256;
/** Most devices one node may announce (a household has a few dozen; this bounds one directory frame). */
export const MAX_ANNOUNCED_DEVICES = 512;
/** Largest frame (reassembled JSON): an envelope of the largest size, or a full directory, with room to spare. */
export const MAX_PEER_FRAME_BYTES = Math.max(MAX_ENVELOPE_JSON_BYTES + 1024, 256 * 1024);
/** Noise transport messages are at most 65535 bytes: 16 of them are the tag, 1 the fragment flag. */
export const MAX_FRAGMENT_PLAINTEXT = 65535 - 16 - 1;
/** First plaintext byte of a transport message: more fragments of this frame follow, or this is the last. */
export const FRAGMENT_MORE = 1;
export const FRAGMENT_LAST = 0;
/**
 * First plaintext byte of a transport message that carries blob bytes, not JSON: then the blob id's length (one
 * byte) and the id (ASCII), the offset (8 bytes, big-endian) and the bytes. Never sent between fragments of a frame.
 */
export const FRAGMENT_BLOB = 2;
/** Bytes one blob_read may ask for, and how many may be outstanding per link: what a link may hold in memory. */
export const MAX_BLOB_READ_BYTES = 1024 * 1024;
export const MAX_BLOB_READS = 4;

/** WebSocket close codes of the link (4000-4999 are the application's). */
export const PEER_CLOSE = {
  /** A frame failed to decrypt (replayed, reordered, dropped, forged) or to parse, or broke the protocol. */
  protocol: 4400,
  /** The pairing is gone on this side (unpaired, revoked, ended by the peer). */
  revoked: 4401,
  /** An envelope from a device that is not the peer's, or an announce claiming our or another peer's device. */
  refused: 4403,
  /** Both sides dialed: this link lost the tie-break (the one dialed by the smaller node id stays). */
  duplicate: 4409,
  /** A reassembled frame over MAX_PEER_FRAME_BYTES. (A single message over the WS limit gets ws's 1009.) */
  tooLarge: 4413,
  /** The peer exceeded the window (more unacked frames than PEER_LINK_WINDOW). */
  flood: 4429,
  /** Unpair delivered and acknowledged: the pairing is over. */
  unpaired: 4000,
  /** This node is stopping. */
  shutdown: 1001,
} as const;

const Seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** A device as a node announces it: with `replaces` only to a peer that named that feature. */
export const AnnouncedDevice = DirectoryDevice.extend({ replaces: z.array(DeviceId).max(MAX_REPLACED_IDS).optional() }).strict();
export type AnnouncedDevice = z.infer<typeof AnnouncedDevice>;
const Devices = z.array(AnnouncedDevice).max(MAX_ANNOUNCED_DEVICES);

/** First frame each side sends once the handshake is done: who it is and which devices it serves. */
export const HelloFrame = z
  .object({
    type: z.literal('hello'),
    node_id: NodeId,
    name: DisplayName,
    devices: Devices,
    /** The listener's features, sent only to a dialer that named its own (an older dialer would refuse the field). */
    features: z.array(z.string().max(32)).max(16).optional(),
  })
  .strict();
/** The sender's devices changed (paired, renamed, unpaired): the full set replaces the last one. */
export const DirectoryFrame = z.object({ type: z.literal('directory'), devices: Devices }).strict();
/** The sender node was renamed. */
export const NodeFrame = z.object({ type: z.literal('node'), name: DisplayName }).strict();
/** An envelope from one of the sender's devices, outbox row `seq` (the receiver acks that seq). */
export const EnvelopeFrame = z.object({ type: z.literal('envelope'), seq: Seq, envelope: Envelope }).strict();
/** The receiver's devices `device_ids` saw envelope `id` (which the receiver of this frame sent). */
export const SeenFrame = z
  .object({
    type: z.literal('seen'),
    seq: Seq,
    id: EnvelopeId,
    device_ids: z.array(DeviceId).min(1).max(MAX_RECIPIENTS),
  })
  .strict();
/** Outbox row `seq` of the other side is durably taken (committed), minus `refused` recipients. */
export const AckFrame = z
  .object({
    type: z.literal('ack'),
    seq: Seq,
    refused: z
      .object({ device_ids: z.array(DeviceId).min(1).max(MAX_RECIPIENTS), error: z.literal('recipient_backlog_full') })
      .strict()
      .optional(),
  })
  .strict();
/** The sender unpaired the receiver: it must end the pairing, answer unpair_ack, and never use its secrets again. */
export const UnpairFrame = z.object({ type: z.literal('unpair') }).strict();
export const UnpairAckFrame = z.object({ type: z.literal('unpair_ack') }).strict();
/** Why the sender is about to close the link (for logs; the close code is what counts). */
export const ErrorFrame = z.object({ type: z.literal('error'), error: z.string().max(64), message: z.string().max(500) }).strict();

const Bytes = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const BlobError = z.string().regex(/^[a-z_]{1,64}$/);

/** A blob (ciphertext of a file) for some of the receiver's devices is complete here: pull it (blob_read). */
export const BlobOfferFrame = z
  .object({
    type: z.literal('blob_offer'),
    id: BlobId,
    size: Bytes,
    sha256: Sha256Hex,
    from_device: DeviceId,
    to: z.array(DeviceId).min(1).max(MAX_RECIPIENTS),
  })
  .strict();
/** Send bytes [offset, offset + length) of an offered blob (as FRAGMENT_BLOB messages, in order). */
export const BlobReadFrame = z
  .object({ type: z.literal('blob_read'), id: BlobId, offset: Bytes, length: z.number().int().positive().max(MAX_BLOB_READ_BYTES) })
  .strict();
/** The receiver holds the whole blob, its SHA-256 checked: the sender's part for those devices is done. */
export const BlobHaveFrame = z.object({ type: z.literal('blob_have'), id: BlobId }).strict();
/** The receiver will not take the blob (its limits, a digest mismatch, no such devices): the sender stops offering it. */
export const BlobRefusedFrame = z
  .object({ type: z.literal('blob_refused'), id: BlobId, error: BlobError, message: z.string().max(500) })
  .strict();
/** The sender no longer has the blob (cancelled, expired): the receiver drops what it has of it. */
export const BlobGoneFrame = z.object({ type: z.literal('blob_gone'), id: BlobId }).strict();

// A prekey claim for a device the receiver serves (docs/e2ee.md "Prekeys and the directory"): the receiver
// answers from its own store with prekey_bundle (one one-time prekey gone for good) or prekey_refused. These are
// requests with an answer, not outbox rows: they go beside the envelope chain and are never resent (a claim the
// sender gave up on may have taken a one-time prekey; the initiator just claims again).
const PrekeyRequestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
export const PrekeyClaimFrame = z.object({ type: z.literal('prekey_claim'), request_id: PrekeyRequestId, device_id: DeviceId }).strict();
export const PrekeyBundleFrame = z.object({ type: z.literal('prekey_bundle'), request_id: PrekeyRequestId, bundle: PrekeyBundle }).strict();
export const PrekeyRefusedFrame = z
  .object({ type: z.literal('prekey_refused'), request_id: PrekeyRequestId, error: z.enum(['no_prekeys', 'unknown_recipient']) })
  .strict();

/**
 * The latest head of the cloud's key log the sender verified (docs/key-transparency.md "Gossip"): the receiver,
 * if it uses the same cloud (the same key), checks it is consistent with its own; a cloud that shows the two
 * nodes different logs is caught. Only to a peer that named PEER_FEATURE_KEY_LOG.
 */
export const KeyLogHeadFrame = z
  .object({
    type: z.literal('key_log_head'),
    cloud_key: PublicKeyB64,
    head: z
      .object({
        size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
        root: z.string().max(64),
        signature: z.string().max(128),
      })
      .strict(),
  })
  .strict();

export const PeerFrame = z.discriminatedUnion('type', [
  KeyLogHeadFrame,
  PrekeyClaimFrame,
  PrekeyBundleFrame,
  PrekeyRefusedFrame,
  BlobOfferFrame,
  BlobReadFrame,
  BlobHaveFrame,
  BlobRefusedFrame,
  BlobGoneFrame,
  HelloFrame,
  DirectoryFrame,
  NodeFrame,
  EnvelopeFrame,
  SeenFrame,
  AckFrame,
  UnpairFrame,
  UnpairAckFrame,
  ErrorFrame,
]);
export type PeerFrame = z.infer<typeof PeerFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type BlobFrame = Extract<PeerFrame, { type: `blob_${string}` }>;
export type PrekeyFrame = Extract<PeerFrame, { type: `prekey_${string}` }>;

/** Blob bytes as they come out of a FRAGMENT_BLOB message. */
export interface BlobData {
  type: 'blob_data';
  id: string;
  offset: number;
  data: Uint8Array;
}
