// The relay contract: node <-> cloud frames on WS /v1/relay, the cloud's key directory, the
// device <-> node messaging API and the desktop UI's cloud/messaging admin API. Nodes and the cloud only ever
// see envelopes (src/shared/e2ee/schema.ts), never plaintext. docs/relay.md walks through the flows.
import { z } from 'zod';
import { DeviceId, Envelope, EnvelopeId } from '../e2ee/schema.js';
import { AccountEmail } from './cloud.js';
import { BlobSha256 } from './cloud-blobs.js';
import { DisplayName, PublicKeyB64 } from './primitives.js';

// ---- key directory (cloud REST, `Authorization: Noise <token>`) ---------------------------------------------

/** One device a node publishes: public keys only. */
export const DirectoryDevice = z
  .object({
    device_id: DeviceId,
    /** base64url of the device's static X25519 public key (the key envelopes are sealed to / opened with). */
    public_key: PublicKeyB64,
    name: DisplayName,
    kind: z.enum(['phone', 'desktop']),
  })
  .strict();
export type DirectoryDevice = z.infer<typeof DirectoryDevice>;

/** Most devices in one PUT /api/keys; a node with more publishes its set in pages (`range`, below). */
export const PUBLISH_PAGE_SIZE = 256;
/**
 * Most devices the cloud keeps published per node: far above any household, and it bounds one node's share of
 * the directory (and of every GET /api/keys answer). Devices past it are refused one by one (device_limit_reached).
 */
export const MAX_PUBLISHED_PER_NODE = 4096;

/** Old ids a directory entry names as replaced (the latest ones): enough for any real history of reinstalls. */
export const MAX_REPLACED_IDS = 8;

/** An entry with only the old ids it may name (`keep`); without `replaces` at all when none is left. */
export function keepReplaces<T extends { replaces?: string[] | undefined }>(entry: T, keep: (id: string) => boolean): T {
  if (!entry.replaces) return entry;
  const replaces = entry.replaces.filter(keep);
  if (replaces.length === entry.replaces.length) return entry;
  const { replaces: _all, ...rest } = entry;
  return (replaces.length ? { ...rest, replaces } : rest) as T;
}

/**
 * PUT /api/keys: the devices this node serves. Without `range` they replace the node's whole set; with `range`
 * only its entries with `after` < device_id <= `through` (byte order; null = no bound), so a set larger than a
 * page goes up as pages of consecutive ranges. Each device is published or refused on its own (PublishKeysResponse).
 */
export const PublishKeysRequest = z
  .object({
    devices: z.array(DirectoryDevice).max(PUBLISH_PAGE_SIZE),
    range: z.object({ after: DeviceId.nullable(), through: DeviceId.nullable() }).strict().optional(),
  })
  .strict();
export type PublishKeysRequest = z.infer<typeof PublishKeysRequest>;

/** Why the cloud did not publish one device: another node publishes its id, or the node is at its cap. */
export const PUBLISH_REFUSAL_CODES = ['device_id_taken', 'device_limit_reached'] as const;
export const PublishRefusal = z.object({ device_id: z.string(), error: z.enum(PUBLISH_REFUSAL_CODES), message: z.string() });
export type PublishRefusal = z.infer<typeof PublishRefusal>;

/** GET /api/keys: every published device, with the node (its cloud device_id) that serves it. */
export const DirectoryEntry = DirectoryDevice.extend({ node: z.string(), updated_at: z.string() });
export type DirectoryEntry = z.infer<typeof DirectoryEntry>;
export const DirectoryResponse = z.object({ devices: z.array(DirectoryEntry) });
export type DirectoryResponse = z.infer<typeof DirectoryResponse>;
/** PUT /api/keys answers 200: the node's entries (in the range) as stored, and the devices it refused. */
export const PublishKeysResponse = z.object({ devices: z.array(DirectoryEntry), refused: z.array(PublishRefusal).default([]) });
export type PublishKeysResponse = z.infer<typeof PublishKeysResponse>;

/**
 * PUT /api/keys/replacements (a node's whole set) and GET /api/keys/replacements (everyone's): which older ids
 * each device replaced when it was re-paired at its desktop, so that other homes show "safety number changed",
 * not a stranger. Apart from /api/keys, so that a node and a cloud of different versions each ignore what the
 * other does not know (a 404 here means "not spoken").
 */
