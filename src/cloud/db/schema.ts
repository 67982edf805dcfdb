// The cloud's SQLite schema (drizzle); pg-schema.ts is the same on PostgreSQL (change both). Changing it: edit here, run
// `npx drizzle-kit generate --config drizzle.cloud.config.ts`, commit the new SQL in migrations-cloud/.
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** One finished Noise handshake (NX or IK). session_token is the HMAC key of noise_signature (docs/cloud.md). */
export const noiseSessions = sqliteTable(
  'noise_sessions',
  {
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
  },
  (t) => [index('noise_sessions_expires').on(t.expiresAt)],
);

/** OTP challenges. Only a hash of the code is kept. */
export const otpChallenges = sqliteTable(
  'otp_challenges',
  {
    id: text('id').primaryKey(),
    deviceId: text('device_id').notNull(),
    codeHash: text('code_hash').notNull(),
    /** The account's address (normalised) the code was mailed to; null for the legacy device-id login. */
    email: text('email'),
    /** The requester's source address as counted for limits (sourceAddressKey: IPv6 by its /64). */
    source: text('source'),
    /** The node's display name as the request gave it (cleaned, shownName), kept for the account's node list. */
    name: text('name'),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    usedAt: text('used_at'),
  },
  (t) => [
    index('otp_challenges_device').on(t.deviceId),
    index('otp_challenges_expires').on(t.expiresAt),
    index('otp_challenges_email').on(t.email, t.createdAt),
    index('otp_challenges_source').on(t.source, t.createdAt),
  ],
);

// ---- accounts and households (docs/cloud.md "Accounts") -----------------------------------------------------

/**
 * An account: an email address that a one-time code proved. Its nodes are one household. The account `legacy`
 * (no email) holds the nodes of the flag-guarded device-id login: together they see each other, as every node
 * did before accounts.
 */
export const accounts = sqliteTable('accounts', {
  id: text('id').primaryKey(),
  /** Lower-cased and trimmed; unique (SQLite lets the one legacy account have none). */
  email: text('email').unique(),
  createdAt: text('created_at').notNull(),
});

/** Which account each node is in (one at most): a code login to another address moves it. */
export const accountNodes = sqliteTable(
  'account_nodes',
  {
    node: text('node').primaryKey(),
    accountId: text('account_id').notNull(),
    /** The node's display name as its last login gave it (shown in the account's node list). */
    name: text('name'),
    joinedAt: text('joined_at').notNull(),
  },
  (t) => [index('account_nodes_account').on(t.accountId)],
);

/**
 * Contacts between households, stored both ways (a row per direction) so "who may see me" is one indexed lookup
 * from either side. Removing a contact deletes both rows.
 */
