// Every failure of the Noise module is a NoiseError with a stable code, so callers can tell a wrong key
// (decrypt_failed) from a malformed message, and never see a TypeError from deep inside a primitive.
export type NoiseErrorCode =
  | 'decrypt_failed'
  | 'message_too_short'
  | 'message_too_long'
  | 'bad_state'
  | 'nonce_exhausted'
  | 'unsupported'
  | 'invalid_key'
  | 'invalid_argument';

export class NoiseError extends Error {
  constructor(
    public readonly code: NoiseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NoiseError';
  }
}

/** Noise messages are at most 65535 bytes (spec section 3). */
export const MAX_MESSAGE_LEN = 65535;