export const DeviceReplacement = z.object({ device_id: DeviceId, replaces: z.array(DeviceId).min(1).max(MAX_REPLACED_IDS) }).strict();
export type DeviceReplacement = z.infer<typeof DeviceReplacement>;
export const PublishReplacementsRequest = z.object({ replacements: z.array(DeviceReplacement).max(MAX_PUBLISHED_PER_NODE) }).strict();
export type PublishReplacementsRequest = z.infer<typeof PublishReplacementsRequest>;
/** What the cloud kept of a publish (its own devices only, ids nobody publishes now), or everyone's (GET). */
export const ReplacementsResponse = z.object({ replacements: z.array(DeviceReplacement) });
export type ReplacementsResponse = z.infer<typeof ReplacementsResponse>;

// ---- WS /v1/relay (node <-> cloud; text frames, one JSON object each) --------------------------------------
//
// node -> cloud
//   send    {type:'send', envelope}    Store and route. Answered by `accepted` once the envelope is durably
//                                       stored (also for an id already stored: sending is idempotent), or by
//                                       `rejected` (final: the node drops it from its outbox and tells the
//                                       sender's device why).
//   ack     {type:'ack', seq}           The node has durably stored delivery `seq` (envelope or receipt).
//           {type:'ack', seq, refused:{device_ids, error}}   Delivery `seq` is done with, but the node did NOT
//                                       store it for `device_ids` (error: recipient_backlog_full, the device's
//                                       inbox is at its cap). The cloud forgets the row either way and sends the
//                                       sender a failure receipt for those devices.
// cloud -> node
//   hello     {type:'hello', device_id, pending}          First frame after the upgrade.
//   accepted  {type:'accepted', id}
//   rejected  {type:'rejected', id, error, message}       error: invalid_envelope | unknown_recipient |
//                                                          sender_not_published | envelope_id_conflict |
//                                                          recipient_backlog_full (a recipient node's queue
//                                                          is at its cap) | sender_backlog_full (this node's
//                                                          own queue is: it must ack before it may send) |
//                                                          not_a_contact (a recipient is outside the sender's
//                                                          household and contacts)
//   deliver   {type:'deliver', seq, envelope}            For this node's devices; resent (same seq) until
//                                                          acked, also after a reconnect. seq grows per node.
//   receipt   {type:'receipt', seq, id, device_ids}      Envelope `id` (sent by this node) was stored by the
//                                                          node(s) serving `device_ids`: "delivered".
//             {type:'receipt', seq, id, device_ids, error}  With `error` (recipient_backlog_full): the node(s)
//                                                          serving `device_ids` refused to store it: "failed".
//   error     {type:'error', error, message}             A frame the cloud could not take (then it goes on).
//   blob_ready {type:'blob_ready', sha256}               A blob for this node's devices is complete at the cloud
//                                                          (GET /api/blobs/incoming says what). Not queued, no
//                                                          seq, no ack: a node that missed it finds it in
//                                                          /incoming, which it reads after each hello.
// Deliveries and receipts share one ordered queue per recipient node; `seq` is its position.

export const RelaySendFrame = z.object({ type: z.literal('send'), envelope: Envelope }).strict();
/** Why a recipient node acked a delivery without storing it for some of its devices. */
export const RELAY_REFUSAL_CODES = ['recipient_backlog_full'] as const;
export type RelayRefusalCode = (typeof RELAY_REFUSAL_CODES)[number];
export const RelayAckFrame = z
  .object({
    type: z.literal('ack'),
    seq: z.number().int().positive(),
    refused: z
      .object({ device_ids: z.array(DeviceId).min(1).max(64), error: z.enum(RELAY_REFUSAL_CODES) })
      .strict()
      .optional(),
  })
  .strict();
export const NodeToCloudFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('send'), envelope: z.unknown() }).strict(),
  RelayAckFrame,
]);
export type NodeToCloudFrame = z.infer<typeof RelaySendFrame> | z.infer<typeof RelayAckFrame>;

export const RELAY_REJECT_CODES = [
  'invalid_envelope',
  'unknown_recipient',
  'sender_not_published',
  'envelope_id_conflict',
  'recipient_backlog_full',
  'sender_backlog_full',
  'not_a_contact',
] as const;
export type RelayRejectCode = (typeof RELAY_REJECT_CODES)[number];

export const CloudToNodeFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), device_id: z.string(), pending: z.number().int().nonnegative() }),
  z.object({ type: z.literal('accepted'), id: EnvelopeId }),
  z.object({ type: z.literal('rejected'), id: z.string(), error: z.enum(RELAY_REJECT_CODES), message: z.string() }),
  z.object({ type: z.literal('deliver'), seq: z.number().int().positive(), envelope: Envelope }),
  z.object({
    type: z.literal('receipt'),
    seq: z.number().int().positive(),
    id: EnvelopeId,
    device_ids: z.array(DeviceId).min(1),
    error: z.enum(RELAY_REFUSAL_CODES).optional(),
  }),
  z.object({ type: z.literal('error'), error: z.string(), message: z.string() }),
  z.object({ type: z.literal('blob_ready'), sha256: BlobSha256 }),
]);
export type CloudToNodeFrame = z.infer<typeof CloudToNodeFrame>;