export const accountContacts = sqliteTable(
  'account_contacts',
  {
    accountId: text('account_id').notNull(),
    contactId: text('contact_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.contactId] })],
);

/**
 * A single-use invite from one household to another: only SHA-256 of its token is kept. The inviting node's
 * key is what the link's fingerprint names, so the accepting node can check whom it is accepting.
 */
export const contactInvites = sqliteTable(
  'contact_invites',
  {
    tokenHash: text('token_hash').primaryKey(),
    accountId: text('account_id').notNull(),
    /** The node that made the invite (base64url of its static key). */
    node: text('node').notNull(),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    usedBy: text('used_by'),
  },
  (t) => [index('contact_invites_account').on(t.accountId), index('contact_invites_expires').on(t.expiresAt)],
);

/**
 * Failed login attempts across challenges, per device id (scope 'device') and per source address (scope
 * 'address'; an IPv6 address counts by its /64). In the database, not in memory, so a restart of the cloud does
 * not hand an attacker a fresh set of guesses. Rows are pruned a day after their last failure.
 */
export const loginFailures = sqliteTable(
  'login_failures',
  {
    scope: text('scope', { enum: ['device', 'address', 'email'] }).notNull(),
    key: text('key').notNull(),
    /** Failures counted since window_started_at. */
    failures: integer('failures').notNull(),
    windowStartedAt: text('window_started_at').notNull(),
    /** Refused until then (ISO time); null while not locked. */
    lockedUntil: text('locked_until'),
    /** How many lockouts in a row: each one lasts twice as long as the previous (backoff). */
    lockouts: integer('lockouts').notNull().default(0),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('login_failures_updated').on(t.updatedAt)],
);

/** Bearer tokens (`Authorization: Noise <token>`). Only SHA-256 of the token is kept. */
export const authTokens = sqliteTable(
  'auth_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    deviceId: text('device_id').notNull(),
    /** The Noise session the token was bound to; null for a token from the plain OTP flow (flag off). */
    noiseSessionId: text('noise_session_id'),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [index('auth_tokens_device').on(t.deviceId)],
);

/** Feature flags (persisted; read per request so the CLI can flip them under a running cloud). */
export const featureFlags = sqliteTable('feature_flags', {
  name: text('name').primaryKey(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  updatedAt: text('updated_at').notNull(),
});

// ---- key directory (docs/cloud.md "Key directory") ----------------------------------------------------------

/** One published device: public keys only. A device id belongs to one node at a time (the primary key). */
export const directoryDevices = sqliteTable(
  'directory_devices',
  {
    deviceId: text('device_id').primaryKey(),
    /** The publishing node: its cloud device_id (base64url of the node's static key). */
    node: text('node').notNull(),
    publicKey: text('public_key').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['phone', 'desktop'] }).notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('directory_devices_node').on(t.node)],
);

/**
 * Which node first published each device id (kept after the device leaves the directory): a node may say that
 * its device replaced an old id only when it published that id itself.
 */
export const deviceIdOrigins = sqliteTable('device_id_origins', {
  deviceId: text('device_id').primaryKey(),
  node: text('node').notNull(),
  firstPublishedAt: text('first_published_at').notNull(),
});

/**
 * The older ids a published device replaced when it was re-paired at its desktop (JSON array, newest first), as
 * its node said (PUT /api/keys/replacements). Read only while that node still publishes the device.
 */
export const deviceReplacements = sqliteTable(
  'device_replacements',
  {
    deviceId: text('device_id').primaryKey(),
    node: text('node').notNull(),
    replaces: text('replaces').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('device_replacements_node').on(t.node)],
);

/**
 * The key directory's append-only log (docs/key-transparency.md): one leaf per publish, key change or removal of
 * a device, never updated or deleted. The leaf's index in the Merkle tree is seq - 1.
 */
export const keyLog = sqliteTable(
  'key_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    deviceId: text('device_id').notNull(),
    /** The leaf's bytes as JSON (shared/transparency/key-log.ts leafBytes). */
    leaf: text('leaf').notNull(),
    /** base64url RFC 9162 leaf hash of the entry (tag || content hash: shared/transparency/key-log.ts logLeafHash). */
    leafHash: text('leaf_hash').notNull(),
    /** base64url device tag and SHA-256 of the leaf's bytes, handed to every reader (GET /api/keys/log/hashes). */
    tag: text('tag'),
    contentHash: text('content_hash'),
  },
  (t) => [index('key_log_device').on(t.deviceId, t.seq)],
);

// ---- relay (docs/cloud.md "Relay") --------------------------------------------------------------------------

/** Envelopes accepted and not yet stored by every recipient node. body = the validated envelope's JSON. */
export const relayEnvelopes = sqliteTable('relay_envelopes', {
  id: text('id').primaryKey(),
  fromNode: text('from_node').notNull(),
  body: text('body').notNull(),
  createdAt: text('created_at').notNull(),
});

/**
 * One ordered queue for every node: deliveries (an envelope for the node's devices) and receipts (an envelope
 * the node sent was stored by a recipient node). seq is the position the node acks; AUTOINCREMENT so a seq is
 * never reused, even after the newest row is deleted (a node may still hold an old ack for it).
 */
export const relayQueue = sqliteTable(
  'relay_queue',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    toNode: text('to_node').notNull(),
    kind: text('kind', { enum: ['deliver', 'receipt', 'refusal'] }).notNull(),
    envelopeId: text('envelope_id').notNull(),
    /** JSON array: for 'deliver' the recipient devices this node serves; for 'receipt' the devices that have it; for
     * 'refusal' (a receipt saying "failed", no schema change: the column is plain text) the devices whose node refused it. */
    deviceIds: text('device_ids').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('relay_queue_kind_envelope_node').on(t.kind, t.envelopeId, t.toNode),
    index('relay_queue_node_seq').on(t.toNode, t.seq),
  ],
);

/**
 * Envelopes delivered everywhere (their body is gone): the id and a hash of the body, kept for a while so a
 * sender that resends after a lost `accepted` still gets `accepted` (or `envelope_id_conflict`), not a
 * second delivery.
 */
