// The cloud's HTTP contract (docs/cloud.md): the login routes' request and response bodies, /api/me, /healthz,
// and the error codes the cloud answers with. The cloud's routes (src/cloud/app.ts) validate and build these;
// the node's cloud client (src/main/core/cloud/) parses the answers with the same schemas. The key directory and
// the relay frames are in relay.ts; the Noise login messages in src/shared/cloud/noise-login.ts.
import { z } from 'zod';

// ---- errors: every non-2xx answer is `{error, message}` (+ `retry_after` on a 429) -------------------------

/**
 * The cloud's stable error codes. A refused WebSocket upgrade loses its body, so the code also travels as the
 * CLOUD_ERROR_HEADER header. Adding a code is fine; renaming one breaks every node, so don't.
 */
export const CLOUD_ERROR_CODES = [
  'invalid_request',
  'not_found',
  'internal_error',
  'challenge_not_found',
  'otp_invalid',
  'otp_expired',
  'otp_used',
  'otp_attempts_exceeded',
  'noise_handshake',
  'noise_signature_invalid',
  'device_mismatch',
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'device_id_taken',
  'too_many_attempts',
  'noise_key_unproven',
  // the blob store (docs/cloud.md "Blobs")
  'forbidden',
  'blob_unknown',
  'blob_digest_mismatch',
  'file_too_large',
  'quota_exceeded',
  'insufficient_storage',
  'offset_mismatch',
  // the prekey directory (docs/e2ee.md "Prekeys and the directory"; wire/prekeys.ts PREKEY_ERROR_CODES)
  'invalid_prekey',
  'prekey_id_taken',
  'prekey_limit',
  'no_prekeys',
  'unknown_recipient',
  // accounts and households (docs/cloud.md "Accounts")
  'email_required',
  'mail_unavailable',
  'not_a_contact',
  'node_not_in_account',
  // contacts between households (docs/cloud.md "Contacts")
  'invite_not_found',
  'invite_used',
  'invite_expired',
  'invite_own_account',
  'invite_mismatch',
  'contact_limit',
  'contact_not_found',
  // external login: passkeys and an OpenID Connect provider (docs/cloud.md "External login")
  'session_not_found',
  'session_used',
  'session_expired',
  'session_finished',
  'method_unavailable',
  'passkey_refused',
  'oidc_state_invalid',
  'oidc_failed',
  // several instances behind a load balancer (docs/operations.md "Several instances")
  'draining',
  'not_ready',
] as const;
export type CloudErrorCode = (typeof CLOUD_ERROR_CODES)[number];

/** The codes after which a stored token is worth nothing: the node must log in again. */
export const CLOUD_TOKEN_DEAD_CODES = [
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'email_required',
] as const satisfies readonly CloudErrorCode[];

export const CLOUD_ERROR_HEADER = 'x-cloud-error';

/**
 * What a failed call carries. `error` is a plain string on the reading side: a newer cloud may add codes, and
 * the node must still show them.
 */
export const CloudErrorBody = z.object({
  error: z.string(),
  message: z.string(),
  /** Seconds, on a 429 (also the Retry-After header). */
  retry_after: z.number().optional(),
});
export type CloudErrorBody = z.infer<typeof CloudErrorBody>;
/** What the cloud itself sends: one of its own codes. */
export type CloudErrorReply = CloudErrorBody & { error: CloudErrorCode };

// ---- login: POST /api/auth/challenge, /api/auth/verify, /api/auth/refresh, /api/auth/logout -----------------

const Id = z.string().min(1).max(100);

/**
 * An account's address, as the cloud keys it: trimmed and lower-cased (the local part too: two accounts that
 * differ only in case would be one person's two households by mistake). 254: the longest path SMTP carries.
 */
export const AccountEmail = z.string().trim().toLowerCase().max(254).pipe(z.email('email must be an address like ana@example.org'));
const Timestamp = z.string().min(1).max(64);

/**
 * POST /api/auth/challenge: a one-time code for this device id (the node key, base64url) is sent to its owner.
 * `name` is the node's display name, only to tell codes apart where they are delivered (the cloud's log names
 * the code by it and by the fingerprint of device_id, both shown in the node's desktop UI); it proves nothing.
 */
export const ChallengeRequest = z.object({ device_id: Id, name: z.string().max(200).optional(), email: AccountEmail.optional() });
export type ChallengeRequest = z.infer<typeof ChallengeRequest>;
export const ChallengeResponse = z.object({ challenge_id: z.string().min(1), expires_at: z.string().min(1) });
export type ChallengeResponse = z.infer<typeof ChallengeResponse>;

/**
 * The proof that binds a login step to a finished Noise handshake (docs/cloud.md §4): the session id the
 * handshake returned, the signature over it, and when the handshake finished.
 */
const NoiseProof = { noise_session_id: Id, noise_signature: Id, last_handshake_at: Timestamp };

/** POST /api/auth/verify: the code; with the noise_handshake flag on, also the Noise proof. */
export const VerifyRequest = z.object({
  challenge_id: Id,
  code: z.string().regex(/^\d{6}$/, 'code must be 6 digits'),
  noise_session_id: NoiseProof.noise_session_id.optional(),
  noise_signature: NoiseProof.noise_signature.optional(),
  last_handshake_at: NoiseProof.last_handshake_at.optional(),
});
export type VerifyRequest = z.infer<typeof VerifyRequest>;