/** Most deliveries the cloud has in flight (sent, not acked) per node connection. */
export const RELAY_WINDOW = 256;

export const CloudLinkStatus = z.enum([
  'not_configured',
  'logged_out',
  'awaiting_code',
  /** A sign-in with a passkey or the OpenID provider waits for the person in the browser. */
  'awaiting_browser',
  'connecting',
  'connected',
  'reconnecting',
]);
export type CloudLinkStatus = z.infer<typeof CloudLinkStatus>;

// ---- device <-> node messaging API (signed device requests, see docs/protocol.md) ---------------------------
//
// GET  /api/messages/directory        -> MessagingDirectory     devices this device can write to
// POST /api/messages  {envelope}      -> 202 SendAccepted       queued durably before this answer
// GET  /api/messages/inbox?after=N&limit=M -> InboxPage         envelopes for this device, oldest first
// POST /api/messages/inbox/ack {up_to_seq} -> {ok, removed}     the device has them; the node forgets them
// GET  /api/messages/outbox           -> {messages: MessageStatusView[]}   status of what this device sent
// Pushes on the device WebSocket (/api/device/events): InboxPush, MessageStatusPush (all its frames: device-events.ts).
// Errors: 400 invalid_envelope, 403 sender_mismatch (from_device is not the calling device),
//         409 cloud_not_linked (this node was never linked to a cloud), 429 outbox_full (this device has too
//         many envelopes waiting for the cloud; nothing was queued, try again once the cloud took some).
//         A recipient whose inbox (or whose node's cloud queue) is at its cap: status 'failed' with error
//         recipient_backlog_full. A cloud `rejected` (e.g. unknown_recipient)
//         reaches the sender later as status 'failed' with the cloud's code in `error`.

/**
 * How an envelope reaches a recipient device, in order of preference: `local` (a device of the same node),
 * `lan` (the peer link to a paired desktop of this home), `cloud` (the relay, for other homes and as the
 * fallback when a home desktop's link stays down). docs/relay.md "Routes".
 */
export const Route = z.enum(['local', 'lan', 'cloud']);
export type Route = z.infer<typeof Route>;

/**
 * Where a device lives, as the caller sees it: `local` (served by this node), `home` (served by a desktop this
 * node is paired with: the home mesh), `remote` (another home, known from the cloud's key directory).
 */
export const DeviceHome = z.enum(['local', 'home', 'remote']);
export type DeviceHome = z.infer<typeof DeviceHome>;

export const MessagingDirectoryDevice = DirectoryDevice.extend({
  home: DeviceHome,
  /**
   * The desktop node that serves the device: the To list groups local and home devices by it; for a remote
   * device it is the public key of the other home's desktop that published it to the cloud (its id is not known here).
   */
  node_id: z.string().optional(),
  /** That desktop's current name. */
  node_name: z.string().optional(),
  /** The route a message to this device would take now; absent: it would wait (its desktop is offline, no cloud). */
  route: Route.optional(),
  /**
   * Older ids of this same device, which it replaced when it was paired again (a reinstall gives a new id and
   * key), latest first: whoever knew one of them is told "safety number changed", not shown a stranger. Only
   * the device's own desktop knows this (listed for its local devices).
   */
  replaces: z.array(DeviceId).max(MAX_REPLACED_IDS).optional(),
});
export type MessagingDirectoryDevice = z.infer<typeof MessagingDirectoryDevice>;

/** A desktop of the home as the caller sees it: this node (`self`) and every paired desktop. */
export const HomeNodeView = z.object({
  node_id: z.string(),
  name: z.string(),
  self: z.boolean(),
  /** This node: always true. A paired desktop: its peer link is up. */
  online: z.boolean(),
});
export type HomeNodeView = z.infer<typeof HomeNodeView>;

export const MessagingDirectory = z.object({
  /** The calling device's own id (its node_id), so a client knows what to put in from_device. */
  me: DeviceId,
  devices: z.array(MessagingDirectoryDevice),
  /** This node first, then the paired desktops (by name). */
  nodes: z.array(HomeNodeView),
  cloud: z.object({ status: CloudLinkStatus }),
});
export type MessagingDirectory = z.infer<typeof MessagingDirectory>;