export const relayDelivered = sqliteTable(
  'relay_delivered',
  {
    id: text('id').primaryKey(),
    bodySha256: text('body_sha256').notNull(),
    deliveredAt: text('delivered_at').notNull(),
  },
  (t) => [index('relay_delivered_at').on(t.deliveredAt)],
);

/**
 * Which instance holds each node's relay socket, and the generation of that socket: every new socket of a node
 * takes the next generation, so of two sockets on two instances the newer one is known to both (the older is
 * closed with 4409). A row left by an instance that died is replaced at the node's next connect.
 */
export const relayPresence = sqliteTable('relay_presence', {
  node: text('node').primaryKey(),
  instance: text('instance').notNull(),
  generation: integer('generation').notNull(),
  connectedAt: text('connected_at').notNull(),
});

/**
 * Token buckets shared by every instance (rate-limit.ts): the tokens left as of `updated_ms`. One row per limit
 * (the cloud-wide login rate today).
 */
export const rateBuckets = sqliteTable('rate_buckets', {
  name: text('name').primaryKey(),
  tokens: real('tokens').notNull(),
  updatedMs: integer('updated_ms').notNull(),
});

// ---- blobs (docs/cloud.md "Blobs") --------------------------------------------------------------------------

/**
 * A complete ciphertext, named by its SHA-256 (hex), checked by the cloud when its upload finished. The bytes are
 * the file `blobs/complete/<sha256>` in the data dir. Identical ciphertext is held once, whoever offers it.
 */
export const cloudBlobs = sqliteTable(
  'cloud_blobs',
  {
    sha256: text('sha256').primaryKey(),
    size: integer('size').notNull(),
    /** The node whose upload brought the bytes: its account carries them (quota). */
    uploader: text('uploader').notNull(),
    completedAt: text('completed_at').notNull(),
  },
  (t) => [index('cloud_blobs_uploader').on(t.uploader), index('cloud_blobs_completed').on(t.completedAt)],
);

/**
 * A tus upload (`blobs/uploads/<id>`, with tus's `<id>.json` next to it) and what its metadata said. The row
 * stays once the upload is verified (completed_at set, its file moved to the blob), so a HEAD from a sender whose
 * last answer was lost still says "all there"; it goes with the partial uploads' expiry.
 */
export const cloudBlobUploads = sqliteTable(
  'cloud_blob_uploads',
  {
    id: text('id').primaryKey(),
    node: text('node').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    /** JSON: the BlobRecipients of the metadata. */
    recipients: text('recipients').notNull(),
    ref: text('ref').notNull(),
    fromDevice: text('from_device').notNull(),
    createdAt: text('created_at').notNull(),
    completedAt: text('completed_at'),
  },
  (t) => [index('cloud_blob_uploads_node').on(t.node), index('cloud_blob_uploads_created').on(t.createdAt)],
);

/**
 * One recipient node's share of a blob, per sending node and its ref: the devices it is for. received_at is set
 * when that node says it has the blob; once every row of a blob has it, bytes and rows go.
 */
export const cloudBlobDeliveries = sqliteTable(
  'cloud_blob_deliveries',
  {
    sha256: text('sha256').notNull(),
    toNode: text('to_node').notNull(),
    fromNode: text('from_node').notNull(),
    ref: text('ref').notNull(),
    fromDevice: text('from_device').notNull(),
    /** JSON array of the recipient node's device ids. */
    devices: text('devices').notNull(),
    createdAt: text('created_at').notNull(),
    receivedAt: text('received_at'),
  },
  (t) => [primaryKey({ columns: [t.sha256, t.toNode, t.fromNode, t.ref] }), index('cloud_blob_deliveries_to').on(t.toNode, t.receivedAt)],
);

// ---- prekeys (docs/e2ee.md "Prekeys and the directory") -----------------------------------------------------
// The PQXDH prekeys of directory devices, for initiators of other homes. Keyed by the device id of the key
// directory; the node that publishes a device there is the only one that may publish its prekeys. The same
// semantics as the node's own store (main/core/db/prekey-repository.ts), without its 'moving' state: what is here
// stays here until a claim takes it.

/** Each device's signed prekey; the one it replaced stays (retired_at set) so a late retry of it is recognised. */
export const cloudPrekeySigned = sqliteTable(
  'cloud_prekey_signed',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    /** base64url, canonical (checkPublishRequest). */
    public: text('public').notNull(),
    signature: text('signature').notNull(),
    publishedAt: text('published_at').notNull(),
    retiredAt: text('retired_at'),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] })],
);

