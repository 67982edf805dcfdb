// "Messages" on the desktop: the desktop UI registers its own messaging device, then shows the shared
// Messages section, fed by the admin socket's pushes (envelopes, statuses, state changes that touch the
// directory), the socket's health (the "offline" banner) and the pushed cloud link (the cloud banners and
// hint follow it at once, the same truth as the Cloud panel). The unread count goes in the window title.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { Conversations } from '../../common/conversation.js';
import { type FileEndpoint, FileTransfers } from '../../common/files/file-transfers.js';
import { Messages } from '../../common/messages/messages.js';
import { MessagingSession } from '../../common/messages/messaging-session.js';
import { keepUnreadInTitle } from '../../common/messages/unread-title.js';
import { useStore } from '../../common/store.js';
import { TrustBook } from '../../common/trust/trust-book.js';
import { useDesktop } from '../desktop-context.js';
import type { Desktop } from '../desktop-store.js';
import { registerUiDevice } from '../ui-messaging-device.js';

/**
 * State pushes bring most directory changes; this catches the rest (devices of other homes, which the node
 * learns from the cloud's directory without a push). Loopback and cheap.
 */
const DIRECTORY_POLL_MS = 10_000;

type Setup = { kind: 'starting' } | { kind: 'ready'; deviceId: string; session: MessagingSession } | { kind: 'unavailable'; text: string };

/** The desktop UI's files go through the admin file routes, as its device `<node_id>.ui`, with the admin token. */
function desktopFiles(desktop: Desktop): FileEndpoint {
  return {
    baseUrl: location.origin,
    path: '/api/admin/files',
    // Read at each request: the token may be replaced while a transfer runs.
    auth: { headers: () => ({ authorization: `Admin ${desktop.currentToken}` }) },
    received: (id) => desktop.client.call(NODE_ENDPOINTS.adminFileReceived, { params: { id } }),
  };
}

/** Hands the session everything the desktop hears; returns a function that stops it all. */
function feed(desktop: Desktop, session: MessagingSession): () => void {
  const stops: (() => void)[] = [];
  stops.push(
    desktop.events.on((e) => {
      if (e.type === 'envelope' || e.type === 'message_status') session.onPush(e);
      // A state push follows every change the node knows of (a pairing, a rename, a peer link up or down).
      else if (e.type === 'state') void session.refreshDirectory();
    }),
  );
  stops.push(desktop.resynced.on(() => void session.refreshAll()));
  const follow = () => {
    const s = desktop.store.get();
    // 'connecting' keeps what was said: the first connect is not "offline", a reconnect after a drop still is.
    if (s.socket.kind !== 'connecting') session.setLinkUp(s.socket.kind === 'live');
    if (s.cloud) session.setCloudStatus(s.cloud.status);
  };
  follow();
  stops.push(desktop.store.subscribe(follow));
  stops.push(session.keepDirectoryFresh(DIRECTORY_POLL_MS));
  return () => {
    for (const stop of stops) stop();
  };
}

export function MessagesPanel() {
  const desktop = useDesktop();
  // The admin token is in place once the first state came: register only then.
  const ready = useStore(desktop.store, (s) => s.admin !== undefined);
  const devices = useStore(desktop.store, (s) => s.admin?.devices);
  const [setup, setSetup] = useState<Setup>({ kind: 'starting' });
  const unread = useRef(0);
  const retitle = useRef<() => void>(() => undefined);

  useEffect(() => {
    if (!ready || setup.kind !== 'starting') return;
    let stop: (() => void) | undefined;
    let cancelled = false;
    void registerUiDevice(desktop).then((r) => {
      if (cancelled) return;
      if (!r.ok) return setSetup({ kind: 'unavailable', text: r.text });
      const session = new MessagingSession(
        r.client,
        new Conversations(`salita.desktop.messages.v1.${r.deviceId}`),
        new FileTransfers(desktopFiles(desktop)),
        new TrustBook(`salita.desktop.trust.v1.${r.deviceId}`),
      );
      stop = feed(desktop, session);
      setSetup({ kind: 'ready', deviceId: r.deviceId, session });
      void session.refreshAll();
    });
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [ready]);

  useEffect(() => {
    const title = keepUnreadInTitle(() => unread.current);
    retitle.current = title.update;
    return title.stop;
  }, []);

  const onUnreadTotal = useCallback((n: number) => {
    unread.current = n;
    retitle.current();
  }, []);

  const deviceInfo = useCallback((id: string) => devices?.find((d) => d.node_id === id)?.metadata, [devices]);

  return (
    <section
      class="card"
      id="messages-panel"
      data-testid="messages-panel"
      aria-label="Messages"
      data-device-id={setup.kind === 'ready' ? setup.deviceId : undefined}
      data-unavailable={setup.kind === 'unavailable' ? 'true' : undefined}
    >
      {setup.kind === 'ready' ? (
        <Messages session={setup.session} place="desktop" deviceInfo={deviceInfo} onUnreadTotal={onUnreadTotal} />
      ) : (
        <>
          <h2>Messages</h2>
          {setup.kind === 'unavailable' ? (
            <p class="hint" data-testid="messages-unavailable">
              {setup.text}
            </p>
          ) : (
            <p class="hint">Loading…</p>
          )}
        </>
      )}
    </section>
  );
}
