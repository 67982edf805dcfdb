// The node's SQLite schema (drizzle). Changing it: edit here, run `npm run db:generate`, commit the new SQL
// in migrations/. JSON columns hold small lists/maps (capabilities, addresses, metadata) as text.
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
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

/** Sessions granted to paired devices. Only a hash of the bearer token is stored. */
export const deviceSessions = sqliteTable('device_sessions', {
  id: text('id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  nodeId: text('node_id').notNull(),
  createdAt: text('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  lastUsedAt: text('last_used_at'),
  /** Set on unpair/logout; kept so a revoked token is told "revoked", not "unknown". */
  revokedAt: text('revoked_at'),
}, (t) => [index('device_sessions_node').on(t.nodeId)]);

/** Sessions this node holds on other desktops (after it paired with them as the initiator). */
export const peerLinks = sqliteTable('peer_links', {
  nodeId: text('node_id').primaryKey(),
  sessionToken: text('session_token').notNull(),
  createdAt: text('created_at').notNull(),
});
