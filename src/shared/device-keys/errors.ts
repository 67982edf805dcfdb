// Refusals of the device's own key and session layer, each with a stable code (the PQXDH, ratchet and envelope
// errors underneath keep their own codes and pass through unchanged).

export type DeviceKeysErrorCode =
  /** An initial message on the last-resort KEM prekey without a one-time prekey that was already accepted once. */
  | 'initial_message_replayed'
  /** A claimed bundle's identity key is not the one the caller's directory names for that device. */
  | 'identity_mismatch'
  /** Stored prekey state or session record that does not parse, or belongs to another identity key. */
  | 'bad_state'
  /** A commit found the store changed since its step read it (another tab of the device): read again. */
  | 'state_changed'
  | 'invalid_argument';

export class DeviceKeysError extends Error {
  readonly code: DeviceKeysErrorCode;
  constructor(code: DeviceKeysErrorCode, message: string) {
    super(message);
    this.name = 'DeviceKeysError';
    this.code = code;
  }
}

export function isDeviceKeysError(err: unknown): err is DeviceKeysError {
  return err instanceof DeviceKeysError;
}
