// The reference cloud's whole HTTP contract: every route of src/cloud/app.ts, and the OpenAPI 3.1 document
// built from it (served at GET /api/openapi.json). The schemas come from src/shared/wire (cloud.ts, relay.ts),
// the same ones app.ts validates with and the node's cloud client parses with.
import { z } from 'zod';
import {
  type ContractOperation,
  contractDocument,
  type ErrorCodes,
  fromEndpoint,
  mergeErrors,
  named,
  OPENAPI_PATH,
  openApiOperation,
} from '../server/http/openapi-contract.js';
import { ReadyResponse } from '../shared/wire/cloud.js';
import { CLOUD_ENDPOINTS } from '../shared/wire/cloud-endpoints.js';

export { OPENAPI_PATH };

/** The cloud-wide body limit and a body the client broke off both answer 400 invalid_request. */
const BODY: ErrorCodes = { 400: ['invalid_request'] };
/** The cloud-wide rate limit of the login steps. */
const ADMITTED: ErrorCodes = { 429: ['too_many_attempts'] };
/** `Authorization: Noise <token>` (AuthService.authenticate). */
const TOKEN: ErrorCodes = {
  401: ['token_missing', 'token_invalid', 'token_revoked', 'token_expired', 'noise_handshake', 'email_required'],
};
/** The Noise-session proof of a verify or refresh (AuthService.checkNoise). */
const NOISE_PROOF: ErrorCodes = {
  400: ['invalid_request'],
  401: ['noise_handshake', 'device_mismatch', 'noise_signature_invalid', 'noise_key_unproven'],
};
/** An invite that cannot be taken (Contacts.usable). */
const INVITE: ErrorCodes = {
  403: ['forbidden'],
  404: ['invite_not_found'],
  409: ['invite_used', 'invite_own_account'],
  410: ['invite_expired'],
};
const WEBSOCKET_HANDSHAKE: ErrorCodes = { 400: ['invalid_request'], 426: ['invalid_request'] };
/** An instance draining (SIGTERM) refuses new sockets: the node retries, through the load balancer, elsewhere. */
const DRAINING: ErrorCodes = { 503: ['draining'] };

// ---- prekeys (docs/e2ee.md "Prekeys and the directory") ----
const DeviceParam = z.object({ device_id: z.string() });
/** Publish and status are for the device's own node: not in the directory (404), another node's (403). */
const PREKEY_OWNER: ErrorCodes = { 404: ['unknown_recipient'], 403: ['forbidden'] };

// ---- external login ----
const SessionTokenParam = z.object({ token: z.string() });
const BrowserIdParam = z.object({ browser_id: z.string() });

// ---- blobs (docs/cloud.md "Blobs") ----
const Sha256Param = z.object({ sha256: z.string() });
const UploadParam = z.object({ id: z.string() });
/** A blob or an upload that is not there, or not this node's. */
const BLOB: ErrorCodes = { 404: ['blob_unknown'], 403: ['forbidden'] };
/** tus's own checks on every upload request: Tus-Resumable present (412), tus headers well-formed (400). */
const TUS: ErrorCodes = { 400: ['invalid_request'], 412: ['invalid_request'] };
const BLOB_CREATE: ErrorCodes = {
  400: ['invalid_request', 'blob_digest_mismatch'],
  /** A recipient node outside the uploader's household and contacts. */
  403: ['not_a_contact'],
  413: ['file_too_large', 'quota_exceeded'],
  507: ['insufficient_storage'],
};
const BLOB_APPEND: ErrorCodes = {
  400: ['invalid_request', 'blob_digest_mismatch'],
  409: ['offset_mismatch'],
  413: ['file_too_large'],
  415: ['invalid_request'],
  507: ['insufficient_storage'],
};

