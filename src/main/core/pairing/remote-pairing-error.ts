// A pairing with another desktop failed on the other side or on the way there. The other node's own verdict
// (pin_mismatch with attempts_left, code_expired...) is passed on as it was given, with the status it answered:
// the person needs the same words and the client the same branch the phone page would get.
import type { ErrorCode } from '../../../shared/wire/errors.js';
import { DomainError } from '../errors/domain-error.js';

export class RemotePairingError extends DomainError {
  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown>,
    /** The other node's HTTP status when it refused the request itself (a 4xx); undefined when it never answered. */
    public readonly peerStatus: number | undefined,
  ) {
    super(code, message, details);
    this.name = 'RemotePairingError';
  }
}
