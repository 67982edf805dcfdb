// Stable error codes: clients branch on `error`, people read `message`.
// Adding a code is fine; renaming one breaks every client, so don't.
export const ERROR_CODES = [
  'invalid_request', // body/query failed validation or was not JSON
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'unauthorized', // no or bad credentials (admin token / session)
  'forbidden', // e.g. admin route from a non-loopback address
  'code_unknown',
  'code_expired',
  'code_used',
  'code_locked',
  'pin_mismatch',
  'node_mismatch', // announce for a node_id other than the session's
  'fingerprint_mismatch', // the peer's key does not match the fingerprint we were given
  'peer_unreachable',
  'peer_rejected',
  'session_unknown',
  'session_revoked',
  'signature_invalid', // X-Signature does not match the request
  'timestamp_skew', // X-Timestamp outside the allowed window
  'nonce_reused', // X-Nonce already used by this session (a replay)
  'handshake_failed', // a Noise message that is malformed (too short/long, bad key)
  'pairing_not_pending', // confirm/reject of a pairing that is not waiting for confirmation
  'pairing_unconfirmed', // the session exists but the person has not yet confirmed the short code
  'invalid_envelope', // POST /api/messages: not a valid v1 envelope (src/shared/e2ee/schema.ts)
  'sender_mismatch', // envelope.from_device is not the calling device
  'cloud_not_linked', // messaging needs a cloud link; none was ever set up on this node
  'cloud_unreachable', // the cloud URL did not answer (login)
  'cloud_key_changed', // the cloud's static key differs from the one pinned at first contact
  'cloud_rejected', // the cloud refused the login step; `cloud_error` carries its code (e.g. otp_invalid)
  'cloud_login_not_started', // a code was sent without a login in progress
  'invite_mismatch', // a pasted contact invite whose fingerprint is not the inviting desktop's, as the cloud says
  'outbox_full', // POST /api/messages: this device has too many envelopes waiting for the cloud
  'rate_limited', // too many calls from one source address; `retry_after` (seconds) and Retry-After say when to try again
  // Files (docs/files.md)
  'file_too_large', // the upload is over the node's (or the cloud's) maximum file size
  'quota_exceeded', // the device (or the cloud account) would hold more bytes than its quota
  'insufficient_storage', // the disk lacks the room for the upload (507)
  'unknown_recipient', // a recipient device this node cannot reach
  'blob_unknown', // no such blob here (never uploaded, cancelled, expired)
  'blob_not_ready', // the blob is still on its way to this node; `received` and `size` say how far
  'body_digest_mismatch', // a streamed body's bytes do not hash to its X-Content-SHA256
  'offset_mismatch', // bytes appended at an offset other than what is stored
  'blob_conflict', // another blob already goes by this id here
  'blob_digest_mismatch', // the whole ciphertext does not hash to the SHA-256 it was announced with (nothing is kept)
  // The prekey directory (wire/prekeys.ts PREKEY_ERROR_CODES; unknown_recipient is above)
  'invalid_prekey', // a prekey signature does not verify under the device's identity key, or last_resort is wrong
  'prekey_id_taken', // a prekey id the device already has stored (or had handed out) here, under another key
  'prekey_limit', // more than MAX_ONE_TIME_STORED one-time prekeys of a kind
  'no_prekeys', // the device has published no prekeys here
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  /** Extra, code-specific facts (e.g. attempts_left for pin_mismatch). */
  [extra: string]: unknown;
}
