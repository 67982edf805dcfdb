// The prekey directory's refusals: a DomainError whose code is one of the wire's PREKEY_ERROR_CODES, so the
// HTTP edge answers it like any other domain error and a client can branch on the prekey codes alone.
import type { PrekeyErrorCode } from '../../../shared/wire/prekeys.js';
import { DomainError } from '../errors/domain-error.js';

/** super() takes an ErrorCode: a prekey code missing from shared/wire/errors.ts fails the typecheck here. */
export class PrekeyError extends DomainError {
  declare readonly code: PrekeyErrorCode;

  constructor(code: PrekeyErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'PrekeyError';
  }
}

export function isPrekeyError(err: unknown, code?: PrekeyErrorCode): err is PrekeyError {
  return err instanceof PrekeyError && (code === undefined || err.code === code);
}