export const SendRequest = z.object({ envelope: z.unknown() }).strict();
/**
 * queued (on this node, waiting for its route) -> sent (left this node: the cloud took it) -> delivered (stored on
 * the recipient's node; a local recipient is delivered at once) -> seen (the recipient device acked it from its
 * inbox; carried back over the peer link, not through the cloud); or failed (with `error`). With several
 * recipients: the least advanced of theirs, failed if any failed.
 */
export const MessageStatus = z.enum(['queued', 'sent', 'delivered', 'seen', 'failed']);
export type MessageStatus = z.infer<typeof MessageStatus>;
export const SendAccepted = z.object({ id: EnvelopeId, status: MessageStatus, route: Route.optional() });
export type SendAccepted = z.infer<typeof SendAccepted>;

export const InboxItem = z.object({ seq: z.number().int().positive(), envelope: Envelope, received_at: z.string() });
export type InboxItem = z.infer<typeof InboxItem>;
export const InboxPage = z.object({ messages: z.array(InboxItem), next_after: z.number().int().nonnegative() });
export type InboxPage = z.infer<typeof InboxPage>;
export const InboxAckRequest = z.object({ up_to_seq: z.number().int().positive() }).strict();

export const MessageStatusView = z.object({
  id: EnvelopeId,
  to: z.array(DeviceId),
  status: MessageStatus,
  /** The route it took (with several recipients, the farthest: local < lan < cloud); absent while queued. */
  route: Route.optional(),
  created_at: z.string(),
  error: z.string().optional(),
});
export type MessageStatusView = z.infer<typeof MessageStatusView>;

export type InboxPush = { type: 'envelope'; seq: number; envelope: Envelope; received_at: string };
export type MessageStatusPush = { type: 'message_status'; id: string; status: MessageStatus; route?: Route; error?: string };

// ---- desktop UI admin API (admin token, loopback; see admin-routes) ------------------------------------------
//
// GET  /api/admin/cloud                   -> CloudLinkView
// POST /api/admin/cloud/login  {url, email?} -> CloudLinkView (status 'awaiting_code': a code was mailed)
// POST /api/admin/cloud/code   {code}     -> CloudLinkView (status 'connecting' / 'connected')
// POST /api/admin/cloud/logout            -> CloudLinkView (status 'logged_out'; token forgotten)
// The desktop UI is a messaging device of its own (device id `<node_id>.ui`); its private key stays in the
// renderer. The node learns only its public key:
// PUT  /api/admin/messages/device {public_key} -> {device_id}
// GET  /api/admin/messages/directory | POST /api/admin/messages {envelope} | GET /api/admin/messages/inbox
// POST /api/admin/messages/inbox/ack | GET /api/admin/messages/outbox  — same bodies as the device API.
// Admin events (WS /api/admin/events) gain {type:'cloud', cloud: CloudLinkView} and the device pushes above.

/** Why the node no longer trusts its cloud's key directory (docs/key-transparency.md "What a node checks"). */
export const KEY_LOG_ALARM_CODES = [
  'key_log_bad_signature',
  'key_log_inconsistent',
  'key_log_not_included',
  'key_log_foreign_key',
  'key_log_forked',
] as const;
export const KeyLogAlarm = z.object({ code: z.enum(KEY_LOG_ALARM_CODES), message: z.string(), at: z.string() });
export type KeyLogAlarm = z.infer<typeof KeyLogAlarm>;
/**
 * The node's audit of its cloud's key log: `verified` (the last directory read was proven against a head that
 * extends every head this node kept), `unchecked` (no read yet), `unsupported` (an older cloud without a log),
 * `alarm` (a check failed: the directory read was not used, and `alarm` says why, until the person resets it).
 */
export const KeyLogView = z.object({
  status: z.enum(['unchecked', 'verified', 'unsupported', 'alarm']),
  /** The size of the last head this node verified and keeps. */
  size: z.number().int().nonnegative().nullable(),
  checked_at: z.string().nullable(),
  alarm: KeyLogAlarm.nullable(),
});
export type KeyLogView = z.infer<typeof KeyLogView>;

/** A browser sign-in (or passkey registration) the node started, and how it stands or ended. */
export const ExternalLoginView = z.object({
  method: z.enum(['passkey', 'oidc', 'passkey_register']),
  url: z.string(),
  verification_uri: z.string(),
  expires_at: z.string(),
  status: z.enum(['pending', 'approved', 'failed']),
  error: z.string().nullable(),
});
export type ExternalLoginView = z.infer<typeof ExternalLoginView>;

