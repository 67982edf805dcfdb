// Typed errors of the Double Ratchet (docs/e2ee.md "Double Ratchet"). Everything initSender/initReceiver/
// encrypt/decrypt/ratchetStateFromJson throw is a RatchetError with one of these stable codes. A decrypt that
// throws has changed nothing: the state handed in is never mutated and no new state is returned.

export type RatchetErrorCode =
  /** This message (ratchet key, n) was already decrypted, or its key was dropped: a replay or a duplicate. */
  | 'ratchet_duplicate'
  /** The header asks to skip more than MAX_SKIP message keys in one chain: refused (a DoS guard). */
  | 'ratchet_too_many_skipped'
  /** The header does not parse, or the tag does not verify (tampered header, ciphertext or AD, wrong session). */
  | 'ratchet_bad_message'
  /** encrypt() on a receiver that has not yet received a first message: it has no sending chain. */
  | 'ratchet_cannot_send'
  /** A stored state (JSON) is not shaped like a v1 ratchet state. */
  | 'ratchet_bad_state'
  /** The caller passed bad keys or lengths (a programming error on the calling side). */
  | 'ratchet_invalid_argument';

export class RatchetError extends Error {
  override readonly name = 'RatchetError';
  constructor(
    readonly code: RatchetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isRatchetError(err: unknown): err is RatchetError {
  return err instanceof RatchetError;
}
