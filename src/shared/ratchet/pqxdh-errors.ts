// Typed errors of PQXDH key agreement and safety numbers (docs/e2ee.md "PQXDH"). Everything the functions in
// this folder's pqxdh/xeddsa/safety-number files throw is a PqxdhError with one of these stable codes, so the
// edge can map them to a 4xx `{error, message}` and random input never escapes as a TypeError.

export type PqxdhErrorCode =
  /** A bundle, initial message or scanned payload is not shaped as expected (sizes, encodings, fields). */
  | 'malformed'
  /** The identity key's XEdDSA signature over a signed prekey or KEM prekey did not verify. */
  | 'bad_signature'
  /** The initial message names a prekey id the responder does not hold (used up, rotated away, or forged). */
  | 'unknown_prekey'
  /** A public key is unusable: a Diffie-Hellman output was all zeros (low-order point) or a KEM key was invalid. */
  | 'invalid_key'
  /** The caller passed bad keys/ids (a programming error on the calling side, not attacker input). */
  | 'invalid_argument'
  /** A scanned safety-number payload is of another version than ours. */
  | 'version_mismatch';

export class PqxdhError extends Error {
  override readonly name = 'PqxdhError';
  constructor(
    readonly code: PqxdhErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isPqxdhError(err: unknown): err is PqxdhError {
  return err instanceof PqxdhError;
}
