// Typed errors of the E2EE envelope (docs/e2ee.md). Everything seal()/open()/parseEnvelope() throw is an
// E2eeError with one of these stable codes; random input never escapes as a TypeError.

export type E2eeErrorCode =
  /** The envelope is not shaped like a v1 envelope (schema, sizes, encodings, wraps not matching `to`). */
  | 'malformed'
  /** `v` is a number this code does not implement. */
  | 'version_unsupported'
  /** My device id is not in `to`. */
  | 'not_a_recipient'
  /** A tag did not verify: tampering, wrong sender key, wrong recipient key, or a forged wrap. */
  | 'decrypt_failed'
  /** The caller passed bad keys/ids/plaintext (a programming error on the calling side, not attacker input). */
  | 'invalid_argument'
  /** A file chunk did not verify: tampered, reordered, duplicated, from another file, or the wrong key. */
  | 'file_chunk_invalid'
  /** A file's ciphertext ended before its final chunk. */
  | 'file_truncated'
  /** Bytes after a file's final chunk. */
  | 'file_too_long'
  /** Every chunk verified, but the plaintext's SHA-256 is not the manifest's. */
  | 'file_digest_mismatch';

export class E2eeError extends Error {
  override readonly name = 'E2eeError';
  constructor(
    readonly code: E2eeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isE2eeError(err: unknown): err is E2eeError {
  return err instanceof E2eeError;
}
