// How the cloud link's parts tell its facade what the desktop UI should see: one last error for the whole link,
// and "something in the view changed" (the facade coalesces those into one CloudLinkView per tick).
import type { CloudLinkView } from '../../../shared/wire/relay.js';

export interface CloudLinkReport {
  /** Something the view shows changed (status, error, outbox size, refusals). Cheap: coalesced per tick. */
  changed(): void;
  /** Sets the view's last_error (and reports a change). */
  setError(code: string, message: string): void;
  /** Clears last_error without reporting a change: the callers report one right after. */
  clearError(): void;
  lastError(): CloudLinkView['last_error'];
}
