// The node's SQLite schema (drizzle). Changing it: edit here, run `npm run db:generate`, commit the new SQL
// in migrations/. JSON columns hold small lists/maps (capabilities, addresses, metadata) as text.

import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Every node this one knows: itself (is_current = 1) and every paired device. */
export const meshNodes = sqliteTable(
  'mesh_nodes',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    hostname: text('hostname'),
    port: integer('port'),
    /** Stored as last computed; the presence sweeper flips it to 'offline' after the configured silence. */
    status: text('status', { enum: ['online', 'offline'] })
      .notNull()
      .default('offline'),
    kind: text('kind', { enum: ['desktop', 'phone'] })
      .notNull()
      .default('desktop'),
    capabilities: text('capabilities', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
    lastSeen: text('last_seen'),
    createdAt: text('created_at').notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    isCurrent: integer('is_current', { mode: 'boolean' }).notNull().default(false),
    publicKey: text('public_key'),
    pairedAt: text('paired_at'),
    addresses: text('addresses', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
    /**
     * A paired desktop told us over the peer link that it unpaired us: our sessions and secrets for it are gone,
     * the row stays so the person reads "<name> unpaired this desktop" and removes it. Null for a live pairing.
     */
    endedByPeerAt: text('ended_by_peer_at'),
  },
  (t) => [
    // At most one row may describe this node itself.
    uniqueIndex('mesh_nodes_one_current').on(t.isCurrent).where(sql`is_current = 1`),
  ],
);

/** Pairing codes shown as QR + PIN. Rows are kept after use so a reused code says "used", not "unknown". */
export const pairingCodes = sqliteTable('pairing_codes', {
  code: text('code').primaryKey(),
  linkingCode: text('linking_code').notNull().unique(),
  /** Kept in clear: 10^6 PINs make hashing pointless, and a later key schedule mixes the PIN itself. */
  pin: text('pin').notNull(),
  status: text('status', { enum: ['active', 'used', 'locked'] })
    .notNull()
    .default('active'),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  createdAt: text('created_at').notNull(),
  /** Unix ms, compared numerically. */
  expiresAt: integer('expires_at').notNull(),
  usedBy: text('used_by'),
  usedAt: text('used_at'),
});

/**
 * Sessions granted to paired devices. A device proves each request with an HMAC under a key derived from the
 * pairing handshake; the node keeps only that verification key (server_hmac_key), sealed at rest.
 */
export const deviceSessions = sqliteTable(
  'device_sessions',
  {
    /** Sent as `Authorization: Session <id>`; random, not a secret on its own. */
    id: text('id').primaryKey(),
    nodeId: text('node_id').notNull(),
    /** server_hmac_key, sealed with the node's SecretBox. */
    hmacKey: text('hmac_key').notNull(),
    /** 'pending' until a person confirmed the short verification code (desktop pairing by linking code). */
    state: text('state', { enum: ['active', 'pending'] })
      .notNull()
      .default('active'),
    createdAt: text('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    lastUsedAt: text('last_used_at'),
    /** Set on unpair/logout/re-pair; kept so a revoked session is told "revoked", not "unknown". */
    revokedAt: text('revoked_at'),
  },
  (t) => [index('device_sessions_node').on(t.nodeId)],
);

/** Replay guard: every (session, nonce) a signed request used, kept for the length of the time window. */
export const usedNonces = sqliteTable(
  'used_nonces',
  {
    sessionId: text('session_id').notNull(),
    nonce: text('nonce').notNull(),
    /** Unix ms after which the row may be pruned (the timestamp window has closed). */
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.nonce] }), index('used_nonces_expiry').on(t.expiresAt)],
);

/** Sessions this node holds on other desktops it paired with as the initiator (for heartbeats/announces). */
export const peerLinks = sqliteTable('peer_links', {
  nodeId: text('node_id').primaryKey(),
  sessionId: text('session_id').notNull(),
  /** The device secret from the pairing handshake, sealed with the node's SecretBox. */
  deviceSecret: text('device_secret').notNull(),
  createdAt: text('created_at').notNull(),
});

