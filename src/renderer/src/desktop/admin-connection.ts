// Connects the desktop UI to its node: the admin token, the first state, the cloud link, then the admin socket
// whose pushes keep the store true. A dead token locks the page (it says where the link is) instead of showing
// a UI that can never load.
import { ApiFailure } from '../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../shared/wire/node-endpoints.js';
import type { AdminEvent } from '../../../shared/wire/schemas.js';
import { AdminSocket } from './admin-socket.js';
import { acquireAdminToken } from './admin-token.js';
import type { Desktop } from './desktop-store.js';

export async function connectDesktop(desktop: Desktop): Promise<void> {
  const token = await acquireAdminToken();
  if (!token) {
    desktop.store.set({ locked: 'no-token' });
    return;
  }
  desktop.setToken(token);
  let socket: AdminSocket | undefined;
  let wasLive = false;

  const loadCloud = async () => {
    try {
      desktop.store.set({ cloud: await desktop.client.call(NODE_ENDPOINTS.cloudLink) });
    } catch {
      // An older node without a cloud link, or the node is going away: the cloud panel says what it knows.
    }
  };

  /** After a drop (or a failed first load): is the token still good? (A browser hides why an upgrade failed.) */
  const checkToken = async (): Promise<boolean> => {
    try {
      desktop.store.set({ admin: await desktop.client.call(NODE_ENDPOINTS.adminState) });
      return true;
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) {
        const fresh = window.salita ? await acquireAdminToken({ preferBridge: true }) : null;
        if (fresh && fresh !== desktop.currentToken) {
          desktop.setToken(fresh);
          return true;
        }
        socket?.stop();
        desktop.store.set({ locked: 'bad-token' });
        return false;
      }
      return true; // the node is down or restarting: keep trying
    }
  };

  const onEvent = (e: AdminEvent) => {
    if (e.type === 'state') desktop.store.set({ admin: e.state });
    else if (e.type === 'cloud') desktop.store.set({ cloud: e.cloud });
    desktop.events.emit(e);
  };

  try {
    desktop.store.set({ admin: await desktop.client.call(NODE_ENDPOINTS.adminState) });
  } catch (err) {
    if (!(await checkToken())) return;
    desktop.showError(err);
  }
  void loadCloud();
  socket = new AdminSocket(() => desktop.currentToken, {
    onEvent,
    onStatus: (s) => {
      if (s.kind === 'live' && wasLive) {
        void loadCloud();
        desktop.resynced.emit();
      }
      if (s.kind === 'live') wasLive = true;
      desktop.store.set({ socket: s });
    },
    onDropped: checkToken,
  });
  socket.connect();
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') socket?.nudge();
  });
}