export const CloudLinkView = z.object({
  status: CloudLinkStatus,
  url: z.string().nullable(),
  /** base64url of the pinned cloud static key (after the first handshake). */
  cloud_key: z.string().nullable(),
  /** The last problem, in words (e.g. "cloud unreachable", "the cloud's key changed"), with its stable code. */
  last_error: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
  /** When reconnecting: the next attempt (ISO time). */
  next_attempt_at: z.string().nullable(),
  token_expires_at: z.string().nullable(),
  /** The account (household) this node logs in to at its cloud; null for a cloud's legacy device-id login. */
  email: z.string().nullable(),
  outbox: z.number().int().nonnegative(),
  /** This node's devices the cloud refused to publish (they cannot send or receive through it), with why. */
  unpublished: z.array(
    z.object({ device_id: z.string(), name: z.string(), kind: z.enum(['phone', 'desktop']), error: z.string(), message: z.string() }),
  ),
  key_log: KeyLogView,
  /** The last browser sign-in this node started (null: none since the last login or logout). */
  external: ExternalLoginView.nullable(),
});
export type CloudLinkView = z.infer<typeof CloudLinkView>;

export const CloudLoginRequest = z.object({ url: z.string().trim().url().max(500), email: AccountEmail.optional() }).strict();
/** POST /api/admin/cloud/login/external: sign in in the browser, with a passkey or the cloud's OpenID provider. */
export const CloudExternalLoginRequest = z.object({ url: z.string().trim().url().max(500), method: z.enum(['passkey', 'oidc']) }).strict();
/** POST /api/admin/cloud/methods: which browser sign-ins the cloud at `url` offers. */
export const CloudMethodsRequest = z.object({ url: z.string().trim().url().max(500) }).strict();
export const CloudCodeRequest = z
  .object({
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'code: 6 digits'),
  })
  .strict();
export const UiDeviceRequest = z.object({ public_key: PublicKeyB64 }).strict();

export const UI_DEVICE_SUFFIX = '.ui';
export const uiDeviceId = (nodeId: string) => `${nodeId}${UI_DEVICE_SUFFIX}`;

// ---- the key directory's log (docs/key-transparency.md): GET /api/keys/log/head, POST /api/keys/log/proofs,
// GET /api/keys/log/consistency?from=&to=, GET /api/keys/log/hashes?from=&to=, POST /api/keys/log/leaves

export const KeyLogHeadSchema = z.object({ size: z.number().int().nonnegative(), root: z.string(), signature: z.string() });
export const KeyLogLeafSchema = z.object({
  op: z.enum(['publish', 'remove']),
  device_id: z.string(),
  node: z.string(),
  public_key: z.string().nullable(),
  at: z.string(),
});
export const KeyLogProofsRequest = z.object({ device_ids: z.array(DeviceId).min(1).max(256) }).strict();
export type KeyLogProofsRequest = z.infer<typeof KeyLogProofsRequest>;
/** Each device's latest leaf and its inclusion proof in the tree of `head` (devices the caller may not see are left out). */
export const KeyLogProofsResponse = z.object({
  head: KeyLogHeadSchema,
  entries: z.array(
    z.object({ device_id: z.string(), index: z.number().int().nonnegative(), leaf: KeyLogLeafSchema, proof: z.array(z.string()) }),
  ),
});
export type KeyLogProofsResponse = z.infer<typeof KeyLogProofsResponse>;
export const KeyLogConsistencyResponse = z.object({ proof: z.array(z.string()) });
/** GET /api/keys/log/hashes?from=&to=: entries from..to-1 as device tag + content hash (base64url), in order. */
export const KeyLogHashesResponse = z.object({ entries: z.array(z.object({ tag: z.string(), content: z.string() })) });
export type KeyLogHashesResponse = z.infer<typeof KeyLogHashesResponse>;
/** POST /api/keys/log/leaves: the leaves at these indices (those the caller may not see are left out). */
export const KeyLogLeavesRequest = z
  .object({ indices: z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)).min(1).max(256) })
  .strict();
export type KeyLogLeavesRequest = z.infer<typeof KeyLogLeavesRequest>;
export const KeyLogLeavesResponse = z.object({
  entries: z.array(z.object({ index: z.number().int().nonnegative(), leaf: KeyLogLeafSchema })),
});
export type KeyLogLeavesResponse = z.infer<typeof KeyLogLeavesResponse>;
export type KeyLogConsistencyResponse = z.infer<typeof KeyLogConsistencyResponse>;