// ---- messaging: the node's durable outbox/inbox of end-to-end-encrypted envelopes -------------------

/**
 * What this node still has to hand to another node, one row per (envelope, destination, kind), in `seq` order.
 * destination: 'cloud' (the relay) or the node id of a paired desktop (the peer link). kind 'envelope': `body` is
 * the validated envelope JSON, `from_device` the local device that sent it; kind 'seen': `body` is
 * {"id","device_ids"}, a receipt for a peer that sent us envelope `id`, `from_device` the device that saw it.
 * A row leaves when its destination took it (accepted / acked) or refused it for good, or when the router moves
 * an envelope for a peer whose link stayed down to the cloud (fallback).
 */
export const outbox = sqliteTable(
  'outbox',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    envelopeId: text('envelope_id').notNull(),
    destination: text('destination').notNull().default('cloud'),
    kind: text('kind', { enum: ['envelope', 'seen'] })
      .notNull()
      .default('envelope'),
    fromDevice: text('from_device').notNull(),
    body: text('body').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('outbox_envelope_destination').on(t.envelopeId, t.destination, t.kind),
    index('outbox_destination_seq').on(t.destination, t.seq),
  ],
);

/**
 * What a local device sent and how far it got (queued -> sent -> delivered -> seen, or failed), so the device can
 * show it. The status is the least advanced of its recipients' (sent_recipients); `route` the farthest route
 * any of them took ('local' < 'lan' < 'cloud'). `body_hash` (SHA-256 of the stored body) makes a resend of the same id idempotent even after the
 * outbox row is gone. Rows that are no longer queued are pruned after a while (MessageStore).
 */
export const sentMessages = sqliteTable(
  'sent_messages',
  {
    envelopeId: text('envelope_id').primaryKey(),
    fromDevice: text('from_device').notNull(),
    to: text('to', { mode: 'json' }).$type<string[]>().notNull(),
    bodyHash: text('body_hash').notNull(),
    status: text('status', { enum: ['queued', 'sent', 'delivered', 'seen', 'failed'] })
      .notNull()
      .default('queued'),
    error: text('error'),
    route: text('route', { enum: ['local', 'lan', 'cloud'] }),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('sent_messages_from').on(t.fromDevice, t.createdAt), index('sent_messages_updated').on(t.updatedAt)],
);

/**
 * One row per recipient device of a sent envelope: where it was routed (destination: 'local', 'cloud' or a
 * peer node id), how far it got and by which route. Deleted with its sent_messages row.
 */
export const sentRecipients = sqliteTable(
  'sent_recipients',
  {
    envelopeId: text('envelope_id').notNull(),
    deviceId: text('device_id').notNull(),
    destination: text('destination').notNull(),
    status: text('status', { enum: ['queued', 'sent', 'delivered', 'seen', 'failed'] })
      .notNull()
      .default('queued'),
    route: text('route', { enum: ['local', 'lan', 'cloud'] }),
    error: text('error'),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.envelopeId, t.deviceId] }), index('sent_recipients_destination').on(t.destination, t.status)],
);

/**
 * Envelopes for local devices, kept until the device acks them. One row per (envelope, recipient device). An
 * acked row stays as a tombstone (body emptied, acked_at set) for INBOX_TOMBSTONE_KEEP_MS: if the node dies
 * after storing an envelope but before acking the cloud, the cloud sends it again, and the tombstone keeps the
 * device from getting it twice.
 */
export const inbox = sqliteTable(
  'inbox',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    envelopeId: text('envelope_id').notNull(),
    toDevice: text('to_device').notNull(),
    body: text('body').notNull(),
    receivedAt: text('received_at').notNull(),
    ackedAt: text('acked_at'),
    /** The envelope's from_device (so an ack can send a 'seen' receipt to where it came from). */
    fromDevice: text('from_device'),
    /** How it came: 'local' (a device of this node), 'cloud', or the node id of the paired desktop that sent it. */
    origin: text('origin'),
  },
  (t) => [uniqueIndex('inbox_envelope_device').on(t.envelopeId, t.toDevice), index('inbox_device_seq').on(t.toDevice, t.seq)],
);

