// A failure the HTTP layer itself finds (credentials, body size and shape, rate limits): a status, a stable code
// and plain words, sent as `{error, message, ...extra}`. Services throw DomainError instead (errors/domain-error.ts)
// and http/error-status.ts picks their status; anything else becomes a logged 500.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../../shared/wire/errors.js';

export class ApiError extends Error {
  constructor(
    public readonly status: ContentfulStatusCode,
    public readonly code: ErrorCode,
    message: string,
    public readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}
