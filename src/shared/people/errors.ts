// Why a step on linked devices (a person's devices) was refused. Every refusal leaves what this device holds as
// it was.

export type PersonErrorCode =
  /** A roster that does not parse, is not signed by its person key, or names a device twice. */
  | 'person_bad_roster'
  /** A roster change from a device that does not hold the person key, or an older version than the one held. */
  | 'person_not_member'
  /** This device is linked with other devices already: unlink it first. */
  | 'person_already_linked'
  /** This device is not linked with that device (no such person here, or it is not one of ours). */
  | 'person_not_linked'
  /** No offer to link from that person is waiting here. */
  | 'person_no_offer'
  /** More than MAX_PERSON_DEVICES devices. */
  | 'person_too_large'
  | 'person_invalid_argument';

export class PersonError extends Error {
  override readonly name = 'PersonError';
  constructor(
    readonly code: PersonErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isPersonError(err: unknown): err is PersonError {
  return err instanceof PersonError;
}