/** The desktop UI's messaging device (`<node_id>.ui`): only its public key; the private key stays in the UI. At most one row. */
export const uiDevice = sqliteTable('ui_device', {
  deviceId: text('device_id').primaryKey(),
  publicKey: text('public_key').notNull(),
  updatedAt: text('updated_at').notNull(),
});

// ---- the home mesh: paired desktops' devices and unpair notices ----------------------------------------------

/**
 * The devices each paired desktop announced over the peer link (public keys, names, kinds): the home directory.
 * Kept across restarts so a phone sees the other desktop's phones by name while that desktop is offline.
 * A device id belongs to one node; a peer that claims an id already served elsewhere is refused.
 */
export const homeDevices = sqliteTable(
  'home_devices',
  {
    deviceId: text('device_id').primaryKey(),
    nodeId: text('node_id').notNull(),
    publicKey: text('public_key').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['phone', 'desktop'] }).notNull(),
    /**
     * JSON array of the older ids this device replaced when it was re-paired at its desktop (newest first), as
     * that desktop announced them: our devices are told "safety number changed", not a stranger. Null: none.
     */
    replaces: text('replaces'),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('home_devices_node').on(t.nodeId)],
);

/**
 * A desktop this node unpaired while the peer link was down: the credentials are kept (sealed) only to tell
 * the other desktop over an authenticated link, then the row goes (or after PEER_UNPAIR_NOTICE_KEEP_MS).
 * Nothing else may use them: no envelopes, no directory.
 */
export const peerUnpairNotices = sqliteTable('peer_unpair_notices', {
  nodeId: text('node_id').primaryKey(),
  sessionId: text('session_id').notNull(),
  /** The pairing's shared key (the server_hmac_key both sides can derive), sealed with the node's SecretBox. */
  secret: text('secret').notNull(),
  publicKey: text('public_key').notNull(),
  port: integer('port'),
  addresses: text('addresses', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
  createdAt: text('created_at').notNull(),
});

// ---- files: encrypted blobs and where each one has to go -----------------------------------------------------

/**
 * One file's ciphertext held by this node (the bytes are in the files folder, written by the tus store): uploaded
 * by one of our devices, or brought here for our devices over a peer link or from the cloud. The node knows its
 * size, who sent it and who it is for; the name, type and key travel only inside the envelope.
 */
export const blobs = sqliteTable('blobs', {
  /** 22 base64url characters of 16 random bytes, chosen by the node the sender uploaded to: says nothing. */
  id: text('id').primaryKey(),
  /** Ciphertext bytes. */
  size: integer('size').notNull(),
  fromDevice: text('from_device').notNull(),
  /** Where the bytes came from: a device of this node's, a paired desktop, or the cloud. */
  origin: text('origin', { enum: ['device', 'lan', 'cloud'] }).notNull(),
  /** The paired desktop it came from (origin 'lan'). */
  originNode: text('origin_node'),
  /** SHA-256 (hex) of the whole ciphertext, once known: the cloud's content address. */
  ciphertextSha256: text('ciphertext_sha256'),
  createdAt: integer('created_at').notNull(),
  /** When the last byte was stored (null while partial). */
  completedAt: integer('completed_at'),
});

/**
 * One recipient device of a blob and how far its copy has come. route 'local': the device downloads it from
 * this node (state 'waiting' until the blob is complete, then 'ready', 'received' once the device says so);
 * 'lan': the paired desktop `node_id` serving the device pulls it ('waiting' -> 'sent' once that node has it
 * all); 'cloud': through the cloud's blob store ('waiting' -> 'sent' once the cloud has it all).
 */
export const blobRecipients = sqliteTable(
  'blob_recipients',
  {
    blobId: text('blob_id').notNull(),
    deviceId: text('device_id').notNull(),
    route: text('route', { enum: ['local', 'lan', 'cloud'] }).notNull(),
    nodeId: text('node_id'),
    state: text('state', { enum: ['waiting', 'ready', 'sent', 'received', 'failed'] }).notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.blobId, t.deviceId] }), index('blob_recipients_route').on(t.route, t.state)],
);

