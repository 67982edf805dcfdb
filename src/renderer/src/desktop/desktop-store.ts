// What the desktop UI shows, in one store: the node's pushed admin state, the cloud link, the socket's health,
// the page's lock (no valid admin token) and the one error banner. Panels read it with useStore(desktop.store, …)
// and act through desktop.client; the admin connection (admin-connection.ts) is the only writer of pushed state.
import { ApiClient } from '../../../shared/client/api-client.js';
import type { CloudLinkView } from '../../../shared/wire/relay.js';
import type { AdminEvent, AdminState } from '../../../shared/wire/schemas.js';
import { Channel, Store } from '../common/store.js';
import type { SocketStatus } from './admin-socket.js';

export type LockReason = 'no-token' | 'bad-token';

export interface DesktopState {
  /** The node's state as last pushed (undefined until the first answer). */
  admin: AdminState | undefined;
  cloud: CloudLinkView | undefined;
  socket: SocketStatus;
  locked: LockReason | undefined;
  /** The error banner's text (one at a time; a new error replaces the old). */
  error: string | undefined;
}

/** Said when the page's admin token is refused: the node was restarted, or the link was cut. */
const TOKEN_REFUSED =
  "This page's admin token is not valid (was the node restarted?). Open the desktop UI link the node printed, or use the Salita window.";

export class Desktop {
  readonly store = new Store<DesktopState>({
    admin: undefined,
    cloud: undefined,
    socket: { kind: 'connecting' },
    locked: undefined,
    error: undefined,
  });
  /** Every admin push as it comes (messaging listens for envelopes and statuses here). */
  readonly events = new Channel<AdminEvent>();
  /** Fired after the socket came back from a drop: pushes may have been missed meanwhile. */
  readonly resynced = new Channel<void>();
  private token = '';
  readonly client = new ApiClient({
    headers: () => ({ authorization: `Admin ${this.token}` }),
    describe: (status, code) => (status === 401 && code === 'unauthorized' ? TOKEN_REFUSED : undefined),
  });

  setToken(token: string): void {
    this.token = token;
  }

  get currentToken(): string {
    return this.token;
  }

  showError(err: unknown): void {
    this.store.set({ error: err instanceof Error ? err.message : String(err) });
  }

  clearError(): void {
    if (this.store.get().error !== undefined) this.store.set({ error: undefined });
  }
}
