// How a core service says "this request cannot be done": a stable code from the wire contract, plain words for
// the person, and code-specific facts (e.g. attempts_left). Services know nothing of HTTP; the HTTP edge picks
// the status for each code (http/error-status.ts) and sends `{error: code, message, ...details}`.
import type { ErrorCode } from '../../../shared/wire/errors.js';

export class DomainError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
