// Client-facing failures of the cloud: a status, a stable code and plain words -> JSON `{error, message}`.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type CloudErrorCode =
  | 'invalid_request' | 'not_found' | 'internal_error'
  | 'challenge_not_found' | 'otp_invalid' | 'otp_expired' | 'otp_used' | 'otp_attempts_exceeded'
  | 'noise_handshake' | 'noise_signature_invalid' | 'device_mismatch'
  | 'token_missing' | 'token_invalid' | 'token_expired' | 'token_revoked'
  | 'device_id_taken'
  | 'too_many_attempts' | 'noise_key_unproven';

export class CloudError extends Error {
  /** retryAfterSec: for a 429, when to try again (also sent as the Retry-After header). */
  constructor(public readonly status: ContentfulStatusCode, public readonly code: CloudErrorCode, message: string, public readonly retryAfterSec?: number) {
    super(message);
    this.name = 'CloudError';
  }

  body(): { error: CloudErrorCode; message: string; retry_after?: number } {
    return { error: this.code, message: this.message, ...(this.retryAfterSec !== undefined ? { retry_after: this.retryAfterSec } : {}) };
  }
}
