// The node's SQLite schema (drizzle). Changing it: edit here, run `npm run db:generate`, commit the new SQL
// in migrations/. JSON columns hold small lists/maps (capabilities, addresses, metadata) as text.
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';

/** Every node this one knows: itself (is_current = 1) and every paired device. Named as in seed 002. */
export const meshNodes = sqliteTable('mesh_nodes', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  hostname: text('hostname'),
  port: integer('port'),
  /** Stored as last computed; the presence sweeper flips it to 'offline' after the configured silence. */
  status: text('status', { enum: ['online', 'offline'] }).notNull().default('offline'),
  kind: text('kind', { enum: ['desktop', 'phone'] }).notNull().default('desktop'),
  capabilities: text('capabilities', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
  lastSeen: text('last_seen'),
  createdAt: text('created_at').notNull(),
  metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
  isCurrent: integer('is_current', { mode: 'boolean' }).notNull().default(false),
  publicKey: text('public_key'),
  pairedAt: text('paired_at'),
  addresses: text('addresses', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
}, (t) => [
  // At most one row may describe this node itself.
  uniqueIndex('mesh_nodes_one_current').on(t.isCurrent).where(sql`is_current = 1`),
]);

/** Pairing codes shown as QR + PIN. Rows are kept after use so a reused code says "used", not "unknown". */
export const pairingCodes = sqliteTable('pairing_codes', {
  code: text('code').primaryKey(),
  linkingCode: text('linking_code').notNull().unique(),
  /** Kept in clear: 10^6 PINs make hashing pointless, and a later key schedule mixes the PIN itself. */
  pin: text('pin').notNull(),
  status: text('status', { enum: ['active', 'used', 'locked'] }).notNull().default('active'),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  createdAt: text('created_at').notNull(),
  /** Unix ms, compared numerically. */
  expiresAt: integer('expires_at').notNull(),
  usedBy: text('used_by'),
  usedAt: text('used_at'),
});

/**
 * Sessions granted to paired devices. A device proves each request with an HMAC under a key derived from the
 * pairing handshake; the node keeps only that verification key (seed 004's server_hmac_key), sealed at rest.
 */
export const deviceSessions = sqliteTable('device_sessions', {
  /** Sent as `Authorization: Session <id>`; random, not a secret on its own. */
  id: text('id').primaryKey(),
  nodeId: text('node_id').notNull(),
  /** server_hmac_key, sealed with the node's SecretBox. */
  hmacKey: text('hmac_key').notNull(),
  /** 'pending' until a person confirmed the short verification code (desktop pairing by linking code). */
  state: text('state', { enum: ['active', 'pending'] }).notNull().default('active'),
  createdAt: text('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  lastUsedAt: text('last_used_at'),
  /** Set on unpair/logout/re-pair; kept so a revoked session is told "revoked", not "unknown". */
  revokedAt: text('revoked_at'),
}, (t) => [index('device_sessions_node').on(t.nodeId)]);

/** Replay guard: every (session, nonce) a signed request used, kept for the length of the time window. */
export const usedNonces = sqliteTable('used_nonces', {
  sessionId: text('session_id').notNull(),
  nonce: text('nonce').notNull(),
  /** Unix ms after which the row may be pruned (the timestamp window has closed). */
  expiresAt: integer('expires_at').notNull(),
}, (t) => [primaryKey({ columns: [t.sessionId, t.nonce] }), index('used_nonces_expiry').on(t.expiresAt)]);

/** Sessions this node holds on other desktops it paired with as the initiator (for heartbeats/announces). */
export const peerLinks = sqliteTable('peer_links', {
  nodeId: text('node_id').primaryKey(),
  sessionId: text('session_id').notNull(),
  /** The device secret from the pairing handshake, sealed with the node's SecretBox. */
  deviceSecret: text('device_secret').notNull(),
  createdAt: text('created_at').notNull(),
});

// ---- messaging (issue 4): the node's durable outbox/inbox of end-to-end-encrypted envelopes -------------------

/**
 * Envelopes a local device sent, waiting for the cloud to take them. `seq` is the send order; a row leaves
 * when the cloud accepted or rejected the envelope. `body` is the validated envelope JSON.
 */
export const outbox = sqliteTable('outbox', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  envelopeId: text('envelope_id').notNull().unique(),
  fromDevice: text('from_device').notNull(),
  body: text('body').notNull(),
  createdAt: text('created_at').notNull(),
});

/**
 * What a local device sent and how far it got (queued -> sent -> delivered, or failed), so the device can
 * show it. `body_hash` (SHA-256 of the stored body) makes a resend of the same id idempotent even after the
 * outbox row is gone. Rows that are no longer queued are pruned after a while (MessageStore).
 */
export const sentMessages = sqliteTable('sent_messages', {
  envelopeId: text('envelope_id').primaryKey(),
  fromDevice: text('from_device').notNull(),
  to: text('to', { mode: 'json' }).$type<string[]>().notNull(),
  bodyHash: text('body_hash').notNull(),
  status: text('status', { enum: ['queued', 'sent', 'delivered', 'failed'] }).notNull().default('queued'),
  error: text('error'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
}, (t) => [index('sent_messages_from').on(t.fromDevice, t.createdAt), index('sent_messages_updated').on(t.updatedAt)]);

/**
 * Envelopes for local devices, kept until the device acks them. One row per (envelope, recipient device). An
 * acked row stays as a tombstone (body emptied, acked_at set) for INBOX_TOMBSTONE_KEEP_MS: if the node dies
 * after storing an envelope but before acking the cloud, the cloud sends it again, and the tombstone keeps the
 * device from getting it twice.
 */
export const inbox = sqliteTable('inbox', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  envelopeId: text('envelope_id').notNull(),
  toDevice: text('to_device').notNull(),
  body: text('body').notNull(),
  receivedAt: text('received_at').notNull(),
  ackedAt: text('acked_at'),
}, (t) => [uniqueIndex('inbox_envelope_device').on(t.envelopeId, t.toDevice), index('inbox_device_seq').on(t.toDevice, t.seq)]);

/** The desktop UI's messaging device (`<node_id>.ui`): only its public key; the private key stays in the UI. At most one row. */
export const uiDevice = sqliteTable('ui_device', {
  deviceId: text('device_id').primaryKey(),
  publicKey: text('public_key').notNull(),
  updatedAt: text('updated_at').notNull(),
});
