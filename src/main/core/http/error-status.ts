// The one place a domain error's code becomes an HTTP status. Services throw DomainError (errors/domain-error.ts)
// and never name a status; the error handler (app.ts) and the routes that translate errors ask here.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../../shared/wire/errors.js';
import type { CloudLinkError } from '../cloud/cloud-link.js';
import type { DomainError } from '../errors/domain-error.js';
import { RemotePairingError } from '../pairing/remote-pairing-error.js';

const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  invalid_request: 400,
  handshake_failed: 400,
  not_found: 404,
  // Pairing codes: each way a code can be unusable has its own status so clients can branch without parsing.
  code_unknown: 404,
  code_used: 409,
  code_expired: 410,
  code_locked: 423,
  pin_mismatch: 401,
  pairing_not_pending: 404,
  node_mismatch: 403,
  session_revoked: 401,
  // From the services only a resend under a known id with other bytes (reason: id_conflict): a conflict.
  invalid_envelope: 409,
  outbox_full: 429,
  cloud_not_linked: 409,
  // The cloud link (cloud/cloud-link.ts CloudLinkError).
  cloud_unreachable: 424,
  cloud_key_changed: 409,
  cloud_rejected: 422,
  cloud_login_not_started: 409,
  invite_mismatch: 409,
  // Files.
  file_too_large: 413,
  quota_exceeded: 413,
  insufficient_storage: 507,
  unknown_recipient: 400,
  blob_unknown: 404,
  blob_not_ready: 409,
  body_digest_mismatch: 400,
  offset_mismatch: 409,
  blob_conflict: 409,
  blob_digest_mismatch: 400,
  forbidden: 403,
  // The prekey directory (prekeys/prekey-error.ts).
  invalid_prekey: 400,
  prekey_id_taken: 409,
  prekey_limit: 409,
  no_prekeys: 404,
};

/**
 * A pairing with another desktop: its own 4xx verdict is passed on with its status; a failure to reach it or
 * to complete the handshake with it is the other side's problem (502), except a fingerprint that does not match
 * what the person gave (409) or a request we could not even send (400).
 */
const REMOTE_STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  peer_unreachable: 502,
  peer_rejected: 502,
  handshake_failed: 502,
  fingerprint_mismatch: 409,
  invalid_request: 400,
};

export function statusOf(err: DomainError): ContentfulStatusCode {
  if (err instanceof RemotePairingError) {
    const relayed = err.peerStatus !== undefined && err.peerStatus >= 400 && err.peerStatus < 500 ? err.peerStatus : undefined;
    return (relayed as ContentfulStatusCode | undefined) ?? REMOTE_STATUS_BY_CODE[err.code] ?? 502;
  }
  return STATUS_BY_CODE[err.code] ?? 500;
}

export function cloudStatusOf(code: CloudLinkError['code']): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? 500;
}

export function domainErrorBody(err: DomainError): Record<string, unknown> {
  return { error: err.code, message: err.message, ...err.details };
}