/** Each device's last-resort ML-KEM-768 prekey: handed out (and reused) only when no one-time KEM prekey is left. */
export const cloudPrekeyKemLastResort = sqliteTable('cloud_prekey_kem_last_resort', {
  deviceId: text('device_id').primaryKey(),
  id: integer('id').notNull(),
  public: text('public').notNull(),
  signature: text('signature').notNull(),
  publishedAt: text('published_at').notNull(),
});

/** One-time X25519 prekeys, each handed out once (a claim deletes it and records its id in one commit). */
export const cloudPrekeyOneTime = sqliteTable(
  'cloud_prekey_one_time',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    public: text('public').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] })],
);

/** One-time ML-KEM-768 prekeys (signed like the last-resort one), each handed out once. */
export const cloudPrekeyKemOneTime = sqliteTable(
  'cloud_prekey_kem_one_time',
  {
    deviceId: text('device_id').notNull(),
    id: integer('id').notNull(),
    public: text('public').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.id] })],
);

/**
 * Prekey ids of a device no longer stored here (handed out, or replaced): never stored again, so no key is handed
 * out twice and no id names two keys. kind: 'signed', 'one_time' (X25519) or 'kem' (one-time and last-resort KEM
 * prekeys share one namespace). The hash of the public key lets a retried publish of the same key through.
 */
export const cloudPrekeyIdsTaken = sqliteTable(
  'cloud_prekey_ids_taken',
  {
    deviceId: text('device_id').notNull(),
    kind: text('kind', { enum: ['signed', 'one_time', 'kem'] }).notNull(),
    id: integer('id').notNull(),
    /** SHA-256 (hex) of the base64url public key. */
    publicSha256: text('public_sha256').notNull(),
    takenAt: text('taken_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.kind, t.id] })],
);

// ---- external login: passkeys and an OpenID Connect provider (docs/cloud.md "External login") -------------

/**
 * A login (or passkey registration) the person finishes in a browser on the cloud's own page. The node holds
 * `session_token` (only its hash is kept) and learns the outcome by push or polling; the browser knows only
 * `browser_id` (in the verification URI), which cannot read the outcome. status: pending -> approved | failed
 * (failed too when it expired). The token goes out once (`consumed_at`), bound to the Noise session the node
 * proved when it made the session, exactly as a code login's.
 */
export const externalLoginSessions = sqliteTable(
  'external_login_sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    browserId: text('browser_id').notNull(),
    method: text('method', { enum: ['passkey', 'passkey_register', 'oidc'] }).notNull(),
    status: text('status', { enum: ['pending', 'approved', 'failed'] }).notNull(),
    /** The node (base64url of its static key) that asked. */
    deviceId: text('device_id').notNull(),
    nodeName: text('node_name'),
    /** The Noise session the node proved (null for a passkey registration by a logged-in node). */
    noiseSessionId: text('noise_session_id'),
    /** The account: known from the start for a registration, set on approval for a login. */
    accountId: text('account_id'),
    /**
     * A passkey session's WebAuthn options (JSON: request options to sign in, creation options to register),
     * made with the session; null once an answer was checked against them (a new try gets new options).
     */
    webauthnOptions: text('webauthn_options'),
    oidcState: text('oidc_state'),
    oidcNonce: text('oidc_nonce'),
    oidcVerifier: text('oidc_verifier'),
    /** Why it failed (a stable code). */
    error: text('error'),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
    completedAt: text('completed_at'),
    consumedAt: text('consumed_at'),
  },
  (t) => [
    uniqueIndex('external_login_sessions_browser').on(t.browserId),
    uniqueIndex('external_login_sessions_state').on(t.oidcState),
    index('external_login_sessions_expires').on(t.status, t.expiresAt),
  ],
);

/** A passkey (WebAuthn credential) registered on an account. */
export const passkeyCredentials = sqliteTable(
  'passkey_credentials',
  {
    /** The credential id (base64url). */
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    /** base64url of the COSE public key. */
    publicKey: text('public_key').notNull(),
    /** The authenticator's signature counter as last seen (a lower one is a cloned authenticator). */
    counter: integer('counter').notNull(),
    transports: text('transports'),
    createdAt: text('created_at').notNull(),
    lastUsedAt: text('last_used_at'),
  },
  (t) => [index('passkey_credentials_account').on(t.accountId)],
);

/** An identity at an OpenID Connect provider (issuer + subject), linked to an account at its first login. */
export const externalIdentities = sqliteTable(
  'external_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    accountId: text('account_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] })],
);
