// The cloud's SQLite schema (drizzle). Changing it: edit here, run
// `npx drizzle-kit generate --config drizzle.cloud.config.ts`, commit the new SQL in migrations-cloud/.
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** One finished Noise handshake (NX or IK). session_token is the HMAC key of noise_signature (docs/cloud.md). */
export const noiseSessions = sqliteTable('noise_sessions', {
  id: text('id').primaryKey(),
  pattern: text('pattern', { enum: ['NX', 'IK'] }).notNull(),
  /** base64url of the handshake hash h (32 bytes). */
  handshakeHash: text('handshake_hash').notNull(),
  /** base64url of the client's static X25519 public key (= device_id). */
  clientStaticKey: text('client_static_key').notNull(),
  /** 1 when Noise authenticated the key (IK); 0 when the client only stated it (NX payload). */
  clientKeyProven: integer('client_key_proven', { mode: 'boolean' }).notNull(),
  /** base64url of the 32-byte secret sent inside the last handshake payload. */
  sessionToken: text('session_token').notNull(),
  createdAt: text('created_at').notNull(),
  expiresAt: text('expires_at').notNull(),
  /** Set once an OTP verify consumed this handshake (one login per handshake). */
  usedAt: text('used_at'),
});

/** OTP challenges. Only a hash of the code is kept. */
export const otpChallenges = sqliteTable('otp_challenges', {
  id: text('id').primaryKey(),
  deviceId: text('device_id').notNull(),
  codeHash: text('code_hash').notNull(),
  createdAt: text('created_at').notNull(),
  expiresAt: text('expires_at').notNull(),
  attempts: integer('attempts').notNull().default(0),
  usedAt: text('used_at'),
});

/** Bearer tokens (`Authorization: Noise <token>`). Only SHA-256 of the token is kept. */
export const authTokens = sqliteTable('auth_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  deviceId: text('device_id').notNull(),
  /** The Noise session the token was bound to; null for a token from the plain OTP flow (flag off). */
  noiseSessionId: text('noise_session_id'),
  createdAt: text('created_at').notNull(),
  expiresAt: text('expires_at').notNull(),
  revokedAt: text('revoked_at'),
}, (t) => [index('auth_tokens_device').on(t.deviceId)]);

/** Feature flags (persisted; read per request so the CLI can flip them under a running cloud). */
export const featureFlags = sqliteTable('feature_flags', {
  name: text('name').primaryKey(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  updatedAt: text('updated_at').notNull(),
});