/**
 * A blob on its way into the cloud's blob store: the tus upload URL the cloud gave, so that an upload cut off by
 * a restart goes on from the cloud's offset instead of starting again. Removed with the blob or once it is up.
 */
export const blobCloudUploads = sqliteTable('blob_cloud_uploads', {
  blobId: text('blob_id').primaryKey(),
  uploadUrl: text('upload_url').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

// ---- prekeys: the PQXDH prekey directory of the devices this node serves (docs/e2ee.md "Prekeys and the directory")

/**
 * Each device's signed prekey (X25519, XEdDSA-signed by its identity key). The newest (retired_at null) is the one
 * every bundle carries; the one it replaced stays with `retired_at` set until the next rotation, so a late retry
 * of the older publish is recognised as such and its id is never given to another key.
 */
export const prekeySigned = sqliteTable(
  'prekey_signed',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    /** base64url, as published. */
    public: text('public').notNull(),
    signature: text('signature').notNull(),
    /** Unix ms. */
    publishedAt: integer('published_at').notNull(),
    retiredAt: integer('retired_at'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] })],
);

/** Each device's last-resort ML-KEM-768 prekey: handed out (and reused) only when no one-time KEM prekey is left. */
export const prekeyKemLastResort = sqliteTable('prekey_kem_last_resort', {
  deviceId: text('device_id').primaryKey(),
  id: integer('id').notNull(),
  public: text('public').notNull(),
  signature: text('signature').notNull(),
  publishedAt: integer('published_at').notNull(),
});

/**
 * One-time X25519 prekeys, each handed out once. state 'moving': on its way to the cloud (cloud-prekeys-port.ts);
 * a claim here never takes it, and it goes once the cloud holds it or comes back to 'home' if the cloud call failed.
 */
export const prekeyOneTime = sqliteTable(
  'prekey_one_time',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    public: text('public').notNull(),
    state: text('state', { enum: ['home', 'moving'] })
      .notNull()
      .default('home'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] }), index('prekey_one_time_state').on(t.deviceId, t.state, t.id)],
);

/** One-time ML-KEM-768 prekeys (signed like the last-resort one), handed out once; states as prekey_one_time. */
export const prekeyKemOneTime = sqliteTable(
  'prekey_kem_one_time',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    public: text('public').notNull(),
    signature: text('signature').notNull(),
    state: text('state', { enum: ['home', 'moving'] })
      .notNull()
      .default('home'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] }), index('prekey_kem_one_time_state').on(t.deviceId, t.state, t.id)],
);

/**
 * Every prekey id of a device that is no longer stored here (handed out in a bundle, moved to the cloud, or
 * replaced): such an id is never stored again, so no key is handed out twice and no id names two keys. kind is
 * the id's namespace as the device looks keys up: 'signed', 'one_time' (X25519) or 'kem' (one-time and
 * last-resort KEM prekeys share one). The hash of the public key lets a retried publish of the very same key be
 * accepted (and not stored again) while another key under that id is refused.
 */
export const prekeyIdsTaken = sqliteTable(
  'prekey_ids_taken',
  {
    deviceId: text('device_id').notNull(),
    kind: text('kind', { enum: ['signed', 'one_time', 'kem'] }).notNull(),
    id: integer('id').notNull(),
    /** SHA-256 (hex) of the base64url public key as published. */
    publicSha256: text('public_sha256').notNull(),
    takenAt: integer('taken_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.kind, t.id] })],
);

/**
 * A re-paired device that replaced an older record of itself (a reinstall gives it a new id and key): the
 * messaging directory says which old ids a device replaces, so the people it writes to see "safety number
 * changed" instead of a stranger. Dropped with the new device when it is unpaired.
 */
export const deviceReplacements = sqliteTable(
  'device_replacements',
  {
    oldId: text('old_id').primaryKey(),
    newId: text('new_id').notNull(),
    reason: text('reason').notNull(),
    replacedAt: text('replaced_at').notNull(),
  },
  (t) => [index('device_replacements_new_id').on(t.newId)],
);
