// External login (docs/cloud.md "External login"): a node starts a login that the person finishes in a browser
// on the cloud's own page — with a passkey, or at an OpenID Connect provider — and learns the outcome by push
// (WebSocket topic `external_session:<session_token>`) or by polling. On `approved` it gets its Noise-bound
// token exactly as a code login gives it. A logged-in node also starts a passkey registration this way.
import { z } from 'zod';

const Id = z.string().min(1).max(100);
const Timestamp = z.string().min(1).max(64);

/** How a node signs in in the browser; `passkey_register` adds a passkey to the account of a logged-in node. */
export const EXTERNAL_LOGIN_METHODS = ['passkey', 'oidc', 'passkey_register'] as const;
export const ExternalLoginMethod = z.enum(EXTERNAL_LOGIN_METHODS);
export type ExternalLoginMethod = z.infer<typeof ExternalLoginMethod>;
export const EXTERNAL_SESSION_STATUSES = ['pending', 'approved', 'failed'] as const;
export type ExternalSessionStatusName = (typeof EXTERNAL_SESSION_STATUSES)[number];

/** A session token: 43 base64url characters (32 random bytes). */
export const ExternalSessionToken = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a session token: 43 base64url characters');

/**
 * POST /api/auth/external/sessions. A login (passkey, oidc) carries the node key and the proof of a finished
 * Noise handshake, as POST /api/auth/verify does; a passkey registration is made with `Authorization: Noise`.
 */
export const CreateExternalSessionRequest = z
  .object({
    method: ExternalLoginMethod,
    device_id: Id.optional(),
    name: z.string().max(200).optional(),
    noise_session_id: Id.optional(),
    noise_signature: Id.optional(),
    last_handshake_at: Timestamp.optional(),
  })
  .strict();
export type CreateExternalSessionRequest = z.infer<typeof CreateExternalSessionRequest>;

export const ExternalSessionResponse = z.object({
  session_token: ExternalSessionToken,
  /** Where the person finishes it: the cloud's own page (open it in the system browser). */
  verification_uri: z.string(),
  method: ExternalLoginMethod,
  expires_at: z.string(),
});
export type ExternalSessionResponse = z.infer<typeof ExternalSessionResponse>;

/** The node's Noise-bound token: given once, to the first read of an approved login. */
export const ExternalSessionTokens = z.object({
  token: z.string().min(1),
  expires_at: z.string(),
  noise_session_id: z.string().nullable(),
  /** The account's email address (the node shows it, as after a code login). */
  email: z.string().nullable().optional(),
});

/** GET /api/auth/external/sessions/:token, and each push. */
export const ExternalSessionState = z.object({
  status: z.enum(EXTERNAL_SESSION_STATUSES),
  method: ExternalLoginMethod,
  expires_at: z.string(),
  /** Why it failed: session_expired, passkey_refused, oidc_denied, oidc_failed, … */
  error: z.string().nullable(),
  /** The provider asks for a second factor in the browser (never set by the reference cloud's methods). */
  mfa_required: z.boolean().optional(),
  tokens: ExternalSessionTokens.optional(),
});
export type ExternalSessionState = z.infer<typeof ExternalSessionState>;

/** WS /api/auth/external/events: the client subscribes to one topic; the cloud pushes session_update. */
export const EXTERNAL_EVENTS_PATH = '/api/auth/external/events';
export const externalSessionTopic = (sessionToken: string) => `external_session:${sessionToken}`;
export const ExternalSubscribe = z.object({ type: z.literal('subscribe'), topic: z.string().max(80) }).strict();
export const ExternalSessionUpdate = ExternalSessionState.extend({ type: z.literal('session_update'), topic: z.string() });
export type ExternalSessionUpdate = z.infer<typeof ExternalSessionUpdate>;

/** GET /api/auth/external/methods: what this cloud offers. */
export const ExternalMethodsResponse = z.object({
  passkey: z.boolean(),
  oidc: z.object({ name: z.string() }).nullable(),
});
export type ExternalMethodsResponse = z.infer<typeof ExternalMethodsResponse>;

/** How often a node polls where the socket cannot be used. */
export const EXTERNAL_POLL_MS = 2_000;