/** POST /api/auth/refresh (`Authorization: Noise <token>`): a fresh token for a valid one plus a fresh IK proof. */
export const RefreshRequest = z.object(NoiseProof);
export type RefreshRequest = z.infer<typeof RefreshRequest>;

/** What verify and refresh answer: the bearer token (`Authorization: Noise <token>`) and its expiry. */
export const NoiseSessionResponse = z.object({
  noise_session: z.object({
    token: z.string().min(1),
    expires_at: z.string().min(1),
    /** Null for a token from the plain code flow (noise_handshake flag off); the node does not need it. */
    noise_session_id: z.string().nullish(),
  }),
});
export type NoiseSessionResponse = z.infer<typeof NoiseSessionResponse>;

/** POST /api/auth/logout: the token is revoked and its relay socket closed. */
export const LogoutResponse = z.object({ ok: z.literal(true) });
export type LogoutResponse = z.infer<typeof LogoutResponse>;

// ---- who am I, is it up --------------------------------------------------------------------------------------

/** GET /api/me: what the token stands for. */
export const MeResponse = z.object({ device_id: z.string(), noise_session_id: z.string().nullable(), expires_at: z.string() });
export type MeResponse = z.infer<typeof MeResponse>;

/** GET /healthz: up, its static key (what IK clients pin), and its feature flags. */
export const HealthResponse = z.object({
  ok: z.literal(true),
  cloud_static_key: z.string(),
  flags: z.record(z.string(), z.boolean()),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/** GET /readyz: this instance takes traffic (its database answers, it is not draining); else 503 not_ready / draining. */
export const ReadyResponse = z.object({ ready: z.literal(true), database: z.literal('ok'), bus: z.enum(['none', 'ok']) });
export type ReadyResponse = z.infer<typeof ReadyResponse>;

// ---- the account: GET /api/account, DELETE /api/account/nodes/:node, POST /api/account/sign-out ---------------

/** One node of the caller's household and what it publishes. */
export const AccountNodeEntry = z.object({
  node: z.string(),
  name: z.string().nullable(),
  joined_at: z.string(),
  /** The caller itself. */
  self: z.boolean(),
  /** A relay socket of it is open now. */
  connected: z.boolean(),
  devices: z.array(z.object({ device_id: z.string(), name: z.string(), kind: z.string(), public_key: z.string() })),
});
export type AccountNodeEntry = z.infer<typeof AccountNodeEntry>;

export const AccountResponse = z.object({
  account: z.object({ id: z.string(), email: z.string().nullable() }),
  nodes: z.array(AccountNodeEntry),
});
export type AccountResponse = z.infer<typeof AccountResponse>;

/** A node left the household: its tokens were revoked and its relay socket closed; its devices left the directory. */
export const RemoveNodeResponse = z.object({ removed: z.string(), tokens_revoked: z.number() });
export type RemoveNodeResponse = z.infer<typeof RemoveNodeResponse>;

/** Every node of the account, the caller too, was signed out. */
export const SignOutEverywhereResponse = z.object({ nodes: z.number(), tokens_revoked: z.number() });
export type SignOutEverywhereResponse = z.infer<typeof SignOutEverywhereResponse>;

// ---- contacts between households: /api/contacts -------------------------------------------------------------

/** Who an invite is from: the household (account) and the node that made it, with its key's fingerprint. */
export const InviteView = z.object({
  account_id: z.string(),
  email: z.string().nullable(),
  node: z.string(),
  fingerprint: z.string(),
  expires_at: z.string(),
});
export type InviteView = z.infer<typeof InviteView>;

/** POST /api/invites: a new single-use invite; `token` goes to the other household (link or QR). */
export const InviteResponse = InviteView.extend({ token: z.string() });
export type InviteResponse = z.infer<typeof InviteResponse>;

/** The token travels in bodies, never in a path (paths end up in access logs). */
const InviteToken = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'token: the 43 characters of an invite');
export const InvitePreviewRequest = z.object({ token: InviteToken });
export type InvitePreviewRequest = z.infer<typeof InvitePreviewRequest>;
/** `fingerprint`: what the invite link said about the inviting node's key (checked against the cloud's record). */
export const AcceptInviteRequest = z.object({ token: InviteToken, fingerprint: z.string().min(16).max(64) });
export type AcceptInviteRequest = z.infer<typeof AcceptInviteRequest>;

export const ContactsResponse = z.object({
  contacts: z.array(
    z.object({
      account_id: z.string(),
      email: z.string().nullable(),
      since: z.string(),
      nodes: z.number(),
      /** The contact household's node ids (base64url X25519 keys), sorted: what its safety number covers. */
      node_keys: z.array(z.string()).default([]),
    }),
  ),
});
export type ContactsResponse = z.infer<typeof ContactsResponse>;

export const RemoveContactResponse = z.object({ removed: z.string() });

/** The node's admin API: a new invite as its link; a pasted link to look at or accept. */
export const NodeInviteResponse = InviteView.extend({ link: z.string(), qr_svg: z.string() });
export type NodeInviteResponse = z.infer<typeof NodeInviteResponse>;
export const NodeAcceptInviteRequest = z.object({ link: z.string().trim().min(1).max(1000), dry_run: z.boolean().optional() }).strict();
export type NodeAcceptInviteRequest = z.infer<typeof NodeAcceptInviteRequest>;
export type RemoveContactResponse = z.infer<typeof RemoveContactResponse>;
