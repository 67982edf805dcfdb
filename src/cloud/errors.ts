// Client-facing failures of the cloud: a status, a stable code and plain words -> JSON `{error, message}`.
// The codes are the shared contract (src/shared/wire/cloud.ts), so the node reads the same list.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { CloudErrorCode, CloudErrorReply } from '../shared/wire/cloud.js';

export type { CloudErrorCode };

export class CloudError extends Error {
  /** retryAfterSec: for a 429, when to try again (also sent as the Retry-After header). */
  constructor(
    public readonly status: ContentfulStatusCode,
    public readonly code: CloudErrorCode,
    message: string,
    public readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = 'CloudError';
  }

  body(): CloudErrorReply {
    return { error: this.code, message: this.message, ...(this.retryAfterSec !== undefined ? { retry_after: this.retryAfterSec } : {}) };
  }
}