export const cloudOperations: readonly ContractOperation[] = [
  fromEndpoint(CLOUD_ENDPOINTS.health, {
    operationId: 'health',
    security: 'public',
    summary: "Alive, with the cloud's static key.",
    success: { status: 200, description: 'Alive.' },
    errors: {},
  }),
  {
    operationId: 'metrics',
    method: 'get',
    path: '/metrics',
    security: 'public',
    summary: 'Prometheus metrics.',
    success: { status: 200, description: 'Prometheus text format.', contentType: 'text/plain', schema: named('MetricsText', z.string()) },
    errors: {},
  },
  {
    operationId: 'invitePage',
    method: 'get',
    path: '/invite',
    security: 'public',
    summary: 'What an invite link opens in a browser: how to accept it in Salita (the token after # never reaches the cloud).',
    success: { status: 200, description: 'A short HTML page.', contentType: 'text/html', schema: named('InvitePage', z.string()) },
    errors: {},
  },
  openApiOperation('cloudOpenApi'),
  {
    operationId: 'noiseHandshake',
    method: 'get',
    path: '/v1/noise',
    security: 'public',
    websocket: true,
    summary: "WebSocket: a Noise handshake (NX or IK, `?pattern=`) that proves the node's key for a login.",
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(ADMITTED, WEBSOCKET_HANDSHAKE, DRAINING),
  },
  {
    operationId: 'ready',
    method: 'get',
    path: '/readyz',
    security: 'public',
    summary: 'For a load balancer: this instance takes traffic (its database answers, it is not draining).',
    success: { status: 200, description: 'Ready.', schema: named('ReadyResponse', ReadyResponse) },
    errors: { 503: ['draining', 'not_ready'] },
  },
  fromEndpoint(CLOUD_ENDPOINTS.authChallenge, {
    operationId: 'authChallenge',
    security: 'public',
    summary: "Ask for a one-time code for a node key, mailed to the account's email (without one: the legacy login, behind its flag).",
    success: { status: 200, description: 'The challenge.' },
    errors: mergeErrors(ADMITTED, BODY, { 400: ['email_required'], 503: ['mail_unavailable'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authVerify, {
    operationId: 'authVerify',
    security: 'public',
    summary: 'Trade the one-time code (and the Noise proof) for a token.',
    success: { status: 200, description: 'The token.' },
    errors: mergeErrors(ADMITTED, BODY, NOISE_PROOF, {
      401: ['otp_expired', 'otp_invalid'],
      404: ['challenge_not_found'],
      409: ['otp_used'],
      429: ['otp_attempts_exceeded'],
    }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authRefresh, {
    operationId: 'authRefresh',
    security: 'cloud',
    summary: 'A fresh token for a node proving its key again with IK.',
    success: { status: 200, description: 'The new token.' },
    errors: mergeErrors(TOKEN, BODY, NOISE_PROOF),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authLogout, {
    operationId: 'authLogout',
    security: 'cloud',
    summary: 'Revoke this token.',
    success: { status: 200, description: 'Revoked.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.me, {
    operationId: 'me',
    security: 'cloud',
    summary: 'Who this token is.',
    success: { status: 200, description: 'The principal.' },
    errors: TOKEN,
  }),
  fromEndpoint(CLOUD_ENDPOINTS.publishKeys, {
    operationId: 'publishKeys',
    security: 'cloud',
    summary: "Replace the calling node's devices (one page of them) in the key directory.",
    success: { status: 200, description: 'Published; refused devices listed.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyDirectory, {
    operationId: 'keyDirectory',
    security: 'cloud',
    summary: "The devices of the caller's household (its account's nodes), nothing else.",
    success: { status: 200, description: 'The directory.' },
    errors: TOKEN,
  }),
  fromEndpoint(CLOUD_ENDPOINTS.publishReplacements, {
    operationId: 'publishReplacements',
    security: 'cloud',
    summary:
      "Replace the older ids the calling node's devices replaced when re-paired; kept only for its published devices and for ids nobody publishes now.",
    success: { status: 200, description: 'What was kept.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyReplacements, {
    operationId: 'keyReplacements',
    security: 'cloud',
    summary: 'The older ids every published device replaced when it was re-paired.',
    success: { status: 200, description: 'The replacements.' },
    errors: TOKEN,
  }),
  fromEndpoint(CLOUD_ENDPOINTS.publishPrekeys, {
    operationId: 'publishPrekeys',
    security: 'cloud',
    params: DeviceParam,
    summary:
      "Store prekeys of one of the calling node's devices (signatures checked against its key-directory entry); the same keys again are accepted.",
    success: { status: 200, description: 'What the device has stored here now.' },
    errors: mergeErrors(TOKEN, BODY, PREKEY_OWNER, { 400: ['invalid_prekey'], 409: ['prekey_id_taken', 'prekey_limit'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.prekeyStatus, {
    operationId: 'prekeyStatus',
    security: 'cloud',
    params: DeviceParam,
    summary: "What one of the calling node's devices has stored here.",
    success: { status: 200, description: 'The counts and ids.' },
    errors: mergeErrors(TOKEN, PREKEY_OWNER),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.claimPrekeys, {
    operationId: 'claimPrekeys',
    security: 'cloud',
    params: DeviceParam,
    summary:
      'A bundle for any device of the key directory; its one-time prekeys are removed in the same commit (none left: no one_time_prekey, the last-resort KEM prekey).',
    success: { status: 200, description: 'The bundle.' },
    errors: mergeErrors(TOKEN, BODY, { 404: ['unknown_recipient', 'no_prekeys'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyLogHead, {
    operationId: 'keyLogHead',
    security: 'cloud',
    summary: "The key log's head: its size and Merkle root, signed by the cloud's static key.",
    success: { status: 200, description: 'The signed head.' },
    errors: TOKEN,
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyLogProofs, {
    operationId: 'keyLogProofs',
    security: 'cloud',
    summary: "Each named device's latest leaf with its inclusion proof in the signed head (devices the caller may not see are left out).",
    success: { status: 200, description: 'The head and the proofs.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyLogConsistency, {
    operationId: 'keyLogConsistency',
    security: 'cloud',
    summary: 'The proof that the log of `from` leaves is a prefix of the log of `to` leaves.',
    success: { status: 200, description: 'The proof.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyLogHashes, {
    operationId: 'keyLogHashes',
    security: 'cloud',
    summary:
      "Entries `from` to `to` - 1 of the log as device tag and content hash (at most 4096 per call): a node appends them to the compact range it keeps and finds its own devices' entries.",
    success: { status: 200, description: 'The entries, in order.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyLogLeaves, {
    operationId: 'keyLogLeaves',
    security: 'cloud',
    summary: 'The leaves at these indices (those naming a node the caller may not see are left out).',
    success: { status: 200, description: 'The leaves.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.account, {
    operationId: 'account',
    security: 'cloud',
    summary: "The caller's account: its nodes (the household) and what each publishes.",
    success: { status: 200, description: 'The account.' },
    errors: mergeErrors(TOKEN, { 403: ['forbidden'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.removeAccountNode, {
    operationId: 'removeAccountNode',
    security: 'cloud',
    params: z.object({ node: z.string() }),
    summary: 'Remove a node from the account: its tokens revoked, its relay socket closed, its devices out of the directory.',
    success: { status: 200, description: 'Removed.' },
    errors: mergeErrors(TOKEN, { 403: ['forbidden'], 404: ['node_not_in_account'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.signOutEverywhere, {
    operationId: 'signOutEverywhere',
    security: 'cloud',
    summary: "Revoke every token of every node of the caller's account (the caller's too) and close their relay sockets.",
    success: { status: 200, description: 'Signed out.' },
    errors: mergeErrors(TOKEN, { 403: ['forbidden'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.createInvite, {
    operationId: 'createInvite',
    security: 'cloud',
    summary: "A single-use invite from the caller's household to another (the token goes out of band: a link or QR).",
    success: { status: 200, description: 'The invite.' },
    errors: mergeErrors(TOKEN, BODY, { 403: ['forbidden'], 429: ['too_many_attempts'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.previewInvite, {
    operationId: 'previewInvite',
    security: 'cloud',
    summary: 'Who an invite is from (household, node, fingerprint), before accepting it.',
    success: { status: 200, description: 'The invite.' },
    errors: mergeErrors(TOKEN, BODY, INVITE),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.acceptInvite, {
    operationId: 'acceptInvite',
    security: 'cloud',
    summary: "Accept an invite: both households' devices become visible to each other.",
    success: { status: 200, description: 'Accepted: who the new contact is.' },
    errors: mergeErrors(TOKEN, BODY, INVITE, { 409: ['invite_mismatch', 'contact_limit'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.contacts, {
    operationId: 'contacts',
    security: 'cloud',
    summary: "The households that are contacts of the caller's.",
    success: { status: 200, description: 'The contacts.' },
    errors: mergeErrors(TOKEN, { 403: ['forbidden'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.removeContact, {
    operationId: 'removeContact',
    security: 'cloud',
    params: z.object({ account_id: z.string() }),
    summary: 'End a contact (both ways): the directory stops listing the other side, the relay refuses envelopes between them.',
    success: { status: 200, description: 'Removed.' },
    errors: mergeErrors(TOKEN, { 403: ['forbidden'], 404: ['contact_not_found'] }),
  }),
  {
    operationId: 'relay',
    method: 'get',
    path: '/v1/relay',
    security: 'cloud',
    websocket: true,
    summary: 'WebSocket: the relay (envelopes in and out).',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(TOKEN, WEBSOCKET_HANDSHAKE, DRAINING),
  },
  {
    operationId: 'blobCreate',
    method: 'post',
    path: '/api/blobs',
    security: 'cloud',
    summary:
      'tus creation: a blob of Upload-Length ciphertext bytes; Upload-Metadata `sha256` (hex digest of it all), `to` (JSON {node: [devices]}), `ref`, `from`.',
    success: { status: 201, description: 'Created; Location is /api/blobs/uploads/<id>.' },
    errors: mergeErrors(TOKEN, TUS, BLOB_CREATE),
  },
  {
    operationId: 'blobUploadOffset',
    method: 'head',
    path: '/api/blobs/uploads/:id',
    security: 'cloud',
    params: UploadParam,
    summary: "tus: how many bytes of this node's upload the cloud holds (Upload-Offset); a verified upload is whole.",
    success: { status: 200, description: 'Upload-Offset and Upload-Length headers.' },
    errors: mergeErrors(TOKEN, TUS, BLOB),
  },
  {
    operationId: 'blobUploadAppend',
    method: 'patch',
    path: '/api/blobs/uploads/:id',
    security: 'cloud',
    params: UploadParam,
    summary: 'tus: append bytes at Upload-Offset; at the last byte the cloud hashes the blob and keeps it only if it is `sha256`.',
    success: { status: 204, description: 'Appended; Upload-Offset is the new length.' },
    errors: mergeErrors(TOKEN, TUS, BLOB, BLOB_APPEND),
  },
  {
    operationId: 'blobUploadCancel',
    method: 'delete',
    path: '/api/blobs/uploads/:id',
    security: 'cloud',
    params: UploadParam,
    summary: 'tus termination: the uploading node withdraws its upload (a verified one: the deliveries it made).',
    success: { status: 204, description: 'Gone.' },
    errors: mergeErrors(TOKEN, TUS, BLOB),
  },
  fromEndpoint(CLOUD_ENDPOINTS.blobOffer, {
    operationId: 'blobOffer',
    security: 'cloud',
    params: Sha256Param,
    summary: 'Content addressing: more recipients for a blob the cloud already holds whole (404: upload it).',
    success: { status: 200, description: 'Added.' },
    errors: mergeErrors(TOKEN, BODY, { 404: ['blob_unknown'], 403: ['not_a_contact'] }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.blobIncoming, {
    operationId: 'blobIncoming',
    security: 'cloud',
    summary: 'Complete blobs for the calling node it has not marked received, with its own devices.',
    success: { status: 200, description: 'The blobs (oldest first, at most 1000).' },
    errors: TOKEN,
  }),
  {
    operationId: 'blobDownload',
    method: 'get',
    path: '/api/blobs/:sha256',
    security: 'cloud',
    params: Sha256Param,
    summary: 'The ciphertext, for its uploader and its recipient nodes; Range: bytes=a-[b] answers 206.',
    success: { status: 200, description: 'The ciphertext (206 for a range).', contentType: 'application/octet-stream' },
    errors: mergeErrors(TOKEN, BLOB, { 416: ['invalid_request'] }),
  },
  fromEndpoint(CLOUD_ENDPOINTS.blobReceived, {
    operationId: 'blobReceived',
    security: 'cloud',
    params: Sha256Param,
    summary: 'The calling recipient node has the blob; once every recipient node has it, it is removed.',
    success: { status: 200, description: 'Noted.' },
    errors: mergeErrors(TOKEN, BODY, BLOB),
  }),
  // ---- external login (docs/cloud.md "External login")
  fromEndpoint(CLOUD_ENDPOINTS.externalMethods, {
    operationId: 'externalMethods',
    security: 'public',
    summary: 'Which external sign-ins this cloud offers: passkeys, and the OpenID provider (its name) if one is configured.',
    success: { status: 200, description: 'The methods.' },
    errors: {},
  }),
  fromEndpoint(CLOUD_ENDPOINTS.externalCreate, {
    operationId: 'externalCreate',
    security: 'public',
    summary:
      'Start a sign-in the person finishes in a browser (passkey, oidc: node key + Noise proof), or a passkey registration (passkey_register: with the Noise token).',
    success: { status: 200, description: 'The session: its token (for the node only) and the page to open.' },
    errors: mergeErrors(ADMITTED, BODY, NOISE_PROOF, TOKEN, {
      400: ['email_required'],
      403: ['node_not_in_account'],
      404: ['method_unavailable'],
    }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.externalState, {
    operationId: 'externalState',
    security: 'public',
    params: SessionTokenParam,
    summary: "A session's state (poll every 2 s where the socket cannot be used); an approved login's first read carries the token.",
    success: { status: 200, description: 'pending, approved (with tokens, once) or failed (error says why: session_expired, …).' },
    errors: mergeErrors(BODY, { 404: ['session_not_found'], 409: ['session_used'], 401: ['noise_handshake'] }),
  }),
  {
    operationId: 'externalEvents',
    method: 'get',
    path: '/api/auth/external/events',
    security: 'public',
    websocket: true,
    summary:
      'WebSocket: send {type:"subscribe", topic:"external_session:<token>"}; session_update frames follow until the session is over.',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: WEBSOCKET_HANDSHAKE,
  },
  {
    operationId: 'externalLoginPage',
    method: 'get',
    path: '/login/external/:browser_id',
    security: 'public',
    params: BrowserIdParam,
    summary: "The cloud's own sign-in page of one session: the passkey ceremony, or a redirect to the OpenID provider.",
    success: {
      status: 200,
      description: 'An HTML page (302 to the provider for oidc).',
      contentType: 'text/html',
      schema: named('LoginPage', z.string()),
    },
    errors: mergeErrors(BODY, {
      404: ['session_not_found'],
      409: ['session_finished'],
      410: ['session_expired'],
      503: ['method_unavailable'],
    }),
  },
  {
    operationId: 'externalWebauthnScript',
    method: 'get',
    path: '/login/assets/webauthn.js',
    security: 'public',
    summary: "@simplewebauthn/browser's bundle for the passkey page.",
    success: { status: 200, description: 'JavaScript.', contentType: 'text/javascript', schema: named('WebauthnScript', z.string()) },
    errors: {},
  },
  {
    operationId: 'externalPasskeyOptions',
    method: 'post',
    path: '/api/auth/external/browser/:browser_id/options',
    security: 'public',
    params: BrowserIdParam,
    summary: "The WebAuthn options (a fresh challenge) of the page's ceremony.",
    success: { status: 200, description: '{options}.', schema: named('PasskeyOptions', z.object({ options: z.unknown() })) },
    errors: mergeErrors(ADMITTED, BODY, { 404: ['session_not_found'], 409: ['session_finished'], 410: ['session_expired'] }),
  },
  {
    operationId: 'externalPasskeyFinish',
    method: 'post',
    path: '/api/auth/external/browser/:browser_id/passkey',
    security: 'public',
    params: BrowserIdParam,
    summary: "The browser's WebAuthn answer; a refused one leaves the session pending.",
    success: { status: 200, description: 'Approved.', schema: named('PasskeyApproved', z.object({ status: z.literal('approved') })) },
    errors: mergeErrors(ADMITTED, BODY, {
      400: ['passkey_refused'],
      404: ['session_not_found'],
      409: ['session_finished'],
      410: ['session_expired'],
    }),
  },
  {
    operationId: 'externalOidcCallback',
    method: 'get',
    path: '/api/auth/external/oidc/callback',
    security: 'public',
    summary: "The OpenID provider's redirect back: the code is redeemed (PKCE, state, nonce), the identity linked to its account.",
    success: {
      status: 200,
      description: 'An HTML page saying it is done.',
      contentType: 'text/html',
      schema: named('OidcResultPage', z.string()),
    },
    errors: mergeErrors(ADMITTED, BODY, {
      400: ['oidc_state_invalid', 'oidc_failed'],
      403: ['forbidden'],
      404: ['session_not_found'],
      409: ['session_finished'],
      410: ['session_expired'],
      503: ['method_unavailable'],
    }),
  },
];

/** Routes of the cloud app that are not in the document, each with why (none today). */
export const CLOUD_UNDOCUMENTED_ROUTES: Readonly<Record<string, string>> = {};

export function cloudOpenApiDocument(): Record<string, unknown> {
  return contractDocument({
    title: 'Salita reference cloud',
    version: '1.0.0',
    description:
      "The HTTP API of the reference cloud (docs/cloud.md). Every error answer is JSON `{error, message}`; each operation lists its codes by status in `x-error-codes` (and as the enum of its error bodies' `error`).",
    securitySchemes: { cloud: { description: '`Authorization: Noise <token>`: the token from /api/auth/verify or /api/auth/refresh.' } },
    operations: cloudOperations,
    unroutedErrors: { 400: ['invalid_request'], 404: ['not_found'] },
  });
}
